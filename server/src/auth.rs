//! Authentication: reading credentials from request headers, and verifying them.
//!
//! Accepted, as upstream Onezone does: HTTP Basic, or a token in the `macaroon`
//! header (3.0.0-RC2), in `X-Auth-Token`, or as `Authorization: Bearer` (later versions).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{AUTHORIZATION, HeaderMap, HeaderName};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::sync::Semaphore;

use crate::ids;
use crate::password;
use crate::store::{Store, StoreError, UserId, unix_now};
use crate::throttle::{Throttle, ThrottleConfig};

/// The headers a token may arrive in, besides `Authorization: Bearer`.
pub const TOKEN_HEADERS: [&str; 2] = ["macaroon", "x-auth-token"];

/// Credentials as a client sent them, not yet verified.
#[derive(PartialEq, Eq)]
pub enum Credentials {
    Basic { login: String, password: String },
    Token(String),
}

// Hand-written so that a credential never reaches a log line through `{:?}`.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { login, .. } => write!(f, "Basic({login:?}, <password>)"),
            Credentials::Token(_) => f.write_str("Token(<token>)"),
        }
    }
}

/// Why the headers did not yield one usable credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "Authentication required: send HTTP Basic credentials, or a token in the macaroon \
         header, the X-Auth-Token header or Authorization: Bearer."
    )]
    Missing,
    #[error("Unsupported authorization scheme '{0}': use Basic or Bearer.")]
    UnsupportedScheme(String),
    #[error("Malformed credentials: {0}.")]
    Malformed(&'static str),
    #[error(
        "Conflicting credentials: send either Basic credentials or one token, \
         not several different ones."
    )]
    Conflicting,
}

/// Reads the credentials of a request. Sending the same token in several token
/// headers is accepted; anything ambiguous is refused rather than guessed at.
pub fn credentials_from_headers(headers: &HeaderMap) -> Result<Credentials, CredentialError> {
    let mut basic = None;
    let mut tokens: Vec<String> = Vec::new();

    if let Some(value) = single_header(headers, &AUTHORIZATION)? {
        match parse_authorization(value)? {
            c @ Credentials::Basic { .. } => basic = Some(c),
            Credentials::Token(t) => tokens.push(t),
        }
    }
    for name in TOKEN_HEADERS {
        // An empty token header carries no credential, and counts as absent.
        let value = single_header(headers, &HeaderName::from_static(name))?;
        if let Some(token) = value.map(str::trim).filter(|t| !t.is_empty()) {
            tokens.push(token.to_owned());
        }
    }

    match (basic, tokens.split_first()) {
        (None, None) => Err(CredentialError::Missing),
        (Some(basic), None) => Ok(basic),
        (Some(_), Some(_)) => Err(CredentialError::Conflicting),
        (None, Some((first, rest))) if rest.iter().all(|t| t == first) => {
            Ok(Credentials::Token(first.clone()))
        }
        (None, Some(_)) => Err(CredentialError::Conflicting),
    }
}

/// The header's value as text, if present once; several copies are refused.
fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'h str>, CredentialError> {
    let mut values = headers.get_all(name);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(CredentialError::Malformed(
            "a credential header is repeated",
        ));
    }
    value.to_str().map(Some).map_err(|_| {
        CredentialError::Malformed("a credential header holds non-ASCII or control bytes")
    })
}

/// Parses an `Authorization` header value: `Basic <base64>` or `Bearer <token>`.
pub fn parse_authorization(value: &str) -> Result<Credentials, CredentialError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(CredentialError::Malformed("empty Authorization header"));
    }
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        parse_basic(rest)
    } else if scheme.eq_ignore_ascii_case("bearer") {
        if rest.is_empty() {
            return Err(CredentialError::Malformed("Bearer without a token"));
        }
        Ok(Credentials::Token(rest.to_owned()))
    } else {
        // Cap what is echoed back so a hostile header cannot bloat the error.
        Err(CredentialError::UnsupportedScheme(
            scheme.chars().take(32).collect(),
        ))
    }
}

fn parse_basic(encoded: &str) -> Result<Credentials, CredentialError> {
    if encoded.is_empty() {
        return Err(CredentialError::Malformed("Basic without credentials"));
    }
    let decoded = STANDARD
        .decode(encoded)
        .map_err(|_| CredentialError::Malformed("Basic credentials are not valid base64"))?;
    let text = String::from_utf8(decoded)
        .map_err(|_| CredentialError::Malformed("Basic credentials are not UTF-8"))?;
    let (login, password) = text.split_once(':').ok_or(CredentialError::Malformed(
        "Basic credentials have no ':' between login and password",
    ))?;
    // An empty login is well-formed Basic (RFC 7617); it names no user, so it fails
    // verification like any unknown login.
    Ok(Credentials::Basic {
        login: login.to_owned(),
        password: password.to_owned(),
    })
}

