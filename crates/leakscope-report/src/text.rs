//! The terminal report: warnings first, then per process its loss records (Memcheck's wording, most bytes
//! first), its heap counters and the four-kind leak summary; forked children follow under their pid.

use crate::Context;
use leakscope_analysis::{
    signal_name, Analysis, CheckReport, ExitStatus, Frame, HeapReport, LeakKind, Level, LossRecord,
    ProcessReport, SiteReport, Summary, TimelineReport, Verdict, CURVE_SNAPSHOTS,
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
    let state = match &r.check {
        Some(c) => format!(
            "running; live check {} at {}, program paused {}",
            c.number,
            secs(c.time_ns as f64 / 1e9),
            millis(c.pause_ns)
        ),
        None => status_phrase(r.status),
    };
    let head = format!("== {who}: {} {state} ==", r.command_line());
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
    if let Some(t) = &r.timeline {
        over_time(out, t, r, p);
    }
}

fn scanned(out: &mut String, r: &ProcessReport, summary: &Summary, ctx: &Context, p: &Paint) {
    let in_use = LeakKind::ALL.iter().fold((0, 0), |(b, n), &k| {
        (b + summary.get(k).bytes, n + summary.get(k).blocks)
    });
    let when = if r.check.is_some() { "now" } else { "at exit" };
    let _ = writeln!(
        out,
        "\nHEAP SUMMARY:\n    in use {when}: {} bytes in {} blocks",
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
        record(out, rec, i + 1, shown.len(), r.check.as_ref(), p);
    }
    leak_summary(out, summary, ctx.show_reachable, r.check.as_ref(), p);
}

fn kind_phrase(kind: LeakKind) -> &'static str {
    match kind {
        LeakKind::Definite => "definitely lost",
        LeakKind::Indirect => "indirectly lost",
        LeakKind::Possible => "possibly lost",
        LeakKind::Reachable => "still reachable",
    }
}

/// `(+N)` after a count that grew since the previous check.
fn plus(d: u64) -> String {
    if d > 0 {
        format!(" (+{d})")
    } else {
        String::new()
    }
}

