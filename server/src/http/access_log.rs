//! One log line per request: method, path, status, latency. Never a header, so never
//! a credential.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

/// Paths longer than this are cut in the log, so a hostile URL cannot flood it.
const MAX_LOGGED_PATH: usize = 200;

pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path: String = req.path().chars().take(MAX_LOGGED_PATH).collect();
    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let result = next.call(req).await;
    // Rounded to 10 µs: finer is noise in a log line.
    let latency_ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
    match &result {
        Ok(res) => tracing::info!(
            target: "onezone_server::access",
            %method, path, status = res.status().as_u16(), latency_ms, peer,
            "request"
        ),
        Err(e) => tracing::warn!(
            target: "onezone_server::access",
            %method, path, error = %e, latency_ms, peer,
            "request failed"
        ),
    }
    result
}
