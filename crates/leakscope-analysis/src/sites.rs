//! Allocation sites over time: each site's live heap as a curve, its growth verdict ([`crate::growth`]),
//! how old its live blocks are, and the heap and RSS of the whole process over time.
//!
//! Sites are the agent's stacks merged by symbolized stack (as loss records are). The curves are the
//! snapshots of the running program, binned to at most [`growth::MAX_POINTS`] points; the snapshot written
//! after the exit scan (the program's teardown) is left out of them, but gives each site's final amounts.

use crate::fasthash::FastMap;
use crate::growth::{self, Bins, Growth, Turnover, Verdict};
use crate::model::{Point, ProcessTrace};
use crate::symbolize::{Frame, Stack};
use leakscope_trace::LeakKind;
use std::collections::HashMap;

/// Snapshots a curve needs: with fewer, a report shows neither the heap over time nor the sites.
pub const CURVE_SNAPSHOTS: usize = 5;

/// The heap of the whole process over time.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineReport {
    /// Snapshots of the running program.
    pub snapshots: usize,
    /// Time of the last of them, seconds since the start.
    pub duration_s: f64,
    /// Median time between two of them, seconds.
    pub interval_s: f64,
    /// Binned curves: time (s), live heap (bytes), RSS (bytes).
    pub times_s: Vec<f64>,
    pub heap: Vec<f64>,
    pub rss: Vec<f64>,
    pub peak_heap: u64,
    pub peak_rss: u64,
}

/// Live blocks of a site born in one span of time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Births {
    /// Seconds since the start.
    pub from_s: f64,
    pub to_s: f64,
    pub bytes: u64,
    pub blocks: u64,
}

/// How old a site's live blocks are, when the trace says (by bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct AgeReport {
    /// When the ages were taken, seconds since the start.
    pub at_s: f64,
    pub oldest_s: f64,
    pub median_s: f64,
    pub newest_s: f64,
    /// Live bytes by birth time, oldest first, from the start to `at_s` (empty spans included).
    pub births: Vec<Births>,
}

/// One allocation site over the run.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteReport {
    pub stack: Stack,
    /// Index in `stack` of the first frame in the program's own code.
    pub site: Option<usize>,
    pub stack_ids: Vec<u32>,
    /// At the end (the last snapshot, after the exit scan if there was one).
    pub live_bytes: u64,
    pub live_blocks: u64,
    pub allocs: u64,
    pub alloc_bytes: u64,
    /// Most live bytes in one (binned) point of the curve.
    pub peak_bytes: u64,
    pub growth: Growth,
    /// Live bytes per point of the process's timeline (same times as [`TimelineReport::times_s`]).
    pub curve: Vec<f64>,
    pub ages: Option<AgeReport>,
    /// Bytes of this site's blocks by kind, from the leak scan (exit, or the check reported).
    pub kinds: Option<[u64; 4]>,
}

impl SiteReport {
    pub fn site_frame(&self) -> Option<&Frame> {
        self.site.and_then(|i| self.stack.get(i))
    }

    /// The kind that holds most of this site's bytes in the scan.
    pub fn main_kind(&self) -> Option<LeakKind> {
        let k = self.kinds?;
        LeakKind::ALL
            .into_iter()
            .filter(|&kind| k[kind as usize] > 0)
            .max_by_key(|&kind| (k[kind as usize], std::cmp::Reverse(kind)))
    }
}

