//! BENCHMARKS.md and the latency plot, from the figures of one run.

use std::fmt::Write;
use std::path::Path;
use std::process::Command;

use plotters::prelude::*;

use crate::load::Figures;

pub struct Row {
    pub scenario: &'static str,
    pub backend: &'static str,
    pub server: Figures,
    pub baseline: Figures,
    pub peak_rss_mib: f64,
}

impl Row {
    pub fn ratio(&self) -> f64 {
        self.server.requests_per_second / self.baseline.requests_per_second
    }

    pub fn one_line(&self) -> String {
        format!(
            "{} ({}): {:.0} req/s, {:.2}x baseline ({:.0}); p50 {:.2} ms, p99 {:.2} ms; peak RSS {:.1} MiB",
            self.scenario,
            self.backend,
            self.server.requests_per_second,
            self.ratio(),
            self.baseline.requests_per_second,
            self.server.p50_ms,
            self.server.p99_ms,
            self.peak_rss_mib
        )
    }
}

/// Of several rounds of one scenario, the one whose ratio is the median, with the
/// highest peak RSS of all.
pub fn median_round(mut rounds: Vec<Row>) -> Row {
    let peak = rounds.iter().map(|r| r.peak_rss_mib).fold(0.0, f64::max);
    rounds.sort_by(|a, b| a.ratio().total_cmp(&b.ratio()));
    let mut median = rounds.swap_remove(rounds.len() / 2);
    median.peak_rss_mib = peak;
    median
}

pub struct CurvePoint {
    pub connections: u32,
    pub server: Figures,
    pub baseline: Figures,
}

impl CurvePoint {
    pub fn one_line(&self) -> String {
        format!(
            "{} connections: server {:.0} req/s p99 {:.2} ms; baseline {:.0} req/s p99 {:.2} ms",
            self.connections,
            self.server.requests_per_second,
            self.server.p99_ms,
            self.baseline.requests_per_second,
            self.baseline.p99_ms
        )
    }
}

pub struct Context<'a> {
    pub rows: &'a [Row],
    pub curve: &'a [CurvePoint],
    pub connections: u32,
    pub seconds: u64,
    pub rounds: u32,
    pub curve_seconds: u64,
    /// The plot's path relative to the report.
    pub plot: &'a Path,
    pub postgres: bool,
}

/// The whole of BENCHMARKS.md.
pub fn markdown(cx: &Context) -> anyhow::Result<String> {
    let mut md = String::new();
    writeln!(md, "# Benchmarks\n")?;
    writeln!(
        md,
        "Written by `cargo xtask bench`; do not edit by hand. Each scenario runs, {} times \
         over, the baseline (a bare actix-web server answering the same path with the same bytes, no \
         authentication, no store: `bench/src/bin/baseline.rs`) and then the release \
         server, each freshly started, under `wrk` with {} connections for {} s, each \
         after {} s of the same load whose figures are dropped (a fresh process's first \
         requests open connections and fill caches; the first Basic request pays one \
         argon2 verification). The ratio is the server's throughput over the baseline's in the same round, and the table shows the round with the median ratio (and the highest peak RSS of all rounds); on a \
         shared machine the ratio is the figure to trust, not the absolute numbers.\n",
        cx.rounds,
        cx.connections,
        cx.seconds,
        crate::load::WARM_UP_SECONDS
    )?;
    writeln!(md, "## Machine\n")?;
    for line in machine() {
        writeln!(md, "- {line}")?;
    }
    writeln!(
        md,
        "\nwrk, the server and the baseline share the machine's cores; the server and the \
         baseline each run one worker per core and log as they do by default (the server \
         one access-log line per request, to a file).\n"
    )?;
    writeln!(md, "## Commands\n")?;
    writeln!(
        md,
        "```sh\ncargo xtask bench            # this report and the plot"
    )?;
    writeln!(
        md,
        "cargo xtask bench --scale    # the scale section below\ncargo xtask bench -- --help  # options: --seconds, --rounds, --connections, --database-url\n```\n"
    )?;
    writeln!(
        md,
        "The PostgreSQL scenarios use `ONEZONE_BENCH_DATABASE_URL` (or \
         `ONEZONE_TEST_DATABASE_URL`), on which a database `onezone_bench` is created.{}\n",
        if cx.postgres {
            ""
        } else {
            " **They were skipped in this run: no PostgreSQL URL was given.**"
        }
    )?;
    writeln!(md, "## Scenarios at {} connections\n", cx.connections)?;
    writeln!(
        md,
        "| scenario | store | server req/s | baseline req/s | ratio | server p50 ms | server p99 ms | baseline p99 ms | server peak RSS MiB |"
    )?;
    writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|---:|")?;
    for r in cx.rows {
        writeln!(
            md,
            "| {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} |",
            r.scenario,
            r.backend,
            r.server.requests_per_second,
            r.baseline.requests_per_second,
            r.ratio(),
            r.server.p50_ms,
            r.server.p99_ms,
            r.baseline.p99_ms,
            r.peak_rss_mib
        )?;
    }
    writeln!(
        md,
        "\nThe benchmark user has {} spaces and a default; the 1,000 other users have none, \
         so their answers are shorter than the baseline's.\n",
        crate::seed::SPACES
    )?;
    writeln!(md, "## Targets\n")?;
    for line in targets(cx.rows, cx.connections) {
        writeln!(md, "- {line}")?;
    }
    writeln!(
        md,
        "\n## Latency against offered load\n\nToken in `macaroon`, SQLite, plain HTTP, \
         {} s per point. wrk keeps each connection busy, so the offered load is the number \
         of connections.\n",
        cx.curve_seconds
    )?;
    writeln!(
        md,
        "![p50 and p99 latency against connections]({})\n",
        cx.plot.display()
    )?;
    writeln!(
        md,
        "| connections | server req/s | server p50 ms | server p99 ms | baseline req/s | baseline p50 ms | baseline p99 ms | ratio |"
    )?;
    writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    for p in cx.curve {
        writeln!(
            md,
            "| {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} |",
            p.connections,
            p.server.requests_per_second,
            p.server.p50_ms,
            p.server.p99_ms,
            p.baseline.requests_per_second,
            p.baseline.p50_ms,
            p.baseline.p99_ms,
            p.server.requests_per_second / p.baseline.requests_per_second
        )?;
    }
    Ok(md)
}

