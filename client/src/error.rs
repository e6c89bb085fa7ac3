//! Errors a client call can end in, sorted the way a caller acts on them.

use crate::types;

/// A call that did not give the user's spaces.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error status and the spec's Error body.
    #[error("{status} {}: {}", body.error, body.error_description)]
    Api { status: u16, body: types::Error },
    /// The server answered with something the spec does not describe.
    #[error("unexpected response: status {status}")]
    UnexpectedResponse { status: u16 },
    /// No TLS session: the certificate was not trusted, or the handshake failed.
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    /// No answer: connection refused, name not resolved, timeout, connection reset.
    #[error("{0}")]
    Network(String),
    /// An answer whose body could not be read as the spec says.
    #[error("invalid response: {0}")]
    InvalidResponse(String),
}

impl ClientError {
    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::UnexpectedResponse { status } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// The server's Error body, if it sent one.
    pub fn body(&self) -> Option<&types::Error> {
        match self {
            ClientError::Api { body, .. } => Some(body),
            _ => None,
        }
    }

    /// The credentials were missing, wrong, expired or revoked, or not enough (401, 403).
    pub fn is_auth_failure(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    /// The server could not be reached, or TLS failed before any answer.
    pub fn is_network_failure(&self) -> bool {
        matches!(self, ClientError::Network(_) | ClientError::Tls(_))
    }
}

impl From<progenitor_client::Error<types::Error>> for ClientError {
    fn from(e: progenitor_client::Error<types::Error>) -> Self {
        use progenitor_client::Error as E;
        match e {
            E::ErrorResponse(response) => ClientError::Api {
                status: response.status().as_u16(),
                body: response.into_inner(),
            },
            E::UnexpectedResponse(response) => ClientError::UnexpectedResponse {
                status: response.status().as_u16(),
            },
            E::CommunicationError(e) | E::ResponseBodyError(e) => from_reqwest(e),
            E::InvalidResponsePayload(_, e) => ClientError::InvalidResponse(e.to_string()),
            other => ClientError::InvalidResponse(other.to_string()),
        }
    }
}

/// Sorts a transport error into TLS or network, with its innermost cause in the text.
fn from_reqwest(e: reqwest::Error) -> ClientError {
    let mut cause: &(dyn std::error::Error + 'static) = &e;
    let mut tls = None;
    while let Some(next) = cause.source() {
        cause = next;
        tls = tls.or_else(|| rustls_error(cause).map(ToString::to_string));
    }
    match tls {
        Some(detail) => ClientError::Tls(detail),
        None if e.is_timeout() => ClientError::Network(format!("timed out: {cause}")),
        None => ClientError::Network(cause.to_string()),
    }
}

/// The rustls error inside `e`, looking through the `io::Error`s hyper wraps it in
/// (whose `source()` skips the error they wrap).
fn rustls_error<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    rustls_error(inner)
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: &'static str },
    #[error("credentials cannot be sent in an HTTP header: {0}")]
    InvalidCredentials(&'static str),
    #[error("the CA certificate is not usable PEM: {0}")]
    InvalidCaCertificate(String),
    #[error("building the HTTP client failed: {0}")]
    Http(#[from] reqwest::Error),
}
