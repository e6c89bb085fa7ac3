//! Where the server keeps its state: the data directory and the database.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use anyhow::Context;

use crate::store::DatabaseTarget;

/// The SQLite file's name inside the data directory.
pub const SQLITE_FILE: &str = "onezone.db";

#[derive(Debug, Clone)]
pub struct Config {
    /// Holds the SQLite database (unless a database URL is given) and the generated
    /// TLS certificate.
    pub data_dir: PathBuf,
    pub database: DatabaseTarget,
}

impl Config {
    pub fn new(data_dir: PathBuf, database_url: Option<String>) -> Self {
        let database = match database_url {
            Some(url) => DatabaseTarget::Url(url),
            None => DatabaseTarget::SqliteFile(data_dir.join(SQLITE_FILE)),
        };
        Config { data_dir, database }
    }

    /// Creates the data directory (mode 0700: it holds the TLS key) if it is missing.
    pub fn ensure_data_dir(&self) -> anyhow::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.data_dir)
            .with_context(|| format!("creating the data directory {}", self.data_dir.display()))
    }
}
