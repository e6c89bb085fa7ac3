//! Building a client: where the server is, which credentials to send, how long to
//! wait, which certificates to trust.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

use crate::error::{BuildError, ClientError};
use crate::generated::Client;
use crate::spaces::UserSpaces;

/// Where the API lives on a Onezone host; appended to a base URL that lacks it.
pub const BASE_PATH: &str = "/api/v3/onezone";

/// Which header carries a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenHeader {
    /// `macaroon: <token>`, as Onezone 3.0.0-RC2 reads it.
    #[default]
    Macaroon,
    /// `X-Auth-Token: <token>`.
    XAuthToken,
    /// `Authorization: Bearer <token>`.
    Bearer,
}

/// Credentials sent with every request.
#[derive(Clone)]
pub enum Credentials {
    Basic { login: String, password: String },
    Token { token: String, header: TokenHeader },
}

// Hand-written so that a secret never reaches a log through `{:?}`.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { login, .. } => write!(f, "Basic({login:?}, <password>)"),
            Credentials::Token { header, .. } => write!(f, "Token(<token> in {header:?})"),
        }
    }
}

impl Credentials {
    /// The header carrying these credentials, marked sensitive so that reqwest and
    /// hyper keep it out of their debug output.
    fn header(&self) -> Result<(HeaderName, HeaderValue), BuildError> {
        let (name, text) = match self {
            Credentials::Basic { login, password } => {
                if login.contains(':') {
                    return Err(BuildError::InvalidCredentials(
                        "a Basic login cannot contain ':'",
                    ));
                }
                (
                    AUTHORIZATION,
                    format!("Basic {}", STANDARD.encode(format!("{login}:{password}"))),
                )
            }
            Credentials::Token { token, header } => match header {
                TokenHeader::Macaroon => (HeaderName::from_static("macaroon"), token.clone()),
                TokenHeader::XAuthToken => (HeaderName::from_static("x-auth-token"), token.clone()),
                TokenHeader::Bearer => (AUTHORIZATION, format!("Bearer {token}")),
            },
        };
        let mut value = HeaderValue::from_str(&text)
            .map_err(|_| BuildError::InvalidCredentials("only visible ASCII can be sent"))?;
        value.set_sensitive(true);
        Ok((name, value))
    }
}

/// Builds an [`OnezoneClient`].
///
/// ```
/// use std::time::Duration;
/// use onezone_client::{ClientBuilder, TokenHeader};
///
/// let client = ClientBuilder::new("https://localhost:8443")
///     .token_in("IkHB2CCoAFm5FCswhAJynbFU4fj26yiE1lhpK3p-0Y8", TokenHeader::Bearer)
///     .timeout(Duration::from_secs(5))
///     .danger_accept_invalid_certs(true) // a self-signed development server, like `curl -k`
///     .build()
///     .unwrap();
/// assert_eq!(client.base_url(), "https://localhost:8443/api/v3/onezone");
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    host: String,
    credentials: Option<Credentials>,
    timeout: Duration,
    connect_timeout: Duration,
    ca_pem: Option<Vec<u8>>,
    accept_invalid_certs: bool,
}

impl ClientBuilder {
    /// A client for the server at `url`, such as `https://onezone.example.org:8443`;
    /// `/api/v3/onezone` is appended unless the URL already ends with it.
    pub fn new(url: impl Into<String>) -> Self {
        ClientBuilder {
            host: url.into(),
            credentials: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            ca_pem: None,
            accept_invalid_certs: false,
        }
    }

