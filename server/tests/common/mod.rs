//! A running server on a free port with its own fresh SQLite file, and a typed way
//! to call it. Each test gets its own; nothing is shared between tests.

#![allow(dead_code)] // each test binary uses a different part of this helper

pub mod binary;
pub mod contract;
pub mod postgres;

use std::sync::Arc;

use onezone_server::admin;
use onezone_server::app::DEFAULT_MAX_STALENESS;
use onezone_server::store::{SqliteStore, Store};
use onezone_server::throttle::ThrottleConfig;
use onezone_server::{Application, ServeOptions, tls};
use reqwest::header::HeaderMap;
use serde_json::Value;

pub const PATH: &str = "/api/v3/onezone/user/spaces";

pub struct TestApp {
    pub base_url: String,
    pub store: Arc<dyn Store>,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
}

/// What a test needs to see of a response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts the Error schema and returns its `error` code.
    pub fn error_code(&self) -> &str {
        let keys: Vec<&String> = self.body.as_object().expect("an object").keys().collect();
        assert_eq!(
            keys,
            ["error", "error_description"],
            "Error body: {}",
            self.body
        );
        assert!(!self.body["error_description"].as_str().unwrap().is_empty());
        self.body["error"].as_str().unwrap()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::on_sqlite(false, ThrottleConfig::default()).await
    }

    pub async fn spawn_tls() -> TestApp {
        Self::on_sqlite(true, ThrottleConfig::default()).await
    }

    pub async fn spawn_throttled(throttle: ThrottleConfig) -> TestApp {
        Self::on_sqlite(false, throttle).await
    }

    async fn on_sqlite(tls: bool, throttle: ThrottleConfig) -> TestApp {
        let data_dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open_file(&data_dir.path().join("onezone.db"))
                .await
                .unwrap(),
        );
        Self::start(store, data_dir, tls, throttle)
    }

    /// A plain-HTTP server on `store`, such as a PostgreSQL one.
    pub fn spawn_on(store: Arc<dyn Store>) -> TestApp {
        Self::start(
            store,
            tempfile::tempdir().unwrap(),
            false,
            ThrottleConfig::default(),
        )
    }

    /// `data_dir` holds the certificate when `tls` is set.
    fn start(
        store: Arc<dyn Store>,
        data_dir: tempfile::TempDir,
        tls: bool,
        throttle: ThrottleConfig,
    ) -> TestApp {
        install_crypto_provider();
        let tls = tls.then(|| tls::load_or_generate(data_dir.path()).unwrap().config);
        let options = ServeOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls,
            workers: Some(1),
            throttle,
            max_staleness: Some(DEFAULT_MAX_STALENESS),
        };
        let app = Application::build(options, store).unwrap();
        // Writes through the server's own store show on its next request.
        let store = app.store();
        let base_url = app.base_url();
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder()
            // The generated certificate is self-signed, as `curl -k` expects.
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        TestApp {
            base_url,
            store,
            client,
            data_dir,
        }
    }

    /// GET /user/spaces with the given headers.
    pub async fn get_spaces(&self, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.client.get(format!("{}{PATH}", self.base_url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        send(request).await
    }

    pub async fn get_spaces_basic(&self, login: &str, password: &str) -> Reply {
        send(
            self.client
                .get(format!("{}{PATH}", self.base_url))
                .basic_auth(login, Some(password)),
        )
        .await
    }

    pub async fn user(&self, login: &str, password: &str) {
        admin::create_user(self.store.as_ref(), login, password)
            .await
            .unwrap();
    }

    pub async fn space(&self, name: &str, owner: &str) -> String {
        admin::create_space(self.store.as_ref(), name, owner)
            .await
            .unwrap()
    }

    pub async fn token(&self, login: &str) -> String {
        admin::create_token(self.store.as_ref(), login, None)
            .await
            .unwrap()
    }
}

pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    let (client, request) = request.build_split();
    let request = request.unwrap();
    let (method, path) = (
        request.method().to_string(),
        request.url().path().to_owned(),
    );
    let response = client.execute(request).await.expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("every answer is JSON; status {status}, {e}: {text:?}"));
    contract::check(&method, &path, status, content_type.as_deref(), &body);
    Reply {
        status,
        headers,
        body,
    }
}
