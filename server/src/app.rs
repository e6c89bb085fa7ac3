//! Building and running the server: bind, optionally wrap in TLS, serve until
//! stopped, then let in-flight requests finish.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;
use actix_web::dev::{Server, ServerHandle};
use anyhow::Context;

use crate::http::{self, AppState};
use crate::store::{CachedStore, Store};
use crate::throttle::ThrottleConfig;

/// How long in-flight requests get to finish after SIGTERM or SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The default bound on how stale a cached read may be: changes made elsewhere (admin
/// commands, other replicas) show on requests that start this long after them.
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_millis(100);

pub struct ServeOptions {
    /// Port 0 picks a free port; [`Application::local_addr`] tells which.
    pub listen: SocketAddr,
    /// `None` serves plain HTTP.
    pub tls: Option<rustls::ServerConfig>,
    /// Worker threads; `None` for one per core.
    pub workers: Option<usize>,
    /// Limits on failed Basic attempts.
    pub throttle: ThrottleConfig,
    /// How stale a cached read may be (see [`CachedStore`]); `None` reads the store on
    /// every request.
    pub max_staleness: Option<Duration>,
}

pub struct Application {
    server: Server,
    store: Arc<dyn Store>,
    local_addr: SocketAddr,
    tls: bool,
}

impl Application {
    /// Binds the listening socket and prepares the server; it serves once
    /// [`run_until_stopped`](Self::run_until_stopped) is awaited.
    pub fn build(options: ServeOptions, store: Arc<dyn Store>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(options.listen)
            .with_context(|| format!("binding {}", options.listen))?;
        let local_addr = listener.local_addr()?;
        let store: Arc<dyn Store> = match options.max_staleness {
            Some(bound) => {
                let cached = CachedStore::new(store, bound);
                cached.spawn_checks();
                Arc::new(cached)
            }
            None => store,
        };
        let state = AppState::new(store.clone(), options.throttle);
        let mut server = HttpServer::new(move || http::app(state.clone()))
            .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
            // The binary orders the stop itself (see `main.rs`); actix's own handler would
            // stop at once, dropping connections it has accepted but not yet served.
            .disable_signals();
        if let Some(workers) = options.workers {
            server = server.workers(workers);
        }
        let tls = options.tls.is_some();
        let server = match options.tls {
            Some(config) => server.listen_rustls_0_23(listener, config)?,
            None => server.listen(listener)?,
        }
        .run();
        Ok(Application {
            server,
            store,
            local_addr,
            tls,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `https://127.0.0.1:PORT` or `http://...`: where a client on this machine reaches it.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.local_addr.port())
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The store requests read, behind the cache if there is one: writing through it
    /// shows on the next request.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Stops the server from code, as a signal would.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until [`handle`](Self::handle)`.stop(true)`, then waits up to ten seconds
    /// for in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
