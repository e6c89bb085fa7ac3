//! The command line, in the shape the README and scripts rely on.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "onezone-server",
    version,
    about = "Onezone's REST API for a user's spaces: GET /api/v3/onezone/user/spaces",
    long_about = "Onezone's REST API for a user's spaces: GET /api/v3/onezone/user/spaces.\n\n\
        `serve` runs the server; the other commands administer its users, spaces and \
        tokens, and may be run while the server is running: it sees their changes within \
        --max-staleness-ms (100 ms by default).",
    after_help = "Quick start:\n  onezone-server serve --demo\n  \
        curl -k -u demo:PASSWORD https://localhost:8443/api/v3/onezone/user/spaces"
)]
pub struct Cli {
    /// Directory for the SQLite database and the generated TLS certificate.
    #[arg(
        long,
        global = true,
        env = "ONEZONE_DATA_DIR",
        default_value = "./onezone-data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,

    /// Database to use instead of the SQLite file in the data directory:
    /// postgres://USER:PASSWORD@HOST:PORT/DB (for several replicas) or sqlite:PATH.
    #[arg(long, global = true, env = "ONEZONE_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage spaces and their members.
    #[command(subcommand)]
    Space(SpaceCommand),
    /// Issue and revoke tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(
        long,
        env = "ONEZONE_LISTEN",
        default_value = "0.0.0.0:8443",
        value_name = "ADDR"
    )]
    pub listen: SocketAddr,

    /// Serve plain HTTP: for local development, or behind a proxy that terminates TLS.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub no_tls: bool,

    /// PEM certificate chain to serve instead of the generated self-signed one.
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// In an empty store, create a demo user with two spaces and print how to call the API.
    #[arg(long)]
    pub demo: bool,

    /// Worker threads (default: one per CPU core).
    #[arg(long, env = "ONEZONE_WORKERS", value_name = "N")]
    pub workers: Option<usize>,

    /// How stale a cached read may be, in milliseconds: a change made by an admin
    /// command or another replica shows on every request that starts this long after
    /// it. 0 reads the store on every request.
    #[arg(
        long,
        env = "ONEZONE_MAX_STALENESS_MS",
        default_value_t = crate::app::DEFAULT_MAX_STALENESS.as_millis() as u64,
        value_name = "MS"
    )]
    pub max_staleness_ms: u64,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        login: String,
        /// Read the password from standard input (required: never pass it as an argument).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Replace a user's password; the new one is read from standard input.
    SetPassword {
        login: String,
        /// Read the password from standard input (required: never pass it as an argument).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Make one of the user's spaces their default.
    SetDefaultSpace {
        login: String,
        #[arg(allow_hyphen_values = true)]
        space_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SpaceCommand {
    /// Create a space with an owner as its first member; prints the new space id alone.
    Create {
        name: String,
        /// Login of the owner.
        #[arg(long, value_name = "LOGIN")]
        owner: String,
    },
    /// Add a user to a space.
    AddUser {
        #[arg(allow_hyphen_values = true)]
        space_id: String,
        login: String,
    },
    /// Remove a user from a space.
    RemoveUser {
        #[arg(allow_hyphen_values = true)]
        space_id: String,
        login: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token for a user; prints the token alone. It is not shown again.
    Create {
        login: String,
        /// Lifetime in seconds (default: no expiry).
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<u64>,
    },
    /// Revoke a token: running servers refuse it within their --max-staleness-ms.
    Revoke {
        #[arg(allow_hyphen_values = true)]
        token: String,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ids_and_tokens_may_start_with_a_hyphen() {
        // One base64url id in 64 starts with '-'; it is a value, not a flag.
        let id = "-Km4gCX8CxE36CfLSEzfZIKImb1OeRHxPj0ee7qm-kE";
        let parse = |args: &[&str]| Cli::try_parse_from([&["onezone-server"], args].concat());
        assert!(parse(&["space", "add-user", id, "alice"]).is_ok());
        assert!(parse(&["space", "remove-user", id, "alice"]).is_ok());
        assert!(parse(&["user", "set-default-space", "alice", id]).is_ok());
        assert!(parse(&["token", "revoke", id]).is_ok());
    }

    #[test]
    fn tls_flags_pair_up_and_exclude_no_tls() {
        let parse =
            |args: &[&str]| Cli::try_parse_from([&["onezone-server", "serve"], args].concat());
        assert!(parse(&[]).is_ok());
        assert!(parse(&["--tls-cert", "c.pem"]).is_err());
        assert!(parse(&["--no-tls", "--tls-cert", "c.pem", "--tls-key", "k.pem"]).is_err());
        assert!(parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).is_ok());
    }
}
