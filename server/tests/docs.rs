//! The contract and Swagger UI as the server serves them: equal to the file, complete
//! offline, naming no other host.

mod common;

use common::TestApp;

fn spec_file() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../openapi/onezone.yaml"
    ))
    .unwrap()
}

async fn get(app: &TestApp, path: &str) -> (u16, String, String) {
    let response = app
        .client
        .get(format!("{}{path}", app.base_url))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn the_served_document_is_the_contract() {
    let app = TestApp::spawn().await;
    let (status, content_type, yaml) = get(&app, "/openapi.yaml").await;
    assert_eq!((status, content_type.as_str()), (200, "application/yaml"));
    assert_eq!(
        yaml,
        spec_file(),
        "/openapi.yaml must be openapi/onezone.yaml byte for byte"
    );

    let (status, content_type, json) = get(&app, "/openapi.json").await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let served: serde_json::Value = serde_json::from_str(&json).unwrap();
    let file: serde_json::Value = yaml_serde::from_str(&spec_file()).unwrap();
    assert_eq!(
        served, file,
        "/openapi.json must be openapi/onezone.yaml as JSON"
    );
    // Swagger UI resolves this against the page's origin, so "Try it out" calls this server.
    assert_eq!(served["servers"][0]["url"], "/api/v3/onezone");
}

/// The `src` and `href` attribute values of an HTML page.
fn references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for part in html.split(attribute).skip(1) {
            found.push(part.split('"').next().unwrap().to_owned());
        }
    }
    found
}

#[tokio::test]
async fn swagger_ui_is_complete_offline_and_names_no_other_host() {
    let app = TestApp::spawn().await;
    let (status, content_type, page) = get(&app, "/swagger-ui/").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");

    let assets = references(&page);
    assert!(
        assets.iter().any(|a| a.ends_with("swagger-ui-bundle.js")),
        "{assets:?}"
    );
    for asset in &assets {
        assert!(
            !asset.contains("//"),
            "the page loads {asset} from another host"
        );
        let (status, _, body) = get(
            &app,
            &format!("/swagger-ui/{}", asset.trim_start_matches("./")),
        )
        .await;
        assert_eq!(status, 200, "{asset} is not served");
        assert!(!body.is_empty(), "{asset} is empty");
    }

    let (status, _, initializer) = get(&app, "/swagger-ui/swagger-initializer.js").await;
    assert_eq!(status, 200);
    assert!(
        initializer.contains(r#""url": "/openapi.json""#),
        "{initializer}"
    );
    assert!(
        initializer.contains(r#""validatorUrl": "none""#),
        "the validator badge would load validator.swagger.io"
    );
    assert!(
        !initializer.contains("http://") && !initializer.contains("https://"),
        "{initializer}"
    );
}

#[tokio::test]
async fn the_root_leads_to_swagger_ui() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .get(format!("{}/", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/swagger-ui/");
}