/// Why verified credentials were refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid login or password")]
    InvalidPassword,
    #[error("invalid, expired or revoked token")]
    InvalidToken,
    #[error("too many failed attempts; retry in {0:?}")]
    Throttled(Duration),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Verifies credentials against the store.
pub struct Authenticator {
    store: Arc<dyn Store>,
    /// Bounds concurrent argon2 verifications to one per core: they are CPU-bound, and
    /// each holds 19 MiB, so a burst of Basic requests queues instead of growing memory.
    hashing: Semaphore,
    /// One argon2 working memory per permit, allocated on first use and reused.
    memory: std::sync::Mutex<Vec<password::Memory>>,
    verified: VerifiedPasswords,
    throttle: Throttle,
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, throttle: ThrottleConfig) -> Self {
        let permits = std::thread::available_parallelism().map_or(2, |n| n.get());
        // Built now rather than on the first unknown login, which would then be slower.
        let _ = password::decoy_hash();
        Authenticator {
            store,
            hashing: Semaphore::new(permits),
            memory: std::sync::Mutex::default(),
            verified: VerifiedPasswords::new(),
            throttle: Throttle::new(throttle),
        }
    }

    /// Verifies `credentials`; `peer` is the client's address, for throttling guesses.
    pub async fn authenticate(
        &self,
        credentials: Credentials,
        peer: Option<IpAddr>,
    ) -> Result<UserId, AuthError> {
        match credentials {
            Credentials::Basic { login, password } => {
                self.throttle
                    .check(&login, peer)
                    .map_err(AuthError::Throttled)?;
                let verified = self.verify_password(&login, password).await;
                match &verified {
                    Ok(_) => self.throttle.record_success(&login),
                    Err(AuthError::InvalidPassword) => self.throttle.record_failure(&login, peer),
                    Err(_) => {}
                }
                verified
            }
            Credentials::Token(token) => self.verify_token(&token).await,
        }
    }

    async fn verify_password(&self, login: &str, password: String) -> Result<UserId, AuthError> {
        let found = self.store.password_hash(login).await?;
        let (user_id, phc) = match found {
            Some((id, phc)) => (Some(id), phc),
            None => (None, password::decoy_hash().to_owned()),
        };
        let remembered = |phc: &str, password: &str| {
            user_id.filter(|_| self.verified.contains(login, phc, password))
        };
        if let Some(id) = remembered(&phc, &password) {
            return Ok(id);
        }
        let _permit = self
            .hashing
            .acquire()
            .await
            .expect("the semaphore is never closed");
        // A burst of the same credentials queues here; the one ahead verified them.
        if let Some(id) = remembered(&phc, &password) {
            return Ok(id);
        }
        let mut memory = self.take_memory();
        let (matches, memory, password, phc) = tokio::task::spawn_blocking(move || {
            let matches = password::verify_in(&password, &phc, &mut memory);
            (matches, memory, password, phc)
        })
        .await
        .expect("password verification does not panic");
        self.memory.lock().unwrap().push(memory);
        match user_id {
            Some(id) if matches => {
                self.verified.remember(login, &phc, &password);
                Ok(id)
            }
            _ => Err(AuthError::InvalidPassword),
        }
    }

    /// A free working memory; with a hashing permit held there is one, or a new one
    /// is allocated on first use.
    fn take_memory(&self) -> password::Memory {
        self.memory.lock().unwrap().pop().unwrap_or_default()
    }

    async fn verify_token(&self, token: &str) -> Result<UserId, AuthError> {
        // Nothing this server issued has another shape; skip the lookup.
        if !ids::is_well_formed(token) {
            return Err(AuthError::InvalidToken);
        }
        match self.store.token(&ids::token_hash(token)).await? {
            Some(record) if record.is_valid_at(unix_now()) => Ok(record.user_id),
            _ => Err(AuthError::InvalidToken),
        }
    }
}

/// Passwords that argon2 accepted, so that a client repeating its Basic credentials
/// does not pay 19 MiB and tens of milliseconds each time. Only a keyed SHA-256 of
/// (login, stored hash, password) is kept, under a key drawn per process and never
/// written anywhere. The stored hash is in the key, so a changed password or a removed
/// user stops matching as soon as the store says so.
struct VerifiedPasswords {
    key: [u8; 32],
    seen: std::sync::RwLock<std::collections::HashSet<[u8; 32]>>,
}

impl VerifiedPasswords {
    /// Entries kept; when full, it is emptied and starts again.
    const CAPACITY: usize = 100_000;

