//! Onezone's `GET /api/v3/onezone/user/spaces`, served from a real store with real
//! authentication. The binary (`main.rs`) is a thin command line over these modules.

pub mod admin;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod http;
pub mod ids;
pub mod password;
pub mod store;
pub mod throttle;
pub mod tls;

pub use app::{Application, ServeOptions};
