//! The contract and Swagger UI, served by the server itself.
//!
//! What is served is `openapi/onezone.yaml` as written (the contract), not the
//! document generated from the annotations; `cargo xtask check` keeps the two equal.
//! Swagger UI's assets are compiled into the binary, and its page names no other host.

use std::sync::LazyLock;

use actix_web::{HttpResponse, get, http::header};
use utoipa_swagger_ui::{Config, SwaggerUi};

/// The contract, byte for byte.
pub const SPEC_YAML: &str = include_str!("../../../openapi/onezone.yaml");

/// The contract as JSON, for Swagger UI and JSON tooling.
pub static SPEC_JSON: LazyLock<serde_json::Value> = LazyLock::new(|| {
    yaml_serde::from_str(SPEC_YAML).expect("openapi/onezone.yaml is valid YAML (cargo xtask check)")
});

/// Swagger UI at `/swagger-ui/`, reading `/openapi.json`.
pub fn swagger_ui() -> SwaggerUi {
    let config = Config::default()
        .try_it_out_enabled(true)
        // Keep credentials entered in "Authorize" across reloads of the page.
        .persist_authorization(true)
        // The default validator badge loads from validator.swagger.io: no other hosts.
        .validator_url("none");
    SwaggerUi::new("/swagger-ui/{_:.*}")
        .external_url_unchecked("/openapi.json", SPEC_JSON.clone())
        .config(config)
}

#[get("/openapi.yaml")]
pub async fn openapi_yaml() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/yaml"))
        .body(SPEC_YAML)
}

/// People who open the server's root in a browser land on the API's page.
#[get("/")]
pub async fn root() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/swagger-ui/"))
        .finish()
}
