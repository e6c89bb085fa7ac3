//! `onezone-bench`, run by `cargo xtask bench`: drives the release server and a bare
//! actix-web baseline with wrk, alternating, scenario by scenario, and writes
//! BENCHMARKS.md and its plot.

mod load;
mod processes;
mod report;
mod scale;
mod seed;

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;

use load::Credentials;
use processes::Binaries;
use report::{CurvePoint, Row};
use seed::Backend;

#[derive(Parser)]
#[command(about = "Benchmark onezone-server against a bare actix-web baseline (needs wrk)")]
struct Args {
    /// Seconds per wrk run.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Baseline-then-server rounds per scenario; the round with the median ratio is
    /// reported. One run on a shared machine can be off by a fifth either way.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Concurrent connections for the scenario table.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// PostgreSQL server for the PostgreSQL scenarios; a database `onezone_bench` is
    /// created (and replaced) on it. Without it those scenarios are skipped.
    #[arg(long, env = "ONEZONE_BENCH_DATABASE_URL")]
    database_url: Option<String>,
    /// Where the release binaries `onezone-server` and `baseline` are.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// The report to write.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// The plot to write, linked from the report by its file name.
    #[arg(long, default_value = "bench/latency.png")]
    plot: PathBuf,
    /// Instead of the scenarios: 1,000 against 1,000,000 users (10,000,000
    /// memberships), and users with 10,000 and 100,000 spaces, on SQLite and on
    /// PostgreSQL. Rewrites only its own section of the report. Takes several minutes
    /// and a few GB of disk in the temporary directory.
    #[arg(long)]
    scale: bool,
}

struct Scenario {
    name: &'static str,
    backend: Backend,
    tls: bool,
    credentials: Credentials,
    /// The credentials are refused by design (401): every answer must be one.
    refused: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let work = tempfile::Builder::new().prefix("onezone-bench").tempdir()?;
    let bins = Binaries {
        dir: args.bin_dir.clone(),
        logs: work.path().join("logs"),
    };
    let existing = std::fs::read_to_string(&args.out).unwrap_or_default();

    if args.scale {
        let results = scale::run(
            &bins,
            work.path(),
            args.database_url.as_deref(),
            args.seconds,
        )
        .await?;
        let section = report::scale_markdown(&results, args.seconds)?;
        std::fs::write(&args.out, report::splice(&existing, None, Some(&section)))?;
        eprintln!("wrote the scale section of {}", args.out.display());
        return Ok(());
    }

    let sqlite_dir = work.path().join("sqlite");
    let fixture = seed::sqlite(&sqlite_dir).await?;
    let postgres = match &args.database_url {
        Some(url) => Some(seed::postgres(url).await?),
        None => {
            eprintln!(
                "!!! PostgreSQL scenarios SKIPPED: set ONEZONE_BENCH_DATABASE_URL or pass --database-url !!!"
            );
            None
        }
    };
    let pg_dir = work.path().join("postgres");
    std::fs::create_dir_all(&pg_dir)?;
    // The server's own certificate, generated on its first TLS start; the baseline
    // serves the same one.
    let (cert, key) = onezone_server::tls::self_signed_paths(&sqlite_dir);
    onezone_server::tls::load_or_generate(&sqlite_dir)?;
    let body = work.path().join("body.json");
    std::fs::write(&body, fetch_body(&bins, &sqlite_dir, &fixture.token).await?)?;

    let mut scenarios = vec![
        token_scenario(
            "token in `macaroon`",
            "macaroon",
            &fixture.token,
            Backend::Sqlite,
            false,
        ),
        token_scenario(
            "token in `X-Auth-Token`",
            "X-Auth-Token",
            &fixture.token,
            Backend::Sqlite,
            false,
        ),
        Scenario {
            credentials: Credentials::Header("Authorization", format!("Bearer {}", fixture.token)),
            ..token_scenario("token as `Bearer`", "", "", Backend::Sqlite, false)
        },
        token_scenario(
            "token in `macaroon`, TLS",
            "macaroon",
            &fixture.token,
            Backend::Sqlite,
            true,
        ),
        Scenario {
            name: "Basic, same user",
            backend: Backend::Sqlite,
            tls: false,
            credentials: Credentials::Header(
                "Authorization",
                seed::basic(seed::LOGIN, seed::PASSWORD),
            ),
            refused: false,
        },
        Scenario {
            name: report::DISTINCT_USERS,
            backend: Backend::Sqlite,
            tls: false,
            credentials: Credentials::Rotating(fixture.many_basic.clone()),
            refused: false,
        },
        Scenario {
            name: "no credentials (401)",
            backend: Backend::Sqlite,
            tls: false,
            credentials: Credentials::None,
            refused: true,
        },
    ];
    if let Some((_, pg)) = &postgres {
        scenarios.push(token_scenario(
            "token in `macaroon`",
            "macaroon",
            &pg.token,
            Backend::Postgres,
            false,
        ));
        scenarios.push(Scenario {
            name: "Basic, same user",
            backend: Backend::Postgres,
            tls: false,
            credentials: Credentials::Header(
                "Authorization",
                seed::basic(seed::LOGIN, seed::PASSWORD),
            ),
            refused: false,
        });
    }

