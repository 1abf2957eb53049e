//! From processes to reports: symbolized, trimmed, merged and sorted loss records per process, the four-kind
//! summary, and what the user must be told (killed processes, agent messages, unreadable modules).

use crate::fasthash::FastMap;
use crate::frames;
use crate::model::{ProcessTrace, Processes};
use crate::modules::ModuleMap;
use crate::sites::{OmittedSites, SiteReport, TimelineReport, CURVE_SNAPSHOTS};
use crate::symbolize::{Frame, Stack, Symbolizer};
use leakscope_trace::{ExitStatus, LeakKind, Leaks, Message, ProcessEnd, ScanStats, TraceFile};
use std::collections::HashMap;
use std::path::PathBuf;

/// What the caller knows beyond the trace.
#[derive(Debug, Clone)]
pub struct Options {
    /// The pid `leakscope run` started (else: the first process whose parent is not in the trace).
    pub root_pid: Option<u32>,
    /// Exit statuses seen by `waitpid` (they cover processes killed before they could write theirs).
    pub observed: HashMap<u32, ExitStatus>,
    /// Roots of separate debug files.
    pub debug_dirs: Vec<PathBuf>,
    /// Report the latest live check of this pid (and its deltas against the check before it) instead of
    /// the program's exit: the process is still running.
    pub check_pid: Option<u32>,
    /// Symbolize every stack. False for a report that leaves out still-reachable records and, without
    /// [`CURVE_SNAPSHOTS`] snapshots, the sites (the default text report): their stacks are then not
    /// symbolized, and those records are grouped by the agent's stack ids. Loading libc's debug
    /// information for a still-reachable block of its own was two thirds of a short program's report.
    pub all_stacks: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            root_pid: None,
            observed: HashMap::new(),
            debug_dirs: vec![PathBuf::from("/usr/lib/debug")],
            check_pid: None,
            all_stacks: true,
        }
    }
}

/// Unfreed blocks of one kind allocated at one (symbolized) stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LossRecord {
    pub kind: LeakKind,
    /// Bytes and blocks of this record's own blocks.
    pub bytes: u64,
    pub blocks: u64,
    /// Bytes of the indirectly lost blocks hanging off this record's blocks (definite records only).
    pub indirect_bytes: u64,
    /// Innermost first, allocator plumbing dropped, inlined calls as frames of their own.
    pub stack: Stack,
    /// Index in `stack` of the first frame in the program's own code.
    pub site: Option<usize>,
    /// The agent's stack ids merged into this record.
    pub stack_ids: Vec<u32>,
    /// Sampled mode: the estimated bytes and blocks this record's sampled blocks stand for.
    pub estimate: Option<(u64, u64)>,
    /// Sampled mode: the blocks whose stacks were not sampled (no stack; counted in the summary).
    pub unsampled: bool,
}

impl LossRecord {
    /// Own bytes plus the indirectly lost bytes they hold, as Memcheck's headline counts them.
    pub fn total_bytes(&self) -> u64 {
        self.bytes + self.indirect_bytes
    }

    pub fn site_frame(&self) -> Option<&Frame> {
        self.site.and_then(|i| self.stack.get(i))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub bytes: u64,
    pub blocks: u64,
}

/// Bytes and blocks per kind of unfreed block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    kinds: [Totals; 4],
}

impl Summary {
    pub fn get(&self, kind: LeakKind) -> Totals {
        self.kinds[kind as usize]
    }

    pub fn add(&mut self, kind: LeakKind, bytes: u64, blocks: u64) {
        let t = &mut self.kinds[kind as usize];
        t.bytes += bytes;
        t.blocks += blocks;
    }
}

/// Heap in use at one allocation site at the last snapshot (for processes that never ran their scan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSite {
    pub bytes: u64,
    pub blocks: u64,
    pub allocs: u64,
    pub alloc_bytes: u64,
    pub stack: Stack,
    pub site: Option<usize>,
}

/// The heap of a process at its last snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeapReport {
    /// ns since the process started.
    pub time_ns: u64,
    pub rss: u64,
    pub bytes: u64,
    pub blocks: u64,
    /// Sites with live blocks, most bytes first.
    pub sites: Vec<LiveSite>,
}

