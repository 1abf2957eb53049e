//! Offline symbolization: absolute return address → module → file-relative address → source frames, with
//! inlined calls as frames of their own, names demangled, and the symbol table or a bare address as
//! fallbacks. Each module is opened once and each (module, address) looked up once.

use crate::debuginfo::{self, DebugInfo};
use crate::fasthash::FastMap;
use crate::modules::ModuleMap;
use addr2line::Loader;
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

/// One frame of a symbolized stack. Its strings are shared (a report holds thousands of stacks of tens of
/// frames, mostly the same few hundred names and files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The return address the agent recorded (absolute, in the process).
    pub address: u64,
    /// Demangled function name.
    pub function: Option<Arc<str>>,
    /// Source file as the debug information names it (usually an absolute path).
    pub file: Option<Arc<str>>,
    pub line: Option<u32>,
    /// Path of the executable or shared object holding the address.
    pub module: Option<Arc<str>>,
    /// The call was inlined into the next (outer) frame: it has no machine frame of its own.
    pub inlined: bool,
}

/// A symbolized stack, shared: a report refers to each of its stacks from several places (records, sites,
/// the maps that merge them), and a program can have a million of them.
pub type Stack = Arc<[Frame]>;

/// Stacks are grouped by their frames: hashing only the numbers (equal frames still hash equally) spares
/// hashing every name and path of every frame, which was a tenth of a large report's time.
impl std::hash::Hash for Frame {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (self.address, self.line, self.inlined).hash(h);
    }
}

impl Frame {
    /// The file name without its directories.
    pub fn file_name(&self) -> Option<&str> {
        self.file
            .as_deref()
            .map(|f| f.rsplit('/').next().unwrap_or(f))
    }
}

/// Where an address is in the source, independent of where the module was loaded.
#[derive(Debug, Clone, Default)]
struct SourceFrame {
    function: Option<Arc<str>>,
    file: Option<Arc<str>>,
    line: Option<u32>,
    inlined: bool,
}

/// Demangles a C++ (Itanium) or Rust symbol name; other names come back unchanged.
pub fn demangle(name: &str) -> String {
    // Rust's legacy scheme is Itanium-shaped; only names with its hash suffix (or v0 names) are Rust.
    let rust = name.starts_with("_R") || is_legacy_rust(name);
    let lang = if rust {
        addr2line::gimli::DW_LANG_Rust
    } else {
        addr2line::gimli::DW_LANG_C_plus_plus
    };
    addr2line::demangle(name, lang).unwrap_or_else(|| name.to_string())
}

