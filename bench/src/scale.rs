//! `cargo xtask bench --scale`: does listing stay flat from a thousand users to a
//! million, and does one user with 100,000 spaces cost linear time and bounded memory?
//!
//! Each database is filled in bulk by SQL (no password is hashed: the bulk users
//! cannot log in with Basic; the measured users get tokens through the real store).
//! The servers run with `--max-staleness-ms 0`, so that every request reads the store:
//! with the read cache on, a repeated request never reaches the database and its size
//! would not show.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::ensure;
use onezone_server::admin;
use onezone_server::store::{DatabaseTarget, connect};
use sqlx::{AssertSqlSafe, Connection, PgConnection, SqliteConnection};

use crate::load::{self, Credentials, Figures};
use crate::processes::Binaries;
use crate::seed::{self, Backend};

/// Spaces in each scale database; every bulk user is a member of `PER_USER` of them.
const SPACES: u64 = 100_000;
const PER_USER: u64 = 10;
pub const SMALL_USERS: u64 = 1_000;
pub const LARGE_USERS: u64 = 1_000_000;
/// The wide users' space counts: two sizes, to see whether time grows linearly.
pub const WIDE: [u64; 2] = [10_000, 100_000];
/// Requests per wide user, on a fresh server; the median is reported.
const WIDE_REPEATS: usize = 5;
/// Only the request path's reads: no cache in front of the store.
const NO_CACHE: &[&str] = &["--max-staleness-ms", "0"];

/// One database's fill and the latency of a user with `PER_USER` spaces in it.
pub struct SizeRow {
    pub backend: Backend,
    pub users: u64,
    pub memberships: u64,
    pub fill_seconds: f64,
    pub probe: Figures,
}

/// One wide user's request.
pub struct WideRow {
    pub backend: Backend,
    pub spaces: u64,
    pub median_ms: f64,
    pub body_bytes: usize,
    /// The server's peak RSS before its first request, and after the last.
    pub rss_before_mib: f64,
    pub rss_after_mib: f64,
}

pub struct Results {
    pub sizes: Vec<SizeRow>,
    pub wide: Vec<WideRow>,
}

/// Where a database lives, and how to reach it.
struct Database {
    backend: Backend,
    data_dir: std::path::PathBuf,
    url: Option<String>,
}

/// Runs the scale measurements on SQLite and, given a server URL, on PostgreSQL.
pub async fn run(
    bins: &Binaries,
    work: &Path,
    postgres_server: Option<&str>,
    seconds: u64,
) -> anyhow::Result<Results> {
    let mut results = Results {
        sizes: Vec::new(),
        wide: Vec::new(),
    };
    let mut backends = vec![Backend::Sqlite];
    if postgres_server.is_some() {
        backends.push(Backend::Postgres);
    }
    for backend in backends {
        for users in [SMALL_USERS, LARGE_USERS] {
            let name = format!("scale_{}_{users}", backend.name().to_lowercase());
            let db = match backend {
                Backend::Sqlite => sqlite_database(&work.join(&name))?,
                Backend::Postgres => {
                    postgres_database(postgres_server.unwrap(), &name, &work.join(&name)).await?
                }
            };
            eprintln!("filling {} with {users} users...", backend.name());
            let started = Instant::now();
            fill(&db, users).await?;
            let fill_seconds = started.elapsed().as_secs_f64();
            let tokens = tokens(&db, users).await?;

            let probe = {
                let running = bins.server(&db.data_dir, db.url.as_deref(), false, NO_CACHE)?;
                let credentials = Credentials::Header("macaroon", tokens.probe.clone());
                // One connection: the latency of one request at a time.
                load::run(&running.url, &credentials, 1, seconds, false, work)?
            };
            let row = SizeRow {
                backend,
                users,
                memberships: users * PER_USER,
                fill_seconds,
                probe,
            };
            eprintln!(
                "{} users on {}: filled in {:.0} s; p50 {:.3} ms, p99 {:.3} ms, {:.0} req/s",
                users,
                backend.name(),
                fill_seconds,
                row.probe.p50_ms,
                row.probe.p99_ms,
                row.probe.requests_per_second
            );
            results.sizes.push(row);

            if users == LARGE_USERS {
                for (spaces, token) in WIDE.iter().zip(&tokens.wide) {
                    let row = wide(bins, &db, backend, *spaces, token).await?;
                    eprintln!(
                        "a user with {} spaces on {}: {:.1} ms, {} bytes, peak RSS {:.1} -> {:.1} MiB",
                        row.spaces,
                        backend.name(),
                        row.median_ms,
                        row.body_bytes,
                        row.rss_before_mib,
                        row.rss_after_mib
                    );
                    results.wide.push(row);
                }
            }
            drop_database(&db, postgres_server, &name).await?;
        }
    }
    Ok(results)
}

