//! A fresh PostgreSQL schema per test, on the server named by ONEZONE_TEST_DATABASE_URL.
//! Without that variable the PostgreSQL tests skip, and say so where it cannot be missed.

use std::io::Write;
use std::sync::{Arc, Once};

use onezone_server::store::{PostgresStore, Store};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

pub const ENV: &str = "ONEZONE_TEST_DATABASE_URL";

pub struct TestDatabase {
    /// Connects to this test's schema only.
    pub url: String,
    base_url: String,
    schema: String,
}

fn announce_skip() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Written to the process's stderr directly, past the test harness's capture.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!! PostgreSQL tests SKIPPED: {ENV} is not set. Set it, e.g. \
             {ENV}=postgres://postgres@127.0.0.1:5432/test, to run them (.ci/run does). !!!\n"
        );
    });
}

impl TestDatabase {
    /// A new empty schema, or `None` (announced) when no PostgreSQL server is configured.
    pub async fn create() -> Option<TestDatabase> {
        let Ok(base_url) = std::env::var(ENV) else {
            announce_skip();
            return None;
        };
        let suffix: String = onezone_server::ids::new_token()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(16)
            .collect::<String>()
            .to_ascii_lowercase();
        let schema = format!("onezone_test_{suffix}");
        let mut conn = PgConnection::connect(&base_url).await.unwrap_or_else(|e| {
            panic!("{ENV}={base_url} is not a reachable PostgreSQL server: {e}")
        });
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{separator}options=-c%20search_path%3D{schema}");
        Some(TestDatabase {
            url,
            base_url,
            schema,
        })
    }

    pub async fn store(&self) -> Arc<dyn Store> {
        Arc::new(PostgresStore::open_url(&self.url).await.unwrap())
    }

    /// A connection outside the test's schema, for what the test does to the server.
    pub async fn admin_connection(&self) -> PgConnection {
        PgConnection::connect(&self.base_url).await.unwrap()
    }

    /// Removes the schema. A failing test skips this and leaves its schema for inspection.
    pub async fn remove(self) {
        let mut conn = self.admin_connection().await;
        sqlx::query(AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.schema
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    }
}
