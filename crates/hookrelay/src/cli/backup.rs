//! `hookrelay backup`: a consistent copy of a SQLite database while a server keeps running on it.
//!
//! It opens its own read-only connection (it never takes the server's `PATH.lock`; WAL mode lets
//! a reader work beside the writer) and copies with SQLite's online backup API, a few hundred
//! pages per step. Left to itself a stepped backup restarts from page 1 whenever another process
//! commits between two steps, so under steady ingest it would never finish; the source connection
//! therefore holds one read transaction across all steps. That pins a snapshot: the copy is the
//! database exactly as it was when the backup started, and the server's writers never wait for it
//! (its checkpoints are passive; the WAL just grows until the backup ends).
//!
//! The copy is written to a temporary file next to FILE (mode 0600: it holds the server's hashed
//! keys and webhook URLs with their passwords), flushed a few MiB at a time, checked with
//! `PRAGMA integrity_check`, and only then renamed to FILE. PostgreSQL is refused: `pg_dump` does
//! that job.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::config::{redact_url, Config};

/// Pages copied per step (1 MiB with SQLite's 4 KiB pages): a few milliseconds of work.
const PAGES_PER_STEP: i32 = 256;
/// The pause between steps, leaving the server's threads room to run.
const PAUSE: Duration = Duration::from_millis(1);
/// Steps between two flushes of the copy to disk. The copy is written without a journal or syncs
/// of its own (a private file, thrown away if anything fails), so its dirty pages would pile up
/// and go to disk in one burst, and the server's commits (each one an fsync) would wait behind it.
/// Measured under steady ingest, the slowest answer during a copy was 100-180 ms with one flush
/// at the end or with SQLite's own journalled writes, 25-50 ms flushing every 4 to 16 MiB (8 ms
/// with no backup running). 4 MiB is about what the server's own checkpoints write at a time.
const STEPS_PER_FLUSH: u32 = 4;
/// A pinned snapshot never restarts; this bounds the loop should SQLite ever restart anyway.
const MAX_RESTARTS: u32 = 3;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The database to copy: sqlite://PATH (default: HOOKRELAY_DATABASE_URL, then
    /// sqlite://hookrelay.db). A server may keep running on it.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Where to write the copy (created readable only by you: it holds the server's secrets).
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
    /// Replace FILE if it already exists (without this, an existing FILE is left alone).
    #[arg(long)]
    force: bool,
}

/// What the copy holds, read back from it, and how long each half took.
struct Copied {
    pages: i64,
    page_size: i64,
    counts: Vec<(&'static str, i64)>,
    copying: Duration,
    checking: Duration,
}

pub fn run(args: BackupArgs) -> anyhow::Result<()> {
    let url = args
        .database_url
        .clone()
        .or_else(|| std::env::var("HOOKRELAY_DATABASE_URL").ok())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| Config::defaults().database_url);
    let source = source_path(&url)?;
    check_destination(&source, &args.to, args.force)?;

    let partial = sibling(&args.to, &format!(".partial-{}", std::process::id()));
    let copied = copy(&source, &partial, || std::thread::sleep(PAUSE))
        .and_then(|copying| verify(&partial, copying))
        .and_then(|copied| {
            check_destination(&source, &args.to, args.force)?;
            Ok(copied)
        });
    let copied = match copied {
        Ok(copied) => copied,
        Err(e) => {
            remove_database_files(&partial, true);
            return Err(e);
        }
    };
    // A WAL left beside FILE by a server that once ran on it would be replayed into the copy.
    remove_database_files(&args.to, false);
    std::fs::rename(&partial, &args.to)
        .with_context(|| format!("renaming the copy to {}", args.to.display()))?;
    sync_parent(&args.to);
    report(&source, &args.to, &copied);
    Ok(())
}

/// The file behind a `sqlite://` URL; PostgreSQL is pointed at its own tools.
fn source_path(url: &str) -> anyhow::Result<PathBuf> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        anyhow::bail!(
            "hookrelay backup copies SQLite databases only; back up PostgreSQL ({}) with its own \
             tools: `pg_dump -Fc -f hookrelay.dump URL`, restored with \
             `pg_restore --clean --if-exists --no-owner -d URL hookrelay.dump` (see the README, Backups)",
            redact_url(url)
        );
    }
    let Some(path) = url.strip_prefix("sqlite://") else {
        anyhow::bail!("database_url `{}` is not sqlite://PATH", redact_url(url));
    };
    if path == ":memory:" {
        anyhow::bail!(
            "an in-memory database lives only inside its server; there is nothing to copy"
        );
    }
    let path = PathBuf::from(path);
    if !path.is_file() {
        anyhow::bail!("there is no database at {}", path.display());
    }
    Ok(path)
}

/// FILE may be written: it does not exist, or `--force` was given and it is neither the source
/// nor in use by a server. Checked before the copy and again just before the rename.
fn check_destination(source: &Path, to: &Path, force: bool) -> anyhow::Result<()> {
    if to.exists() {
        if !force {
            anyhow::bail!(
                "{} already exists; refusing to overwrite it (pass --force to replace it)",
                to.display()
            );
        }
        if same_file(source, to) {
            anyhow::bail!(
                "{} is the database being copied; choose another FILE",
                to.display()
            );
        }
    }
    if server_runs_on(to)? {
        anyhow::bail!(
            "a hookrelay server is running on {} (it holds {}.lock); stop it or choose another \
             FILE",
            to.display(),
            to.display()
        );
    }
    Ok(())
}