    let pg_url = postgres.as_ref().map(|(url, _)| url.as_str());
    let mut rows = Vec::new();
    for scenario in &scenarios {
        let (data_dir, url) = match scenario.backend {
            Backend::Sqlite => (sqlite_dir.as_path(), None),
            Backend::Postgres => (pg_dir.as_path(), pg_url),
        };
        let tls = scenario.tls.then_some((cert.as_path(), key.as_path()));
        let mut rounds = Vec::new();
        for _ in 0..args.rounds {
            // Baseline first, then the server: both see the same minute of a noisy
            // machine.
            let baseline = {
                let running = bins.baseline(&body, tls)?;
                load::run(
                    &running.url,
                    &scenario.credentials,
                    args.connections,
                    args.seconds,
                    false,
                    work.path(),
                )?
            };
            let running = bins.server(data_dir, url, scenario.tls, &[])?;
            let server = load::run(
                &running.url,
                &scenario.credentials,
                args.connections,
                args.seconds,
                scenario.refused,
                work.path(),
            )
            .with_context(|| format!("scenario {:?}", scenario.name))?;
            rounds.push(Row {
                scenario: scenario.name,
                backend: scenario.backend.name(),
                server,
                baseline,
                peak_rss_mib: running.peak_rss_mib()?,
            });
        }
        let row = report::median_round(rounds);
        eprintln!("{}", row.one_line());
        rows.push(row);
    }

    // Latency against offered load: token requests at growing concurrency.
    let mut curve = Vec::new();
    let credentials = Credentials::Header("macaroon", fixture.token.clone());
    let seconds = (args.seconds / 2).max(3);
    for connections in [1, 4, 16, 64, 256] {
        let measure =
            |url: &str| load::run(url, &credentials, connections, seconds, false, work.path());
        let baseline = {
            let running = bins.baseline(&body, None)?;
            measure(&running.url)?
        };
        let server = {
            let running = bins.server(&sqlite_dir, None, false, &[])?;
            measure(&running.url)?
        };
        let point = CurvePoint {
            connections,
            server,
            baseline,
        };
        eprintln!("{}", point.one_line());
        curve.push(point);
    }

    report::plot(&args.plot, &curve)?;
    let text = report::markdown(&report::Context {
        rows: &rows,
        curve: &curve,
        connections: args.connections,
        seconds: args.seconds,
        rounds: args.rounds,
        curve_seconds: seconds,
        plot: args
            .plot
            .strip_prefix(args.out.parent().unwrap_or(Path::new("")))
            .unwrap_or(&args.plot),
        postgres: postgres.is_some(),
    })?;
    std::fs::write(&args.out, report::splice(&existing, Some(&text), None))?;
    eprintln!("wrote {} and {}", args.out.display(), args.plot.display());
    Ok(())
}

fn token_scenario(
    name: &'static str,
    header: &'static str,
    token: &str,
    backend: Backend,
    tls: bool,
) -> Scenario {
    Scenario {
        name,
        backend,
        tls,
        credentials: Credentials::Header(header, token.to_owned()),
        refused: false,
    }
}

/// The server's answer for the benchmark user, byte for byte: the baseline sends it.
async fn fetch_body(bins: &Binaries, data_dir: &Path, token: &str) -> anyhow::Result<Vec<u8>> {
    let running = bins.server(data_dir, None, false, &[])?;
    let response = reqwest::Client::new()
        .get(&running.url)
        .header("macaroon", token)
        .send()
        .await?
        .error_for_status()?;
    Ok(response.bytes().await?.to_vec())
}
