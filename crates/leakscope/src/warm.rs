//! Symbolizes while the program runs: a thread follows the trace the agent writes and resolves the stack
//! of every allocation site live at the latest snapshot, so that the report after the program ends finds
//! its modules opened, their debug information loaded (and inflated) and its addresses resolved. That is
//! most of a report's work, and without this all of it happens after the program has ended, while the
//! user waits; here it overlaps the run, on a core the program leaves idle or at low cost beside it.
//!
//! Only sites live in a snapshot are looked at (their stacks are the ones the report shows), so the
//! thread loads no debug information the report would not need, save for sites freed before the end.
//! For a report that leaves out still-reachable records (the default text report) that holds only once
//! it will show the sites, with a curve of [`CURVE_SNAPSHOTS`]: before, most live sites are ones it
//! never shows (python: +170 ms of CPU on a 0.3 s run, loading libpython's and libc's DWARF for them).
//! Not used in sampled mode, whose reports are small and whose programs keep their cores to themselves.

use leakscope_analysis::fasthash::FastMap;
use leakscope_analysis::model::{apply_definitions, StackTable};
use leakscope_analysis::modules::ModuleMap;
use leakscope_analysis::{report_stack, Symbolizer, CURVE_SNAPSHOTS};
use leakscope_trace::{read_chunks_from, Record, FILE_HEADER_LEN};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The thread's name (a panic in it only ends it: see `main`).
pub const THREAD: &str = "warm";

/// How often the trace is read for new chunks.
const POLL: Duration = Duration::from_millis(50);

/// The following thread.
pub struct Warmup {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Symbolizer>,
    debug_dirs: Vec<PathBuf>,
}

impl Warmup {
    /// Starts following `trace`; None if it is not a regular file (a read could block) or no thread could
    /// be started: the report then does all the work. `all_stacks`: the report shows every stack (else
    /// the thread waits for a curve's worth of snapshots).
    pub fn start(trace: PathBuf, debug_dirs: Vec<PathBuf>, all_stacks: bool) -> Option<Warmup> {
        if !std::fs::metadata(&trace).is_ok_and(|m| m.is_file()) {
            return None;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, dirs) = (stop.clone(), debug_dirs.clone());
        let thread = std::thread::Builder::new()
            .name(THREAD.into())
            .spawn(move || follow(&trace, dirs, &flag, all_stacks))
            .ok()?;
        Some(Warmup {
            stop,
            thread,
            debug_dirs,
        })
    }

    /// Stops following and returns what the symbolizer learnt (after the stack it is on, if any).
    pub fn finish(self) -> Symbolizer {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.thread().unpark();
        self.thread
            .join()
            .unwrap_or_else(|_| Symbolizer::new(self.debug_dirs))
    }
}

/// What the trace has said so far about one process image.
#[derive(Default)]
struct Image {
    modules: ModuleMap,
    stacks: StackTable,
    /// Sites with live blocks at the latest snapshot.
    live: HashSet<u32>,
    /// Sites already symbolized.
    done: HashSet<u32>,
    /// Snapshots seen.
    snapshots: usize,
    /// Return addresses already symbolized: the symbolizer keeps what it found per address, so a stack
    /// made only of these has nothing left to warm (a program with a million distinct stacks over a few
    /// hundred addresses spent a quarter of all its CPU here, rebuilding each stack's frames to drop them).
    seen: FastMap<u64, ()>,
}

impl Image {
    fn apply(&mut self, record: &Record) {
        if apply_definitions(record, &mut self.modules, &mut self.stacks) {
            return;
        }
        if let Record::Snapshot(s) = record {
            self.snapshots += 1;
            for site in &s.sites {
                if site.live_blocks > 0 {
                    self.live.insert(site.stack);
                } else {
                    self.live.remove(&site.stack);
                }
            }
        }
    }

    /// Symbolizes the live sites not done yet; false if told to stop meanwhile.
    fn symbolize(&mut self, sym: &mut Symbolizer, stop: &AtomicBool) -> bool {
        let due: Vec<u32> = self
            .live
            .iter()
            .copied()
            .filter(|&id| !self.done.contains(&id) && self.stacks.contains(id))
            .collect();
        for id in due {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            let Some(stack) = self.stacks.get(id) else {
                continue;
            };
            if !stack.iter().all(|a| self.seen.contains_key(a)) {
                report_stack(sym, &self.modules, &stack);
                self.seen.extend(stack.iter().map(|&a| (a, ())));
            }
            self.done.insert(id);
        }
        true
    }
}

fn follow(
    trace: &Path,
    debug_dirs: Vec<PathBuf>,
    stop: &AtomicBool,
    all_stacks: bool,
) -> Symbolizer {
    let mut sym = Symbolizer::new(debug_dirs);
    let Ok(mut file) = File::open(trace) else {
        return sym;
    };
    // The file header, then what follows the last complete chunk read.
    let mut bytes = Vec::new();
    let mut images: HashMap<u32, Image> = HashMap::new();
    loop {
        std::thread::park_timeout(POLL); // `finish` unparks: the report must not wait out a poll
        if stop.load(Ordering::Relaxed) || file.read_to_end(&mut bytes).is_err() {
            break;
        }
        let (chunks, next) = read_chunks_from(&bytes, 0);
        if next > FILE_HEADER_LEN {
            bytes.drain(FILE_HEADER_LEN..next);
        }
        for c in &chunks {
            if matches!(c.record, Record::ProcessStart(_)) {
                images.insert(c.pid, Image::default()); // a new image (exec, fork): its own modules
            }
            images.entry(c.pid).or_default().apply(&c.record);
        }
        let due = |i: &Image| all_stacks || i.snapshots >= CURVE_SNAPSHOTS;
        for image in images.values_mut().filter(|i| due(i)) {
            if !image.symbolize(&mut sym, stop) {
                break;
            }
        }
    }
    sym
}