/// The scenario of Basic over many users, each paying argon2 on first sight.
pub const DISTINCT_USERS: &str = "Basic, 1,000 users in turn";

/// The issue's targets, each judged on this run's figures.
fn targets(rows: &[Row], connections: u32) -> Vec<String> {
    let verdict = |ok: bool| if ok { "met" } else { "**not met**" };
    let mut out = Vec::new();
    let tokens: Vec<&Row> = rows
        .iter()
        .filter(|r| r.scenario.starts_with("token"))
        .collect();
    if let Some(worst) = tokens.iter().min_by(|a, b| a.ratio().total_cmp(&b.ratio())) {
        out.push(format!(
            "Token throughput at least 0.7 x the baseline: {} (lowest {:.2}, {} on {}).",
            verdict(worst.ratio() >= 0.7),
            worst.ratio(),
            worst.scenario,
            worst.backend
        ));
    }
    let basic: Vec<&Row> = rows
        .iter()
        .filter(|r| r.scenario == "Basic, same user")
        .collect();
    if let Some(worst) = basic.iter().min_by(|a, b| a.ratio().total_cmp(&b.ratio())) {
        out.push(format!(
            "Repeated Basic at least 0.5 x the baseline: {} (lowest {:.2}, on {}).",
            verdict(worst.ratio() >= 0.5),
            worst.ratio(),
            worst.backend
        ));
    }
    // Distinct users are argon2-bound by design (each first Basic request costs a full
    // verification): their latency is the password hash's, reported in the table.
    if let Some(worst) = rows
        .iter()
        .filter(|r| r.scenario != DISTINCT_USERS)
        .max_by(|a, b| a.server.p99_ms.total_cmp(&b.server.p99_ms))
    {
        out.push(format!(
            "p99 at most 5 ms at {connections} connections, every scenario but \"{DISTINCT_USERS}\": \
             {} (highest {:.2} ms, {} on {}; the baseline's p99 in that scenario: {:.2} ms).",
            verdict(worst.server.p99_ms <= 5.0),
            worst.server.p99_ms,
            worst.scenario,
            worst.backend,
            worst.baseline.p99_ms
        ));
    }
    if let Some(worst) = rows
        .iter()
        .max_by(|a, b| a.peak_rss_mib.total_cmp(&b.peak_rss_mib))
    {
        out.push(format!(
            "Peak RSS at most 64 MiB under that load: {} (highest {:.1} MiB, {} on {}).",
            verdict(worst.peak_rss_mib <= 64.0),
            worst.peak_rss_mib,
            worst.scenario,
            worst.backend
        ));
    }
    out
}

fn machine() -> Vec<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kib| format!("{:.0} GiB memory", kib / 1024.0 / 1024.0))
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let output = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned()
            })
            .unwrap_or_default()
    };
    vec![
        format!("{cores} cores available ({model}), {memory}"),
        format!("Linux {}", output("uname", &["-r"])),
        output("rustc", &["--version"]),
        output("wrk", &["--version"])
            .split(" Copyright")
            .next()
            .unwrap_or("")
            .to_owned(),
        format!("run on {}", output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
    ]
}

