//! Finding and opening the debugging information of a module: DWARF in the file itself, or in a separate
//! debug file found by build-id (`<debug dir>/.build-id/ab/cdef….debug`) or by `.gnu_debuglink`, with the
//! dwz supplementary file named by `.gnu_debugaltlink`; the symbol table as the fallback.

use addr2line::Loader;
use object::{Object, ObjectSection, ReadCache, SectionKind};
use std::fs::File;
use std::path::{Path, PathBuf};

/// What a module file says about itself, read without loading it whole.
#[derive(Debug, Default)]
struct ElfFacts {
    build_id: Option<Vec<u8>>,
    debuglink: Option<String>,
    /// dwz's supplementary file: path and build-id.
    altlink: Option<(PathBuf, Vec<u8>)>,
    has_dwarf: bool,
}

fn facts(path: &Path) -> Option<ElfFacts> {
    let cache = ReadCache::new(File::open(path).ok()?);
    let obj = object::File::parse(&cache).ok()?;
    let has_dwarf = [".debug_info", ".zdebug_info"].iter().any(|name| {
        obj.section_by_name(name)
            .is_some_and(|s| s.size() > 0 && s.kind() != SectionKind::UninitializedData)
    });
    Some(ElfFacts {
        build_id: obj.build_id().ok().flatten().map(<[u8]>::to_vec),
        debuglink: obj
            .gnu_debuglink()
            .ok()
            .flatten()
            .map(|(name, _crc)| String::from_utf8_lossy(name).into_owned()),
        altlink: obj.gnu_debugaltlink().ok().flatten().map(|(p, id)| {
            use std::os::unix::ffi::OsStrExt;
            (PathBuf::from(std::ffi::OsStr::from_bytes(p)), id.to_vec())
        }),
        has_dwarf,
    })
}

/// `<dir>/.build-id/ab/cdef….debug` for each debug directory.
fn build_id_paths(build_id: &[u8], debug_dirs: &[PathBuf]) -> Vec<PathBuf> {
    if build_id.len() < 2 {
        return Vec::new();
    }
    let hex: String = build_id.iter().map(|b| format!("{b:02x}")).collect();
    debug_dirs
        .iter()
        .map(|d| {
            d.join(".build-id")
                .join(&hex[..2])
                .join(format!("{}.debug", &hex[2..]))
        })
        .collect()
}

/// GDB's debuglink search: next to the module, in its `.debug/`, and under each debug directory.
fn debuglink_paths(module: &Path, name: &str, debug_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let dir = module.parent().unwrap_or(Path::new("/"));
    let mut out = vec![dir.join(name), dir.join(".debug").join(name)];
    let rel = dir.strip_prefix("/").unwrap_or(dir);
    out.extend(debug_dirs.iter().map(|d| d.join(rel).join(name)));
    out.retain(|p| p != module);
    out
}

/// The first candidate that exists and, when a build-id is expected, carries it.
fn first_matching(
    candidates: Vec<PathBuf>,
    build_id: Option<&[u8]>,
) -> Option<(PathBuf, ElfFacts)> {
    candidates.into_iter().find_map(|p| {
        let f = facts(&p)?;
        let ok = match (build_id, &f.build_id) {
            (Some(want), Some(have)) => want == have.as_slice(),
            _ => true,
        };
        (ok && f.has_dwarf).then_some((p, f))
    })
}

/// The supplementary file of a dwz-processed debug file.
fn supplementary(debug_file: &Path, f: &ElfFacts, debug_dirs: &[PathBuf]) -> Option<PathBuf> {
    let (path, id) = f.altlink.as_ref()?;
    let base = debug_file.parent().unwrap_or(Path::new("/"));
    let mut candidates = vec![base.join(path)];
    candidates.extend(build_id_paths(id, debug_dirs));
    candidates.into_iter().find(|p| p.is_file())
}

/// The debugging information of one module, opened once.
pub struct DebugInfo {
    /// DWARF and a full symbol table: the module itself or its separate debug file.
    pub dwarf: Option<Loader>,
    /// The module's own symbol table, when the DWARF came from a separate file (or there is none).
    pub symbols: Option<Loader>,
}

/// Opens what can be found for the module at `path` whose build-id the agent recorded as `build_id` (empty:
/// unknown). Returns a warning when the module cannot be used as it was when the trace was recorded.
pub fn open(path: &str, build_id: &[u8], debug_dirs: &[PathBuf]) -> (DebugInfo, Option<String>) {
    if let Some(opened) = preloaded::take(path, build_id, debug_dirs) {
        return opened;
    }
    open_now(path, build_id, debug_dirs)
}