fn record(
    out: &mut String,
    rec: &LossRecord,
    i: usize,
    n: usize,
    check: Option<&CheckReport>,
    p: &Paint,
) {
    if let Some(c) = check {
        let same = |d: &&leakscope_analysis::Delta| {
            d.record.kind == rec.kind && d.record.stack == rec.stack
        };
        let (tag, db, dn) = match (c.new.iter().find(same), c.increased.iter().find(same)) {
            (Some(d), _) => (" [new]", d.bytes, d.blocks),
            (None, Some(d)) => (" [increased]", d.bytes, d.blocks),
            _ => ("", 0, 0),
        };
        let _ = writeln!(
            out,
            "{}{} bytes in {}{} blocks are {} in loss record {i} of {n}{tag}",
            rec.total_bytes(),
            plus(db),
            rec.blocks,
            plus(dn),
            p.kind(rec.kind, kind_phrase(rec.kind))
        );
        stack(out, &rec.stack, rec.site, p);
        return;
    }
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
    if rec.unsampled {
        let _ = writeln!(out, "   (allocation stacks not sampled)");
        return;
    }
    if let Some((eb, en)) = rec.estimate {
        let _ = writeln!(
            out,
            "   sampled; this stack stands for an estimated {eb} bytes in {en} blocks"
        );
    }
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
        Some(func) => func.to_string(),
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

fn leak_summary(
    out: &mut String,
    s: &Summary,
    show_reachable: bool,
    check: Option<&CheckReport>,
    p: &Paint,
) {
    let title = match check.and_then(|c| c.previous.as_ref()) {
        Some((n, t, _)) => format!(
            "LEAK SUMMARY (+ since live check {n} at {}):",
            secs(*t as f64 / 1e9)
        ),
        None => "LEAK SUMMARY:".to_string(),
    };
    let _ = writeln!(out, "\n{}", p.bold(&title));
    for (kind, label) in [
        (LeakKind::Definite, "   definitely lost"),
        (LeakKind::Indirect, "   indirectly lost"),
        (LeakKind::Possible, "     possibly lost"),
        (LeakKind::Reachable, "   still reachable"),
    ] {
        let t = s.get(kind);
        let before = check
            .and_then(|c| c.previous.as_ref())
            .map(|(_, _, prev)| prev.get(kind));
        let (db, dn) = before.map_or((0, 0), |b| {
            (
                t.bytes.saturating_sub(b.bytes),
                t.blocks.saturating_sub(b.blocks),
            )
        });
        let _ = writeln!(
            out,
            "{label}: {}{} bytes in {}{} blocks",
            t.bytes,
            plus(db),
            t.blocks,
            plus(dn)
        );
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

/// Shortest readable size: `812 B`, `1.5 KiB`, `27.3 MiB`, `1.2 GiB`.
pub fn size(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut u = 0;
    while v.abs() >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{} B", v.round())
    } else {
        format!("{v:.1} {}", units[u])
    }
}

fn secs(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        format!("{:.1}m", s / 60.0)
    } else {
        format!("{:.1}h", s / 3600.0)
    }
}

fn millis(ns: u64) -> String {
    format!("{:.2} ms", ns as f64 / 1e6)
}

/// A terminal sparkline of `values` (from 0 to their maximum), at most `width` characters (averaged).
pub fn sparkline(values: &[f64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let cols = values.len().min(width);
    let col: Vec<f64> = (0..cols)
        .map(|c| {
            let (a, b) = (
                c * values.len() / cols,
                ((c + 1) * values.len() / cols).max(c * values.len() / cols + 1),
            );
            values[a..b].iter().sum::<f64>() / (b - a) as f64
        })
        .collect();
    let max = col.iter().copied().fold(0.0, f64::max);
    col.iter()
        .map(|&v| {
            if max <= 0.0 {
                BARS[0]
            } else {
                BARS[((v.max(0.0) / max) * 7.0).round() as usize]
            }
        })
        .collect()
}

/// Sites listed in the text, per verdict (JSON lists them all).
const SHOWN_SATURATING: usize = 5;
const SHOWN_STABLE: usize = 3;
const SPARK: usize = 48;

/// The heap over time and the sites' growth verdicts (only with enough snapshots for a curve).
fn over_time(out: &mut String, t: &TimelineReport, r: &ProcessReport, p: &Paint) {
    if t.snapshots < CURVE_SNAPSHOTS {
        return;
    }
    let sites = &r.sites;
    let last = |v: &[f64]| v.last().copied().unwrap_or(0.0);
    let _ = writeln!(
        out,
        "\n{}\n   heap {}  {} now, peak {}\n   RSS  {}  {} now, peak {}",
        p.bold(&format!(
            "HEAP OVER TIME: {} snapshots over {}, every {}",
            t.snapshots,
            secs(t.duration_s),
            secs_short(t.interval_s)
        )),
        sparkline(&t.heap, SPARK),
        size(last(&t.heap)),
        size(t.peak_heap as f64),
        sparkline(&t.rss, SPARK),
        size(last(&t.rss)),
        size(t.peak_rss as f64),
    );
    let count = |v: Verdict| sites.iter().filter(|s| s.growth.verdict == v).count();
    let _ = writeln!(
        out,
        "\n{}",
        p.bold(&format!(
            "GROWTH BY ALLOCATION SITE: {} growing, {} saturating, {} stable",
            count(Verdict::Growing),
            count(Verdict::Saturating),
            count(Verdict::Stable)
        ))
    );
    let mut shown = 0;
    let mut per = [0usize; 3];
    for s in sites {
        let v = s.growth.verdict;
        let limit = match v {
            Verdict::Growing => usize::MAX,
            Verdict::Saturating => SHOWN_SATURATING,
            Verdict::Stable => SHOWN_STABLE,
        };
        if per[v as usize] >= limit {
            continue;
        }
        per[v as usize] += 1;
        shown += 1;
        site(out, shown, s, p);
    }
    if shown < sites.len() {
        let _ = writeln!(
            out,
            "\n({} more sites not shown: the JSON report lists them)",
            sites.len() - shown
        );
    }
    let o = &r.sites_omitted;
    if o.sites > 0 {
        let _ = writeln!(
            out,
            "({} smaller sites not analyzed, none above {} at its peak: {} in {} blocks at the end; a \
             report judges the {} sites with the most memory)",
            o.sites,
            size(o.max_peak_bytes as f64),
            size(o.live_bytes as f64),
            o.live_blocks,
            sites.len()
        );
    }
}

fn secs_short(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0}ms", s * 1000.0)
    } else {
        secs(s)
    }
}

fn site(out: &mut String, i: usize, s: &SiteReport, p: &Paint) {
    let g = &s.growth;
    let conf = format!("confidence {:.0}%", g.confidence * 100.0);
    let kind = s
        .main_kind()
        .map(|k| format!("; {}", kind_phrase(k)))
        .unwrap_or_default();
    let now = format!("{} in {} blocks", size(s.live_bytes as f64), s.live_blocks);
    let head = match g.verdict {
        Verdict::Growing => format!(
            "#{i} {} +{}/s ({conf}): {now} now, {} after 24 h{kind}",
            p.style("1;31", "GROWING"),
            size(g.bytes_per_sec),
            size(g.projected_24h.unwrap_or(0.0)),
        ),
        Verdict::Saturating => format!(
            "#{i} {} at {} ({conf}): {now} now{kind}",
            p.style("1;33", "SATURATING"),
            size(s.peak_bytes as f64),
        ),
        Verdict::Stable => format!("#{i} {} ({conf}): {now} now{kind}", p.bold("STABLE")),
    };
    let _ = writeln!(out, "\n{head}");
    let _ = writeln!(
        out,
        "   live {}  peak {}",
        sparkline(&s.curve, SPARK),
        size(s.peak_bytes as f64)
    );
    if let Some(a) = &s.ages {
        let births: Vec<f64> = a.births.iter().map(|b| b.bytes as f64).collect();
        let _ = writeln!(
            out,
            "   born {}  live blocks aged {} (oldest) .. {} (median) .. {} (newest)",
            sparkline(&births, SPARK),
            secs(a.oldest_s),
            secs(a.median_s),
            secs(a.newest_s)
        );
    }
    if g.verdict == Verdict::Growing {
        stack(out, &s.stack, s.site, p);
    } else {
        let f = s.site_frame().or(s.stack.first());
        match f {
            Some(f) => {
                let _ = writeln!(out, "   at {}", frame(f));
            }
            None => {
                let _ = writeln!(out, "   (allocation stack not recorded)");
            }
        }
    }
}
