//! The agent library. It is embedded in this binary at build time (see build.rs), written once to a cache
//! file named by its content hash, and preloaded from there; `LEAKSCOPE_AGENT=/path/to/lib.so` overrides it.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

static AGENT: &[u8] = include_bytes!(env!("LEAKSCOPE_AGENT_SO"));
const HASH: &str = env!("LEAKSCOPE_AGENT_HASH");

/// The agent to preload: the override, else the cached copy of the embedded one.
pub fn path() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("LEAKSCOPE_AGENT").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return match fs::canonicalize(&p) {
            Ok(abs) => Ok(abs),
            Err(e) => Err(format!("LEAKSCOPE_AGENT={}: {e}", p.display())),
        };
    }
    let name = format!("libleakscope_agent-{HASH}.so");
    let mut errors = Vec::new();
    for dir in cache_dirs() {
        match install(&dir, &name) {
            Ok(p) => return Ok(p),
            Err(e) => errors.push(format!("{}: {e}", dir.display())),
        }
    }
    Err(format!(
        "cannot write the agent library to a cache directory ({})",
        errors.join("; ")
    ))
}

/// `$XDG_CACHE_HOME/leakscope`, `~/.cache/leakscope`, then `/tmp/leakscope-<uid>`.
fn cache_dirs() -> Vec<PathBuf> {
    let abs = |v: Option<std::ffi::OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    let mut dirs = Vec::new();
    if let Some(x) = abs(std::env::var_os("XDG_CACHE_HOME")) {
        dirs.push(x.join("leakscope"));
    }
    if let Some(h) = abs(std::env::var_os("HOME")) {
        dirs.push(h.join(".cache").join("leakscope"));
    }
    // SAFETY: getuid cannot fail.
    dirs.push(PathBuf::from(format!("/tmp/leakscope-{}", unsafe {
        libc::getuid()
    })));
    dirs
}

/// Makes sure `dir/name` holds the embedded agent; writes it through a temporary file and a rename so that
/// concurrent runs never preload a half-written library.
fn install(dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    check_private(dir)?;
    let target = dir.join(name);
    if looks_installed(&target) {
        mark_used(&target);
        return Ok(target);
    }
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o755)
        .open(&tmp)?;
    f.write_all(AGENT)?;
    drop(f);
    fs::rename(&tmp, &target).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    prune(dir, name);
    Ok(target)
}

/// Whether `path` holds the embedded agent, judged by its length and its first and last 4 KiB: the name
/// carries the content's hash, and files appear only whole (renamed into place), so this catches a file
/// damaged or replaced since. Reading and comparing the whole 2-3 MB took 2.5 ms of every run.
fn looks_installed(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    const EDGE: usize = 4096;
    let Ok(mut f) = fs::File::open(path) else {
        return false;
    };
    if !f.metadata().is_ok_and(|m| m.len() == AGENT.len() as u64) {
        return false;
    }
    let edge = EDGE.min(AGENT.len());
    let mut buf = vec![0u8; edge];
    let head = f.read_exact(&mut buf).is_ok() && buf[..] == AGENT[..edge];
    let tail = head
        && f.seek(SeekFrom::End(-(edge as i64))).is_ok()
        && f.read_exact(&mut buf).is_ok()
        && buf[..] == AGENT[AGENT.len() - edge..];
    head && tail
}

/// Libraries of other builds unused for this long are removed when a new one is installed: every build
/// of leakscope installs its own (2-3 MB), and they would pile up.
const UNUSED: Duration = Duration::from_secs(24 * 3600);

/// Keeps the modification time of a library in use recent (at most an hour old), so that [`prune`] run
/// by another build leaves it alone.
fn mark_used(path: &Path) {
    let stale = fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > Duration::from_secs(3600)));
    if stale {
        if let Ok(f) = fs::OpenOptions::new().write(true).open(path) {
            let _ = f.set_modified(SystemTime::now());
        }
    }
}

/// Removes the agent libraries in `dir` other than `keep` that no run used for [`UNUSED`].
fn prune(dir: &Path, keep: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let ours = name.to_str().is_some_and(|n| {
            n != keep && n.starts_with("libleakscope_agent-") && n.ends_with(".so")
        });
        let unused = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > UNUSED));
        if ours && unused {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// A shared directory such as /tmp must not let anyone else plant a library for us to preload.
fn check_private(dir: &Path) -> std::io::Result<()> {
    let m = fs::symlink_metadata(dir)?;
    // SAFETY: getuid cannot fail.
    let mine = m.uid() == unsafe { libc::getuid() };
    if !m.is_dir() || !mine || m.mode() & 0o022 != 0 {
        return Err(std::io::Error::other(
            "not a private directory of this user",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_agent_is_a_shared_object_and_installs_once() {
        assert_eq!(&AGENT[..4], b"\x7fELF");
        let dir = std::env::temp_dir().join(format!("leakscope-agent-test-{}", std::process::id()));
        let a = install(&dir, "a.so").unwrap();
        let before = fs::metadata(&a).unwrap().modified().unwrap();
        assert_eq!(fs::read(&a).unwrap(), AGENT);
        assert_eq!(install(&dir, "a.so").unwrap(), a);
        assert_eq!(fs::metadata(&a).unwrap().modified().unwrap(), before);
        fs::write(&a, b"stale").unwrap();
        install(&dir, "a.so").unwrap();
        assert_eq!(fs::read(&a).unwrap(), AGENT);
        // Same length, damaged at the end.
        let mut damaged = AGENT.to_vec();
        *damaged.last_mut().unwrap() ^= 1;
        fs::write(&a, &damaged).unwrap();
        install(&dir, "a.so").unwrap();
        assert_eq!(fs::read(&a).unwrap(), AGENT);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_new_build_removes_libraries_unused_for_a_day() {
        let dir = std::env::temp_dir().join(format!("leakscope-prune-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let aged = |name: &str, hours: u64| {
            let p = dir.join(name);
            fs::write(&p, b"x").unwrap();
            let f = fs::OpenOptions::new().write(true).open(&p).unwrap();
            f.set_modified(SystemTime::now() - Duration::from_secs(hours * 3600))
                .unwrap();
            p
        };
        let old = aged("libleakscope_agent-0001.so", 30);
        let recent = aged("libleakscope_agent-0002.so", 2);
        let other = aged("notes.txt", 30);
        install(&dir, "libleakscope_agent-0003.so").unwrap();
        assert!(!old.exists(), "unused for 30 h: removed");
        assert!(recent.exists() && other.exists());
        // A library in use is marked so: an hour-old one gets a fresh time.
        mark_used(&recent);
        let age = fs::metadata(&recent).unwrap().modified().unwrap().elapsed();
        assert!(age.unwrap() < Duration::from_secs(60));
        fs::remove_dir_all(&dir).unwrap();
    }
}
