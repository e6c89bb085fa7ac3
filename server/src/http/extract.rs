//! The `AuthenticatedUser` extractor: a handler that takes one runs only for a
//! request whose credentials were verified.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use super::error::ApiError;
use crate::auth::{Authenticator, credentials_from_headers};
use crate::store::UserId;

pub struct AuthenticatedUser {
    pub id: UserId,
}

impl FromRequest for AuthenticatedUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let credentials = credentials_from_headers(req.headers());
        let authenticator = req.app_data::<web::Data<Authenticator>>().cloned();
        let peer = req.peer_addr().map(|a| a.ip());
        Box::pin(async move {
            let authenticator = authenticator.ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!("no Authenticator registered as app data"))
            })?;
            let id = authenticator.authenticate(credentials?, peer).await?;
            Ok(AuthenticatedUser { id })
        })
    }
}
