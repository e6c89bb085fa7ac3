use std::io::{IsTerminal, Write};
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::EnvFilter;

use onezone_server::admin::{self, DemoOutcome};
use onezone_server::cli::{Cli, Command, ServeArgs, SpaceCommand, TokenCommand, UserCommand};
use onezone_server::config::Config;
use onezone_server::store::{self, Store};
use onezone_server::throttle::ThrottleConfig;
use onezone_server::{Application, ServeOptions, tls};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_writer = init_logging(matches!(cli.command, Command::Serve(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli));
    drop(runtime);
    // Writes out the log lines still queued, before the last word below.
    drop(log_writer);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            let read_only = e
                .chain()
                .filter_map(|cause| cause.downcast_ref::<sqlx::Error>())
                .any(store::is_read_only);
            if read_only {
                // SQLite creates the -wal and -shm files with the database file's mode,
                // so after a spell read-only they can stay so when the file is fixed.
                eprintln!(
                    "hint: this user must be able to write the database file and its -wal \
                     and -shm files beside it"
                );
            }
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; `RUST_LOG` overrides the default (info for the server, warnings
/// only for the admin commands, whose output is their result on stdout).
///
/// Lines are formatted on the thread that logs them and written by a thread of their
/// own, in batches: one write(2) per request on the workers was a tenth of the
/// server's CPU under load. The queue blocks loggers when full rather than drop
/// lines. The returned guard writes out what is queued when dropped.
fn init_logging(serving: bool) -> tracing_appender::non_blocking::WorkerGuard {
    let default = if serving { "info,sqlx=warn" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // The writer thread flushes whenever the queue runs empty, so a quiet server's
    // lines appear at once. If stderr goes away (a log collector restarting), the
    // write fails and the lines are lost, never the requests.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(std::io::BufWriter::new(std::io::stderr()));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        // Colour codes only for a person at a terminal, never in files or journals.
        .with_ansi(std::io::stderr().is_terminal())
        .log_internal_errors(false)
        .init();
    guard
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::new(cli.data_dir, cli.database_url);
    config.ensure_data_dir()?;
    let store = store::connect(&config.database)
        .await
        .with_context(|| format!("opening the database ({})", config.database))?;
    if let Command::Serve(args) = cli.command {
        return serve(&config, store, args).await;
    }
    let store = store.as_ref();
    match cli.command {
        Command::Serve(_) => unreachable!("handled above"),
        Command::User(UserCommand::Create { login, .. }) => {
            let password = admin::read_password_from_stdin()?;
            admin::create_user(store, &login, &password).await?;
            eprintln!("created user '{login}'");
        }
        Command::User(UserCommand::SetPassword { login, .. }) => {
            let password = admin::read_password_from_stdin()?;
            admin::set_password(store, &login, &password).await?;
            eprintln!("password of '{login}' changed");
        }
        Command::User(UserCommand::SetDefaultSpace { login, space_id }) => {
            admin::set_default_space(store, &login, &space_id).await?;
            eprintln!("default space of '{login}' is now {space_id}");
        }
        Command::Space(SpaceCommand::Create { name, owner }) => {
            println!("{}", admin::create_space(store, &name, &owner).await?);
        }
        Command::Space(SpaceCommand::AddUser { space_id, login }) => {
            if admin::add_user(store, &space_id, &login).await? {
                eprintln!("added '{login}' to space {space_id}");
            } else {
                eprintln!("'{login}' already is a member of space {space_id}");
            }
        }
        Command::Space(SpaceCommand::RemoveUser { space_id, login }) => {
            if admin::remove_user(store, &space_id, &login).await? {
                eprintln!("removed '{login}' from space {space_id}");
            } else {
                eprintln!("'{login}' was not a member of space {space_id}");
            }
        }
        Command::Token(TokenCommand::Create { login, ttl }) => {
            println!("{}", admin::create_token(store, &login, ttl).await?);
        }
        Command::Token(TokenCommand::Revoke { token }) => {
            admin::revoke_token(store, &token).await?;
            eprintln!("token revoked");
        }
    }
    Ok(())
}

/// How long a worker is given, after accepting stops, to take up connections already
/// queued for it; it does so in microseconds unless the machine is starved.
const HANDOVER: std::time::Duration = std::time::Duration::from_millis(50);

async fn serve(config: &Config, store: Arc<dyn Store>, args: ServeArgs) -> anyhow::Result<()> {
    // Installed first: from here on SIGTERM and SIGINT mean a graceful stop, never the
    // default action of killing the process mid-request.
    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        _ if args.no_tls => None,
        (Some(cert), Some(key)) => Some(tls::load(cert, key)?),
        _ => {
            let self_signed = tls::load_or_generate(&config.data_dir)?;
            if self_signed.generated {
                tracing::info!(cert = %self_signed.cert_path.display(), "generated a self-signed TLS certificate");
            }
            Some(self_signed.config)
        }
    };
    let demo = if args.demo {
        Some(admin::seed_demo(store.as_ref()).await?)
    } else {
        None
    };
    let app = Application::build(
        ServeOptions {
            listen: args.listen,
            tls,
            workers: args.workers,
            throttle: ThrottleConfig::default(),
            max_staleness: (args.max_staleness_ms > 0)
                .then(|| std::time::Duration::from_millis(args.max_staleness_ms)),
        },
        store.clone(),
    )?;
    tracing::info!(
        address = %app.local_addr(),
        tls = app.is_tls(),
        database = %config.database,
        max_staleness_ms = args.max_staleness_ms,
        "listening; stop with Ctrl-C or SIGTERM"
    );
    if let Some(outcome) = demo {
        print_demo(&outcome, &app, config)?;
    }
    let handle = app.handle();
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = sigterm.recv() => "SIGTERM",
            _ = sigint.recv() => "SIGINT",
        };
        tracing::info!("{name} received; finishing in-flight requests (at most 10 s)");
        // Stop accepting first, then give the workers a moment to take the connections
        // already handed to them: a stopping actix worker drops its queue unanswered.
        // Connections still in the kernel's queue are reset when the listener closes,
        // before any byte of an answer, so clients know to retry them.
        handle.pause().await;
        tokio::time::sleep(HANDOVER).await;
        handle.stop(true).await;
    });
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