/// The timeline and the sites of a process. `kinds`: bytes per leak kind per stack id, from the scan the
/// report shows; `resolve`: a stack id's symbolized, trimmed stack and its site frame.
pub fn build(
    p: &ProcessTrace,
    kinds: &HashMap<u32, [u64; 4]>,
    resolve: &mut dyn FnMut(u32) -> (Stack, Option<usize>),
) -> (Option<TimelineReport>, Vec<SiteReport>, OmittedSites) {
    let tl = &p.timeline;
    let running = tl.running_len();
    let timeline = timeline_report(p);
    let bins = Bins::by_time(&tl.times[..running]);
    let times: Vec<f64> = bins.mean(tl.times.iter().map(|&ns| ns as f64 / 1e9));
    let end = p.heap.as_ref().map(|h| &h.sites);
    let tail = growth::tail_len(&times);
    let span = Span {
        bins: &bins,
        running,
        tail_start: bins.start(bins.count().saturating_sub(tail)),
    };
    let mut groups: Vec<Group> = Vec::new();
    let mut by_stack: FastMap<Stack, usize> = FastMap::default();
    let mut ids: Vec<(u32, leakscope_trace::SiteSample)> = tl
        .sites
        .iter()
        .map(|(&id, points)| {
            let at_end = end.and_then(|e| e.get(&id)).copied().unwrap_or_default();
            (id, at_end, points)
        })
        .filter(|(_, at_end, points)| at_end.live_blocks > 0 || live_in_tail(points, &span))
        .map(|(id, at_end, _)| (id, at_end))
        .collect();
    let omitted = keep_largest(&mut ids, tl);
    ids.sort_by_key(|&(id, _)| id);
    for (id, at_end) in ids {
        let points = &tl.sites[&id];
        let (stack, site) = resolve(id);
        let g = *by_stack.entry(stack.clone()).or_insert_with(|| {
            groups.push(Group::new(stack, site, bins.count()));
            groups.len() - 1
        });
        groups[g].add(id, points, &span, at_end, kinds.get(&id));
    }
    let mut sites = finish_all(groups, &times, tail);
    judge_moving_shares(&mut sites, &times);
    if let Some(ages) = &p.ages {
        attach_ages(p, ages, &mut sites);
    }
    rank(&mut sites);
    (timeline, sites, omitted)
}

/// Most sites a report analyzes (groups, fits and ranks). A program with a million distinct stacks would
/// otherwise take minutes and gigabytes for sites of a few blocks each.
pub const MAX_SITES: usize = 20_000;

/// The sites of a report beyond [`MAX_SITES`], the ones with the least memory, left out of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OmittedSites {
    pub sites: usize,
    /// What they held at the end.
    pub live_bytes: u64,
    pub live_blocks: u64,
    /// The most one of them held at a snapshot.
    pub max_peak_bytes: u64,
}

/// Keeps the [`MAX_SITES`] sites of `ids` with the most memory at their peak (then at the end), and
/// sums up the others.
fn keep_largest(
    ids: &mut Vec<(u32, leakscope_trace::SiteSample)>,
    tl: &crate::model::Timeline,
) -> OmittedSites {
    if ids.len() <= MAX_SITES {
        return OmittedSites::default();
    }
    let peak = |id: u32| tl.sites[&id].iter().map(|pt| pt.bytes).max().unwrap_or(0);
    let mut keyed: Vec<(u64, u64, (u32, leakscope_trace::SiteSample))> = ids
        .iter()
        .map(|&(id, end)| (peak(id).max(end.live_bytes), end.live_bytes, (id, end)))
        .collect();
    keyed.select_nth_unstable_by_key(MAX_SITES, |&(peak, live, (id, _))| {
        std::cmp::Reverse((peak, live, id))
    });
    let mut out = OmittedSites::default();
    for &(peak, _, (_, end)) in &keyed[MAX_SITES..] {
        out.sites += 1;
        out.live_bytes += end.live_bytes;
        out.live_blocks += end.live_blocks;
        out.max_peak_bytes = out.max_peak_bytes.max(peak);
    }
    *ids = keyed[..MAX_SITES].iter().map(|&(_, _, x)| x).collect();
    out
}

