//! The terminal report: warnings first, then per process its loss records (Memcheck's wording, most bytes
//! first), its heap counters and the four-kind leak summary; forked children follow under their pid.

use crate::Context;
use leakscope_analysis::{
    signal_name, Analysis, ExitStatus, Frame, HeapReport, LeakKind, Level, LossRecord,
    ProcessReport, Summary,
};

use std::fmt::Write;

/// ANSI styling, or none.
struct Paint(bool);

impl Paint {
    fn style(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.style("1", s)
    }
    fn warn(&self, s: &str) -> String {
        self.style("1;33", s)
    }
    fn kind(&self, kind: LeakKind, s: &str) -> String {
        match kind {
            LeakKind::Definite => self.style("1;31", s),
            LeakKind::Possible | LeakKind::Indirect => self.style("1;35", s),
            LeakKind::Reachable => self.style("1", s),
        }
    }
}

/// Renders the whole report.
pub fn render(a: &Analysis, ctx: &Context) -> String {
    let p = Paint(ctx.color);
    let mut out = String::new();
    for w in ctx.warnings.iter().chain(&a.warnings) {
        let _ = writeln!(out, "{}", p.warn(&format!("leakscope: warning: {w}")));
    }
    match &a.root {
        Some(root) => process(&mut out, root, ctx, &p),
        None => out.push_str("leakscope: nothing was recorded from the program\n"),
    }
    for child in &a.children {
        out.push('\n');
        process(&mut out, child, ctx, &p);
    }
    if let Some(t) = &ctx.trace {
        let _ = writeln!(
            out,
            "\nleakscope: trace kept in {t} (view it again with `leakscope report {t}`)"
        );
    }
    out
}

/// How a process ended, as a phrase.
pub fn status_phrase(status: Option<ExitStatus>) -> String {
    match status {
        Some(ExitStatus::Code(c)) => format!("exited with status {c}"),
        Some(ExitStatus::Signal(n)) => {
            format!("killed by {} (exit status {})", signal_name(n), 128 + n)
        }
        Some(ExitStatus::Exec) => "replaced by exec".into(),
        Some(ExitStatus::Unknown) | None => "exit status unknown".into(),
    }
}

fn process(out: &mut String, r: &ProcessReport, ctx: &Context, p: &Paint) {
    let who = if r.forked {
        format!("child process {} (forked from {})", r.pid, r.ppid)
    } else {
        format!("process {}", r.pid)
    };
    let head = format!(
        "== {who}: {} {} ==",
        r.command_line(),
        status_phrase(r.status)
    );
    let _ = writeln!(out, "{}", p.bold(&head));
    for w in &r.warnings {
        let _ = writeln!(out, "{}", p.warn(&format!("leakscope: warning: {w}")));
    }
    for m in &r.messages {
        let line = match m.level {
            Level::Info => format!("leakscope: note (agent): {}", m.text),
            _ => p.warn(&format!("leakscope: warning (agent): {}", m.text)),
        };
        let _ = writeln!(out, "{line}");
    }
    match (&r.summary, &r.heap) {
        (Some(summary), _) => scanned(out, r, summary, ctx, p),
        (None, Some(heap)) => unscanned(out, heap, p),
        (None, None) => {}
    }
}

fn scanned(out: &mut String, r: &ProcessReport, summary: &Summary, ctx: &Context, p: &Paint) {
    let in_use = LeakKind::ALL.iter().fold((0, 0), |(b, n), &k| {
        (b + summary.get(k).bytes, n + summary.get(k).blocks)
    });
    let _ = writeln!(
        out,
        "\nHEAP SUMMARY:\n    in use at exit: {} bytes in {} blocks",
        in_use.0, in_use.1
    );
    if let Some(e) = r.end {
        let _ = writeln!(
            out,
            "  total heap usage: {} allocs, {} frees",
            e.alloc_calls, e.free_calls
        );
    }
    let shown: Vec<&LossRecord> = r
        .records
        .iter()
        .filter(|rec| ctx.show_reachable || rec.kind != LeakKind::Reachable)
        .collect();
    for (i, rec) in shown.iter().enumerate() {
        out.push('\n');
        record(out, rec, i + 1, shown.len(), p);
    }
    leak_summary(out, summary, ctx.show_reachable, p);
}

