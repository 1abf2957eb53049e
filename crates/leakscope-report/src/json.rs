//! The JSON report. Its contract: `tool`, `exit_code`, `summary` (four kinds, `bytes`/`blocks`), `leaks`
//! (every kind, reachable included, most bytes first; each with `kind`, `bytes`, `blocks`, `indirect_bytes`
//! and `stack`, innermost first, of `function`/`file`/`line`/`module`, unknowns `null`) and `children` (the
//! same per forked process, with `pid`), `sites` (every allocation site with live memory at the end, growing
//! first, same stack shape, with `growth`: `verdict`, `bytes_per_sec`, `confidence`), `timeline`; reports
//! of `leakscope check` add `check`, `pause_ms`, `new` and `increased`. Fields may be added, never renamed.

use crate::Context;
use leakscope_analysis::{
    Analysis, CheckReport, Delta, Frame, HeapReport, LeakKind, Level, LossRecord, ProcessReport,
    SiteReport, Summary, TimelineReport,
};

use serde::Serialize;

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Document<'a> {
    tool: Tool,
    /// The program's status as a shell shows it (128+N after signal N); null when unknown.
    exit_code: Option<i32>,
    trace: Option<&'a str>,
    /// The trace held data from the program (false: the agent was not loaded into it).
    recorded: bool,
    /// The root process's fields (`pid` null and nothing listed when nothing was recorded).
    #[serde(flatten)]
    root: Process<'a>,
    /// Every warning: the trace's and the CLI's, then each process's (also in its `process_warnings`).
    warnings: Vec<&'a str>,
    children: Vec<Process<'a>>,
}

#[derive(Serialize)]
struct Process<'a> {
    pid: Option<u32>,
    ppid: Option<u32>,
    exe: Option<&'a str>,
    command: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<Option<i32>>,
    summary: Kinds,
    leaks: Vec<Leak<'a>>,
    /// Cost of the leak scan; null when the process never ran it (killed).
    scan: Option<Scan>,
    /// Live heap at the last snapshot, only for processes that never ran their scan.
    heap: Option<Heap<'a>>,
    heap_usage: Option<Usage>,
    process_warnings: &'a [String],
    messages: Vec<Message<'a>>,
    /// Every allocation site with live memory at the end, growing sites first (at most the 20,000 with
    /// the most memory: see `sites_omitted`).
    sites: Vec<Site<'a>>,
    /// The sites left out of `sites`, summed: present only when there were more than 20,000.
    #[serde(skip_serializing_if = "Option::is_none")]
    sites_omitted: Option<Omitted>,
    /// Heap and RSS over time; null without snapshots.
    timeline: Option<Timeline>,
    /// `leakscope check` only: which check this is.
    #[serde(skip_serializing_if = "Option::is_none")]
    check: Option<Check>,
    /// `leakscope check` only: how long the program was stopped for the scan, milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pause_ms: Option<f64>,
    /// `leakscope check` only: loss records the previous check did not have (all, for a first check).
    #[serde(skip_serializing_if = "Option::is_none")]
    new: Option<Vec<Grown<'a>>>,
    /// `leakscope check` only: loss records that grew since the previous check.
    #[serde(skip_serializing_if = "Option::is_none")]
    increased: Option<Vec<Grown<'a>>>,
}

#[derive(Serialize)]
struct Omitted {
    sites: usize,
    live_bytes: u64,
    live_blocks: u64,
    max_peak_bytes: u64,
}

#[derive(Serialize)]
struct Site<'a> {
    live_bytes: u64,
    live_blocks: u64,
    allocs: u64,
    alloc_bytes: u64,
    peak_bytes: u64,
    growth: GrowthJson,
    /// Bytes of this site's blocks per kind in the leak scan; null when no scan ran.
    kinds: Option<KindBytes>,
    age: Option<Age>,
    /// Live bytes at each point of `timeline.times_s`.
    curve: Vec<u64>,
    site: Option<JsonFrame<'a>>,
    stack: Vec<JsonFrame<'a>>,
}