/// Everything to report about one process.
#[derive(Debug, Clone)]
pub struct ProcessReport {
    pub pid: u32,
    pub ppid: u32,
    /// Created by `fork` (a child) rather than started by `exec`.
    pub forked: bool,
    pub exe: String,
    pub args: Vec<String>,
    pub status: Option<ExitStatus>,
    /// Final loss records of all four kinds, most bytes first; empty when no scan ran.
    pub records: Vec<LossRecord>,
    /// Present when the leak scan ran.
    pub summary: Option<Summary>,
    pub scan: Option<ScanStats>,
    /// The last snapshot's heap, only when no scan ran (the process was killed).
    pub heap: Option<HeapReport>,
    /// Allocation counters from the process's last record.
    pub end: Option<ProcessEnd>,
    /// Things the user must know about this process, one line each.
    pub warnings: Vec<String>,
    /// What the agent itself said.
    pub messages: Vec<Message>,
    /// Heap and RSS over time (None: no snapshot of the running program).
    pub timeline: Option<TimelineReport>,
    /// Every allocation site with live memory at the end (or at the last snapshot of the running program),
    /// growing sites first.
    pub sites: Vec<SiteReport>,
    /// Sites beyond [`crate::sites::MAX_SITES`] with less memory than all of `sites`, not analyzed.
    pub sites_omitted: OmittedSites,
    /// Set when the report is that of a live check ([`Options::check_pid`]).
    pub check: Option<CheckReport>,
}

/// A live check of a running process, and what changed since the check before it.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// 1 for the first check of this process image.
    pub number: usize,
    /// When the check ran, ns since the process started.
    pub time_ns: u64,
    /// How long the program's threads were stopped.
    pub pause_ns: u64,
    /// The check before it: (number, time_ns, summary).
    pub previous: Option<(usize, u64, Summary)>,
    /// Loss records that the previous check did not have (all of them for a first check).
    pub new: Vec<Delta>,
    /// Loss records that hold more bytes or blocks than at the previous check.
    pub increased: Vec<Delta>,
}

/// A loss record and how much it grew since the previous check.
#[derive(Debug, Clone)]
pub struct Delta {
    pub record: LossRecord,
    pub bytes: u64,
    pub blocks: u64,
}

impl ProcessReport {
    /// The status as a shell shows it: the code, or 128+N after death by signal N.
    pub fn exit_code(&self) -> Option<i32> {
        self.status.and_then(ExitStatus::shell_code)
    }

    /// The program's name: its executable's file name, else argv[0].
    pub fn name(&self) -> &str {
        let exe = self.exe.rsplit('/').next().unwrap_or(&self.exe);
        if exe.is_empty() {
            self.args.first().map(String::as_str).unwrap_or("?")
        } else {
            exe
        }
    }

    /// The command as it was run (argv), else the executable's path.
    pub fn command_line(&self) -> String {
        if self.args.is_empty() {
            self.exe.clone()
        } else {
            self.args.join(" ")
        }
    }

    /// Does any record of one of these kinds hold memory?
    pub fn has_leaks_of(&self, kinds: &[LeakKind]) -> bool {
        self.records
            .iter()
            .any(|r| kinds.contains(&r.kind) && r.blocks > 0)
    }
}

/// The report of a whole trace: the program, the processes it forked, and trace-level warnings.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// None when the trace holds nothing from the program (the agent did not load).
    pub root: Option<ProcessReport>,
    /// Forked descendants (nested ones flattened), in the order they started.
    pub children: Vec<ProcessReport>,
    /// Trace problems (truncation, corruption) and unreadable modules, one line each.
    pub warnings: Vec<String>,
}

impl Analysis {
    pub fn processes(&self) -> impl Iterator<Item = &ProcessReport> {
        self.root.iter().chain(&self.children)
    }

    /// Does any process have leaks of one of these kinds?
    pub fn has_leaks_of(&self, kinds: &[LeakKind]) -> bool {
        self.processes().any(|p| p.has_leaks_of(kinds))
    }
}

/// Builds the report of a decoded trace.
pub fn analyze(trace: &TraceFile, opts: &Options) -> Analysis {
    analyze_with(trace, opts, &mut Symbolizer::new(opts.debug_dirs.clone()))
}

