//! What a check found, how it is shown, and what the process exits with.

use std::fmt;

/// Exit code when every finding is fixed by `cargo xtask generate`.
pub const EXIT_REGENERATE: i32 = 3;
/// Exit code when a person must reconcile the spec and the code.
pub const EXIT_HUMAN: i32 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// `cargo xtask generate` fixes it.
    Regenerate,
    /// Someone has to decide which side is right and edit it.
    Human,
}

#[derive(Debug, Clone)]
pub struct Finding {
    /// Which check: `spec`, `drift` or `client`.
    pub check: &'static str,
    /// A JSON path, or a file and line.
    pub location: String,
    pub problem: String,
    /// The two sides, labelled, when there are two.
    pub sides: Vec<(&'static str, String)>,
    /// The command or edit that fixes it.
    pub fix_hint: String,
    pub fix: Fix,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "[{}] {}: {}", self.check, self.location, self.problem)?;
        let width = self
            .sides
            .iter()
            .map(|(label, _)| label.len())
            .max()
            .unwrap_or(0);
        for (label, value) in &self.sides {
            writeln!(f, "    {label:width$}  {value}")?;
        }
        write!(f, "    fix: {}", self.fix_hint)
    }
}

/// The outcome of `cargo xtask check`: one summary line per check, and the findings.
#[derive(Debug, Default)]
pub struct Report {
    pub passed: Vec<String>,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn exit_code(&self) -> i32 {
        if self.findings.iter().any(|f| f.fix == Fix::Human) {
            EXIT_HUMAN
        } else if self.findings.is_empty() {
            0
        } else {
            EXIT_REGENERATE
        }
    }

    /// Records the result of one check: a summary line if it found nothing.
    pub fn record(&mut self, summary: String, findings: Vec<Finding>) {
        if findings.is_empty() {
            self.passed.push(summary);
        } else {
            self.findings.extend(findings);
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.passed {
            writeln!(f, "ok: {line}")?;
        }
        for finding in &self.findings {
            writeln!(f, "{finding}")?;
        }
        match self.exit_code() {
            0 => Ok(()),
            EXIT_REGENERATE => writeln!(
                f,
                "{} finding(s), all fixed by running `cargo xtask generate` (exit {EXIT_REGENERATE})",
                self.findings.len()
            ),
            _ => writeln!(
                f,
                "{} finding(s); a person must reconcile the spec and the code (exit {EXIT_HUMAN})",
                self.findings.len()
            ),
        }
    }
}
