//! The JSON report. Its contract: `tool`, `exit_code`, `summary` (four kinds, `bytes`/`blocks`), `leaks`
//! (every kind, reachable included, most bytes first; each with `kind`, `bytes`, `blocks`, `indirect_bytes`
//! and `stack`, innermost first, of `function`/`file`/`line`/`module`, unknowns `null`) and `children` (the
//! same per forked process, with `pid`). Fields may be added, never renamed.

use crate::Context;
use leakscope_analysis::{
    Analysis, Frame, HeapReport, LeakKind, Level, LossRecord, ProcessReport, Summary,
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
    /// Trace-level and CLI warnings (the root process's own are in `process_warnings`).
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
        site: r.site_frame().map(frame),
        stack: r.stack.iter().map(frame).collect(),
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
            .map(String::as_str)
            .collect(),
        children: a.children.iter().map(|c| process(c, true)).collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("the report serializes");
    s.push('\n');
    s
}
