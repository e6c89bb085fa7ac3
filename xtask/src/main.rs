use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::findings::{EXIT_HUMAN, EXIT_REGENERATE};
use xtask::{Inputs, ci, codegen, workspace_root};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Workspace tasks: keep the spec, the server and the client in step"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate client/src/generated.rs from openapi/onezone.yaml.
    Generate,
    /// Check the spec, the server's annotations and the generated client against each other.
    #[command(after_help = format!(
        "Exit codes: 0 all checks pass; {EXIT_REGENERATE} only `cargo xtask generate` is needed; \
         {EXIT_HUMAN} a person must reconcile the spec and the code; 1 the check could not run."
    ))]
    Check,
    /// Run schemathesis against the server on SQLite (and PostgreSQL when
    /// ONEZONE_TEST_DATABASE_URL is set) with Basic, a token and no credentials.
    Contract,
    /// Everything CI runs: format, clippy, check, the tests, the contract run and the browser test.
    Ci,
    /// Benchmark the release server against a bare actix-web baseline with wrk; writes
    /// BENCHMARKS.md and bench/latency.png. Options after `--`, see `cargo xtask bench -- --help`.
    Bench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let root = workspace_root();
    let result = match Cli::parse().command {
        Command::Generate => xtask::generate(&root).map(|changed| {
            let state = if changed { "wrote" } else { "unchanged:" };
            println!("{state} {}", codegen::GENERATED_CLIENT);
            0
        }),
        Command::Check => Inputs::from_workspace(&root)
            .and_then(|inputs| xtask::check(&inputs))
            .map(|report| {
                print!("{report}");
                report.exit_code()
            }),
        Command::Contract => ci::contract(&root).map(|()| 0),
        Command::Ci => ci::run(&root).map(|()| 0),
        Command::Bench { args } => ci::bench(&root, &args).map(|()| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
