//! Finding and opening the debugging information of a module: DWARF in the file itself, or in a separate
//! debug file found by build-id (`<debug dir>/.build-id/ab/cdef….debug`) or by `.gnu_debuglink`, with the
//! dwz supplementary file named by `.gnu_debugaltlink`; the symbol table as the fallback.

use addr2line::Loader;
use object::{Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};
use std::cell::OnceCell;
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

/// The file at `path`, mapped. A read through `object::ReadCache` is a syscall per string: the symbol
/// names of libc's debug file took ~7,000 of them, most of a small report's time.
fn map_file(path: &Path) -> Option<memmap2::Mmap> {
    let file = File::open(path).ok()?;
    // SAFETY: a read-only private mapping; as for addr2line's own loader, a module rewritten while the
    // report reads it is not guarded against.
    unsafe { memmap2::Mmap::map(&file) }.ok()
}

fn facts(path: &Path) -> Option<ElfFacts> {
    let map = map_file(path)?;
    let obj = object::File::parse(&*map).ok()?;
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

/// The debugging information of one module. Its DWARF is opened (and, in distributions' debug files,
/// inflated) only when a frame needs it; its function names are at hand before that.
pub struct DebugInfo {
    /// Where the DWARF is (the module itself or its separate debug file), with dwz's supplementary file.
    dwarf_file: Option<(PathBuf, Option<PathBuf>)>,
    dwarf: OnceCell<Option<Loader>>,
    /// Function symbols of that file (its full symbol table): (address, size, name), sorted.
    names: Vec<(u64, u64, String)>,
    /// The module's own symbol table, when the DWARF came from a separate file (or there is none).
    pub symbols: Option<Loader>,
}

impl DebugInfo {
    /// The DWARF (with its symbol table), opened on first use.
    pub fn dwarf(&self) -> Option<&Loader> {
        self.dwarf
            .get_or_init(|| {
                let (path, sup) = self.dwarf_file.as_ref()?;
                Loader::new_with_sup(path, sup.as_deref()).ok()
            })
            .as_ref()
    }

    /// The name of the function symbol containing `probe` in the DWARF file's symbol table, read
    /// without the DWARF.
    pub fn symbol_name(&self, probe: u64) -> Option<&str> {
        let i = self
            .names
            .partition_point(|(a, _, _)| *a <= probe)
            .checked_sub(1)?;
        let (start, size, name) = &self.names[i];
        (probe < start + size).then_some(name.as_str())
    }
}

/// The function symbols of the ELF file at `path` with their sizes, sorted by address.
fn function_names(path: &Path) -> Vec<(u64, u64, String)> {
    let Some(map) = map_file(path) else {
        return Vec::new();
    };
    let Ok(obj) = object::File::parse(&*map) else {
        return Vec::new();
    };
    let mut names: Vec<(u64, u64, String)> = obj
        .symbols()
        .filter(|s| s.kind() == SymbolKind::Text && s.address() != 0 && s.size() != 0)
        .filter_map(|s| Some((s.address(), s.size(), s.name().ok()?.to_string())))
        .collect();
    names.sort_unstable();
    names
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
            dwarf_file: Some((module.to_path_buf(), None)),
            dwarf: OnceCell::new(),
            names: function_names(module),
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
    let dwarf_file = first_matching(candidates, expected).map(|(p, f)| {
        let sup = supplementary(&p, &f, debug_dirs);
        (p, sup)
    });
    let info = DebugInfo {
        names: dwarf_file
            .as_ref()
            .map_or_else(Vec::new, |(p, _)| function_names(p)),
        dwarf_file,
        dwarf: OnceCell::new(),
        symbols: own_loader(),
    };
    let warning = if info.dwarf_file.is_some() {
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
