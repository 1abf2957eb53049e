//! The trace as processes: folds the chunks each process image wrote into its modules, stacks, final loss
//! records, heap state and exit status, following `fork` (a child image with its own pid) and `exec` (a new
//! image for the same pid that voids the old one).

use crate::fasthash::FastMap;
use crate::modules::ModuleMap;
use leakscope_trace::{
    Ages, AgesTrigger, ExitStatus, LeakKind, Leaks, Message, Origin, ProcessEnd, ProcessStart,
    Record, RunInfo, SiteSample, Snapshot, TraceFile, Trigger,
};
use std::collections::{BTreeSet, HashMap};

/// Everything one process image wrote.
#[derive(Debug, Clone)]
pub struct ProcessTrace {
    pub pid: u32,
    pub start: ProcessStart,
    pub modules: ModuleMap,
    /// Stack id → absolute return addresses, innermost first.
    pub stacks: StackTable,
    /// The scan the image ran as it ended (trigger `Exit`), if it got that far.
    pub leaks: Option<Leaks>,
    /// The heap as of the last snapshot (sites a snapshot omitted keep their previous values).
    pub heap: Option<HeapState>,
    pub end: Option<ProcessEnd>,
    pub messages: Vec<Message>,
    /// Every snapshot, as series (for growth verdicts and curves).
    pub timeline: Timeline,
    /// On-demand checks of the live process (trigger `Check`), oldest first.
    pub checks: Vec<Leaks>,
    /// The newest ages of live blocks (the exit's, else the latest check's or periodic one).
    pub ages: Option<Ages>,
    /// Sampled mode: what the sampled blocks of each exit loss record stand for, by (kind, stack).
    pub estimates: HashMap<(LeakKind, u32), (u64, u64)>,
}

/// Stacks by id, packed in one buffer ([`leakscope_trace::packed`]): a program can define a million
/// stacks, and a vector of frames each took ~250 bytes of the report's memory.
#[derive(Debug, Clone, Default)]
pub struct StackTable {
    code: Vec<u8>,
    spans: FastMap<u32, (usize, usize)>,
}

impl StackTable {
    /// Defines (or redefines) stack `id`.
    pub fn insert(&mut self, id: u32, frames: &[u64]) {
        let start = self.code.len();
        let code = &mut self.code;
        leakscope_trace::packed::pack(frames.iter().copied(), |b| code.push(b));
        self.spans.insert(id, (start, self.code.len()));
    }

    /// The return addresses of stack `id`, innermost first.
    pub fn get(&self, id: u32) -> Option<Vec<u64>> {
        let &(start, end) = self.spans.get(&id)?;
        Some(leakscope_trace::packed::Unpack::new(&self.code[start..end]).collect())
    }

    pub fn contains(&self, id: u32) -> bool {
        self.spans.contains_key(&id)
    }
}

/// One change of a site's live amounts: from snapshot `index` on (until the next point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    pub index: u32,
    pub bytes: u64,
    pub blocks: u64,
    /// Cumulative allocations of the site.
    pub allocs: u64,
}

/// The snapshots of an image as series: times, RSS and total live heap per snapshot, and each site's live
/// amounts as change points (snapshots omit unchanged sites, so a value holds until the next point).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    /// ns since the image started, per snapshot.
    pub times: Vec<u64>,
    pub rss: Vec<u64>,
    /// Sum of every site's live bytes, per snapshot.
    pub heap_bytes: Vec<u64>,
    /// (tick, time_ns) of the first snapshot that carried each tick, in order.
    pub ticks: Vec<(u64, u64)>,
    pub sites: FastMap<u32, Vec<Point>>,
    /// Index of the snapshot written after the exit scan (the program's teardown, left out of fits).
    pub exit_index: Option<usize>,
    live: FastMap<u32, u64>,
    total: u64,
}

impl Timeline {
    fn push(&mut self, s: &Snapshot, at_exit: bool) {
        let index = self.times.len() as u32;
        if at_exit && self.exit_index.is_none() {
            self.exit_index = Some(index as usize);
        }
        self.times.push(s.time_ns);
        self.rss.push(s.rss);
        for site in &s.sites {
            let old = self.live.insert(site.stack, site.live_bytes).unwrap_or(0);
            self.total = (self.total + site.live_bytes).saturating_sub(old);
            // Most sites change in few snapshots (a program with a million stacks: one or two points
            // each), so a site's series starts with room for one point, not the four a push would make.
            let points = self
                .sites
                .entry(site.stack)
                .or_insert_with(|| Vec::with_capacity(1));
            let point = Point {
                index,
                bytes: site.live_bytes,
                blocks: site.live_blocks,
                allocs: site.allocs,
            };
            match points.last_mut() {
                Some(last) if last.index == index => *last = point,
                Some(last)
                    if (last.bytes, last.blocks, last.allocs)
                        == (point.bytes, point.blocks, point.allocs) => {}
                _ => points.push(point),
            }
        }
        self.heap_bytes.push(self.total);
        if let Some(t) = s.tick {
            if self.ticks.last().is_none_or(|&(last, _)| t > last) {
                self.ticks.push((t, s.time_ns));
            }
        }
    }

