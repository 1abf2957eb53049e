//! While the program runs, opens the debugging information of the modules it mapped (on the second core),
//! so that the report after it ends does not wait for their DWARF.

use leakscope_analysis::debuginfo::preloaded;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long to wait for the dynamic loader to map the program's libraries.
const MAPPED_WITHIN: Duration = Duration::from_millis(500);

/// Starts opening the debug information of the modules process `pid` maps (the agent's excepted).
pub fn start(pid: u32, agent: &Path, debug_dirs: Vec<PathBuf>) -> JoinHandle<()> {
    let agent = agent.to_path_buf();
    std::thread::spawn(move || {
        for path in mapped_modules(pid, &agent) {
            preloaded::load(&path, &debug_dirs);
        }
    })
}

/// Stops opening more modules (the program ended: the analysis opens what it still needs itself).
pub fn stop(warm: JoinHandle<()>) {
    preloaded::stop();
    drop(warm); // not joined: a module being opened is waited for by the analysis only if it needs it
}

/// The executable files the process maps, once its libraries are there (libc mapped), in address order.
fn mapped_modules(pid: u32, agent: &Path) -> Vec<PathBuf> {
    let start = Instant::now();
    loop {
        let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else {
            return Vec::new();
        };
        let mut seen = HashSet::new();
        let paths: Vec<PathBuf> = maps
            .lines()
            .filter(|l| l.split_whitespace().nth(1).is_some_and(|p| p.contains('x')))
            .filter_map(|l| l.split_whitespace().nth(5))
            .filter(|p| p.starts_with('/') && Path::new(p) != agent)
            .filter(|p| seen.insert(p.to_string()))
            .map(PathBuf::from)
            .collect();
        let linked = paths.iter().any(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libc.so"))
        });
        if linked || maps.is_empty() || start.elapsed() > MAPPED_WITHIN {
            return paths;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
