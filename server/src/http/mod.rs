//! The HTTP layer: routes and their OpenAPI annotations, the error type, request logging.
//!
//! The app and its OpenAPI document come from one registration ([`register`]), so
//! there is no second list of paths to keep in step with the handlers.

mod access_log;
pub mod docs;
pub mod error;
mod extract;
pub mod spaces;

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, web};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDocument, PathItem};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::{AppExt, UtoipaApp, scope};

use crate::auth::Authenticator;
use crate::store::Store;
use crate::throttle::ThrottleConfig;
use error::{ApiError, error_response};

/// Where the API lives; the spec's `servers` entry.
pub const BASE_PATH: &str = "/api/v3/onezone";

/// What the document says beyond the paths: info, servers, tags, security schemes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Onezone",
        version = "3.0.0-RC2",
        description = "Onezone REST API, operation `GET /user/spaces`: the spaces of the\nauthenticated user and which of them is the user's default.\n\nAuthenticate with HTTP Basic (`curl -u login:password`) or with a token,\nsent in the `macaroon` header (as in Onezone 3.0.0-RC2), in `X-Auth-Token`,\nor as `Authorization: Bearer <token>`.",
        license(name = "Apache 2.0", url = "https://www.apache.org/licenses/LICENSE-2.0.html"),
    ),
    servers((url = "/api/v3/onezone", description = "Relative to the host that serves this document.")),
    tags((name = "User", description = "Operations on the authenticated user.")),
    modifiers(&SecuritySchemes),
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let http = |scheme, description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(scheme)
                    .description(Some(description))
                    .build(),
            )
        };
        let header = |name: &str, description: &str| {
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                name,
                description,
            )))
        };
        components.add_security_scheme(
            "basic",
            http(
                HttpAuthScheme::Basic,
                "HTTP Basic authentication with the user's login and password.",
            ),
        );
        components.add_security_scheme(
            "api_key",
            header(
                "macaroon",
                "A token in the `macaroon` header, as Onezone 3.0.0-RC2 reads it.",
            ),
        );
        components.add_security_scheme(
            "x_auth_token",
            header(
                "X-Auth-Token",
                "The same token in the `X-Auth-Token` header, as later Onezone versions accept it.",
            ),
        );
        components.add_security_scheme(
            "bearer",
            http(HttpAuthScheme::Bearer, "The same token as `Authorization: Bearer <token>`, as later Onezone versions accept it."),
        );
    }
}

/// The one place routes are registered, for the running app and for its document alike.
fn register<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    app.openapi(ApiDoc::openapi())
        .service(scope(BASE_PATH).service(spaces::get_user_spaces))
}

/// The server's OpenAPI document, built from the annotations without starting a
/// server. Paths are relative to [`BASE_PATH`], as in `openapi/onezone.yaml`.
pub fn openapi() -> OpenApiDocument {
    let (_, mut api) = register(App::new().into_utoipa_app()).split_for_parts();
    let paths = std::mem::take(&mut api.paths.paths);
    api.paths.paths = paths
        .into_iter()
        .map(|(path, item)| {
            let relative = path.strip_prefix(BASE_PATH).filter(|p| p.starts_with('/'));
            (
                relative
                    .expect("every route is registered under BASE_PATH")
                    .to_owned(),
                item,
            )
        })
        .collect();
    api
}

/// Shared by every worker.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub authenticator: web::Data<Authenticator>,
    routes: web::Data<Routes>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, throttle: ThrottleConfig) -> Self {
        AppState {
            authenticator: web::Data::new(Authenticator::new(store.clone(), throttle)),
            store,
            routes: web::Data::new(Routes::from_document(&openapi())),
        }
    }
}

/// The app: routes, shared state, request logging, and Error bodies for every failure.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let app = App::new()
        .wrap(ErrorHandlers::new().default_handler(ensure_error_body))
        .wrap(from_fn(access_log::log_request))
        .into_utoipa_app()
        .app_data(web::Data::from(state.store))
        .app_data(state.authenticator)
        .app_data(state.routes);
    let (app, _) = register(app).split_for_parts();
    app.service(docs::swagger_ui())
        .service(docs::openapi_yaml)
        .service(docs::root)
        .default_service(web::to(no_route))
}

/// Which methods each known path accepts, to tell 405 from 404.
struct Routes(HashMap<String, String>);

impl Routes {
    fn from_document(api: &OpenApiDocument) -> Self {
        let allowed = |item: &PathItem| {
            let ops = [
                ("GET", item.get.is_some()),
                ("PUT", item.put.is_some()),
                ("POST", item.post.is_some()),
                ("DELETE", item.delete.is_some()),
                ("PATCH", item.patch.is_some()),
            ];
            ops.iter()
                .filter(|(_, present)| *present)
                .map(|(m, _)| *m)
                .collect::<Vec<_>>()
                .join(", ")
        };
        Routes(
            api.paths
                .paths
                .iter()
                .map(|(path, item)| (format!("{BASE_PATH}{path}"), allowed(item)))
                .collect(),
        )
    }
}

async fn no_route(req: HttpRequest, routes: web::Data<Routes>) -> Result<HttpResponse, ApiError> {
    Err(match routes.0.get(req.path()) {
        Some(allow) => ApiError::MethodNotAllowed {
            allow: allow.clone(),
        },
        None => ApiError::NotFound,
    })
}

/// Gives an Error body to any error response produced outside [`ApiError`] (by actix
/// itself, say), so that every 4xx and 5xx keeps the spec's promise.
fn ensure_error_body<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let code = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
        .replace(' ', "_");
    let description = format!("{}.", status.canonical_reason().unwrap_or("Error"));
    let (req, _) = res.into_parts();
    let replaced = ServiceResponse::new(req, error_response(status, &code, description));
    Ok(ErrorHandlerResponse::Response(
        replaced.map_into_right_body(),
    ))
}
