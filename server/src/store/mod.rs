//! Persistence: the [`Store`] trait and one implementation per database.
//!
//! The trait speaks in logins, space ids and token hashes; id generation, password
//! hashing and validation live above it so that every backend behaves the same.

mod cache;
mod postgres;
mod sqlite;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

pub use cache::CachedStore;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// The row id of a user.
pub type UserId = i64;

/// Where the data lives, as the command line chose it.
#[derive(Debug, Clone)]
pub enum DatabaseTarget {
    /// A SQLite file, created on first use.
    SqliteFile(PathBuf),
    /// A database URL: `sqlite:PATH` or `postgres://...`.
    Url(String),
}

impl std::fmt::Display for DatabaseTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseTarget::SqliteFile(path) => write!(f, "SQLite file {}", path.display()),
            DatabaseTarget::Url(url) => write!(f, "{}", redact_url(url)),
        }
    }
}

/// A URL with any password replaced, fit for a log line.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    format!("{}://{user}:***@{}", &url[..scheme_end], &url[at + 1..])
                }
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Opens the store at `target`, creating it and applying migrations as needed.
pub async fn connect(target: &DatabaseTarget) -> Result<Arc<dyn Store>, StoreError> {
    match target {
        DatabaseTarget::SqliteFile(path) => Ok(Arc::new(SqliteStore::open_file(path).await?)),
        DatabaseTarget::Url(url) if url.starts_with("sqlite:") => {
            Ok(Arc::new(SqliteStore::open_url(url).await?))
        }
        DatabaseTarget::Url(url)
            if url.starts_with("postgres://") || url.starts_with("postgresql://") =>
        {
            Ok(Arc::new(PostgresStore::open_url(url).await?))
        }
        DatabaseTarget::Url(url) => Err(StoreError::Unsupported(format!(
            "unsupported database URL '{}': expected sqlite:PATH or postgres://...",
            redact_url(url)
        ))),
    }
}

/// A user's spaces as the API shows them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserSpaces {
    /// Sorted, without duplicates.
    pub spaces: Vec<String>,
    /// The default space, if it is set and the user is still a member of it.
    pub default: Option<String>,
}

impl UserSpaces {
    /// Builds the answer from the sorted memberships and the stored default; a default
    /// naming a space the user has left is dropped.
    pub fn new(spaces: Vec<String>, stored_default: Option<String>) -> Self {
        debug_assert!(
            spaces.windows(2).all(|w| w[0] < w[1]),
            "spaces must be sorted and unique"
        );
        let default = stored_default.filter(|d| spaces.binary_search(d).is_ok());
        UserSpaces { spaces, default }
    }

    /// From the rows of the listing query every backend runs: (stored default,
    /// space id or NULL), one row per membership in order, or one row with NULL for a
    /// user without spaces, or no row for an unknown user.
    fn from_rows(
        user_id: UserId,
        rows: Vec<(Option<String>, Option<String>)>,
    ) -> Result<Self, StoreError> {
        let Some((stored_default, _)) = rows.first() else {
            return Err(StoreError::UnknownUserId(user_id));
        };
        let stored_default = stored_default.clone();
        let spaces = rows.into_iter().filter_map(|(_, space)| space).collect();
        Ok(UserSpaces::new(spaces, stored_default))
    }
}

/// What the store knows of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub user_id: UserId,
    /// Unix seconds after which the token is refused; `None` for no expiry.
    pub expires_at: Option<i64>,
    pub revoked: bool,
}

impl TokenRecord {
    /// Whether the token may be used at `now` (unix seconds).
    pub fn is_valid_at(&self, now: i64) -> bool {
        !self.revoked && self.expires_at.is_none_or(|exp| now < exp)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no user with login '{0}'")]
    UnknownLogin(String),
    #[error("no space with id '{0}'")]
    UnknownSpace(String),
    #[error("no user with id {0}")]
    UnknownUserId(UserId),
    #[error("a user with login '{0}' already exists")]
    DuplicateLogin(String),
    #[error("user '{login}' is not a member of space '{space}'")]
    NotMember { login: String, space: String },
    #[error("no such token: it was never issued by this server")]
    UnknownToken,
    #[error("{0}")]
    Unsupported(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("applying database migrations failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Whether SQLite refused a write because a file was not writable (SQLITE_READONLY
/// and its extended codes, whose low byte is 8).
pub fn is_read_only(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(e) = e else {
        return false;
    };
    e.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
        && e.code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| code & 0xff == 8)
}

/// Everything the server and the admin commands need from a database.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Number of users; the demo data is only created in an empty store.
    async fn user_count(&self) -> Result<i64, StoreError>;
    async fn create_user(&self, login: &str, password_hash: &str) -> Result<UserId, StoreError>;
    async fn set_password_hash(&self, login: &str, password_hash: &str) -> Result<(), StoreError>;
    /// Fails with [`StoreError::NotMember`] unless the user belongs to the space.
    async fn set_default_space(&self, login: &str, space_id: &str) -> Result<(), StoreError>;
    /// Creates the space with `owner_login` as its first member.
    async fn create_space(
        &self,
        space_id: &str,
        name: &str,
        owner_login: &str,
    ) -> Result<(), StoreError>;
    /// Returns false if the user already was a member.
    async fn add_member(&self, space_id: &str, login: &str) -> Result<bool, StoreError>;
    /// Returns false if the user was not a member.
    async fn remove_member(&self, space_id: &str, login: &str) -> Result<bool, StoreError>;
    async fn create_token(
        &self,
        login: &str,
        token_hash: &[u8; 32],
        expires_at: Option<i64>,
    ) -> Result<(), StoreError>;
    async fn revoke_token(&self, token_hash: &[u8; 32]) -> Result<(), StoreError>;
    /// The user id and password hash for a login, if the login exists.
    async fn password_hash(&self, login: &str) -> Result<Option<(UserId, String)>, StoreError>;
    async fn token(&self, token_hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError>;
    /// One indexed query: the memberships in order, and the stored default.
    async fn user_spaces(&self, user_id: UserId) -> Result<UserSpaces, StoreError>;
    /// A counter that every write to the store bumps, whoever wrote (triggers keep it).
    async fn generation(&self) -> Result<i64, StoreError>;
}

/// Now, in unix seconds.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_outside_the_memberships_reads_as_none() {
        let spaces = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(
            UserSpaces::new(spaces.clone(), Some("b".into()))
                .default
                .as_deref(),
            Some("b")
        );
        assert_eq!(
            UserSpaces::new(spaces.clone(), Some("c".into())).default,
            None
        );
        assert_eq!(UserSpaces::new(spaces, None).default, None);
    }

    #[test]
    fn token_validity() {
        let t = TokenRecord {
            user_id: 1,
            expires_at: Some(100),
            revoked: false,
        };
        assert!(t.is_valid_at(99));
        assert!(!t.is_valid_at(100));
        assert!(
            !TokenRecord {
                revoked: true,
                expires_at: None,
                ..t.clone()
            }
            .is_valid_at(0)
        );
        assert!(
            TokenRecord {
                expires_at: None,
                ..t
            }
            .is_valid_at(i64::MAX)
        );
    }

    #[test]
    fn urls_are_redacted_for_logs() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("sqlite:x.db"), "sqlite:x.db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