/// [`analyze`] with a symbolizer that may already know the trace's modules and addresses (one that
/// followed the trace while the program ran, say).
pub fn analyze_with(trace: &TraceFile, opts: &Options, sym: &mut Symbolizer) -> Analysis {
    analyze_processes(trace, &Processes::from_trace(trace), opts, sym)
}

/// [`analyze_with`] on the processes already read from `trace`, for a caller that keeps them (or, about
/// to exit, never frees them: on a trace of a million stacks that took a tenth of the report).
pub fn analyze_processes(
    trace: &TraceFile,
    procs: &Processes,
    opts: &Options,
    sym: &mut Symbolizer,
) -> Analysis {
    let root = match opts.check_pid {
        Some(pid) => procs.list.iter().rposition(|p| p.pid == pid),
        None => procs.root_index(opts.root_pid),
    };
    let mut out = Analysis {
        warnings: trace.warnings.clone(),
        ..Analysis::default()
    };
    out.warnings.extend(procs.warnings.iter().cloned());
    for (i, p) in procs.list.iter().enumerate() {
        if (p.exec_away() || opts.check_pid.is_some()) && Some(i) != root {
            continue;
        }
        let report = process_report(procs, i, opts, sym);
        if Some(i) == root {
            out.root = Some(report);
        } else {
            out.children.push(report);
        }
    }
    out.warnings.extend(sym.take_warnings());
    out
}

fn process_report(
    procs: &Processes,
    i: usize,
    opts: &Options,
    sym: &mut Symbolizer,
) -> ProcessReport {
    let p = &procs.list[i];
    let status = p
        .end
        .map(|e| e.status)
        .filter(|s| !matches!(s, ExitStatus::Unknown | ExitStatus::Exec))
        .or_else(|| opts.observed.get(&p.pid).copied())
        .or_else(|| {
            procs
                .run
                .as_ref()
                .filter(|r| r.root_pid == p.pid)
                .map(|r| r.status)
        });
    let mut report = ProcessReport {
        pid: p.pid,
        ppid: p.start.ppid,
        forked: p.start.origin == leakscope_trace::Origin::Fork,
        exe: p.start.exe.clone(),
        args: p.start.args.clone(),
        status,
        records: Vec::new(),
        summary: None,
        scan: None,
        heap: None,
        end: p.end,
        warnings: Vec::new(),
        messages: p.messages.clone(),
        timeline: None,
        sites: Vec::new(),
        sites_omitted: OmittedSites::default(),
        check: None,
    };
    let mut stacks = StackSource {
        procs,
        index: i,
        modules: procs.modules(i),
        sym,
        missing: 0,
        cache: FastMap::default(),
    };
    let checking = opts.check_pid == Some(p.pid);
    // A live check's report shows new and grown records of every kind.
    let all_stacks = opts.all_stacks || checking;
    let scan: Option<&Leaks> = if checking {
        p.checks.last()
    } else {
        p.leaks.as_ref()
    };
    match scan {
        Some(leaks) => {
            report.records = loss_records(&leaks.records, &mut stacks, all_stacks);
            report.summary = Some(summarize(&leaks.records));
            report.scan = Some(leaks.stats);
        }
        None if checking => report
            .warnings
            .push(format!("process {} has run no live check yet", p.pid)),
        None => {
            report.heap = heap_report(p, &mut stacks);
            report
                .warnings
                .push(no_scan_warning(p, status, report.heap.as_ref()));
        }
    }
    if checking {
        report.check = check_report(p, &report.records, &mut stacks);
    }
    let mut kinds: HashMap<u32, [u64; 4]> = HashMap::new();
    for r in scan.iter().flat_map(|l| &l.records) {
        kinds.entry(r.stack).or_default()[r.kind as usize] += r.bytes;
    }
    let curve = p.timeline.running_len() >= CURVE_SNAPSHOTS;
    if all_stacks || curve {
        let (timeline, sites, omitted) = crate::sites::build(p, &kinds, &mut |id| stacks.get(id));
        report.sites_omitted = omitted;
        report.timeline = timeline;
        report.sites = sites;
    } else {
        report.timeline = crate::sites::timeline_report(p);
    }
    if stacks.missing > 0 {
        report.warnings.push(format!(
            "{} allocation stacks are missing from the trace (cut short?): their records have no frames",
            stacks.missing
        ));
    }
    report
}