    /// Snapshots that show the running program: all but the exit one, which shows the program's teardown
    /// (at the default interval the first 10 s are recorded every 100 ms, so the others are never few).
    pub fn running_len(&self) -> usize {
        match self.exit_index {
            Some(i) if i > 0 => i,
            _ => self.times.len(),
        }
    }

    /// Time of a tick: that of the first snapshot carrying it (tick 0 = the start), interpolated or
    /// extrapolated from its neighbours when no snapshot carried it.
    pub fn tick_time(&self, tick: u64) -> f64 {
        let known: Vec<(f64, f64)> = std::iter::once((0.0, 0.0))
            .chain(
                self.ticks
                    .iter()
                    .filter(|&&(t, _)| t > 0)
                    .map(|&(t, ns)| (t as f64, ns as f64)),
            )
            .collect();
        let x = tick as f64;
        let i = known.partition_point(|&(t, _)| t < x);
        if let Some(&(t, ns)) = known.get(i) {
            if t == x {
                return ns;
            }
        }
        let (a, b) = match (i, known.len()) {
            (_, 1) => return known[0].1,
            (0, _) => (known[0], known[1]),
            (i, n) if i >= n => (known[n - 2], known[n - 1]),
            (i, _) => (known[i - 1], known[i]),
        };
        a.1 + (x - a.0) * (b.1 - a.1) / (b.0 - a.0)
    }
}

/// Live memory per allocation site at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeapState {
    /// ns since the image started.
    pub time_ns: u64,
    pub rss: u64,
    pub sites: FastMap<u32, SiteSample>,
}

impl ProcessTrace {
    fn new(pid: u32, start: ProcessStart) -> Self {
        ProcessTrace {
            pid,
            start,
            modules: ModuleMap::default(),
            stacks: Default::default(),
            leaks: None,
            heap: None,
            end: None,
            messages: Vec::new(),
            timeline: Timeline::default(),
            checks: Vec::new(),
            ages: None,
            estimates: HashMap::new(),
        }
    }

    /// The image was replaced by `exec` in a descendant that is not followed: it has nothing to report.
    pub fn exec_away(&self) -> bool {
        matches!(self.end, Some(e) if e.status == ExitStatus::Exec)
    }

    fn apply(&mut self, record: &Record) {
        if apply_definitions(record, &mut self.modules, &mut self.stacks) {
            return;
        }
        match record {
            Record::Snapshot(s) if self.leaks.is_some() => {
                // Written after the exit scan, it lists every site with live blocks: the others are empty.
                let mut full = s.clone();
                let listed: BTreeSet<u32> = s.sites.iter().map(|x| x.stack).collect();
                for old in self.heap.iter().flat_map(|h| h.sites.values()) {
                    if old.live_blocks > 0 && !listed.contains(&old.stack) {
                        full.sites.push(SiteSample {
                            live_bytes: 0,
                            live_blocks: 0,
                            ..*old
                        });
                    }
                }
                self.timeline.push(&full, true);
                self.fold_snapshot(&full);
            }
            Record::Snapshot(s) => {
                self.timeline.push(s, false);
                self.fold_snapshot(s);
            }
            Record::Leaks(l) if l.trigger == Trigger::Exit => self.leaks = Some(l.clone()),
            Record::Leaks(l) => self.checks.push(l.clone()),
            Record::Ages(a) => {
                let keep = self
                    .ages
                    .as_ref()
                    .is_none_or(|old| old.trigger != AgesTrigger::Exit);
                if keep {
                    self.ages = Some(a.clone());
                }
            }
            Record::ProcessEnd(e) => self.end = Some(*e),
            Record::Message(m) => self.messages.push(m.clone()),
            // Start and run records are handled by the caller.
            Record::Estimates(e) if e.trigger == Trigger::Exit => {
                self.estimates = e
                    .records
                    .iter()
                    .map(|&(k, s, b, n)| ((k, s), (b, n)))
                    .collect();
            }
            // Modules and Stacks went to apply_definitions.
            Record::ProcessStart(_)
            | Record::RunInfo(_)
            | Record::Estimates(_)
            | Record::Modules(_)
            | Record::Stacks(_) => {}
        }
    }

