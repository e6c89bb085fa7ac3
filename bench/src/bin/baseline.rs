//! The benchmark's baseline: actix-web answering `GET /api/v3/onezone/user/spaces` with
//! the bytes the server answered, with no authentication and no store. The server's
//! figures are read as a ratio to this one's: what the service costs on top of the HTTP
//! stack itself.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;

use actix_web::{App, HttpResponse, HttpServer, web};
use clap::Parser;

#[derive(Parser)]
#[command(about = "A bare actix-web server answering one path with fixed bytes")]
struct Args {
    /// Address to listen on; port 0 picks a free one (printed on stderr).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// File holding the response body.
    #[arg(long)]
    body: PathBuf,
    /// PEM certificate chain and key: serve HTTPS, as the server does.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Worker threads; the server's default, one per core, when absent.
    #[arg(long)]
    workers: Option<usize>,
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let body = web::Bytes::from(std::fs::read(&args.body)?);
    let listener = TcpListener::bind(args.listen)?;
    let address = listener.local_addr()?;
    let mut server = HttpServer::new(move || {
        let body = body.clone();
        App::new().route(
            "/api/v3/onezone/user/spaces",
            web::get().to(move || {
                let body = body.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }),
        )
    });
    if let Some(workers) = args.workers {
        server = server.workers(workers);
    }
    let server = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            server.listen_rustls_0_23(listener, onezone_server::tls::load(cert, key)?)?
        }
        _ => server.listen(listener)?,
    };
    eprintln!("baseline listening address={address}");
    server.run().await?;
    Ok(())
}
