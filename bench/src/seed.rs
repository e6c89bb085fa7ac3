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

/// Which store a database is.
#[derive(Clone, Copy, PartialEq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

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

/// A fresh database `onezone_bench` on the PostgreSQL server of `server_url`. Returns
/// its URL and the fixture.
pub async fn postgres(server_url: &str) -> anyhow::Result<(String, Fixture)> {
    let url = fresh_postgres_database(server_url, "onezone_bench").await?;
    let store = connect(&DatabaseTarget::Url(url.clone())).await?;
    Ok((url, fill(store.as_ref()).await?))
}

/// Creates the database `name` on the PostgreSQL server of `server_url`, dropped first
/// if a previous run left it; returns its URL.
pub async fn fresh_postgres_database(server_url: &str, name: &str) -> anyhow::Result<String> {
    drop_postgres_database(server_url, name).await?;
    on_postgres_server(server_url, &format!("CREATE DATABASE {name}")).await?;
    let mut url = reqwest::Url::parse(server_url)?;
    url.set_path(name);
    Ok(url.to_string())
}

pub async fn drop_postgres_database(server_url: &str, name: &str) -> anyhow::Result<()> {
    on_postgres_server(
        server_url,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await
}

/// Runs one statement on the server's own database (names are the bench's constants).
async fn on_postgres_server(server_url: &str, statement: &str) -> anyhow::Result<()> {
    let mut admin = PgConnection::connect(server_url)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {server_url}"))?;
    sqlx::raw_sql(AssertSqlSafe(statement.to_owned()))
        .execute(&mut admin)
        .await?;
    Ok(())
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
