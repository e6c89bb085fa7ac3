//! `onezone`: the command line for Onezone's user-spaces API, built on onezone-client.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use onezone_client::{ClientBuilder, ClientError, TokenHeader};

/// Exit codes, so scripts can tell failures apart.
const EXIT_OTHER: u8 = 1;
const EXIT_AUTH: u8 = 3;
const EXIT_NETWORK: u8 = 4;

#[derive(Parser)]
#[command(
    name = "onezone",
    version,
    about = "Talk to a Onezone server's user-spaces API",
    after_help = "Credentials: --token (or ONEZONE_TOKEN), or --user and --password (or ONEZONE_USER \
        and ONEZONE_PASSWORD).\n\nExit codes: 0 success; 2 bad usage; 3 authentication failed \
        (401/403) or refused after too many failures (429); 4 server unreachable or TLS failed; 1 anything else."
)]
struct Cli {
    /// Server URL; /api/v3/onezone is appended.
    #[arg(
        long,
        global = true,
        env = "ONEZONE_HOST",
        default_value = "https://localhost:8443"
    )]
    host: String,

    /// Token to authenticate with.
    #[arg(
        long,
        global = true,
        env = "ONEZONE_TOKEN",
        hide_env_values = true,
        conflicts_with = "user",
        // One token in 64 starts with '-'.
        allow_hyphen_values = true
    )]
    token: Option<String>,

    /// Header to send the token in.
    #[arg(long, global = true, value_enum, default_value_t = HeaderChoice::Macaroon)]
    token_header: HeaderChoice,

    /// Login for HTTP Basic authentication.
    #[arg(long, global = true, env = "ONEZONE_USER", requires = "password")]
    user: Option<String>,

    /// Password for HTTP Basic authentication (prefer ONEZONE_PASSWORD to keep it out of `ps`).
    #[arg(
        long,
        global = true,
        env = "ONEZONE_PASSWORD",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    password: Option<String>,

    /// Accept any server certificate, like `curl -k` (development servers only).
    #[arg(long, short = 'k', global = true)]
    insecure: bool,

    /// Trust only this CA certificate (PEM), e.g. the server's onezone-data/tls-cert.pem.
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "insecure")]
    ca_cert: Option<PathBuf>,

    /// Give up on a request after this many seconds.
    #[arg(long, global = true, default_value_t = 30, value_name = "SECONDS")]
    timeout: u64,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum HeaderChoice {
    Macaroon,
    XAuthToken,
    Bearer,
}

#[derive(Subcommand)]
enum Command {
    /// List your spaces; the default one is marked with '*'.
    Spaces {
        /// Print the API's JSON answer instead of a list.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { message, code }) => {
            eprintln!("onezone: {message}");
            ExitCode::from(code)
        }
    }
}

struct Failure {
    message: String,
    code: u8,
}

async fn run(cli: &Cli) -> Result<(), Failure> {
    let other = |message: String| Failure {
        message,
        code: EXIT_OTHER,
    };
    let mut builder = ClientBuilder::new(&cli.host)
        .timeout(Duration::from_secs(cli.timeout))
        .danger_accept_invalid_certs(cli.insecure);
    builder = match (&cli.token, &cli.user, &cli.password) {
        (Some(token), _, _) => builder.token_in(token, cli.token_header.into()),
        (None, Some(user), Some(password)) => builder.basic(user, password),
        _ => {
            return Err(Failure {
                message: "no credentials: pass --token (or set ONEZONE_TOKEN), or --user and \
                          --password (or ONEZONE_USER and ONEZONE_PASSWORD)"
                    .into(),
                code: EXIT_AUTH,
            });
        }
    };
    if let Some(path) = &cli.ca_cert {
        let pem =
            std::fs::read(path).map_err(|e| other(format!("reading {}: {e}", path.display())))?;
        builder = builder.ca_certificate_pem(pem);
    }
    let client = builder.build().map_err(|e| other(e.to_string()))?;

    match cli.command {
        Command::Spaces { json } => {
            let spaces = client.spaces().await.map_err(|e| explain(cli, &e))?;
            if json {
                let wire = serde_json::json!({
                    "spaces": spaces.spaces,
                    "default": spaces.default.as_deref().unwrap_or(onezone_client::UNDEFINED),
                });
                println!("{wire}");
            } else if spaces.spaces.is_empty() {
                println!("No spaces.");
            } else {
                for id in &spaces.spaces {
                    let mark = if spaces.is_default(id) { "*" } else { " " };
                    println!("{mark} {id}");
                }
            }
        }
    }
    Ok(())
}

/// A message that says what went wrong and what to try.
fn explain(cli: &Cli, e: &ClientError) -> Failure {
    let host = &cli.host;
    let (message, code) = match e {
        ClientError::Api {
            status: 401 | 403,
            body,
            ..
        } => {
            let hint = if cli.token.is_some() {
                "check --token / ONEZONE_TOKEN: it may be mistyped, expired or revoked"
            } else {
                "check --user and --password (ONEZONE_USER, ONEZONE_PASSWORD)"
            };
            (
                format!(
                    "authentication failed: {} ({}); {hint}",
                    body.error_description, body.error
                ),
                EXIT_AUTH,
            )
        }
        ClientError::Api { status: 429, body } => (
            format!("refused for now: {}", body.error_description),
            EXIT_AUTH,
        ),
        ClientError::Tls(detail) => (
            format!(
                "TLS with {host} failed: {detail}. For a server with a self-signed certificate, \
                 pass --ca-cert with its certificate, or --insecure (like curl -k) for development"
            ),
            EXIT_NETWORK,
        ),
        ClientError::Network(detail) => (
            format!("cannot reach {host}: {detail}. Is the server running, and is --host right?"),
            EXIT_NETWORK,
        ),
        other => (format!("request to {host} failed: {other}"), EXIT_OTHER),
    };
    Failure { message, code }
}

impl From<HeaderChoice> for TokenHeader {
    fn from(choice: HeaderChoice) -> Self {
        match choice {
            HeaderChoice::Macaroon => TokenHeader::Macaroon,
            HeaderChoice::XAuthToken => TokenHeader::XAuthToken,
            HeaderChoice::Bearer => TokenHeader::Bearer,
        }
    }
}