    /// HTTP Basic credentials.
    pub fn basic(mut self, login: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::Basic {
            login: login.into(),
            password: password.into(),
        });
        self
    }

    /// A token, sent in the `macaroon` header.
    pub fn token(self, token: impl Into<String>) -> Self {
        self.token_in(token, TokenHeader::Macaroon)
    }

    /// A token, sent in the given header.
    pub fn token_in(mut self, token: impl Into<String>, header: TokenHeader) -> Self {
        self.credentials = Some(Credentials::Token {
            token: token.into(),
            header,
        });
        self
    }

    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The longest a whole request may take (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest connecting may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Trust only this CA certificate (PEM), such as a server's self-signed one.
    pub fn ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Accept any certificate, like `curl -k`. For development servers only: it gives
    /// up the protection TLS exists for.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.accept_invalid_certs = accept;
        self
    }

    pub fn build(self) -> Result<OnezoneClient, BuildError> {
        let base_url = base_url(&self.host)?;
        // reqwest is built without a default TLS provider; use ring, as the server
        // does, unless the application installed one already.
        let _ = rustls::crypto::ring::default_provider().install_default();

        let mut headers = HeaderMap::new();
        if let Some(credentials) = &self.credentials {
            let (name, value) = credentials.header()?;
            headers.insert(name, value);
        }
        let mut http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!("onezone-client/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &self.ca_pem {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| BuildError::InvalidCaCertificate(e.to_string()))?;
            http = http.tls_certs_only([cert]);
        }
        if self.accept_invalid_certs {
            http = http.danger_accept_invalid_certs(true);
        }
        Ok(OnezoneClient {
            inner: Client::new_with_client(&base_url, http.build()?),
        })
    }
}

fn base_url(url: &str) -> Result<String, BuildError> {
    let invalid = |reason| BuildError::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| invalid("it must start with https:// or http://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid("it has no host"));
    }
    if trimmed.ends_with(BASE_PATH) {
        Ok(trimmed.to_owned())
    } else {
        Ok(format!("{trimmed}{BASE_PATH}"))
    }
}

/// The generated [`Client`] with credentials and TLS set up, and typed helpers.
#[derive(Debug, Clone)]
pub struct OnezoneClient {
    inner: Client,
}

impl OnezoneClient {
    /// The user's spaces, with `"undefined"` as `None`.
    pub async fn spaces(&self) -> Result<UserSpaces, ClientError> {
        let response = self.inner.get_user_spaces().await?;
        Ok(response.into_inner().into())
    }

    /// The generated client, for the operations as the spec spells them.
    pub fn generated(&self) -> &Client {
        &self.inner
    }

    pub fn base_url(&self) -> &str {
        progenitor_client::ClientInfo::baseurl(&self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            base_url("https://h:8443").unwrap(),
            "https://h:8443/api/v3/onezone"
        );
        assert_eq!(
            base_url("https://h:8443/").unwrap(),
            "https://h:8443/api/v3/onezone"
        );
        assert_eq!(
            base_url("http://h/api/v3/onezone").unwrap(),
            "http://h/api/v3/onezone"
        );
        assert!(base_url("h:8443").is_err());
        assert!(base_url("https://").is_err());
    }

    #[test]
    fn credential_headers_are_sensitive_and_well_formed() {
        let basic = Credentials::Basic {
            login: "alice".into(),
            password: "pw".into(),
        };
        let (name, value) = basic.header().unwrap();
        assert_eq!(name, AUTHORIZATION);
        assert_eq!(value, "Basic YWxpY2U6cHc=");
        assert!(value.is_sensitive());
        for (header, name, value) in [
            (TokenHeader::Macaroon, "macaroon", "t"),
            (TokenHeader::XAuthToken, "x-auth-token", "t"),
            (TokenHeader::Bearer, "authorization", "Bearer t"),
        ] {
            let (n, v) = Credentials::Token {
                token: "t".into(),
                header,
            }
            .header()
            .unwrap();
            assert_eq!((n.as_str(), v.to_str().unwrap()), (name, value));
            assert!(v.is_sensitive());
        }
        let bad = Credentials::Basic {
            login: "a:b".into(),
            password: "pw".into(),
        };
        assert!(bad.header().is_err());
        assert!(
            !format!(
                "{:?}",
                Credentials::Token {
                    token: "s3cr3t".into(),
                    header: TokenHeader::Bearer
                }
            )
            .contains("s3cr3t")
        );
    }
}