/// Whether a server holds `PATH.lock` (the lock is taken for an instant and let go).
fn server_runs_on(path: &Path) -> anyhow::Result<bool> {
    let lock_path = sibling(path, ".lock");
    let Ok(file) = std::fs::File::open(&lock_path) else {
        return Ok(false);
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(false),
        Err(std::fs::TryLockError::WouldBlock) => Ok(true),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow::anyhow!("cannot check {}: {e}", lock_path.display()))
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// `PATH` with `suffix` appended: the copy is first written to `FILE.partial-PID`, beside FILE so
/// that the final rename stays on one file system.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Copies `source` into a new file at `dest`, step by step, from one pinned snapshot, calling
/// `between_steps` (the pause) after each step; returns how long the copy took.
fn copy(source: &Path, dest: &Path, mut between_steps: impl FnMut()) -> anyhow::Result<Duration> {
    let src = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {}", source.display()))?;
    src.busy_timeout(Duration::from_secs(5))?;
    // BEGIN and a first read start the one read transaction every step then reads from.
    src.execute_batch("BEGIN")?;
    let started = Instant::now();
    let version: i64 = src.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let has_licenses: bool = src.query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'licenses'",
        [],
        |r| r.get(0),
    )?;
    if version == 0 || !has_licenses {
        anyhow::bail!("{} is not a hookrelay database", source.display());
    }

    let file = create_private(dest)?;
    let mut dst = Connection::open(dest)?;
    dst.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
    let backup = Backup::new(&src, &mut dst)?;
    let mut remaining = i32::MAX;
    let mut restarts = 0;
    for step in 1.. {
        // More, or Busy / Locked (tried again after the pause).
        if backup.step(PAGES_PER_STEP)? == StepResult::Done {
            break;
        }
        if step % STEPS_PER_FLUSH == 0 {
            file.sync_data()?;
        }
        let now = backup.progress().remaining;
        if now > remaining {
            restarts += 1;
            if restarts > MAX_RESTARTS {
                anyhow::bail!("the backup kept restarting because the source kept changing");
            }
        }
        remaining = now;
        between_steps();
    }
    drop(backup);
    src.execute_batch("COMMIT")?;
    dst.close().map_err(|(_, e)| e)?;
    file.sync_all()?;
    Ok(started.elapsed())
}

/// Creates an empty file readable and writable by the owner only (SQLite gives the copy's WAL the
/// same mode); the handle is kept to flush the copy while SQLite writes it.
fn create_private(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Checks the copy's integrity and reads back what it holds.
fn verify(path: &Path, copying: Duration) -> anyhow::Result<Copied> {
    let started = Instant::now();
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    let problems: Vec<String> = conn
        .prepare("PRAGMA integrity_check")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if problems != ["ok"] {
        anyhow::bail!(
            "the copy failed its integrity check: {}",
            problems.join("; ")
        );
    }
    let number = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    let mut counts = Vec::new();
    for table in ["licenses", "webhooks", "events", "deliveries"] {
        counts.push((table, number(&format!("SELECT count(*) FROM {table}"))?));
    }
    let (pages, page_size) = (number("PRAGMA page_count")?, number("PRAGMA page_size")?);
    conn.close().map_err(|(_, e)| e)?;
    Ok(Copied {
        pages,
        page_size,
        counts,
        copying,
        checking: started.elapsed(),
    })
}

/// Removes a database's journal and WAL, and the file itself when `with_file`, ignoring what is
/// not there.
fn remove_database_files(path: &Path, with_file: bool) {
    let file = if with_file { Some("") } else { None };
    for suffix in file.into_iter().chain(["-journal", "-wal", "-shm"]) {
        let _ = std::fs::remove_file(sibling(path, suffix));
    }
}

/// Makes the rename durable: a crash right after the report must not lose FILE.
fn sync_parent(path: &Path) {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = std::fs::File::open(parent) {
        let _ = dir.sync_all();
    }
}

fn report(source: &Path, to: &Path, copied: &Copied) {
    let bytes = copied.pages * copied.page_size;
    println!(
        "Backed up {} to {}: {} pages of {} bytes ({:.1} MiB) copied in {:.2} s, integrity check \
         ok in {:.2} s.",
        source.display(),
        to.display(),
        copied.pages,
        copied.page_size,
        bytes as f64 / (1024.0 * 1024.0),
        copied.copying.as_secs_f64(),
        copied.checking.as_secs_f64(),
    );
    for (table, count) in &copied.counts {
        println!("  {table:<11} {count}");
    }
    println!(
        "To restore, start a server on the copy: hookrelay serve --database-url sqlite://{}",
        to.display()
    );
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    /// A small database shaped like hookrelay's, in WAL mode, with `rows` rows of 1 KiB.
    fn database(path: &Path, rows: i64) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA user_version = 1;
             CREATE TABLE licenses (id INTEGER PRIMARY KEY);
             CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT);",
        )
        .unwrap();
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
             INSERT INTO events (body) SELECT printf('%.1024c', 'x') FROM n",
            [rows],
        )
        .unwrap();
        conn
    }

    #[test]
    fn a_copy_finishes_with_the_snapshot_it_started_from_while_another_connection_commits() {
        let dir = tempfile::tempdir().unwrap();
        let (source, dest) = (dir.path().join("source.db"), dir.path().join("copy.db"));
        // About 2,000 pages: several steps, with a commit from elsewhere after each one. Without
        // the pinned read transaction SQLite would restart the copy at every step.
        let writer = database(&source, 6000);
        let mut commits = 0;
        copy(&source, &dest, || {
            writer
                .execute("INSERT INTO events (body) VALUES ('later')", [])
                .unwrap();
            commits += 1;
        })
        .unwrap();
        assert!(commits >= 5, "only {commits} steps");

        let copied = Connection::open(&dest).unwrap();
        let rows: i64 = copied
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            rows, 6000,
            "the copy holds the database as it was when it started"
        );
        assert_eq!(
            std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
