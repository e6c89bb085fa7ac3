//! Load from `wrk`: what each run sends, and the figures parsed from its report.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail, ensure};

/// The credentials each request carries.
#[derive(Clone)]
pub enum Credentials {
    /// One header, the same on every request.
    Header(&'static str, String),
    /// `Authorization` values taken in turn, one per request.
    Rotating(Vec<String>),
    None,
}

impl Credentials {
    /// A wrk Lua script that sets the credentials.
    fn script(&self) -> String {
        match self {
            Credentials::Header(name, value) => {
                format!(
                    "wrk.headers[{}] = {}\n",
                    lua_string(name),
                    lua_string(value)
                )
            }
            Credentials::Rotating(values) => {
                let list: Vec<String> = values.iter().map(|v| lua_string(v)).collect();
                format!(
                    "local values = {{{}}}\nlocal i = 0\n\
                     request = function()\n  i = i % #values + 1\n  \
                     wrk.headers[\"Authorization\"] = values[i]\n  return wrk.format()\nend\n",
                    list.join(", ")
                )
            }
            Credentials::None => String::new(),
        }
    }
}

fn lua_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// What one run of wrk measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    /// Responses with a status outside 2xx and 3xx.
    pub non_2xx: u64,
    /// Connect, read, write errors and timeouts.
    pub socket_errors: u64,
}

/// Seconds of load before each measured run, whose figures are dropped: a freshly
/// started process's first requests (connections opened, caches filled, the first
/// Basic verification) are not its steady state.
pub const WARM_UP_SECONDS: u64 = 1;

/// Runs wrk against `url`, after a warm-up, and checks that every answer was what the
/// scenario expects: all 2xx, or (`expect_refusals`) none.
pub fn run(
    url: &str,
    credentials: &Credentials,
    connections: u32,
    seconds: u64,
    expect_refusals: bool,
    scratch: &Path,
) -> anyhow::Result<Figures> {
    let script = scratch.join("wrk-credentials.lua");
    std::fs::write(&script, credentials.script())?;
    wrk(url, &script, connections, WARM_UP_SECONDS)?;
    let report = wrk(url, &script, connections, seconds)?;
    let figures = parse(&report).with_context(|| format!("reading wrk's report:\n{report}"))?;
    check(&figures, expect_refusals).with_context(|| format!("wrk's report:\n{report}"))?;
    Ok(figures)
}

/// One wrk run; its report.
fn wrk(url: &str, script: &Path, connections: u32, seconds: u64) -> anyhow::Result<String> {
    let threads = connections.min(2);
    let output = Command::new("wrk")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .args(["--latency", "--timeout", "10s", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .context("running wrk (Debian package `wrk`; `cargo xtask bench` installs it)")?;
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    ensure!(
        output.status.success(),
        "wrk failed: {}{report}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(report)
}

/// A run whose answers are not what the scenario is about measures something else.
pub fn check(figures: &Figures, expect_refusals: bool) -> anyhow::Result<()> {
    ensure!(figures.requests > 0, "no request completed");
    ensure!(
        figures.socket_errors == 0,
        "{} socket errors (connect, read, write or timeout)",
        figures.socket_errors
    );
    if expect_refusals {
        ensure!(
            figures.non_2xx == figures.requests,
            "{} of {} requests were answered with success; all should be refused",
            figures.requests - figures.non_2xx,
            figures.requests
        );
    } else {
        ensure!(
            figures.non_2xx == 0,
            "{} of {} requests were refused; all should succeed",
            figures.non_2xx,
            figures.requests
        );
    }
    Ok(())
}

/// Parses wrk 4's report, as printed with `--latency`.
pub fn parse(report: &str) -> anyhow::Result<Figures> {
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut requests = None;
    let mut non_2xx = 0;
    let mut socket_errors = 0;
    for line in report.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            rps = Some(v.trim().parse()?);
        } else if let Some(v) = line.strip_prefix("50%") {
            p50 = Some(duration_ms(v.trim())?);
        } else if let Some(v) = line.strip_prefix("99%") {
            p99 = Some(duration_ms(v.trim())?);
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            non_2xx = v.trim().parse()?;
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            for part in v.split(',') {
                let count = part
                    .split_whitespace()
                    .nth(1)
                    .context("a socket error count")?;
                socket_errors += count.parse::<u64>()?;
            }
        } else if line.contains(" requests in ") {
            requests = Some(line.split_whitespace().next().unwrap_or_default().parse()?);
        }
    }
    Ok(Figures {
        requests_per_second: rps.context("no Requests/sec line")?,
        p50_ms: p50.context("no 50% line (was --latency given?)")?,
        p99_ms: p99.context("no 99% line")?,
        requests: requests.context("no 'N requests in' line")?,
        non_2xx,
        socket_errors,
    })
}

/// "811.00us", "3.12ms", "1.02s" in milliseconds.
fn duration_ms(v: &str) -> anyhow::Result<f64> {
    let (number, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        bail!("unknown duration {v:?}")
    };
    Ok(number.parse::<f64>()? * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 5s test @ http://127.0.0.1:40000/api/v3/onezone/user/spaces
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms    1.01ms  25.13ms   80.12%
    Req/Sec    15.31k     1.20k   18.02k    70.00%
  Latency Distribution
     50%  811.00us
     75%    2.50ms
     90%    3.40ms
     99%    1.02s
  152345 requests in 5.00s, 40.11MB read
Requests/sec:  30469.00
Transfer/sec:      8.02MB
";

    #[test]
    fn reads_wrks_report() {
        let f = parse(REPORT).unwrap();
        assert_eq!(f.requests_per_second, 30469.0);
        assert!((f.p50_ms - 0.811).abs() < 1e-9, "{f:?}");
        assert_eq!(f.p99_ms, 1020.0);
        assert_eq!(f.requests, 152_345);
        assert_eq!((f.non_2xx, f.socket_errors), (0, 0));
        check(&f, false).unwrap();
    }

    #[test]
    fn a_run_with_refusals_or_socket_errors_is_rejected() {
        let refused = format!("{REPORT}  Non-2xx or 3xx responses: 12\n");
        let f = parse(&refused).unwrap();
        assert_eq!(f.non_2xx, 12);
        let e = check(&f, false).unwrap_err().to_string();
        assert!(e.contains("12 of 152345 requests were refused"), "{e}");
        // A 401 scenario must be refused throughout.
        assert!(check(&f, true).is_err());

        let errors = format!("{REPORT}  Socket errors: connect 0, read 3, write 0, timeout 2\n");
        let e = check(&parse(&errors).unwrap(), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("5 socket errors"), "{e}");
    }

    #[test]
    fn a_report_missing_a_figure_is_an_error() {
        let e = parse(&REPORT.replace("     99%    1.02s\n", "")).unwrap_err();
        assert!(e.to_string().contains("99%"), "{e}");
        assert!(duration_ms("12parsecs").is_err());
    }

    #[test]
    fn lua_strings_are_escaped() {
        assert_eq!(lua_string(r#"a"b\c"#), r#""a\"b\\c""#);
        let script = Credentials::Rotating(vec!["x".into(), "y".into()]).script();
        assert!(script.contains(r#"local values = {"x", "y"}"#), "{script}");
    }
}