fn print_demo(outcome: &DemoOutcome, app: &Application, config: &Config) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match outcome {
        DemoOutcome::Created {
            login,
            password,
            spaces,
            default,
        } => {
            let ip = app.local_addr().ip();
            let host = if ip.is_unspecified() || ip.is_loopback() {
                "localhost".to_owned()
            } else {
                url_host(ip)
            };
            let port = app.local_addr().port();
            let (scheme, insecure) = if app.is_tls() {
                ("https", "-k ")
            } else {
                ("http", "")
            };
            writeln!(out, "Demo data created.")?;
            writeln!(out, "  login:    {login}")?;
            writeln!(out, "  password: {password}")?;
            writeln!(
                out,
                "  spaces:   {} (default: {default})",
                spaces.join(", ")
            )?;
            writeln!(out, "Try it:")?;
            writeln!(
                out,
                "  curl {insecure}-u {login}:{password} -X GET {scheme}://{host}:{port}/api/v3/onezone/user/spaces"
            )?;
        }
        DemoOutcome::AlreadyPresent => {
            writeln!(
                out,
                "Demo data is already there (user '{}').",
                admin::DEMO_LOGIN
            )?;
            writeln!(out, "To set a new password for it:")?;
            writeln!(
                out,
                "  onezone-server --data-dir {} user set-password {} --password-stdin",
                config.data_dir.display(),
                admin::DEMO_LOGIN
            )?;
        }
        DemoOutcome::StoreNotEmpty => {
            writeln!(
                out,
                "--demo ignored: the store already holds users, and demo data is only added to an empty one."
            )?;
        }
    }
    out.flush()
}

fn url_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}
