//! The module map of one process image: which executable or shared object holds an address.

use leakscope_trace::ModuleEvent;
use std::sync::atomic::{AtomicU64, Ordering};

/// A module (executable or shared object) as the agent saw it mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Lowest and one-past-highest address of its mapped segments.
    pub start: u64,
    pub end: u64,
    /// Runtime address minus ELF virtual address.
    pub bias: u64,
    pub path: String,
    pub build_id: Vec<u8>,
}

impl Module {
    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }
}

/// Every module loaded during the image's life, in load order.
///
/// Unloaded modules stay: a stack recorded before a `dlclose` still points into them. When an address range
/// was reused, the module loaded last wins.
#[derive(Debug, Clone, Default)]
pub struct ModuleMap {
    modules: Vec<Module>,
    /// Names this content: changes with every change, shared only by copies (0: empty).
    version: u64,
}

static VERSIONS: AtomicU64 = AtomicU64::new(1);

impl ModuleMap {
    pub fn apply(&mut self, ev: &ModuleEvent) {
        if !ev.loaded {
            return;
        }
        // The agent writes its full list again at exit and after fork: keep one entry per mapping.
        self.modules
            .retain(|m| !(m.start == ev.start && m.end == ev.end && m.path == ev.path));
        self.modules.push(Module {
            start: ev.start,
            end: ev.end,
            bias: ev.bias,
            path: ev.path.clone(),
            build_id: ev.build_id.clone(),
        });
        self.version = VERSIONS.fetch_add(1, Ordering::Relaxed);
    }

    /// Maps with the same version have the same modules (lookups in one can be remembered for the other).
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn find(&self, addr: u64) -> Option<&Module> {
        self.modules.iter().rev().find(|m| m.contains(addr))
    }

    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Module> {
        self.modules.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(start: u64, end: u64, path: &str) -> ModuleEvent {
        ModuleEvent {
            loaded: true,
            start,
            end,
            bias: start,
            path: path.into(),
            build_id: vec![],
        }
    }

    #[test]
    fn latest_load_wins_and_unloads_are_kept() {
        let mut m = ModuleMap::default();
        m.apply(&load(0x1000, 0x2000, "/a.so"));
        m.apply(&ModuleEvent {
            loaded: false,
            ..load(0x1000, 0x2000, "")
        });
        assert_eq!(m.find(0x1800).unwrap().path, "/a.so");
        m.apply(&load(0x1000, 0x3000, "/b.so"));
        assert_eq!(m.find(0x1800).unwrap().path, "/b.so");
        assert_eq!(m.find(0x2800).unwrap().path, "/b.so");
        assert!(m.find(0x3000).is_none());
        m.apply(&load(0x1000, 0x3000, "/b.so"));
        assert_eq!(m.iter().count(), 2);
    }
}