    fn new() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source failed");
        VerifiedPasswords {
            key,
            seen: Default::default(),
        }
    }

    fn digest(&self, login: &str, phc: &str, password: &str) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(self.key);
        // Lengths first: no two different triples hash the same input.
        for part in [login, phc] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        hasher.update(password.as_bytes());
        hasher.finalize().into()
    }

    fn contains(&self, login: &str, phc: &str, password: &str) -> bool {
        let digest = self.digest(login, phc, password);
        self.seen.read().unwrap().contains(&digest)
    }

    fn remember(&self, login: &str, phc: &str, password: &str) {
        let digest = self.digest(login, phc, password);
        let mut seen = self.seen.write().unwrap();
        if seen.len() >= Self::CAPACITY {
            seen.clear();
        }
        seen.insert(digest);
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    fn basic(login: &str, password: &str) -> Credentials {
        Credentials::Basic {
            login: login.into(),
            password: password.into(),
        }
    }

    #[test]
    fn basic_credentials() {
        // "alice:s3cr:et" — the password may contain a colon, the login may not.
        let h = headers(&[("authorization", b"Basic YWxpY2U6czNjcjpldA==")]);
        assert_eq!(credentials_from_headers(&h), Ok(basic("alice", "s3cr:et")));
        let h = headers(&[("authorization", b"basic YWxpY2U6czNjcjpldA==")]);
        assert_eq!(credentials_from_headers(&h), Ok(basic("alice", "s3cr:et")));
    }

    #[test]
    fn tokens_from_each_header() {
        for (name, value) in [
            ("macaroon", &b"tok"[..]),
            ("x-auth-token", b"tok"),
            ("authorization", b"Bearer tok"),
        ] {
            let h = headers(&[(name, value)]);
            assert_eq!(
                credentials_from_headers(&h),
                Ok(Credentials::Token("tok".into())),
                "{name}"
            );
        }
        let same = headers(&[("macaroon", b"tok"), ("x-auth-token", b"tok")]);
        assert_eq!(
            credentials_from_headers(&same),
            Ok(Credentials::Token("tok".into()))
        );
    }

    #[test]
    fn refusals() {
        use CredentialError::*;
        type Case<'a> = (&'a [(&'a str, &'a [u8])], CredentialError);
        let cases: &[Case] = &[
            (&[], Missing),
            (
                &[("authorization", b"")],
                Malformed("empty Authorization header"),
            ),
            (
                &[("authorization", b"Basic")],
                Malformed("Basic without credentials"),
            ),
            (
                &[("authorization", b"Basic !!!")],
                Malformed("Basic credentials are not valid base64"),
            ),
            // base64 of the bytes ff fe 3a 61
            (
                &[("authorization", b"Basic //46YQ==")],
                Malformed("Basic credentials are not UTF-8"),
            ),
            // "alice"
            (
                &[("authorization", b"Basic YWxpY2U=")],
                Malformed("Basic credentials have no ':' between login and password"),
            ),
            (
                &[("authorization", b"Bearer ")],
                Malformed("Bearer without a token"),
            ),
            (
                &[("authorization", b"Digest x")],
                UnsupportedScheme("Digest".into()),
            ),
            (&[("macaroon", b"  ")], Missing),
            (
                &[("macaroon", b"a"), ("macaroon", b"a")],
                Malformed("a credential header is repeated"),
            ),
            (
                &[("macaroon", b"caf\xc3\xa9")],
                Malformed("a credential header holds non-ASCII or control bytes"),
            ),
            (&[("macaroon", b"a"), ("x-auth-token", b"b")], Conflicting),
            (
                &[("authorization", b"Basic YTpi"), ("macaroon", b"a")],
                Conflicting,
            ),
        ];
        for (pairs, expected) in cases {
            assert_eq!(
                credentials_from_headers(&headers(pairs)).as_ref(),
                Err(expected),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn debug_output_hides_secrets() {
        let shown = format!(
            "{:?} {:?}",
            basic("alice", "hunter2"),
            Credentials::Token("t0k3n".into())
        );
        assert!(shown.contains("alice"));
        assert!(
            !shown.contains("hunter2") && !shown.contains("t0k3n"),
            "{shown}"
        );
    }

    #[test]
    fn a_remembered_password_matches_only_its_login_stored_hash_and_password() {
        let verified = VerifiedPasswords::new();
        assert!(!verified.contains("alice", "$argon2id$one", "pw"));
        verified.remember("alice", "$argon2id$one", "pw");
        assert!(verified.contains("alice", "$argon2id$one", "pw"));
        // A changed password (new stored hash), another password, another login.
        assert!(!verified.contains("alice", "$argon2id$two", "pw"));
        assert!(!verified.contains("alice", "$argon2id$one", "pw2"));
        assert!(!verified.contains("bob", "$argon2id$one", "pw"));
        // Length prefixes: moving bytes between the parts changes the digest.
        assert!(!verified.contains("alic", "e$argon2id$one", "pw"));
        // Another process's key: nothing carries over.
        assert!(!VerifiedPasswords::new().contains("alice", "$argon2id$one", "pw"));
    }
}