/// Each group's growth fit, in order. A report may have thousands of sites, each fitted on its own: the
/// halves go to two threads (the program has ended, its cores are free).
fn finish_all(mut groups: Vec<Group>, times: &[f64], tail: usize) -> Vec<SiteReport> {
    const PARALLEL_FROM: usize = 256;
    if groups.len() < PARALLEL_FROM {
        return finish_all_here(groups, times, tail);
    }
    let second = groups.split_off(groups.len() / 2);
    std::thread::scope(|s| {
        let other = s.spawn(|| finish_all_here(second, times, tail));
        let mut out = finish_all_here(groups, times, tail);
        // A thread that cannot be joined panicked: its panic ends the report as it would here.
        out.extend(
            other
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        );
        out
    })
}

fn finish_all_here(groups: Vec<Group>, times: &[f64], tail: usize) -> Vec<SiteReport> {
    groups.into_iter().map(|g| g.finish(times, tail)).collect()
}

/// A working set filled from two call paths of one allocation (a cache's fill and refresh paths) is two
/// sites: as one path's entries replace the other's, its share rises while the other's falls at about the
/// same rate. A growing site with such shrinking partners (same allocation frame) takes the verdict of their
/// sum: the working set as a whole. A leak beside a working set that merely shares a malloc wrapper keeps
/// its verdict, since nothing shrinks beside it.
fn judge_moving_shares(sites: &mut [SiteReport], times: &[f64]) {
    let frame_key = |s: &SiteReport| {
        s.site_frame()
            .map(|f| (f.function.clone(), f.file.clone(), f.line))
    };
    if sites.iter().all(|s| s.growth.verdict != Verdict::Growing) {
        return;
    }
    // Sites by allocation frame: a report can have a million sites, a scan of all for each was quadratic.
    let mut by_frame: FastMap<_, Vec<usize>> = FastMap::default();
    for (i, s) in sites.iter().enumerate() {
        if let Some(key) = frame_key(s) {
            by_frame.entry(key).or_default().push(i);
        }
    }
    for i in 0..sites.len() {
        let g = sites[i].growth;
        if g.verdict != Verdict::Growing {
            continue;
        }
        let Some(same) = frame_key(&sites[i]).and_then(|k| by_frame.get(&k)) else {
            continue;
        };
        let partners: Vec<usize> = same
            .iter()
            .copied()
            .filter(|&j| {
                j != i
                    && sites[j].growth.verdict != Verdict::Growing
                    && sites[j].growth.bytes_per_sec <= -0.5 * g.bytes_per_sec
            })
            .collect();
        if partners.is_empty() || times.len() != sites[i].curve.len() {
            continue;
        }
        let mut sum = sites[i].curve.clone();
        let mut now = sites[i].live_bytes as f64;
        for &j in &partners {
            for (a, b) in sum.iter_mut().zip(&sites[j].curve) {
                *a += b;
            }
            now += sites[j].live_bytes as f64;
        }
        let whole = growth::classify(times, &sum, now, Turnover::default());
        if whole.verdict != Verdict::Growing {
            sites[i].growth = Growth {
                verdict: Verdict::Saturating,
                ..whole
            };
        }
    }
}

/// Growing sites first (fastest first), then saturating, then stable, each by live bytes.
pub fn rank(sites: &mut [SiteReport]) {
    sites.sort_by(|a, b| {
        let order = |s: &SiteReport| s.growth.verdict;
        order(a)
            .cmp(&order(b))
            .then_with(|| match a.growth.verdict {
                Verdict::Growing => b.growth.bytes_per_sec.total_cmp(&a.growth.bytes_per_sec),
                _ => (b.live_bytes, b.peak_bytes).cmp(&(a.live_bytes, a.peak_bytes)),
            })
    });
}

/// Stack ids with the same symbolized stack, summed.
struct Group {
    stack: Stack,
    site: Option<usize>,
    ids: Vec<u32>,
    bytes: Vec<f64>,
    blocks: Vec<f64>,
    /// Blocks allocated from the start of the tail to the last running snapshot.
    tail_allocs: u64,
    end: leakscope_trace::SiteSample,
    kinds: Option<[u64; 4]>,
}