fn open_now(path: &str, build_id: &[u8], debug_dirs: &[PathBuf]) -> (DebugInfo, Option<String>) {
    let module = Path::new(path);
    let own = facts(module);
    let changed = match &own {
        Some(f) => !build_id.is_empty() && f.build_id.as_deref().is_some_and(|id| id != build_id),
        None => false,
    };
    let own = own.filter(|_| !changed);
    let expected = (!build_id.is_empty())
        .then_some(build_id)
        .or(own.as_ref().and_then(|f| f.build_id.as_deref()));
    let own_loader = || own.as_ref().and_then(|_| Loader::new(module).ok());
    if own.as_ref().is_some_and(|f| f.has_dwarf) {
        let info = DebugInfo {
            dwarf: own_loader(),
            symbols: None,
        };
        return (info, None);
    }
    let mut candidates = expected
        .map(|id| build_id_paths(id, debug_dirs))
        .unwrap_or_default();
    if let Some(link) = own.as_ref().and_then(|f| f.debuglink.as_deref()) {
        candidates.extend(debuglink_paths(module, link, debug_dirs));
    }
    let dwarf = first_matching(candidates, expected)
        .and_then(|(p, f)| Loader::new_with_sup(&p, supplementary(&p, &f, debug_dirs)).ok());
    let info = DebugInfo {
        dwarf,
        symbols: own_loader(),
    };
    let warning = if info.dwarf.is_some() {
        None
    } else if changed {
        Some(format!("{path} changed since the trace was recorded (its build-id differs): frames in it are shown as addresses"))
    } else if own.is_none() {
        Some(format!(
            "cannot read {path}: frames in it are shown as addresses"
        ))
    } else {
        None
    };
    (info, warning)
}

/// Modules opened ahead of the analysis — while the program still runs, on another core — so that the
/// report does not wait for their DWARF (a compressed libc debug file takes tens of milliseconds).
pub mod preloaded {
    use super::{facts, open_now, DebugInfo};
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    enum Slot {
        Loading,
        Ready(Box<(DebugInfo, Option<String>)>),
        Taken,
    }

    struct Entry {
        /// The file's canonical path (a trace names libc by its link name, /proc by its real path).
        canonical: PathBuf,
        build_id: Option<Vec<u8>>,
        debug_dirs: Vec<PathBuf>,
        slot: Slot,
    }

    static ENTRIES: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
    static STOPPED: AtomicBool = AtomicBool::new(false);

    fn entries() -> std::sync::MutexGuard<'static, Vec<Entry>> {
        ENTRIES.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens the module at `path` now, for a later [`super::open`] of the same file to take; does nothing
    /// once [`stop`] was called or when the file is already there.
    pub fn load(path: &Path, debug_dirs: &[PathBuf]) {
        let Ok(canonical) = std::fs::canonicalize(path) else {
            return;
        };
        {
            let mut all = entries();
            if STOPPED.load(Ordering::Acquire) || all.iter().any(|e| e.canonical == canonical) {
                return;
            }
            all.push(Entry {
                canonical: canonical.clone(),
                build_id: facts(&canonical).and_then(|f| f.build_id),
                debug_dirs: debug_dirs.to_vec(),
                slot: Slot::Loading,
            });
        }
        let opened = open_now(&canonical.to_string_lossy(), &[], debug_dirs);
        if let Some(e) = entries().iter_mut().find(|e| e.canonical == canonical) {
            e.slot = Slot::Ready(Box::new(opened));
        }
    }

    /// No more modules are started (those being opened are finished).
    pub fn stop() {
        STOPPED.store(true, Ordering::Release);
    }

    /// The preloaded module at `path`, if it is the file the trace recorded (same build-id, same debug
    /// directories); waits for one still being opened.
    pub(super) fn take(
        path: &str,
        build_id: &[u8],
        debug_dirs: &[PathBuf],
    ) -> Option<(DebugInfo, Option<String>)> {
        if entries().is_empty() {
            return None;
        }
        let canonical = std::fs::canonicalize(path).ok()?;
        loop {
            let mut all = entries();
            let e = all.iter_mut().find(|e| {
                e.canonical == canonical
                    && e.debug_dirs == debug_dirs
                    && (build_id.is_empty() || e.build_id.as_deref() == Some(build_id))
            })?;
            match std::mem::replace(&mut e.slot, Slot::Taken) {
                // A warning names the file as the trace does: let the caller open it again.
                Slot::Ready(opened) => return opened.1.is_none().then_some(*opened),
                Slot::Taken => return None,
                Slot::Loading => e.slot = Slot::Loading,
            }
            drop(all);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preloaded_module_is_taken_once_and_only_for_the_same_file() {
        let exe = std::fs::canonicalize("/proc/self/exe").unwrap();
        let id = facts(&exe).and_then(|f| f.build_id).unwrap_or_default();
        let dirs = vec![PathBuf::from("/nonexistent-debug-dir")];
        preloaded::load(&exe, &dirs);
        let path = exe.to_string_lossy();
        // Another build-id: not this file as the trace knew it.
        let other: Vec<u8> = id.iter().map(|b| b ^ 0xff).collect();
        assert!(preloaded::take(&path, &other, &dirs).is_none());
        let (info, warning) = preloaded::take(&path, &id, &dirs).expect("preloaded");
        assert!(info.dwarf.is_some() && warning.is_none());
        // Taken: the next open reads the file itself.
        assert!(preloaded::take(&path, &id, &dirs).is_none());
    }
}
