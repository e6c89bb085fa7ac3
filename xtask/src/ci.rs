//! `cargo xtask ci`: everything CI runs, in order, each step announced and timed.
//! On a fresh machine it first installs what the steps need: Debian packages when
//! missing (as root), and Python tools into a virtual environment under `target/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::findings::Report;
use crate::{Inputs, check};

/// Debian packages the tests use: the demo's `curl` line, and the browser test.
const DEBIAN_PACKAGES: [(&str, &str); 3] = [
    ("curl", "/usr/bin/curl"),
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
];

/// `cargo xtask contract`: the schemathesis step alone, against a fresh debug build.
pub fn contract(root: &Path) -> anyhow::Result<()> {
    let venv = python_tools(root)?;
    cargo(root, &["build", "--workspace", "--locked", "--bins"])?;
    crate::contract::run(root, &venv).map(drop)
}

/// Debian packages `cargo xtask bench` uses: the load generator, and the plot's font.
const BENCH_PACKAGES: [(&str, &str); 2] = [
    ("wrk", "/usr/bin/wrk"),
    (
        "fonts-dejavu-core",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    ),
];

/// `cargo xtask bench`: release builds of the server and the bench, then the bench,
/// with `args` passed on. Its PostgreSQL scenarios use ONEZONE_BENCH_DATABASE_URL, or
/// else ONEZONE_TEST_DATABASE_URL.
pub fn bench(root: &Path, args: &[String]) -> anyhow::Result<()> {
    install_debian_packages(&BENCH_PACKAGES)?;
    cargo(
        root,
        &[
            "build",
            "--release",
            "--locked",
            "--package",
            "onezone-server",
            "--package",
            "onezone-bench",
        ],
    )?;
    let mut command = Command::new(root.join("target/release/onezone-bench"));
    command.args(args).current_dir(root);
    if std::env::var_os("ONEZONE_BENCH_DATABASE_URL").is_none()
        && let Some(url) = std::env::var_os("ONEZONE_TEST_DATABASE_URL")
    {
        command.env("ONEZONE_BENCH_DATABASE_URL", url);
    }
    run_command(&mut command)
}

pub fn run(root: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    install_debian_packages(&DEBIAN_PACKAGES)?;
    let venv = python_tools(root)?;

    step("format", || cargo(root, &["fmt", "--all", "--check"]))?;
    step("clippy (warnings are errors)", || {
        cargo(
            root,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
        )
    })?;
    step("cargo xtask check", || {
        let report: Report = check(&Inputs::from_workspace(root)?)?;
        print!("{report}");
        match report.exit_code() {
            0 => Ok(()),
            code => bail!("cargo xtask check found drift (exit {code})"),
        }
    })?;
    step(
        "openapi-spec-validator (an independent OpenAPI validator)",
        || {
            run_command(
                Command::new(venv.join("bin/openapi-spec-validator"))
                    .arg(root.join(crate::spec::SPEC_PATH)),
            )
        },
    )?;
    if std::env::var_os("ONEZONE_TEST_DATABASE_URL").is_none() {
        println!(
            "!!! ONEZONE_TEST_DATABASE_URL is not set: the PostgreSQL tests will be SKIPPED (.ci/run sets it)"
        );
    }
    // One invocation for the suite and the #[ignore]d browser test: a second `cargo
    // test` with another target selection resolves features differently and rebuilds
    // most of the dependency tree (minutes on a fresh clone).
    step("tests, and the browser test (headless Chromium)", || {
        cargo(
            root,
            &["test", "--workspace", "--locked", "--", "--include-ignored"],
        )
    })?;
    // Uses target/debug/onezone-server, which the step above built.
    step("contract: schemathesis against the running server", || {
        crate::contract::run(root, &venv).map(drop)
    })?;
    println!("== ci passed in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn step(name: &str, f: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<()> {
    println!("== {name}");
    let started = Instant::now();
    f().with_context(|| format!("ci step failed: {name}"))?;
    println!("== {name}: ok in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn cargo(root: &Path, args: &[&str]) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run_command(Command::new(cargo).args(args).current_dir(root))
}

fn run_command(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} exited with {status}");
    }
    Ok(())
}

/// Installs those of `packages` (name, a file it provides) that are missing.
fn install_debian_packages(packages: &[(&str, &str)]) -> anyhow::Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(_, file)| !Path::new(file).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !is_root {
        bail!(
            "missing Debian packages: {}; install them with: sudo apt-get install {}",
            missing.join(", "),
            missing.join(" ")
        );
    }
    println!("== installing Debian packages: {}", missing.join(" "));
    run_command(Command::new("apt-get").args(["update", "-qq"]))?;
    run_command(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// A virtual environment under `target/` holding `xtask/requirements.txt`; rebuilt
/// only when the requirements change.
fn python_tools(root: &Path) -> anyhow::Result<PathBuf> {
    let venv = root.join("target/ci-venv");
    let requirements = root.join("xtask/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)?;
    let installed = venv.join("installed-requirements.txt");
    if std::fs::read_to_string(&installed).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(venv);
    }
    println!("== installing Python tools into {}", venv.display());
    run_command(
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
    )?;
    run_command(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements),
    )?;
    std::fs::write(installed, wanted)?;
    Ok(venv)
}