fn sqlite_database(data_dir: &Path) -> anyhow::Result<Database> {
    std::fs::create_dir_all(data_dir)?;
    Ok(Database {
        backend: Backend::Sqlite,
        data_dir: data_dir.to_owned(),
        url: None,
    })
}

async fn postgres_database(server: &str, name: &str, data_dir: &Path) -> anyhow::Result<Database> {
    let url = seed::fresh_postgres_database(server, name).await?;
    std::fs::create_dir_all(data_dir)?;
    Ok(Database {
        backend: Backend::Postgres,
        data_dir: data_dir.to_owned(),
        url: Some(url),
    })
}

/// Frees the disk a database took: a million users is a gigabyte or so.
async fn drop_database(db: &Database, server: Option<&str>, name: &str) -> anyhow::Result<()> {
    match (db.backend, server) {
        (Backend::Postgres, Some(server)) => seed::drop_postgres_database(server, name).await?,
        _ => std::fs::remove_dir_all(&db.data_dir)?,
    }
    Ok(())
}

fn target(db: &Database) -> DatabaseTarget {
    match &db.url {
        Some(url) => DatabaseTarget::Url(url.clone()),
        None => DatabaseTarget::SqliteFile(db.data_dir.join(onezone_server::config::SQLITE_FILE)),
    }
}

/// The bulk users' logins and spaces; both backends get the same rows.
///
/// User `i` (1..=users) is `user{i}`, a member of spaces `(7 i + 10007 k) mod SPACES`
/// for k in 0..PER_USER (all different, since 10007 k < SPACES). Space `n` has the id
/// `scale-space-` and n in 31 digits: 43 characters of the real ids' alphabet. The two
/// wide users come after them, members of the first `WIDE[j]` spaces.
fn bulk_sql(backend: Backend, users: u64) -> String {
    let wide_inserts: String = WIDE
        .iter()
        .enumerate()
        .map(|(j, spaces)| {
            let id = users + 1 + j as u64;
            format!(
                "INSERT INTO users (id, login, password_hash, created_at) {overriding} VALUES ({id}, 'wide{spaces}', '!', 0);
                 INSERT INTO memberships (user_id, space_id) SELECT {id}, {space_id} FROM {series_spaces} WHERE n < {spaces};",
                overriding = overriding(backend),
                space_id = space_id(backend, "n"),
                series_spaces = series(backend, "n", 0, SPACES - 1),
            )
        })
        .collect();
    format!(
        "INSERT INTO spaces (id, name, created_at) SELECT {space_id}, 'space ' || n, 0 FROM {series_spaces};
         INSERT INTO users (id, login, password_hash, created_at) {overriding}
             SELECT i, 'user' || i, '!', 0 FROM {series_users};
         INSERT INTO memberships (user_id, space_id)
             SELECT i, {member_space} FROM {series_users} CROSS JOIN {series_k} ORDER BY i;
         {wide_inserts}",
        space_id = space_id(backend, "n"),
        series_spaces = series(backend, "n", 0, SPACES - 1),
        overriding = overriding(backend),
        series_users = series(backend, "i", 1, users),
        series_k = series(backend, "k", 0, PER_USER - 1),
        member_space = space_id(backend, &format!("((7 * i + 10007 * k) % {SPACES})")),
    )
}