fn kind_phrase(kind: LeakKind) -> &'static str {
    match kind {
        LeakKind::Definite => "definitely lost",
        LeakKind::Indirect => "indirectly lost",
        LeakKind::Possible => "possibly lost",
        LeakKind::Reachable => "still reachable",
    }
}

fn record(out: &mut String, rec: &LossRecord, i: usize, n: usize, p: &Paint) {
    let bytes = if rec.indirect_bytes > 0 {
        format!(
            "{} ({} direct, {} indirect) bytes",
            rec.total_bytes(),
            rec.bytes,
            rec.indirect_bytes
        )
    } else {
        format!("{} bytes", rec.bytes)
    };
    let _ = writeln!(
        out,
        "{bytes} in {} blocks are {} in loss record {i} of {n}",
        rec.blocks,
        p.kind(rec.kind, kind_phrase(rec.kind))
    );
    stack(out, &rec.stack, rec.site, p);
}

fn stack(out: &mut String, frames: &[Frame], site: Option<usize>, p: &Paint) {
    if frames.is_empty() {
        let _ = writeln!(out, "   (allocation stack not recorded)");
    }
    for (i, f) in frames.iter().enumerate() {
        let word = if i == 0 { "at" } else { "by" };
        let mut line = format!("   {word} {}", frame(f));
        if site == Some(i) && i > 0 {
            line = format!("{}  <- allocation site", p.bold(&line));
        }
        let _ = writeln!(out, "{line}");
    }
}

/// `func (file.c:12)`, `func (in /lib/x.so)`, `0x7f… (in /lib/x.so)`, `0x7f…`; `[inlined]` when inlined.
pub fn frame(f: &Frame) -> String {
    let what = match &f.function {
        Some(func) => func.clone(),
        None => format!("0x{:x}", f.address),
    };
    let where_ = match (f.file_name(), f.line, &f.module) {
        (Some(file), Some(line), _) => format!(" ({file}:{line})"),
        (Some(file), None, _) => format!(" ({file})"),
        (None, _, Some(module)) => format!(" (in {module})"),
        (None, _, None) => String::new(),
    };
    let inlined = if f.inlined { " [inlined]" } else { "" };
    format!("{what}{where_}{inlined}")
}

fn leak_summary(out: &mut String, s: &Summary, show_reachable: bool, p: &Paint) {
    let _ = writeln!(out, "\n{}", p.bold("LEAK SUMMARY:"));
    for (kind, label) in [
        (LeakKind::Definite, "   definitely lost"),
        (LeakKind::Indirect, "   indirectly lost"),
        (LeakKind::Possible, "     possibly lost"),
        (LeakKind::Reachable, "   still reachable"),
    ] {
        let t = s.get(kind);
        let _ = writeln!(out, "{label}: {} bytes in {} blocks", t.bytes, t.blocks);
    }
    let all_zero = LeakKind::ALL.iter().all(|&k| s.get(k).blocks == 0);
    if all_zero {
        let _ = writeln!(out, "All heap blocks were freed -- no leaks are possible");
    } else if !show_reachable && s.get(LeakKind::Reachable).blocks > 0 {
        let _ = writeln!(
            out,
            "Still-reachable blocks are not listed: use --show-reachable to list them"
        );
    }
}

/// A process that never ran its scan: the live heap of its last snapshot, by site.
fn unscanned(out: &mut String, heap: &HeapReport, p: &Paint) {
    let n = heap.sites.len();
    for (i, site) in heap.sites.iter().enumerate() {
        let _ = writeln!(
            out,
            "\n{} bytes in {} blocks were in use at the last snapshot in site {} of {n}",
            site.bytes,
            site.blocks,
            i + 1
        );
        stack(out, &site.stack, site.site, p);
    }
    let _ = writeln!(
        out,
        "\n{}\n    in use at the last snapshot: {} bytes in {} blocks (not classified: no leak scan ran)",
        p.bold("HEAP SUMMARY:"),
        heap.bytes,
        heap.blocks
    );
}
