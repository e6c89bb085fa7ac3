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
        "Written by `cargo xtask bench`; do not edit by hand. Each scenario runs the \
         baseline (a bare actix-web server answering the same path with the same bytes, no \
         authentication, no store: `bench/src/bin/baseline.rs`) and then the release \
         server, each freshly started, under `wrk` with {} connections for {} s. The \
         ratio is the server's throughput over the baseline's in the same scenario; on a \
         shared machine the ratio is the figure to trust, not the absolute numbers.\n",
        cx.connections, cx.seconds
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
        "cargo xtask bench -- --help  # options: --seconds, --connections, --database-url\n```\n"
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
    if let Some(worst) = rows
        .iter()
        .max_by(|a, b| a.server.p99_ms.total_cmp(&b.server.p99_ms))
    {
        out.push(format!(
            "p99 at most 5 ms at {connections} connections: {} (highest {:.2} ms, {} on {}).",
            verdict(worst.server.p99_ms <= 5.0),
            worst.server.p99_ms,
            worst.scenario,
            worst.backend
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