#[derive(Serialize)]
struct GrowthJson {
    verdict: &'static str,
    bytes_per_sec: f64,
    confidence: f64,
    projected_24h_bytes: Option<u64>,
}

#[derive(Serialize)]
struct KindBytes {
    definite: u64,
    indirect: u64,
    possible: u64,
    reachable: u64,
}

#[derive(Serialize)]
struct Age {
    at_s: f64,
    oldest_s: f64,
    median_s: f64,
    newest_s: f64,
    births: Vec<BirthJson>,
}

#[derive(Serialize)]
struct BirthJson {
    from_s: f64,
    to_s: f64,
    bytes: u64,
    blocks: u64,
}

#[derive(Serialize)]
struct Timeline {
    snapshots: usize,
    duration_s: f64,
    interval_s: f64,
    peak_heap_bytes: u64,
    peak_rss_bytes: u64,
    times_s: Vec<f64>,
    heap_bytes: Vec<u64>,
    rss_bytes: Vec<u64>,
}

#[derive(Serialize)]
struct Check {
    number: usize,
    time_s: f64,
    previous: Option<PreviousCheck>,
}

#[derive(Serialize)]
struct PreviousCheck {
    number: usize,
    time_s: f64,
    summary: Kinds,
}

#[derive(Serialize)]
struct Grown<'a> {
    #[serde(flatten)]
    leak: Leak<'a>,
    bytes_delta: u64,
    blocks_delta: u64,
}

#[derive(Serialize, Default)]
struct Totals {
    bytes: u64,
    blocks: u64,
}

#[derive(Serialize, Default)]
struct Kinds {
    definite: Totals,
    indirect: Totals,
    possible: Totals,
    reachable: Totals,
}

#[derive(Serialize)]
struct Leak<'a> {
    kind: &'static str,
    bytes: u64,
    blocks: u64,
    indirect_bytes: u64,
    /// Sampled mode (`--sample-rate`): unbiased estimates of the bytes and blocks allocated at this
    /// stack that this record's sampled blocks stand for.
    #[serde(skip_serializing_if = "Option::is_none")]
    estimated_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    estimated_blocks: Option<u64>,
    /// Sampled mode: the record of blocks whose stacks were not sampled (empty stack).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    unsampled: bool,
    /// The first frame in the program's own code.
    site: Option<JsonFrame<'a>>,
    stack: Vec<JsonFrame<'a>>,
}

#[derive(Serialize)]
struct JsonFrame<'a> {
    function: Option<&'a str>,
    /// File name only; `path` has it as the debug information gives it.
    file: Option<&'a str>,
    line: Option<u32>,
    module: Option<&'a str>,
    path: Option<&'a str>,
    address: String,
    inlined: bool,
}

#[derive(Serialize)]
struct Scan {
    root_bytes: u64,
    heap_bytes: u64,
    pause_ns: u64,
    threads: u32,
}

#[derive(Serialize)]
struct Usage {
    allocs: u64,
    frees: u64,
    /// Memory the agent mapped for its own tables (stacks, sites, per-thread state) at the end.
    agent_bytes: u64,
}

#[derive(Serialize)]
struct Heap<'a> {
    time_ns: u64,
    rss: u64,
    bytes: u64,
    blocks: u64,
    sites: Vec<LiveSite<'a>>,
}

#[derive(Serialize)]
struct LiveSite<'a> {
    bytes: u64,
    blocks: u64,
    allocs: u64,
    alloc_bytes: u64,
    site: Option<JsonFrame<'a>>,
    stack: Vec<JsonFrame<'a>>,
}

#[derive(Serialize)]
struct Message<'a> {
    level: &'static str,
    text: &'a str,
}