/// `_ZN…17h<16 hex digits>E`, possibly followed by a `.llvm.…` suffix.
fn is_legacy_rust(name: &str) -> bool {
    let base = name.split('.').next().unwrap_or(name);
    let Some(body) = base.strip_prefix("_ZN").and_then(|b| b.strip_suffix('E')) else {
        return false;
    };
    body.len() > 19
        && body[body.len() - 19..].starts_with("17h")
        && body[body.len() - 16..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
}

fn lookup(info: &DebugInfo, probe: u64) -> Vec<SourceFrame> {
    let mut out = Vec::new();
    if let Some(frames) = info.dwarf().and_then(|l| l.find_frames(probe).ok()) {
        let mut frames = frames;
        while let Ok(Some(f)) = frames.next() {
            out.push(SourceFrame {
                function: f
                    .function
                    .as_ref()
                    .and_then(|n| n.demangle().ok())
                    .map(|n: Cow<str>| Arc::from(n.as_ref())),
                file: f.location.as_ref().and_then(|l| l.file).map(Arc::from),
                line: f.location.as_ref().and_then(|l| l.line),
                inlined: true,
            });
        }
    }
    if out.is_empty() {
        out.push(SourceFrame::default());
    }
    let outer = out.last_mut().expect("one frame at least");
    outer.inlined = false;
    if outer.function.is_none() {
        outer.function = [info.dwarf(), info.symbols.as_ref()]
            .into_iter()
            .flatten()
            .find_map(|l: &Loader| l.find_symbol(probe))
            .map(|n| Arc::from(demangle(n)));
    }
    out
}

/// Symbolizes addresses of any process of a trace (modules are shared by path and build-id).
pub struct Symbolizer {
    debug_dirs: Vec<PathBuf>,
    /// path → (build-id, index into `infos`) of each file seen at that path.
    modules: FastMap<String, Vec<(Vec<u8>, usize)>>,
    /// Each module's path (shared by all its frames) and debug information.
    infos: Vec<(Arc<str>, Option<DebugInfo>)>,
    frames: FastMap<(usize, u64), Arc<[SourceFrame]>>,
    /// [`Symbolizer::locate`]'s answers by (module map version, return address): a report looks up the
    /// same addresses in every stack that shares them, and a program may map hundreds of modules.
    located: FastMap<(u64, u64), Option<(usize, u64)>>,
    warnings: Vec<String>,
}

impl Symbolizer {
    /// `debug_dirs`: roots of separate debug files, normally `/usr/lib/debug`.
    pub fn new(debug_dirs: Vec<PathBuf>) -> Self {
        Symbolizer {
            debug_dirs,
            modules: FastMap::default(),
            infos: Vec::new(),
            frames: FastMap::default(),
            located: FastMap::default(),
            warnings: Vec::new(),
        }
    }

    /// Problems met so far (modules missing or changed), one line each, each once.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// The frames of one return address, innermost (inlined) first.
    pub fn symbolize(&mut self, modules: &ModuleMap, address: u64) -> Vec<Frame> {
        let at = self.locate(modules, address);
        self.symbolize_at(address, at)
    }

    /// The module (index into `infos`) and module-relative probe of a return address. A return address
    /// points after the call; the call itself is one byte earlier, as Memcheck looks it up.
    fn locate(&mut self, modules: &ModuleMap, address: u64) -> Option<(usize, u64)> {
        let key = (modules.version(), address);
        if let Some(&at) = self.located.get(&key) {
            return at;
        }
        let at = self.locate_anew(modules, address);
        self.located.insert(key, at);
        at
    }

    fn locate_anew(&mut self, modules: &ModuleMap, address: u64) -> Option<(usize, u64)> {
        let m = modules.find(address)?;
        let index = self.module_index(&m.path, &m.build_id);
        Some((index, address.wrapping_sub(1).wrapping_sub(m.bias)))
    }

    fn symbolize_at(&mut self, address: u64, at: Option<(usize, u64)>) -> Vec<Frame> {
        let mut out = Vec::new();
        self.symbolize_into(address, at, &mut out);
        out
    }

    /// [`Symbolizer::symbolize_at`], appending to `out` (a stack's frames, without a vector per address).
    fn symbolize_into(&mut self, address: u64, at: Option<(usize, u64)>, out: &mut Vec<Frame>) {
        let Some((index, probe)) = at else {
            return out.push(bare(address, None));
        };
        let (path, info) = &self.infos[index];
        let module = Some(path.clone());
        let Some(info) = info else {
            return out.push(bare(address, module));
        };
        let source = self
            .frames
            .entry((index, probe))
            .or_insert_with(|| lookup(info, probe).into());
        out.extend(source.iter().map(|s| Frame {
            address,
            function: s.function.clone(),
            file: s.file.clone(),
            line: s.line,
            module: module.clone(),
            inlined: s.inlined,
        }));
    }

    /// A stack, innermost first, inlined frames expanded, up to and including the first address one of
    /// whose frames is `last` (the rest would be cut anyway: not symbolizing it spares loading, say,
    /// libc's debug information for its start-up frames below `main`).
    /// `start_up` names glibc's start-up functions (below `main`, starting threads): from the first frame
    /// the symbol table places in one, frames are named from the symbol table alone — loading a big
    /// library's DWARF for them (libc's, when nothing else needs it) would cost more than all the rest.
    pub fn symbolize_stack(
        &mut self,
        modules: &ModuleMap,
        addresses: &[u64],
        last: impl Fn(&Frame) -> bool,
        start_up: impl Fn(&str) -> bool,
    ) -> Vec<Frame> {
        let mut out = Vec::with_capacity(addresses.len() + 8);
        let mut names_only = false;
        for &a in addresses {
            let at = self.locate(modules, a);
            names_only = names_only || self.symbol_name(at).is_some_and(&start_up);
            if names_only {
                out.push(Frame {
                    function: self.symbol_name(at).map(Arc::from),
                    ..bare(a, at.map(|(i, _)| self.infos[i].0.clone()))
                });
                continue;
            }
            let start = out.len();
            self.symbolize_into(a, at, &mut out);
            if out[start..].iter().any(&last) {
                break;
            }
        }
        out
    }

    /// The function symbol a located return address falls in, from the symbol table only.
    fn symbol_name(&self, at: Option<(usize, u64)>) -> Option<&str> {
        let (index, probe) = at?;
        self.infos[index].1.as_ref()?.symbol_name(probe)
    }

    fn module_index(&mut self, path: &str, build_id: &[u8]) -> usize {
        let known = self.modules.get(path).and_then(|files| {
            files
                .iter()
                .find(|(id, _)| id.as_slice() == build_id)
                .map(|&(_, i)| i)
        });
        if let Some(i) = known {
            return i;
        }
        // Pseudo-modules such as the vDSO (`linux-vdso.so.1`) are not files.
        let info = path.starts_with('/').then(|| {
            let (info, warning) = debuginfo::open(path, build_id, &self.debug_dirs);
            self.warnings.extend(warning);
            info
        });
        let i = self.infos.len();
        self.infos.push((Arc::from(path), info));
        self.modules
            .entry(path.to_string())
            .or_default()
            .push((build_id.to_vec(), i));
        i
    }
}

fn bare(address: u64, module: Option<Arc<str>>) -> Frame {
    Frame {
        address,
        function: None,
        file: None,
        line: None,
        module,
        inlined: false,
    }
}
