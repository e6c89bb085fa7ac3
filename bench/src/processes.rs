//! The processes under load: the server binary and the baseline, each started fresh
//! per run so that its peak RSS belongs to that run.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub struct Running {
    child: Child,
    pub url: String,
}

/// Where the release binaries are, and where their logs go.
pub struct Binaries {
    pub dir: PathBuf,
    pub logs: PathBuf,
}

impl Binaries {
    /// `onezone-server serve` on `data_dir`, or on `database_url` when given, with
    /// `extra` flags for `serve`.
    pub fn server(
        &self,
        data_dir: &Path,
        database_url: Option<&str>,
        tls: bool,
        extra: &[&str],
    ) -> anyhow::Result<Running> {
        let mut cmd = Command::new(self.dir.join("onezone-server"));
        cmd.arg("--data-dir").arg(data_dir);
        if let Some(url) = database_url {
            cmd.args(["--database-url", url]);
        }
        cmd.args(["serve", "--listen", "127.0.0.1:0"]);
        if !tls {
            cmd.arg("--no-tls");
        }
        cmd.args(extra);
        // The server's own default logging: one access-log line per request.
        cmd.env_remove("RUST_LOG");
        self.start(cmd, "server", tls)
    }

    /// The baseline answering with `body`, over TLS with the server's certificate when
    /// `tls` is given.
    pub fn baseline(&self, body: &Path, tls: Option<(&Path, &Path)>) -> anyhow::Result<Running> {
        let mut cmd = Command::new(self.dir.join("baseline"));
        cmd.arg("--body").arg(body);
        if let Some((cert, key)) = tls {
            cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
        }
        self.start(cmd, "baseline", tls.is_some())
    }

    fn start(&self, mut cmd: Command, name: &str, tls: bool) -> anyhow::Result<Running> {
        std::fs::create_dir_all(&self.logs)?;
        let log = self.logs.join(format!("{name}.log"));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log)?)
            .spawn()
            .with_context(|| format!("starting {cmd:?}"))?;
        let mut running = Running {
            child,
            url: String::new(),
        };
        let address = wait_for_address(&log, &mut running.child)
            .with_context(|| format!("{name} did not start; see {}", log.display()))?;
        let scheme = if tls { "https" } else { "http" };
        running.url = format!("{scheme}://{address}/api/v3/onezone/user/spaces");
        Ok(running)
    }
}

/// The `address=` of the first log line that has one.
fn wait_for_address(log: &Path, child: &mut Child) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(log)?;
        if let Some(at) = text.find("address=") {
            let rest = &text[at + "address=".len()..];
            return Ok(rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned());
        }
        if let Some(status) = child.try_wait()? {
            bail!("exited with {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("no address logged within 30 s")
}

impl Running {
    /// Peak resident memory so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM in /proc/PID/status")?;
        Ok(kib / 1024.0)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