fn frame(f: &Frame) -> JsonFrame<'_> {
    JsonFrame {
        function: f.function.as_deref(),
        file: f.file_name(),
        line: f.line,
        module: f.module.as_deref(),
        path: f.file.as_deref(),
        address: format!("0x{:x}", f.address),
        inlined: f.inlined,
    }
}

fn kinds(s: Option<&Summary>) -> Kinds {
    let Some(s) = s else { return Kinds::default() };
    let t = |k| Totals {
        bytes: s.get(k).bytes,
        blocks: s.get(k).blocks,
    };
    Kinds {
        definite: t(LeakKind::Definite),
        indirect: t(LeakKind::Indirect),
        possible: t(LeakKind::Possible),
        reachable: t(LeakKind::Reachable),
    }
}

fn leak(r: &LossRecord) -> Leak<'_> {
    Leak {
        kind: r.kind.name(),
        bytes: r.bytes,
        blocks: r.blocks,
        indirect_bytes: r.indirect_bytes,
        estimated_bytes: r.estimate.map(|e| e.0),
        estimated_blocks: r.estimate.map(|e| e.1),
        unsampled: r.unsampled,
        site: r.site_frame().map(frame),
        stack: r.stack.iter().map(frame).collect(),
    }
}

/// Rounded to `digits` decimals (keeps the JSON readable).
fn round(v: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (v * scale).round() / scale
}

fn site(s: &SiteReport) -> Site<'_> {
    let g = &s.growth;
    Site {
        live_bytes: s.live_bytes,
        live_blocks: s.live_blocks,
        allocs: s.allocs,
        alloc_bytes: s.alloc_bytes,
        peak_bytes: s.peak_bytes,
        growth: GrowthJson {
            verdict: g.verdict.name(),
            bytes_per_sec: round(g.bytes_per_sec, 1),
            confidence: round(g.confidence, 3),
            projected_24h_bytes: g.projected_24h.map(|p| p.max(0.0) as u64),
        },
        kinds: s.kinds.map(|k| KindBytes {
            definite: k[0],
            indirect: k[1],
            possible: k[2],
            reachable: k[3],
        }),
        age: s.ages.as_ref().map(|a| Age {
            at_s: round(a.at_s, 3),
            oldest_s: round(a.oldest_s, 3),
            median_s: round(a.median_s, 3),
            newest_s: round(a.newest_s, 3),
            births: a
                .births
                .iter()
                .map(|b| BirthJson {
                    from_s: round(b.from_s, 3),
                    to_s: round(b.to_s, 3),
                    bytes: b.bytes,
                    blocks: b.blocks,
                })
                .collect(),
        }),
        curve: s.curve.iter().map(|&v| v.max(0.0).round() as u64).collect(),
        site: s.site_frame().map(frame),
        stack: s.stack.iter().map(frame).collect(),
    }
}

fn timeline(t: &TimelineReport) -> Timeline {
    Timeline {
        snapshots: t.snapshots,
        duration_s: round(t.duration_s, 3),
        interval_s: round(t.interval_s, 3),
        peak_heap_bytes: t.peak_heap,
        peak_rss_bytes: t.peak_rss,
        times_s: t.times_s.iter().map(|&v| round(v, 3)).collect(),
        heap_bytes: t.heap.iter().map(|&v| v.round() as u64).collect(),
        rss_bytes: t.rss.iter().map(|&v| v.round() as u64).collect(),
    }
}

fn grown(d: &Delta) -> Grown<'_> {
    Grown {
        leak: leak(&d.record),
        bytes_delta: d.bytes,
        blocks_delta: d.blocks,
    }
}

fn check(c: &CheckReport) -> Check {
    Check {
        number: c.number,
        time_s: round(c.time_ns as f64 / 1e9, 3),
        previous: c
            .previous
            .as_ref()
            .map(|(number, time_ns, summary)| PreviousCheck {
                number: *number,
                time_s: round(*time_ns as f64 / 1e9, 3),
                summary: kinds(Some(summary)),
            }),
    }
}

