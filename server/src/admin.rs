//! The admin commands' logic, shared by the command line and the demo seeding. They
//! work on the database of a running server, which sees their changes within its
//! staleness bound (`--max-staleness-ms`).

use std::io::{BufRead, IsTerminal};

use crate::ids;
use crate::password;
use crate::store::{Store, StoreError, unix_now};

/// Longest accepted login or space name, in characters.
const MAX_NAME: usize = 255;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("invalid login '{login}': {reason}")]
    InvalidLogin { login: String, reason: &'static str },
    #[error("invalid space name: {0}")]
    InvalidSpaceName(&'static str),
    #[error("the password is empty (it is read from standard input)")]
    EmptyPassword,
    #[error("--ttl must be at least 1 second")]
    InvalidTtl,
    #[error("reading the password from standard input failed")]
    Stdin(#[source] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Logins travel in HTTP Basic, so they cannot hold ':' and should hold no control bytes.
pub fn validate_login(login: &str) -> Result<(), AdminError> {
    let invalid = |reason| {
        Err(AdminError::InvalidLogin {
            login: login.to_owned(),
            reason,
        })
    };
    if login.is_empty() {
        invalid("it is empty")
    } else if login.chars().count() > MAX_NAME {
        invalid("it is longer than 255 characters")
    } else if login.contains(':') {
        invalid("it contains ':', which HTTP Basic cannot carry in a login")
    } else if login.chars().any(char::is_control) {
        invalid("it contains control characters")
    } else if login.trim() != login {
        invalid("it starts or ends with white space")
    } else {
        Ok(())
    }
}

/// Reads a password from standard input: the first line when typed at a terminal,
/// otherwise everything up to end of input, without one trailing newline.
pub fn read_password(stdin: &mut impl BufRead, interactive: bool) -> Result<String, AdminError> {
    let mut text = String::new();
    if interactive {
        stdin.read_line(&mut text).map_err(AdminError::Stdin)?;
    } else {
        stdin.read_to_string(&mut text).map_err(AdminError::Stdin)?;
    }
    let password = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if password.is_empty() {
        return Err(AdminError::EmptyPassword);
    }
    Ok(password.to_owned())
}

/// [`read_password`] on this process's standard input.
pub fn read_password_from_stdin() -> Result<String, AdminError> {
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    if interactive {
        eprint!("Password: ");
    }
    read_password(&mut stdin.lock(), interactive)
}

pub async fn create_user(store: &dyn Store, login: &str, password: &str) -> Result<(), AdminError> {
    validate_login(login)?;
    if password.is_empty() {
        return Err(AdminError::EmptyPassword);
    }
    store.create_user(login, &password::hash(password)).await?;
    Ok(())
}

pub async fn set_password(
    store: &dyn Store,
    login: &str,
    password: &str,
) -> Result<(), AdminError> {
    if password.is_empty() {
        return Err(AdminError::EmptyPassword);
    }
    store
        .set_password_hash(login, &password::hash(password))
        .await?;
    Ok(())
}

pub async fn set_default_space(
    store: &dyn Store,
    login: &str,
    space_id: &str,
) -> Result<(), AdminError> {
    Ok(store.set_default_space(login, space_id).await?)
}

/// Creates a space owned by `owner` and returns its new id.
pub async fn create_space(
    store: &dyn Store,
    name: &str,
    owner: &str,
) -> Result<String, AdminError> {
    if name.trim().is_empty() {
        return Err(AdminError::InvalidSpaceName("it is empty"));
    }
    if name.chars().count() > MAX_NAME {
        return Err(AdminError::InvalidSpaceName(
            "it is longer than 255 characters",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(AdminError::InvalidSpaceName(
            "it contains control characters",
        ));
    }
    let id = ids::new_space_id();
    store.create_space(&id, name, owner).await?;
    Ok(id)
}

/// Returns false if the user already was a member.
pub async fn add_user(store: &dyn Store, space_id: &str, login: &str) -> Result<bool, AdminError> {
    Ok(store.add_member(space_id, login).await?)
}

/// Returns false if the user was not a member.
pub async fn remove_user(
    store: &dyn Store,
    space_id: &str,
    login: &str,
) -> Result<bool, AdminError> {
    Ok(store.remove_member(space_id, login).await?)
}

/// Issues a token for `login`, valid for `ttl_seconds` if given, and returns it: the
/// only time it is seen, since the store keeps only its hash.
pub async fn create_token(
    store: &dyn Store,
    login: &str,
    ttl_seconds: Option<u64>,
) -> Result<String, AdminError> {
    let expires_at = match ttl_seconds {
        Some(0) => return Err(AdminError::InvalidTtl),
        Some(ttl) => Some(unix_now().saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX))),
        None => None,
    };
    let token = ids::new_token();
    store
        .create_token(login, &ids::token_hash(&token), expires_at)
        .await?;
    Ok(token)
}

pub async fn revoke_token(store: &dyn Store, token: &str) -> Result<(), AdminError> {
    Ok(store.revoke_token(&ids::token_hash(token.trim())).await?)
}

/// The demo user's login.
pub const DEMO_LOGIN: &str = "demo";

pub enum DemoOutcome {
    Created {
        login: &'static str,
        password: String,
        spaces: Vec<String>,
        default: String,
    },
    /// The demo user exists from an earlier start.
    AlreadyPresent,
    /// The store holds other users; demo data is only added to an empty store.
    StoreNotEmpty,
}

/// Creates the demo user with two spaces, the first its default, if the store is empty.
pub async fn seed_demo(store: &dyn Store) -> Result<DemoOutcome, AdminError> {
    if store.user_count().await? > 0 {
        return Ok(match store.password_hash(DEMO_LOGIN).await? {
            Some(_) => DemoOutcome::AlreadyPresent,
            None => DemoOutcome::StoreNotEmpty,
        });
    }
    // 22 characters of base64url: 128 random bits, easy to paste.
    let password: String = ids::new_token().chars().take(22).collect();
    create_user(store, DEMO_LOGIN, &password).await?;
    let default = create_space(store, "Demo space", DEMO_LOGIN).await?;
    let other = create_space(store, "Another demo space", DEMO_LOGIN).await?;
    set_default_space(store, DEMO_LOGIN, &default).await?;
    let mut spaces = vec![default.clone(), other];
    spaces.sort();
    Ok(DemoOutcome::Created {
        login: DEMO_LOGIN,
        password,
        spaces,
        default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins() {
        assert!(validate_login("alice").is_ok());
        assert!(validate_login("jan.kowalski@example.org").is_ok());
        for bad in ["", "a:b", "a\nb", " alice", &"x".repeat(256)] {
            assert!(validate_login(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_from_stdin() {
        let read = |input: &str, interactive| read_password(&mut input.as_bytes(), interactive);
        assert_eq!(read("s3cret\n", false).unwrap(), "s3cret");
        assert_eq!(read("s3cret\r\n", false).unwrap(), "s3cret");
        assert_eq!(read("s3cret", false).unwrap(), "s3cret");
        assert_eq!(read(" two words \n", false).unwrap(), " two words ");
        assert_eq!(read("first\nsecond\n", true).unwrap(), "first");
        assert!(matches!(read("", false), Err(AdminError::EmptyPassword)));
        assert!(matches!(read("\n", false), Err(AdminError::EmptyPassword)));
    }
}
