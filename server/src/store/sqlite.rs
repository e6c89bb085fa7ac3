//! The SQLite store: the default, one file in the data directory.
//!
//! WAL mode lets the admin commands write while a running server reads; write
//! transactions start with `BEGIN IMMEDIATE` so that two writers queue on the busy
//! timeout instead of failing on a lock upgrade.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};

use super::{Store, StoreError, TokenRecord, UserId, UserSpaces, unix_now};

/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open_file(path: &Path) -> Result<Self, StoreError> {
        Self::open(SqliteConnectOptions::new().filename(path)).await
    }

    /// Opens a `sqlite:` URL, such as `sqlite:///var/lib/onezone/onezone.db`.
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        Self::open(SqliteConnectOptions::from_str(url)?).await
    }

    async fn open(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(BUSY_TIMEOUT + Duration::from_secs(1))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

async fn user_id(conn: &mut SqliteConnection, login: &str) -> Result<UserId, StoreError> {
    sqlx::query_scalar("SELECT id FROM users WHERE login = ?")
        .bind(login)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::UnknownLogin(login.to_owned()))
}

async fn require_space(conn: &mut SqliteConnection, space_id: &str) -> Result<(), StoreError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM spaces WHERE id = ?")
        .bind(space_id)
        .fetch_optional(conn)
        .await?;
    found
        .map(drop)
        .ok_or_else(|| StoreError::UnknownSpace(space_id.to_owned()))
}

#[async_trait]
impl Store for SqliteStore {
    async fn user_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn create_user(&self, login: &str, password_hash: &str) -> Result<UserId, StoreError> {
        sqlx::query_scalar(
            "INSERT INTO users (login, password_hash, created_at) VALUES (?, ?, ?) RETURNING id",
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
        let done = sqlx::query("UPDATE users SET password_hash = ? WHERE login = ?")
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let user = user_id(&mut tx, login).await?;
        require_space(&mut tx, space_id).await?;
        let member: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM memberships WHERE user_id = ? AND space_id = ?")
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
        sqlx::query("UPDATE users SET default_space_id = ? WHERE id = ?")
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let owner = user_id(&mut tx, owner_login).await?;
        sqlx::query("INSERT INTO spaces (id, name, created_at) VALUES (?, ?, ?)")
            .bind(space_id)
            .bind(name)
            .bind(unix_now())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO memberships (user_id, space_id) VALUES (?, ?)")
            .bind(owner)
            .bind(space_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_member(&self, space_id: &str, login: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let user = user_id(&mut tx, login).await?;
        require_space(&mut tx, space_id).await?;
        let done =
            sqlx::query("INSERT OR IGNORE INTO memberships (user_id, space_id) VALUES (?, ?)")
                .bind(user)
                .bind(space_id)
                .execute(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_member(&self, space_id: &str, login: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let user = user_id(&mut tx, login).await?;
        require_space(&mut tx, space_id).await?;
        let done = sqlx::query("DELETE FROM memberships WHERE user_id = ? AND space_id = ?")
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
        // One statement, as on PostgreSQL: no row inserted means no such login.
        let done = sqlx::query(
            "INSERT INTO tokens (hash, user_id, created_at, expires_at) \
             SELECT ?, id, ?, ? FROM users WHERE login = ?",
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
            sqlx::query("UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE hash = ?")
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
            sqlx::query_as("SELECT id, password_hash FROM users WHERE login = ?")
                .bind(login)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn token(&self, token_hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        let row: Option<(UserId, Option<i64>, bool)> = sqlx::query_as(
            "SELECT user_id, expires_at, revoked_at IS NOT NULL FROM tokens WHERE hash = ?",
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
        // The LEFT JOIN keeps the user's row when they have no space; the primary key
        // (user_id, space_id) gives the order and uniqueness.
        let rows: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT u.default_space_id, m.space_id FROM users u \
             LEFT JOIN memberships m ON m.user_id = u.id \
             WHERE u.id = ? ORDER BY m.space_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        UserSpaces::from_rows(user_id, rows)
    }
}