/// A table `name(column)` of the integers from..=to.
fn series(backend: Backend, column: &str, from: u64, to: u64) -> String {
    match backend {
        Backend::Sqlite => format!(
            "(WITH RECURSIVE s({column}) AS (SELECT {from} UNION ALL SELECT {column} + 1 FROM s WHERE {column} < {to}) SELECT {column} FROM s)"
        ),
        Backend::Postgres => format!("generate_series({from}, {to}) AS s_{column}({column})"),
    }
}

fn space_id(backend: Backend, n: &str) -> String {
    match backend {
        Backend::Sqlite => format!("printf('scale-space-%031d', {n})"),
        Backend::Postgres => format!("'scale-space-' || lpad(({n})::text, 31, '0')"),
    }
}

/// PostgreSQL's identity column takes given ids only when told to.
fn overriding(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "",
        Backend::Postgres => "OVERRIDING SYSTEM VALUE",
    }
}

/// Creates the schema through the real store (its migrations), then bulk-loads.
/// Triggers and the secondary membership index are set aside during the load and
/// restored after, exactly as the migrations wrote them: the load is what is slow,
/// not what is measured.
async fn fill(db: &Database, users: u64) -> anyhow::Result<()> {
    drop(connect(&target(db)).await?);
    let bulk = bulk_sql(db.backend, users);
    // Each branch loads, then counts what the load left, on the same connection.
    const COUNT: &str = "SELECT count(*) FROM memberships";
    let count: i64 = match db.backend {
        Backend::Sqlite => {
            let file = db.data_dir.join(onezone_server::config::SQLITE_FILE);
            let mut conn = SqliteConnection::connect(&format!("sqlite:{}", file.display())).await?;
            let saved: Vec<(String, String)> = sqlx::query_as(
                "SELECT name, sql FROM sqlite_master \
                 WHERE (type = 'trigger' OR name = 'memberships_by_space') AND sql IS NOT NULL",
            )
            .fetch_all(&mut conn)
            .await?;
            // No foreign-key checks during the load: the generator's rows satisfy them.
            let mut script = String::from("PRAGMA foreign_keys = OFF;\nBEGIN;\n");
            for (name, sql) in &saved {
                let kind = if sql.starts_with("CREATE INDEX") {
                    "INDEX"
                } else {
                    "TRIGGER"
                };
                script += &format!("DROP {kind} {name};\n");
            }
            script += &bulk;
            for (_, sql) in &saved {
                script += &format!("{sql};\n");
            }
            // The counter the triggers would have moved: servers start after the load.
            // The checkpoint moves the load from the WAL into the database file now,
            // not while latency is measured.
            script += "UPDATE store_generation SET value = value + 1;\nCOMMIT;\nANALYZE;\n\
                       PRAGMA wal_checkpoint(TRUNCATE);";
            sqlx::raw_sql(AssertSqlSafe(script))
                .execute(&mut conn)
                .await?;
            sqlx::query_scalar(COUNT).fetch_one(&mut conn).await?
        }
        Backend::Postgres => {
            let mut conn = PgConnection::connect(db.url.as_deref().unwrap()).await?;
            let index: String = sqlx::query_scalar(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'memberships_by_space'",
            )
            .fetch_one(&mut conn)
            .await?;
            // `replica` turns off triggers, foreign-key checks among them, for this
            // session (it needs a superuser, as the local test server's postgres is).
            sqlx::raw_sql("SET session_replication_role = replica")
                .execute(&mut conn)
                .await?;
            let script = format!(
                "BEGIN;
                 DROP INDEX memberships_by_space;
                 {bulk}
                 {index};
                 SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users));
                 UPDATE store_generation SET value = value + 1;
                 COMMIT;"
            );
            sqlx::raw_sql(AssertSqlSafe(script))
                .execute(&mut conn)
                .await?;
            // Not in a transaction, nor in a string of several statements. The
            // checkpoint writes the load out now, not while latency is measured.
            for statement in ["VACUUM ANALYZE", "CHECKPOINT"] {
                sqlx::raw_sql(statement).execute(&mut conn).await?;
            }
            sqlx::query_scalar(COUNT).fetch_one(&mut conn).await?
        }
    };
    let expected = users * PER_USER + WIDE.iter().sum::<u64>();
    ensure!(
        count as u64 == expected,
        "the load left {count} memberships, not {expected}"
    );
    Ok(())
}