/// Whether the site is worth listing without memory at exit: it held memory at the last snapshot of the
/// running program, or through at least half of the tail (a cache emptied at shutdown keeps its verdict);
/// a site whose buffers were live only now and then is not.
fn live_in_tail(points: &[Point], span: &Span) -> bool {
    let (from, to) = (span.tail_start, span.running);
    if to <= from {
        return false;
    }
    // Snapshots of [from, to) at which the step series is above 0.
    let mut live = 0;
    let mut at = from;
    let mut cur = points
        .iter()
        .take_while(|pt| (pt.index as usize) <= from)
        .last()
        .map_or(0, |pt| pt.bytes);
    for pt in points
        .iter()
        .filter(|pt| (from + 1..to).contains(&(pt.index as usize)))
    {
        if cur > 0 {
            live += pt.index as usize - at;
        }
        at = pt.index as usize;
        cur = pt.bytes;
    }
    if cur > 0 {
        live += to - at;
    }
    cur > 0 || 2 * live >= to - from
}

/// Which snapshots the curves cover.
struct Span<'a> {
    bins: &'a Bins,
    /// Snapshots of the running program.
    running: usize,
    /// First snapshot of the tail.
    tail_start: usize,
}

impl Group {
    fn new(stack: Stack, site: Option<usize>, bins: usize) -> Group {
        Group {
            stack,
            site,
            ids: Vec::new(),
            bytes: vec![0.0; bins],
            blocks: vec![0.0; bins],
            tail_allocs: 0,
            end: Default::default(),
            kinds: None,
        }
    }

    fn add(
        &mut self,
        id: u32,
        points: &[Point],
        span: &Span,
        end: leakscope_trace::SiteSample,
        kinds: Option<&[u64; 4]>,
    ) {
        self.ids.push(id);
        let running = span.running;
        let steps = |f: fn(&Point) -> u64| {
            span.bins.mean_steps(
                points
                    .iter()
                    .filter(|pt| (pt.index as usize) < running)
                    .map(move |pt| (pt.index as usize, f(pt) as f64)),
            )
        };
        for (acc, v) in self.bytes.iter_mut().zip(steps(|pt| pt.bytes)) {
            *acc += v;
        }
        for (acc, v) in self.blocks.iter_mut().zip(steps(|pt| pt.blocks)) {
            *acc += v;
        }
        let allocs_until = |index: usize| {
            points
                .iter()
                .take_while(|pt| (pt.index as usize) <= index)
                .last()
                .map_or(0, |pt| pt.allocs)
        };
        self.tail_allocs += allocs_until(running.saturating_sub(1))
            .saturating_sub(allocs_until(span.tail_start.saturating_sub(1)));
        self.end.live_bytes += end.live_bytes;
        self.end.live_blocks += end.live_blocks;
        self.end.allocs += end.allocs;
        self.end.alloc_bytes += end.alloc_bytes;
        if let Some(k) = kinds {
            let mine = self.kinds.get_or_insert([0; 4]);
            for (m, v) in mine.iter_mut().zip(k) {
                *m += v;
            }
        }
    }

    fn finish(self, times: &[f64], tail: usize) -> SiteReport {
        let n = self.bytes.len();
        let tail_blocks = self.blocks[n.saturating_sub(tail)..].to_vec();
        let turnover = Turnover {
            blocks_p_up: growth::mann_kendall_up(&tail_blocks),
            live_blocks: growth::median(tail_blocks),
            allocs: self.tail_allocs as f64,
        };
        let growth = if times.len() == n {
            growth::classify(times, &self.bytes, self.end.live_bytes as f64, turnover)
        } else {
            Growth::unknown(0)
        };
        SiteReport {
            peak_bytes: self.bytes.iter().copied().fold(0.0, f64::max) as u64,
            stack: self.stack,
            site: self.site,
            stack_ids: self.ids,
            live_bytes: self.end.live_bytes,
            live_blocks: self.end.live_blocks,
            allocs: self.end.allocs,
            alloc_bytes: self.end.alloc_bytes,
            growth,
            curve: self.bytes,
            ages: None,
            kinds: self.kinds,
        }
    }
}