    fn fold_snapshot(&mut self, s: &Snapshot) {
        let heap = self.heap.get_or_insert_with(HeapState::default);
        heap.time_ns = s.time_ns;
        heap.rss = s.rss;
        for site in &s.sites {
            heap.sites.insert(site.stack, *site);
        }
    }
}

/// The processes of a trace in the order they started, and what could not be placed.
#[derive(Debug, Clone, Default)]
pub struct Processes {
    pub list: Vec<ProcessTrace>,
    /// What the CLI wrote after the run: the pid it started and how that process ended.
    pub run: Option<RunInfo>,
    pub warnings: Vec<String>,
}

impl Processes {
    pub fn from_trace(trace: &TraceFile) -> Self {
        let mut out = Processes::default();
        // pid → index in `list` of its current image.
        let mut current: HashMap<u32, usize> = HashMap::new();
        let mut orphans = BTreeSet::new();
        for chunk in &trace.chunks {
            match &chunk.record {
                Record::ProcessStart(start) => out.begin_image(&mut current, chunk.pid, start),
                Record::RunInfo(run) => out.run = Some(run.clone()),
                other => match current.get(&chunk.pid) {
                    Some(&i) => out.list[i].apply(other),
                    // A descendant that exec'ed (e.g. system()'s shell, spawned without fork handlers) says
                    // only that it is not followed.
                    None if is_exec_end(other) => {}
                    None => {
                        orphans.insert(chunk.pid);
                    }
                },
            }
        }
        for pid in orphans {
            out.warnings.push(format!(
                "ignored chunks of pid {pid}, which has no process start record in the trace"
            ));
        }
        out
    }

    fn begin_image(&mut self, current: &mut HashMap<u32, usize>, pid: u32, start: &ProcessStart) {
        let image = ProcessTrace::new(pid, start.clone());
        let replaced = |p: &ProcessTrace| p.end.is_none_or(|e| e.status == ExitStatus::Exec);
        match current.get(&pid) {
            // Same pid, new program image: everything of the old image is void.
            Some(&i) if start.origin == Origin::Exec && replaced(&self.list[i]) => {
                self.list[i] = image
            }
            // A new process, or a pid that ended long ago and was reused.
            _ => {
                current.insert(pid, self.list.len());
                self.list.push(image);
            }
        }
    }

    /// The process `leakscope run` started: the given pid, the one the run record names, else the first one
    /// whose parent is not in the trace.
    pub fn root_index(&self, root_pid: Option<u32>) -> Option<usize> {
        if let Some(pid) = root_pid.or(self.run.as_ref().map(|r| r.root_pid)) {
            return self.list.iter().position(|p| p.pid == pid && !p.forked());
        }
        let pids: BTreeSet<u32> = self.list.iter().map(|p| p.pid).collect();
        self.list
            .iter()
            .position(|p| !pids.contains(&p.start.ppid))
            .or(if self.list.is_empty() { None } else { Some(0) })
    }

    /// Stacks of a process, falling back to its ancestors' (a forked child shares the ids it inherited).
    pub fn stack(&self, index: usize, id: u32) -> Option<Vec<u64>> {
        let mut at = index;
        loop {
            let p = &self.list[at];
            if let Some(s) = p.stacks.get(id) {
                return Some(s);
            }
            at = self.parent_index(at)?;
        }
    }

    /// Module map of a process; a forked child without modules of its own uses its parent's.
    pub fn modules(&self, index: usize) -> &ModuleMap {
        let mut at = index;
        while self.list[at].modules.is_empty() {
            match self.parent_index(at) {
                Some(parent) => at = parent,
                None => break,
            }
        }
        &self.list[at].modules
    }

    /// The image a forked process was copied from: the latest image of its parent pid that started before it.
    fn parent_index(&self, index: usize) -> Option<usize> {
        let p = &self.list[index];
        if !p.forked() {
            return None;
        }
        self.list[..index]
            .iter()
            .rposition(|q| q.pid == p.start.ppid)
    }
}

fn is_exec_end(r: &Record) -> bool {
    matches!(r, Record::ProcessEnd(e) if e.status == ExitStatus::Exec)
}

impl ProcessTrace {
    pub fn forked(&self) -> bool {
        self.start.origin == Origin::Fork
    }
}

/// Folds a chunk's module events or stack definitions into `modules` and `stacks`; false for any other
/// record.
pub fn apply_definitions(
    record: &Record,
    modules: &mut ModuleMap,
    stacks: &mut StackTable,
) -> bool {
    match record {
        Record::Modules(m) => m.events.iter().for_each(|e| modules.apply(e)),
        Record::Stacks(s) => {
            for st in &s.stacks {
                stacks.insert(st.id, &st.frames);
            }
        }
        _ => return false,
    }
    true
}
