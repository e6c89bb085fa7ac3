//! `GET /user/spaces`.

use actix_web::{get, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::AuthenticatedUser;
use crate::store::{self, Store};

/// What upstream Onezone sends as `default` when there is none; clients test for it.
pub const UNDEFINED: &str = "undefined";

/// The spaces of the user, and which of them is the default.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(
    as = UserSpaces,
    example = json!({"spaces": ["IkHB2CCoAFm5FCswhAJynbFU4fj26yiE1lhpK3p-0Y8"], "default": "undefined"})
)]
pub struct UserSpacesBody {
    /// The list of all user spaces ID's: sorted, without duplicates.
    /// A space ID is 43 characters of `[A-Za-z0-9_-]` (32 random bytes,
    /// unpadded base64url).
    #[schema(required = false)]
    pub spaces: Vec<String>,
    /// The ID of the default user space. The literal string `undefined`
    /// when the user has no default space, or when the stored default
    /// names a space the user no longer belongs to.
    #[schema(required = false)]
    pub default: String,
}

impl From<store::UserSpaces> for UserSpacesBody {
    fn from(s: store::UserSpaces) -> Self {
        UserSpacesBody {
            spaces: s.spaces,
            default: s.default.unwrap_or_else(|| UNDEFINED.to_owned()),
        }
    }
}

/// Get user spaces
///
/// Returns the list of users' spaces.
///
/// This operation can be invoked on behalf of current user only.
///
/// ***Example cURL requests***
///
/// **Get user spaces**
/// ```bash
/// curl -k -u username:password -X GET \
/// https://$HOST:8443/api/v3/onezone/user/spaces
///
/// {
///   "spaces": ["IkHB2CCoAFm5FCswhAJynbFU4fj26yiE1lhpK3p-0Y8"],
///   "default": "undefined"
/// }
/// ```
#[utoipa::path(
    tag = "User",
    operation_id = "get_user_spaces",
    security(("basic" = []), ("api_key" = []), ("x_auth_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Returns the list of user spaces, including information which space is default.", body = UserSpacesBody),
        (status = 400, description = "Invalid request.", body = ErrorBody),
        (status = 401, description = "Authentication error.", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "The authentication schemes this server accepts (RFC 9110), and for a rejected token `error=\"invalid_token\"` (RFC 6750)."))),
        (status = 403, description = "Authorization error.", body = ErrorBody),
        (status = 404, description = "Resource not found.", body = ErrorBody),
        (status = 429, description = "Too many failed attempts. After too many wrong passwords for one login, or\nfrom one address, within a minute, Basic authentication is refused until\nthe minute is over; a successful login clears its login's count.",
            body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until a new attempt will be considered.")),
            example = json!({"error": "too_many_requests", "error_description": "Too many failed login attempts for this login or from this address; retry in 42 s."})),
        (status = 500, description = "Internal server Error.", body = ErrorBody),
    )
)]
#[get("/user/spaces")]
pub async fn get_user_spaces(
    user: AuthenticatedUser,
    store: web::Data<dyn Store>,
) -> Result<web::Json<UserSpacesBody>, ApiError> {
    let spaces = store.user_spaces(user.id).await?;
    Ok(web::Json(spaces.into()))
}
