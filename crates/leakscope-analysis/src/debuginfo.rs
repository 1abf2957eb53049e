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