fn heap(h: &HeapReport) -> Heap<'_> {
    Heap {
        time_ns: h.time_ns,
        rss: h.rss,
        bytes: h.bytes,
        blocks: h.blocks,
        sites: h
            .sites
            .iter()
            .map(|s| LiveSite {
                bytes: s.bytes,
                blocks: s.blocks,
                allocs: s.allocs,
                alloc_bytes: s.alloc_bytes,
                site: s.site.and_then(|i| s.stack.get(i)).map(frame),
                stack: s.stack.iter().map(frame).collect(),
            })
            .collect(),
    }
}

/// `exit_code` is the document's for the root, its own for a child.
fn process(r: &ProcessReport, with_exit_code: bool) -> Process<'_> {
    Process {
        pid: Some(r.pid),
        ppid: Some(r.ppid),
        exe: Some(&r.exe),
        command: &r.args,
        exit_code: with_exit_code.then(|| r.exit_code()),
        summary: kinds(r.summary.as_ref()),
        leaks: r.records.iter().map(leak).collect(),
        scan: r.scan.map(|s| Scan {
            root_bytes: s.root_bytes,
            heap_bytes: s.heap_bytes,
            pause_ns: s.pause_ns,
            threads: s.threads,
        }),
        heap: r.heap.as_ref().map(heap),
        heap_usage: r.end.map(|e| Usage {
            allocs: e.alloc_calls,
            frees: e.free_calls,
            agent_bytes: e.agent_bytes,
        }),
        process_warnings: &r.warnings,
        messages: r
            .messages
            .iter()
            .map(|m| Message {
                level: match m.level {
                    Level::Info => "info",
                    Level::Warning => "warning",
                    Level::Error => "error",
                },
                text: &m.text,
            })
            .collect(),
        sites: r.sites.iter().map(site).collect(),
        sites_omitted: (r.sites_omitted.sites > 0).then_some(Omitted {
            sites: r.sites_omitted.sites,
            live_bytes: r.sites_omitted.live_bytes,
            live_blocks: r.sites_omitted.live_blocks,
            max_peak_bytes: r.sites_omitted.max_peak_bytes,
        }),
        timeline: r.timeline.as_ref().map(timeline),
        check: r.check.as_ref().map(check),
        pause_ms: r.check.as_ref().map(|c| round(c.pause_ns as f64 / 1e6, 3)),
        new: r.check.as_ref().map(|c| c.new.iter().map(grown).collect()),
        increased: r
            .check
            .as_ref()
            .map(|c| c.increased.iter().map(grown).collect()),
    }
}

fn nothing_recorded<'a>() -> Process<'a> {
    Process {
        pid: None,
        ppid: None,
        exe: None,
        command: &[],
        exit_code: None,
        summary: Kinds::default(),
        leaks: Vec::new(),
        scan: None,
        heap: None,
        heap_usage: None,
        process_warnings: &[],
        messages: Vec::new(),
        sites: Vec::new(),
        sites_omitted: None,
        timeline: None,
        check: None,
        pause_ms: None,
        new: None,
        increased: None,
    }
}

/// Renders the JSON document (pretty-printed, newline-terminated).
pub fn render(a: &Analysis, ctx: &Context) -> String {
    let doc = Document {
        tool: Tool {
            name: "leakscope",
            version: env!("CARGO_PKG_VERSION"),
        },
        exit_code: ctx
            .exit_code
            .or(a.root.as_ref().and_then(ProcessReport::exit_code)),
        trace: ctx.trace.as_deref(),
        recorded: a.root.is_some(),
        root: a
            .root
            .as_ref()
            .map_or_else(nothing_recorded, |r| process(r, false)),
        warnings: ctx
            .warnings
            .iter()
            .chain(&a.warnings)
            .chain(a.root.iter().chain(&a.children).flat_map(|p| &p.warnings))
            .map(String::as_str)
            .collect(),
        children: a.children.iter().map(|c| process(c, true)).collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("the report serializes");
    s.push('\n');
    s
}