/// Resolves a process's stack ids to symbolized, trimmed stacks.
struct StackSource<'a> {
    procs: &'a Processes,
    index: usize,
    modules: &'a ModuleMap,
    sym: &'a mut Symbolizer,
    missing: usize,
    /// Stacks symbolized so far, by id: the records and the sites ask for the same ones.
    cache: FastMap<u32, (Stack, Option<usize>)>,
}

impl StackSource<'_> {
    /// The sentinel stack of sampled mode's unsampled blocks: one frame at address 1.
    fn is_unsampled(&self, id: u32) -> bool {
        self.procs.stack(self.index, id).as_deref() == Some(&[1][..])
    }

    fn get(&mut self, id: u32) -> (Stack, Option<usize>) {
        if let Some(got) = self.cache.get(&id) {
            return got.clone();
        }
        let Some(addrs) = self.procs.stack(self.index, id) else {
            self.missing += 1;
            return (Stack::default(), None);
        };
        let (stack, site) = report_stack(self.sym, self.modules, &addrs);
        let got = (Stack::from(stack), site);
        self.cache.insert(id, got.clone());
        got
    }
}

/// A recorded stack as reports show it: symbolized, allocator plumbing and frames below `main` cut, and
/// the index of its allocation-site frame.
pub fn report_stack(
    sym: &mut Symbolizer,
    modules: &ModuleMap,
    addrs: &[u64],
) -> (Vec<Frame>, Option<usize>) {
    let mut stack = sym.symbolize_stack(
        modules,
        addrs,
        frames::is_program_entry,
        frames::is_start_up,
    );
    frames::trim_plumbing(&mut stack);
    frames::cut_below_main(&mut stack);
    let site = frames::site(&stack);
    (stack, site)
}

/// The latest check of a process and its deltas against the one before (`records`: the latest's, merged).
fn check_report(
    p: &ProcessTrace,
    records: &[LossRecord],
    stacks: &mut StackSource,
) -> Option<CheckReport> {
    let last = p.checks.last()?;
    let previous = p.checks.len().checked_sub(2).map(|i| &p.checks[i]);
    let before: FastMap<(LeakKind, Stack), (u64, u64)> = previous
        .map(|prev| loss_records(&prev.records, stacks, true))
        .unwrap_or_default()
        .into_iter()
        .map(|r| ((r.kind, r.stack), (r.bytes, r.blocks)))
        .collect();
    let mut out = CheckReport {
        number: p.checks.len(),
        time_ns: last.time_ns,
        pause_ns: last.stats.pause_ns,
        previous: previous.map(|prev| (p.checks.len() - 1, prev.time_ns, summarize(&prev.records))),
        new: Vec::new(),
        increased: Vec::new(),
    };
    for r in records.iter().filter(|r| r.blocks > 0) {
        match before.get(&(r.kind, r.stack.clone())) {
            None | Some(&(_, 0)) => out.new.push(Delta {
                record: r.clone(),
                bytes: r.bytes,
                blocks: r.blocks,
            }),
            Some(&(bytes, blocks)) if r.bytes > bytes || r.blocks > blocks => {
                out.increased.push(Delta {
                    record: r.clone(),
                    bytes: r.bytes.saturating_sub(bytes),
                    blocks: r.blocks.saturating_sub(blocks),
                })
            }
            Some(_) => {}
        }
    }
    Some(out)
}

fn summarize(records: &[leakscope_trace::LossRecord]) -> Summary {
    let mut s = Summary::default();
    for r in records {
        s.add(r.kind, r.bytes, r.blocks);
    }
    s
}

