//! The one error type of the HTTP layer. Every status this server produces renders
//! the spec's `Error` schema: `{"error": "...", "error_description": "..."}`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{AuthError, CredentialError};
use crate::store::StoreError;

/// The body of every error response.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
#[schema(
    as = Error,
    example = json!({"error": "invalid_token", "error_description": "Provided token could not be validated."})
)]
pub struct ErrorBody {
    /// A short machine-readable error code, such as `invalid_token`.
    pub error: String,
    /// A human-readable explanation of the error.
    pub error_description: String,
}

/// The challenges sent with every 401 (RFC 9110 §11.6.1).
const CHALLENGES: &str = r#"Basic realm="onezone", Bearer realm="onezone""#;
const INVALID_TOKEN_CHALLENGE: &str = r#"Bearer realm="onezone", error="invalid_token""#;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error("invalid login or password")]
    InvalidPassword,
    #[error("invalid token")]
    InvalidToken,
    #[error("too many failed attempts")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("no resource at this path")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    /// The cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidPassword => ApiError::InvalidPassword,
            AuthError::InvalidToken => ApiError::InvalidToken,
            // Rounded up: retrying at exactly the announced second must succeed.
            AuthError::Throttled(wait) => ApiError::TooManyAttempts {
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            },
            AuthError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.into())
    }
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            ApiError::Credentials(CredentialError::Missing) => "unauthorized",
            ApiError::Credentials(CredentialError::UnsupportedScheme(_)) => "unauthorized",
            ApiError::Credentials(_) => "invalid_request",
            ApiError::InvalidPassword => "invalid_credentials",
            ApiError::InvalidToken => "invalid_token",
            ApiError::TooManyAttempts { .. } => "too_many_requests",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Internal(_) => "internal_server_error",
        }
    }

    fn description(&self) -> String {
        match self {
            ApiError::Credentials(e) => e.to_string(),
            ApiError::InvalidPassword => "Invalid login or password.".into(),
            // The upstream server's wording, which clients may match on.
            ApiError::InvalidToken => "Provided token could not be validated.".into(),
            ApiError::TooManyAttempts { retry_after_secs } => format!(
                "Too many failed login attempts for this login or from this address; \
                 retry in {retry_after_secs} s."
            ),
            ApiError::NotFound => "Resource not found.".into(),
            ApiError::MethodNotAllowed { allow } => {
                format!("Method not allowed; allowed: {allow}.")
            }
            ApiError::Internal(_) => "Internal server error.".into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Credentials(
                CredentialError::Missing | CredentialError::UnsupportedScheme(_),
            ) => StatusCode::UNAUTHORIZED,
            ApiError::Credentials(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidPassword | ApiError::InvalidToken => StatusCode::UNAUTHORIZED,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let mut response = error_response(self.status_code(), self.code(), self.description());
        let headers = response.headers_mut();
        match self {
            ApiError::InvalidToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(INVALID_TOKEN_CHALLENGE),
                );
            }
            ApiError::TooManyAttempts { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::MethodNotAllowed { allow } => {
                headers.insert(
                    header::ALLOW,
                    HeaderValue::from_str(allow).expect("method names are valid header text"),
                );
            }
            _ if self.status_code() == StatusCode::UNAUTHORIZED => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(CHALLENGES),
                );
            }
            _ => {}
        }
        response
    }
}

/// An Error-schema response; also used for errors raised outside the handlers.
pub fn error_response(status: StatusCode, code: &str, description: String) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        error: code.to_owned(),
        error_description: description,
    })
}