pub fn timeline_report(p: &ProcessTrace) -> Option<TimelineReport> {
    let tl = &p.timeline;
    let running = tl.running_len();
    if running == 0 {
        return None;
    }
    let bins = Bins::by_time(&tl.times[..running]);
    let secs = |ns: u64| ns as f64 / 1e9;
    let mut gaps: Vec<f64> = tl.times[..running]
        .windows(2)
        .map(|w| secs(w[1].saturating_sub(w[0])))
        .collect();
    gaps.sort_by(f64::total_cmp);
    Some(TimelineReport {
        snapshots: running,
        duration_s: secs(tl.times[running - 1]),
        interval_s: gaps.get(gaps.len() / 2).copied().unwrap_or(0.0),
        times_s: bins.mean(tl.times.iter().map(|&ns| secs(ns))),
        heap: bins.mean(tl.heap_bytes.iter().map(|&b| b as f64)),
        rss: bins.mean(tl.rss.iter().map(|&b| b as f64)),
        peak_heap: tl.heap_bytes[..running].iter().copied().max().unwrap_or(0),
        peak_rss: tl.rss[..running].iter().copied().max().unwrap_or(0),
    })
}

/// Adds each site's age report from the process's newest ages record.
fn attach_ages(p: &ProcessTrace, ages: &leakscope_trace::Ages, sites: &mut [SiteReport]) {
    let tl = &p.timeline;
    let at = ages.time_ns as f64 / 1e9;
    let width = ages.width.max(1);
    let time_of = |tick: u64| (tl.tick_time(tick) / 1e9).clamp(0.0, at);
    let mut site_of: HashMap<u32, usize> = HashMap::new();
    for (i, s) in sites.iter().enumerate() {
        for &id in &s.stack_ids {
            site_of.insert(id, i);
        }
    }
    let mut hist: HashMap<usize, std::collections::BTreeMap<u32, (u64, u64)>> = HashMap::new();
    for sa in &ages.sites {
        let Some(&i) = site_of.get(&sa.stack) else {
            continue;
        };
        let h = hist.entry(i).or_default();
        for &(b, bytes, blocks) in &sa.buckets {
            let e = h.entry(b).or_default();
            e.0 += bytes;
            e.1 += blocks;
        }
    }
    for (i, h) in hist {
        // Every bucket from the start to now, the empty ones too (a gap in the births is information).
        let last = h
            .keys()
            .next_back()
            .map_or(0, |&b| u64::from(b))
            .max(ages.tick / width);
        let births: Vec<Births> = (0..=last)
            .map(|b| {
                let (bytes, blocks) = h.get(&(b as u32)).copied().unwrap_or_default();
                Births {
                    from_s: time_of(b * width),
                    to_s: time_of((b + 1) * width),
                    bytes,
                    blocks,
                }
            })
            .collect();
        let total: u64 = births.iter().map(|b| b.bytes).sum();
        if total == 0 {
            continue;
        }
        // Birth time by which half the bytes were born (uniform within a span).
        let mut left = total as f64 / 2.0;
        let mut median_birth = births[births.len() - 1].to_s;
        for b in &births {
            if (b.bytes as f64) >= left {
                median_birth = b.from_s + (b.to_s - b.from_s) * left / b.bytes as f64;
                break;
            }
            left -= b.bytes as f64;
        }
        let first = births.iter().find(|b| b.bytes > 0).unwrap_or(&births[0]);
        let newest = births
            .iter()
            .rev()
            .find(|b| b.bytes > 0)
            .unwrap_or(&births[0]);
        sites[i].ages = Some(AgeReport {
            at_s: at,
            oldest_s: at - first.from_s,
            median_s: at - median_birth,
            newest_s: (at - newest.to_s).max(0.0),
            births,
        });
    }
}
