//! The on-disk compile cache: where compiled components are kept
//! (`$SANDNET_CACHE_DIR`), how an entry is written and read back, and the
//! size budget that evicts the least recently used entries
//! (`$SANDNET_CACHE_MAX_BYTES`, default [`DEFAULT_CACHE_MAX_BYTES`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::bail;
use wasmtime::Engine;
use wasmtime::component::Component;

/// The cache's size budget when `$SANDNET_CACHE_MAX_BYTES` is not set: 2 GiB,
/// about 55 Python or JavaScript guests (34–37 MB compiled), or thousands of
/// Rust and C ones.
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// A half-written entry (`NAME.tmpPID`) older than this is from a writer that
/// died; it is removed when the cache is pruned.
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

/// `$SANDNET_CACHE_DIR`, else `$XDG_CACHE_HOME/sandnet`, else `~/.cache/sandnet`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SANDNET_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("sandnet"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("sandnet"))
}

/// The budget from `$SANDNET_CACHE_MAX_BYTES` (bytes, or a size such as
/// `"500 MiB"`), else [`DEFAULT_CACHE_MAX_BYTES`].
pub fn cache_budget() -> anyhow::Result<u64> {
    let Some(text) = std::env::var_os("SANDNET_CACHE_MAX_BYTES") else {
        return Ok(DEFAULT_CACHE_MAX_BYTES);
    };
    text.to_str()
        .and_then(sandnet_policy::parse_size)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "SANDNET_CACHE_MAX_BYTES={text:?} is not a size; write bytes or e.g. \"500 MiB\""
            )
        })
}

/// Loads a component this runtime serialised earlier, and marks the entry as
/// just used (its modification time), so pruning keeps it over older ones.
#[allow(
    unsafe_code,
    reason = "deserialising our own cache entry; see SAFETY below"
)]
pub fn read_entry(engine: &Engine, path: &Path) -> anyhow::Result<Component> {
    // SAFETY: wasmtime requires the file to be a component serialised by a
    // compatible engine and not tampered with. The cache directory is created
    // by `create_private_dir` with mode 0700, entries are written atomically by
    // `write_entry`, and the file name includes the engine's compatibility hash.
    let component =
        unsafe { Component::deserialize_file(engine, path) }.map_err(anyhow::Error::from)?;
    if let Err(err) = std::fs::File::open(path).and_then(|f| f.set_modified(SystemTime::now())) {
        tracing::debug!(path = %path.display(), %err, "cannot mark a cache entry as used");
    }
    Ok(component)
}

/// Writes `component` to `path` atomically (a temporary file renamed into
/// place), then prunes `dir` to `budget` bytes, keeping the new entry.
pub fn write_entry(
    dir: &Path,
    path: &Path,
    component: &Component,
    budget: u64,
) -> anyhow::Result<()> {
    create_private_dir(dir)?;
    let bytes = component.serialize().map_err(anyhow::Error::from)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    prune(dir, budget, path);
    Ok(())
}

/// One file of the cache directory, as pruning sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// When it was last written or used.
    pub used: SystemTime,
}

/// The entries to delete so the rest fit in `budget` bytes: least recently
/// used first, never `keep` (the entry just written, even if it alone is over
/// the budget).
pub fn evictions(mut entries: Vec<Entry>, budget: u64, keep: &Path) -> Vec<PathBuf> {
    let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
    entries.sort_by(|a, b| a.used.cmp(&b.used).then_with(|| a.path.cmp(&b.path)));
    let mut out = Vec::new();
    for entry in entries {
        if total <= budget {
            break;
        }
        if entry.path == keep {
            continue;
        }
        total -= entry.bytes;
        out.push(entry.path);
    }
    out
}

/// Deletes least recently used `.cwasm` entries of `dir` until the rest fit
/// in `budget`, and temporary files of writers that died. Best effort: a file
/// another process removed first, or one that cannot be read, is skipped.
/// A running guest keeps its mapping of a deleted entry.
pub fn prune(dir: &Path, budget: u64, keep: &Path) {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    let mut entries = Vec::new();
    for item in listing.flatten() {
        let path = item.path();
        let Ok(meta) = item.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let is_temp = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.starts_with("tmp"));
        if is_temp {
            if now.duration_since(used).unwrap_or_default() > STALE_TEMP_AGE {
                remove(&path);
            }
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) == Some("cwasm") {
            entries.push(Entry {
                path,
                bytes: meta.len(),
                used,
            });
        }
    }
    for path in evictions(entries, budget, keep) {
        remove(&path);
    }
}

fn remove(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::debug!(path = %path.display(), "evicted from the compile cache"),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => tracing::warn!(path = %path.display(), %err, "cannot evict a cache entry"),
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o022 != 0 {
        bail!(
            "cache directory {} is writable by others (mode {mode:o}); refusing to use it",
            dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, bytes: u64, age_s: u64) -> Entry {
        Entry {
            path: PathBuf::from(name),
            bytes,
            used: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 - age_s),
        }
    }

    #[test]
    fn the_least_recently_used_go_first_until_the_rest_fit() {
        let entries = vec![
            entry("new", 40, 1),
            entry("oldest", 30, 300),
            entry("middle", 30, 200),
            entry("recent", 30, 100),
        ];
        // 130 bytes against 70: dropping the oldest (30) leaves 100, then the
        // middle one leaves 70.
        let out = evictions(entries, 70, Path::new("new"));
        assert_eq!(out, [PathBuf::from("oldest"), PathBuf::from("middle")]);
    }

    #[test]
    fn nothing_goes_while_the_cache_fits() {
        let entries = vec![entry("a", 10, 5), entry("b", 10, 1)];
        assert!(evictions(entries, 20, Path::new("b")).is_empty());
    }

    #[test]
    fn the_entry_just_written_stays_even_over_the_budget() {
        let entries = vec![entry("huge", 500, 0), entry("old", 10, 50)];
        let out = evictions(entries, 100, Path::new("huge"));
        assert_eq!(out, [PathBuf::from("old")]);
    }

    #[test]
    fn prune_deletes_old_entries_and_dead_writers_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: usize, age: Duration| {
            let path = dir.path().join(name);
            std::fs::write(&path, vec![0u8; bytes]).unwrap();
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(SystemTime::now() - age).unwrap();
            path
        };
        let old = write("old.cwasm", 600, Duration::from_secs(600));
        let recent = write("recent.cwasm", 600, Duration::from_secs(60));
        let kept = write("kept.cwasm", 600, Duration::ZERO);
        let dead = write("x.tmp123", 10, Duration::from_secs(7200));
        let live = write("y.tmp456", 10, Duration::from_secs(5));
        let other = write("notes.txt", 5000, Duration::from_secs(9000));
        prune(dir.path(), 1300, &kept);
        assert!(!old.exists(), "the least recently used entry is evicted");
        assert!(
            recent.exists() && kept.exists(),
            "the rest fit in 1300 bytes"
        );
        assert!(!dead.exists(), "a dead writer's temp file is removed");
        assert!(live.exists(), "a temp file being written stays");
        assert!(other.exists(), "files that are not entries are left alone");
    }
}
