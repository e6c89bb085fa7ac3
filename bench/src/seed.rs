//! The data every scenario runs against: one user with ten spaces, a default and a
//! token, and a thousand more users for Basic over many distinct logins.

use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use onezone_server::store::{DatabaseTarget, Store, connect};
use onezone_server::{admin, password};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

pub const LOGIN: &str = "bench";
pub const PASSWORD: &str = "bench-password";
pub const SPACES: usize = 10;
pub const MANY_USERS: usize = 1000;

/// What the load generator sends.
pub struct Fixture {
    pub token: String,
    /// `Authorization` values for `MANY_USERS` distinct users.
    pub many_basic: Vec<String>,
}

pub fn basic(login: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{login}:{password}")))
}

/// A fresh SQLite database in `data_dir`.
pub async fn sqlite(data_dir: &Path) -> anyhow::Result<Fixture> {
    std::fs::create_dir_all(data_dir)?;
    let file = data_dir.join(onezone_server::config::SQLITE_FILE);
    fill(connect(&DatabaseTarget::SqliteFile(file)).await?.as_ref()).await
}

/// A fresh database `onezone_bench` on the PostgreSQL server of `server_url`, dropped
/// first if a previous run left it. Returns its URL and the fixture.
pub async fn postgres(server_url: &str) -> anyhow::Result<(String, Fixture)> {
    const NAME: &str = "onezone_bench";
    let mut admin = PgConnection::connect(server_url)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {server_url}"))?;
    for statement in [
        format!("DROP DATABASE IF EXISTS {NAME} WITH (FORCE)"),
        format!("CREATE DATABASE {NAME}"),
    ] {
        sqlx::raw_sql(AssertSqlSafe(statement))
            .execute(&mut admin)
            .await?;
    }
    let mut url = reqwest::Url::parse(server_url)?;
    url.set_path(NAME);
    let url = url.to_string();
    let store = connect(&DatabaseTarget::Url(url.clone())).await?;
    Ok((url, fill(store.as_ref()).await?))
}

async fn fill(store: &dyn Store) -> anyhow::Result<Fixture> {
    admin::create_user(store, LOGIN, PASSWORD).await?;
    let mut first = None;
    for i in 0..SPACES {
        let id = admin::create_space(store, &format!("space {i}"), LOGIN).await?;
        first.get_or_insert(id);
    }
    admin::set_default_space(store, LOGIN, &first.unwrap()).await?;
    let token = admin::create_token(store, LOGIN, None).await?;
    // One argon2 hash shared by all: each verification still costs a full argon2 run,
    // and seeding does not spend a minute hashing.
    let phc = password::hash(PASSWORD);
    let mut many_basic = Vec::with_capacity(MANY_USERS);
    for i in 0..MANY_USERS {
        let login = format!("user{i:04}");
        store.create_user(&login, &phc).await?;
        many_basic.push(basic(&login, PASSWORD));
    }
    Ok(Fixture { token, many_basic })
}
