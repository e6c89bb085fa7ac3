//! Driving the real `onezone-server` binary: admin commands and server processes.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_onezone-server");

/// Where the binary keeps its data: a data directory, and optionally a database URL
/// that overrides its SQLite file.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub data_dir: &'a Path,
    pub database_url: Option<&'a str>,
    /// The user and group id to run the binary as: root ignores permission bits, so a
    /// test about them runs it unprivileged.
    pub run_as: Option<u32>,
}

impl<'a> Target<'a> {
    pub fn sqlite(data_dir: &'a Path) -> Self {
        Target {
            data_dir,
            database_url: None,
            run_as: None,
        }
    }

    pub fn postgres(data_dir: &'a Path, database_url: &'a str) -> Self {
        Target {
            database_url: Some(database_url),
            ..Target::sqlite(data_dir)
        }
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        for var in [
            "ONEZONE_DATA_DIR",
            "ONEZONE_DATABASE_URL",
            "ONEZONE_LISTEN",
            "RUST_LOG",
        ] {
            cmd.env_remove(var);
        }
        cmd.arg("--data-dir").arg(self.data_dir);
        if let Some(url) = self.database_url {
            cmd.args(["--database-url", url]);
        }
        if let Some(id) = self.run_as {
            cmd.uid(id).gid(id);
        }
        cmd
    }

    /// Runs an admin command to completion, with `stdin` as its standard input.
    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A command that fails early (a usage error) may exit before reading its
        // input; the broken pipe that leaves is not the test's concern.
        let written = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        if let Err(e) = written {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
        child.wait_with_output().unwrap()
    }

    /// Runs a command that must succeed and returns its stdout, trimmed.
    pub fn ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?} failed: {stderr}");
        String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
    }

    /// Runs a command that must fail with one clear `error:` line on stderr, perhaps
    /// followed by `hint:` lines; returns them, joined by newlines.
    pub fn fails(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed on stdout: {:?}",
            out.stdout
        );
        let lines: Vec<&str> = stderr.trim_end().lines().collect();
        assert!(
            lines.first().is_some_and(|l| l.starts_with("error: "))
                && lines[1..].iter().all(|l| l.starts_with("hint: ")),
            "{args:?}: one error line on stderr (and hints), got {stderr:?}"
        );
        lines.join("\n")
    }
}

/// A server process, its stdout and stderr read line by line in the background.
pub struct Server {
    pub child: Child,
    pub stdout: mpsc::Receiver<String>,
    pub stderr: mpsc::Receiver<String>,
}

impl Server {
    pub fn start(target: Target, args: &[&str]) -> Server {
        let mut child = target
            .command()
            .args(["serve", "--listen", "127.0.0.1:0", "--workers", "1"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        Server {
            child,
            stdout,
            stderr,
        }
    }

    /// The address from the "listening" log line.
    pub fn address(&self) -> String {
        let line = next_matching(&self.stderr, |l| l.contains("listening"));
        let start = line
            .find("address=")
            .expect("address in the listening line")
            + "address=".len();
        line[start..].split_whitespace().next().unwrap().to_owned()
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Server {
    /// Everything the server wrote to stderr that was not read yet; call after it exits.
    pub fn remaining_stderr(&self) -> Vec<String> {
        self.stderr.iter().collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

pub fn next_matching(rx: &mpsc::Receiver<String>, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if wanted(&line) => return line,
            Ok(_) => continue,
            Err(e) => panic!("no matching line from the server: {e}"),
        }
    }
}

pub fn curl(args: &[&str]) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl runs");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", out.stdout))
}