/// The loss records of a scan, symbolized and merged; `reachable`: symbolize still-reachable records too
/// (else they keep no stack and are not merged: one record per stack id).
fn loss_records(
    raw: &[leakscope_trace::LossRecord],
    stacks: &mut StackSource,
    reachable: bool,
) -> Vec<LossRecord> {
    let mut out: Vec<LossRecord> = Vec::new();
    // Stacks that differ only in the plumbing frames dropped from them are the same call site; the
    // stack id stands for a stack not symbolized.
    let mut index: FastMap<(LeakKind, Stack, Option<u32>), usize> = FastMap::default();
    let sampled = stacks.procs.list[stacks.index].start.sample_rate > 0;
    for r in raw {
        let unsampled = sampled && stacks.is_unsampled(r.stack);
        let hidden = !reachable && r.kind == LeakKind::Reachable;
        let (stack, site) = if unsampled || hidden {
            (Stack::default(), None)
        } else {
            stacks.get(r.stack)
        };
        let key = (r.kind, stack.clone(), hidden.then_some(r.stack));
        let estimate = sampled
            .then(|| {
                stacks.procs.list[stacks.index]
                    .estimates
                    .get(&(r.kind, r.stack))
            })
            .flatten()
            .copied();
        match index.get(&key) {
            Some(&i) => {
                let o = &mut out[i];
                o.bytes += r.bytes;
                o.blocks += r.blocks;
                o.indirect_bytes += r.indirect_bytes;
                o.stack_ids.push(r.stack);
                if let (Some(e), Some(add)) = (o.estimate.as_mut(), estimate) {
                    *e = (e.0 + add.0, e.1 + add.1);
                }
            }
            None => {
                index.insert(key, out.len());
                out.push(LossRecord {
                    kind: r.kind,
                    bytes: r.bytes,
                    blocks: r.blocks,
                    indirect_bytes: r.indirect_bytes,
                    stack,
                    site,
                    stack_ids: vec![r.stack],
                    estimate,
                    unsampled,
                })
            }
        }
    }
    out.sort_by(|a, b| {
        (b.total_bytes(), b.bytes, b.blocks, a.kind, &a.stack_ids).cmp(&(
            a.total_bytes(),
            a.bytes,
            a.blocks,
            b.kind,
            &b.stack_ids,
        ))
    });
    out
}

fn heap_report(p: &ProcessTrace, stacks: &mut StackSource) -> Option<HeapReport> {
    let heap = p.heap.as_ref()?;
    let mut live: Vec<&leakscope_trace::SiteSample> =
        heap.sites.values().filter(|s| s.live_blocks > 0).collect();
    live.sort_by_key(|s| (std::cmp::Reverse((s.live_bytes, s.live_blocks)), s.stack));
    let sites: Vec<LiveSite> = live
        .into_iter()
        .map(|s| {
            let (stack, site) = stacks.get(s.stack);
            LiveSite {
                bytes: s.live_bytes,
                blocks: s.live_blocks,
                allocs: s.allocs,
                alloc_bytes: s.alloc_bytes,
                stack,
                site,
            }
        })
        .collect();
    Some(HeapReport {
        time_ns: heap.time_ns,
        rss: heap.rss,
        bytes: sites.iter().map(|s| s.bytes).sum(),
        blocks: sites.iter().map(|s| s.blocks).sum(),
        sites,
    })
}

fn no_scan_warning(
    p: &ProcessTrace,
    status: Option<ExitStatus>,
    heap: Option<&HeapReport>,
) -> String {
    let why = match status {
        Some(ExitStatus::Signal(n)) => format!(
            "was killed by {} before it could scan for leaks",
            signal_name(n)
        ),
        _ => {
            "ended without writing its leak report (killed by SIGKILL, or the trace was cut short)"
                .to_string()
        }
    };
    let what = match heap {
        Some(h) => format!(
            "showing the heap in use at its last snapshot, {} after it started (not classified)",
            seconds(h.time_ns)
        ),
        None => "it recorded no snapshot either, so nothing is known about its heap".to_string(),
    };
    format!("process {} ({}) {why}: {what}", p.pid, program_name(p))
}

fn program_name(p: &ProcessTrace) -> &str {
    let exe = p.start.exe.rsplit('/').next().unwrap_or("");
    if exe.is_empty() {
        "?"
    } else {
        exe
    }
}

fn seconds(ns: u64) -> String {
    format!("{:.1}s", ns as f64 / 1e9)
}

/// `SIGSEGV` for 11, `signal 42` for a number without a common name.
pub fn signal_name(n: i32) -> String {
    const NAMES: [&str; 32] = [
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match usize::try_from(n).ok().and_then(|i| NAMES.get(i)) {
        Some(name) if !name.is_empty() => (*name).to_string(),
        _ => format!("signal {n}"),
    }
}