/// p50 and p99 against connections, server and baseline, log-scaled connections.
pub fn plot(path: &Path, curve: &[CurvePoint]) -> anyhow::Result<()> {
    register_font()?;
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_ms = curve
        .iter()
        .flat_map(|p| [p.server.p99_ms, p.baseline.p99_ms])
        .fold(1.0_f64, f64::max);
    let max_connections = curve.iter().map(|p| p.connections).max().unwrap_or(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "GET /user/spaces: latency against concurrent connections",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d((1.0..max_connections).log_scale(), 0.0..max_ms * 1.1)?;
    chart
        .configure_mesh()
        .x_desc("concurrent connections (wrk)")
        .y_desc("latency (ms)")
        .label_style(("sans-serif", 14))
        .draw()?;
    type Series = (&'static str, fn(&CurvePoint) -> f64, RGBColor);
    let series: [Series; 4] = [
        ("server p99", |p| p.server.p99_ms, RED),
        ("server p50", |p| p.server.p50_ms, RGBColor(240, 140, 140)),
        ("baseline p99", |p| p.baseline.p99_ms, BLUE),
        (
            "baseline p50",
            |p| p.baseline.p50_ms,
            RGBColor(140, 140, 240),
        ),
    ];
    for (label, value, color) in series {
        let points: Vec<(f64, f64)> = curve
            .iter()
            .map(|p| (p.connections as f64, value(p)))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(
            points
                .into_iter()
                .map(|xy| Circle::new(xy, 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    Ok(())
}

/// plotters draws text with ab_glyph from a font it is given: Debian's DejaVu Sans
/// (`fonts-dejavu-core`, which `cargo xtask bench` installs).
fn register_font() -> anyhow::Result<()> {
    const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    let bytes = std::fs::read(FONT)
        .map_err(|e| anyhow::anyhow!("{FONT}: {e} (Debian package fonts-dejavu-core)"))?;
    plotters::style::register_font(
        "sans-serif",
        FontStyle::Normal,
        Box::leak(bytes.into_boxed_slice()),
    )
    .map_err(|_| anyhow::anyhow!("{FONT} is not a font plotters can read"))?;
    Ok(())
}

/// The scale section's bounds in BENCHMARKS.md: each of the two runs (`bench` and
/// `bench --scale`) rewrites its own part and keeps the other's.
const SCALE_BEGIN: &str = "<!-- written by `cargo xtask bench --scale` -->";
const SCALE_END: &str = "<!-- end of the --scale section -->";

/// `existing` with its main part replaced by `main` and/or its scale section by
/// `scale`, where given.
pub fn splice(existing: &str, main: Option<&str>, scale: Option<&str>) -> String {
    let (old_main, old_scale) = match (existing.find(SCALE_BEGIN), existing.find(SCALE_END)) {
        (Some(begin), Some(end)) if begin < end => (
            format!(
                "{}{}",
                &existing[..begin],
                &existing[end + SCALE_END.len()..]
            ),
            Some(existing[begin + SCALE_BEGIN.len()..end].to_owned()),
        ),
        _ => (existing.to_owned(), None),
    };
    let main = main.map_or(old_main, str::to_owned);
    let scale = scale.map(str::to_owned).or(old_scale);
    let mut out = main.trim_end().to_owned();
    out.push('\n');
    if let Some(scale) = scale {
        out += &format!("\n{SCALE_BEGIN}\n{}\n{SCALE_END}\n", scale.trim());
    }
    out
}

/// The `--scale` section of BENCHMARKS.md.
pub fn scale_markdown(results: &crate::scale::Results, seconds: u64) -> anyhow::Result<String> {
    use crate::scale::{LARGE_USERS, SMALL_USERS, WIDE};
    let mut md = String::new();
    writeln!(md, "## Scale: a thousand users against a million\n")?;
    writeln!(
        md,
        "`cargo xtask bench --scale` fills a database with {} users and another with \
         {} users, each user a member of 10 of 100,000 spaces (so 10,000,000 \
         memberships in the large one), then asks for the spaces of a user in the middle with \
         a token, one request at a time for {seconds} s (wrk, 1 connection). The server runs \
         with `--max-staleness-ms 0`, so every request reads the database: with the read \
         cache on, a repeated request would not reach it at all. Run on {}.\n",
        thousands(SMALL_USERS),
        thousands(LARGE_USERS),
        machine()
            .pop()
            .unwrap_or_default()
            .trim_start_matches("run on ")
    )?;
    writeln!(
        md,
        "| store | users | memberships | fill s | p50 ms | p99 ms | req/s | p50 vs {} users |",
        thousands(SMALL_USERS)
    )?;
    writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|")?;
    let small_p50 = |backend: &str| {
        results
            .sizes
            .iter()
            .find(|r| r.backend.name() == backend && r.users == SMALL_USERS)
            .map(|r| r.probe.p50_ms)
    };
    let mut ratios = Vec::new();
    for r in &results.sizes {
        let ratio = small_p50(r.backend.name()).map(|small| r.probe.p50_ms / small);
        if r.users == LARGE_USERS
            && let Some(ratio) = ratio
        {
            ratios.push((r.backend.name(), ratio));
        }
        writeln!(
            md,
            "| {} | {} | {} | {:.0} | {:.3} | {:.3} | {:.0} | {} |",
            r.backend.name(),
            thousands(r.users),
            thousands(r.memberships),
            r.fill_seconds,
            r.probe.p50_ms,
            r.probe.p99_ms,
            r.probe.requests_per_second,
            ratio.map_or("".into(), |x| format!("{x:.2}"))
        )?;
    }
    let worst = ratios.iter().map(|(_, r)| *r).fold(0.0, f64::max);
    writeln!(
        md,
        "\nTarget, latency at {} users within 1.5 x of {}: {} ({}).\n",
        thousands(LARGE_USERS),
        thousands(SMALL_USERS),
        if worst <= 1.5 { "met" } else { "**not met**" },
        ratios
            .iter()
            .map(|(b, r)| format!("{b} {r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    )?;

    writeln!(md, "## One user with many spaces\n")?;
    writeln!(
        md,
        "In the {}-user database, users who are members of {} and of {} spaces; \
         each on a freshly started server, the median of 5 requests. Linear time means the \
         larger takes about {} x as long; peak RSS is the server's before its first request \
         and after the last.\n",
        thousands(LARGE_USERS),
        thousands(WIDE[0]),
        thousands(WIDE[1]),
        WIDE[1] / WIDE[0]
    )?;
    writeln!(
        md,
        "| store | spaces | median ms | body KiB | µs per space | peak RSS before MiB | peak RSS after MiB |"
    )?;
    writeln!(md, "|---|---:|---:|---:|---:|---:|---:|")?;
    for r in &results.wide {
        writeln!(
            md,
            "| {} | {} | {:.1} | {:.0} | {:.2} | {:.1} | {:.1} |",
            r.backend.name(),
            thousands(r.spaces),
            r.median_ms,
            r.body_bytes as f64 / 1024.0,
            r.median_ms * 1e3 / r.spaces as f64,
            r.rss_before_mib,
            r.rss_after_mib
        )?;
    }
    writeln!(md)?;
    for pair in results.wide.chunks(2) {
        if let [small, large] = pair {
            writeln!(
                md,
                "- {}: {} spaces took {:.1} x the time of {} (linear: {}); memory grew by {:.1} MiB \
                 for a {:.1} MiB answer.",
                small.backend.name(),
                thousands(large.spaces),
                large.median_ms / small.median_ms,
                thousands(small.spaces),
                large.spaces / small.spaces,
                large.rss_after_mib - large.rss_before_mib,
                large.body_bytes as f64 / 1024.0 / 1024.0
            )?;
        }
    }
    Ok(md)
}

/// 1000000 as "1,000,000".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_round_is_reported_with_the_highest_peak_rss() {
        let figures = |rps: f64| Figures {
            requests_per_second: rps,
            p50_ms: 1.0,
            p99_ms: 2.0,
            requests: 1,
            non_2xx: 0,
            socket_errors: 0,
        };
        let round = |server: f64, rss: f64| Row {
            scenario: "s",
            backend: "b",
            server: figures(server),
            baseline: figures(100.0),
            peak_rss_mib: rss,
        };
        let median = median_round(vec![
            round(90.0, 10.0),
            round(50.0, 30.0),
            round(70.0, 20.0),
        ]);
        assert_eq!(median.server.requests_per_second, 70.0);
        assert_eq!(median.peak_rss_mib, 30.0);
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(10_000_000), "10,000,000");
    }

    #[test]
    fn each_run_rewrites_its_own_part_and_keeps_the_other() {
        let first = splice("", Some("# Benchmarks\nold table\n"), None);
        assert_eq!(first, "# Benchmarks\nold table\n");
        let with_scale = splice(&first, None, Some("## Scale\nfigures 1"));
        assert!(with_scale.starts_with("# Benchmarks\nold table\n\n"));
        assert!(with_scale.contains("figures 1"));

        // The main run again: new table, the scale figures kept, once.
        let again = splice(&with_scale, Some("# Benchmarks\nnew table\n"), None);
        assert!(
            again.contains("new table") && !again.contains("old table"),
            "{again}"
        );
        assert_eq!(again.matches("figures 1").count(), 1, "{again}");
        assert_eq!(again.matches(SCALE_BEGIN).count(), 1, "{again}");

        // The scale run again: its section replaced, the table kept.
        let rescaled = splice(&again, None, Some("## Scale\nfigures 2"));
        assert!(rescaled.contains("figures 2") && !rescaled.contains("figures 1"));
        assert!(rescaled.contains("new table"));
    }
}
