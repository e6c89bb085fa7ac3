//! The PostgreSQL store: for several stateless server replicas on one database.
//!
//! This store caches nothing: every call reads the database. The server puts
//! `store::cache` in front of it, which bounds how late a change made through another
//! replica (or an admin command) is seen.
//! Migrations take PostgreSQL's advisory lock (sqlx's migrator does), so replicas
//! starting at once apply them once.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use super::{Store, StoreError, TokenRecord, UserId, UserSpaces, unix_now};

/// Longest a request waits for a pooled connection, which includes connecting: an
/// unreachable database turns into a 500 within this bound, not a hung request.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest one statement may run on the server before PostgreSQL cancels it.
const STATEMENT_TIMEOUT: &str = "5s";
/// Connections per replica; with N replicas the database sees up to N times this.
const MAX_CONNECTIONS: u32 = 16;

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to a `postgres://` URL and applies migrations.
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        let mut options =
            PgConnectOptions::from_str(url)?.options([("statement_timeout", STATEMENT_TIMEOUT)]);
        // Named in pg_stat_activity, unless the URL names it (`?application_name=...`).
        if options.get_application_name().is_none() {
            options = options.application_name("onezone-server");
        }
        // One direct connection first: when the database is unreachable at start, the
        // error names the cause (refused, unknown host, bad password), where the pool
        // would only report that it timed out.
        PgConnection::connect_with(&options).await?.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A connection the database dropped (restart, pg_terminate_backend) is
            // noticed and replaced before a request gets it.
            .test_before_acquire(true)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool })
    }
}

async fn user_id(conn: &mut PgConnection, login: &str) -> Result<UserId, StoreError> {
    sqlx::query_scalar("SELECT id FROM users WHERE login = $1")
        .bind(login)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::UnknownLogin(login.to_owned()))
}

async fn require_space(conn: &mut PgConnection, space_id: &str) -> Result<(), StoreError> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM spaces WHERE id = $1")
        .bind(space_id)
        .fetch_optional(conn)
        .await?;
    found
        .map(drop)
        .ok_or_else(|| StoreError::UnknownSpace(space_id.to_owned()))
}

#[async_trait]
impl Store for PostgresStore {
    async fn user_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn create_user(&self, login: &str, password_hash: &str) -> Result<UserId, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO users (login, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(login)
        .bind(password_hash)
        .bind(unix_now())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::DuplicateLogin(login.to_owned())
            }
            e => e.into(),
        })
    }

    async fn set_password_hash(&self, login: &str, password_hash: &str) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE login = $2")
            .bind(password_hash)
            .bind(login)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::UnknownLogin(login.to_owned()));
        }
        Ok(())
    }

    async fn set_default_space(&self, login: &str, space_id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let user = user_id(&mut tx, login).await?;
        require_space(&mut tx, space_id).await?;
        let member: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM memberships WHERE user_id = $1 AND space_id = $2")
                .bind(user)
                .bind(space_id)
                .fetch_optional(&mut *tx)
                .await?;
        if member.is_none() {
            return Err(StoreError::NotMember {
                login: login.to_owned(),
                space: space_id.to_owned(),
            });
        }
        sqlx::query("UPDATE users SET default_space_id = $1 WHERE id = $2")
            .bind(space_id)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_space(
        &self,
        space_id: &str,
        name: &str,
        owner_login: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let owner = user_id(&mut tx, owner_login).await?;
        sqlx::query("INSERT INTO spaces (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(space_id)
            .bind(name)
            .bind(unix_now())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO memberships (user_id, space_id) VALUES ($1, $2)")
            .bind(owner)
            .bind(space_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_member(&self, space_id: &str, login: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let user = user_id(&mut tx, login).await?;
        require_space(&mut tx, space_id).await?;
        let done = sqlx::query(
            "INSERT INTO memberships (user_id, space_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user)
        .bind(space_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_member(&self, space_id: &str, login: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let user = user_id(&mut tx, login).await?;
        require_space(&mut tx, space_id).await?;
        let done = sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND space_id = $2")
            .bind(user)
            .bind(space_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_token(
        &self,
        login: &str,
        token_hash: &[u8; 32],
        expires_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO tokens (hash, user_id, created_at, expires_at) \
             SELECT $1, id, $2, $3 FROM users WHERE login = $4",
        )
        .bind(&token_hash[..])
        .bind(unix_now())
        .bind(expires_at)
        .bind(login)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::UnknownLogin(login.to_owned()));
        }
        Ok(())
    }

    async fn revoke_token(&self, token_hash: &[u8; 32]) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = coalesce(revoked_at, $1) WHERE hash = $2")
                .bind(unix_now())
                .bind(&token_hash[..])
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::UnknownToken);
        }
        Ok(())
    }

    async fn password_hash(&self, login: &str) -> Result<Option<(UserId, String)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT id, password_hash FROM users WHERE login = $1")
                .bind(login)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn token(&self, token_hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        let row: Option<(UserId, Option<i64>, bool)> = sqlx::query_as(
            "SELECT user_id, expires_at, revoked_at IS NOT NULL FROM tokens WHERE hash = $1",
        )
        .bind(&token_hash[..])
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(user_id, expires_at, revoked)| TokenRecord {
            user_id,
            expires_at,
            revoked,
        }))
    }

    async fn generation(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM store_generation WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn user_spaces(&self, user_id: UserId) -> Result<UserSpaces, StoreError> {
        let rows: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT u.default_space_id, m.space_id FROM users u \
             LEFT JOIN memberships m ON m.user_id = u.id \
             WHERE u.id = $1 ORDER BY m.space_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        UserSpaces::from_rows(user_id, rows)
    }
}
