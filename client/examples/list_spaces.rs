//! Lists the spaces of the user whose token is in ONEZONE_TOKEN.
//!
//! ONEZONE_HOST=https://localhost:8443 ONEZONE_TOKEN=... \
//!     cargo run -p onezone-client --example list_spaces
//!
//! Set ONEZONE_CA_CERT to the server's certificate (for the demo server,
//! onezone-data/tls-cert.pem) to verify a self-signed server.

use onezone_client::ClientBuilder;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let host = std::env::var("ONEZONE_HOST").unwrap_or_else(|_| "https://localhost:8443".into());
    let token = std::env::var("ONEZONE_TOKEN").map_err(|_| "set ONEZONE_TOKEN")?;
    let mut builder = ClientBuilder::new(host).token(token);
    if let Ok(path) = std::env::var("ONEZONE_CA_CERT") {
        builder = builder.ca_certificate_pem(std::fs::read(path)?);
    }
    let client = builder.build()?;

    match client.spaces().await {
        Ok(spaces) => {
            for id in &spaces.spaces {
                println!(
                    "{id}{}",
                    if spaces.is_default(id) {
                        "  (default)"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
        Err(e) if e.is_auth_failure() => Err(format!("not accepted: {e}").into()),
        Err(e) => Err(e.into()),
    }
}