struct Tokens {
    /// For the user in the middle, with `PER_USER` spaces.
    probe: String,
    /// For the wide users, in `WIDE`'s order.
    wide: Vec<String>,
}

/// Tokens issued through the real store, as `token create` would.
async fn tokens(db: &Database, users: u64) -> anyhow::Result<Tokens> {
    let store = connect(&target(db)).await?;
    let probe = admin::create_token(store.as_ref(), &format!("user{}", users / 2), None).await?;
    let mut wide = Vec::new();
    for spaces in WIDE {
        wide.push(admin::create_token(store.as_ref(), &format!("wide{spaces}"), None).await?);
    }
    Ok(Tokens { probe, wide })
}

/// One wide user's answer on a fresh server: the median of a few requests, the body's
/// size, and what the server's memory peaked at.
async fn wide(
    bins: &Binaries,
    db: &Database,
    backend: Backend,
    spaces: u64,
    token: &str,
) -> anyhow::Result<WideRow> {
    let running = bins.server(&db.data_dir, db.url.as_deref(), false, NO_CACHE)?;
    let rss_before_mib = running.peak_rss_mib()?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let mut times = Vec::new();
    let mut body_bytes = 0;
    for _ in 0..WIDE_REPEATS {
        let started = Instant::now();
        let response = client
            .get(&running.url)
            .header("macaroon", token)
            .send()
            .await?
            .error_for_status()?;
        let body = response.bytes().await?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        let listed: serde_json::Value = serde_json::from_slice(&body)?;
        let listed = listed["spaces"].as_array().map_or(0, Vec::len);
        ensure!(
            listed as u64 == spaces,
            "the wide user got {listed} spaces, not {spaces}"
        );
        body_bytes = body.len();
    }
    times.sort_by(f64::total_cmp);
    Ok(WideRow {
        backend,
        spaces,
        median_ms: times[times.len() / 2],
        body_bytes,
        rss_before_mib,
        rss_after_mib: running.peak_rss_mib()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bulk load on a real SQLite file, small: every user gets exactly
    /// `PER_USER` distinct spaces, ids have the real ids' shape, and the wide users
    /// their counts.
    #[tokio::test]
    async fn the_bulk_load_gives_every_user_its_spaces() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite_database(dir.path()).unwrap();
        fill(&db, 50).await.unwrap();
        let store = connect(&target(&db)).await.unwrap();
        for user_id in [1, 25, 50] {
            let listed = store.user_spaces(user_id).await.unwrap();
            assert_eq!(listed.spaces.len() as u64, PER_USER, "user {user_id}");
            assert!(
                listed
                    .spaces
                    .iter()
                    .all(|id| onezone_server::ids::is_well_formed(id)),
                "{:?}",
                listed.spaces
            );
        }
        for (j, spaces) in WIDE.iter().enumerate() {
            let listed = store.user_spaces(51 + j as i64).await.unwrap();
            assert_eq!(listed.spaces.len() as u64, *spaces);
        }
        // The triggers and index set aside during the load are back.
        let generation = store.generation().await.unwrap();
        admin::create_user(store.as_ref(), "after", "pw")
            .await
            .unwrap();
        assert!(store.generation().await.unwrap() > generation);
        let tokens = tokens(&db, 50).await.unwrap();
        assert_eq!(tokens.wide.len(), WIDE.len());
    }
}
