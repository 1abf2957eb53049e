//! The agent library. It is embedded in this binary at build time (see build.rs), written once to a cache
//! file named by its content hash, and preloaded from there; `LEAKSCOPE_AGENT=/path/to/lib.so` overrides it.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

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
    if fs::metadata(&target).is_ok_and(|m| m.len() == AGENT.len() as u64)
        && fs::read(&target)? == AGENT
    {
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
    Ok(target)
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
        fs::remove_dir_all(&dir).unwrap();
    }
}
