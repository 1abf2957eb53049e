//! The end of a process image: stop the world, let libc free its own state, classify every live block,
//! and write the loss records, the final per-site state and the exit status.

use crate::live::Block;
use crate::maps::{self, Mapping};
use crate::scan::{Scan, INDIRECT, POSSIBLE, REACHABLE};
use crate::state::{self, Busy};
use crate::{live, mem, stacks, world, writer};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use leakscope_trace::{
    Estimates, ExitStatus, LeakKind, Leaks, Level, LossRecord, Message, ProcessEnd, Record,
    ScanStats, Snapshot, Trigger,
};

static REPORTED: AtomicBool = AtomicBool::new(false);

/// The x86-64 ABI's red zone below the stack pointer.
pub const RED_ZONE: usize = 128;

/// Where the exiting thread's live stack begins, and its registers if they matter (fatal signal).
pub struct ExitPoint<'a> {
    pub status: ExitStatus,
    pub floor_sp: usize,
    pub regs: Option<&'a [usize]>,
    /// Run glibc's and libstdc++'s exit-time cleanup first, as Valgrind does on a normal exit.
    pub freeres: bool,
}

/// Writes the final report once; later calls (e.g. `_exit` after `exit`) do nothing.
pub fn final_report(at: ExitPoint) {
    // SAFETY: getpid cannot fail. A process that shares our memory without being ours (a clone(CLONE_VM)
    // child) must not act on it.
    let ours = unsafe { libc::getpid() } as u32 == writer::PID.load(Ordering::Relaxed);
    if state::STATE.load(Ordering::Acquire) != state::ACTIVE
        || !ours
        || REPORTED.swap(true, Ordering::AcqRel)
    {
        return;
    }
    let busy = Busy::enter();
    let w = stop_world();
    if at.freeres {
        // Light mode finds the blocks it did not track in glibc's heap: there a free must reach glibc.
        if !crate::light::on() {
            crate::hooks::ENDING.store(true, Ordering::Relaxed);
        }
        run_freeres();
    }
    state::STATE.store(state::FINISHED, Ordering::Release);
    let c = classify(Some(at.floor_sp), at.regs, &w, Trigger::Exit);
    state::emit_modules();
    writer::define_sites(c.sites.iter().copied().chain(live_site_ids()));
    writer::emit(&Record::Leaks(c.leaks));
    if let Some(e) = c.estimates {
        writer::emit(&Record::Estimates(e));
    }
    emit_final_snapshot();
    crate::ages::emit(leakscope_trace::AgesTrigger::Exit, &c.blocks);
    drop(c.blocks); // before the end record counts the agent's memory
    for tid in &w.missed {
        warn(&format!("thread {tid} could not be stopped for the leak scan (signals blocked?); its registers were not scanned"));
    }
    emit_end(at.status);
    drop(busy);
}

/// Stops the other threads. In light sampled mode, at a moment when none of them is inside glibc's malloc
/// (whose chunks it may be rewriting, which the heap walk would read): a few short retries.
fn stop_world() -> world::World {
    let mut w = world::stop_others();
    for _ in 0..20 {
        if !crate::light::on() || !crate::glibc_heap::busy() {
            break;
        }
        world::release();
        let pause = libc::timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000,
        };
        // SAFETY: plain syscall.
        unsafe { libc::nanosleep(&pause, core::ptr::null_mut()) };
        w = world::stop_others();
    }
    w
}

fn warn(text: &str) {
    writer::emit(&Record::Message(Message {
        level: Level::Warning,
        text: text.into(),
    }));
}

/// Calls `__gnu_cxx::__freeres` and `__libc_freeres` if present (Valgrind calls both before its scan).
fn run_freeres() {
    for name in [c"_ZN9__gnu_cxx9__freeresEv", c"__libc_freeres"] {
        // SAFETY: dlsym with a valid name; the result, if any, is a `void (void)` function.
        let f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
        if !f.is_null() {
            let f: extern "C" fn() = unsafe { core::mem::transmute(f) };
            f();
        }
    }
}

fn live_site_ids() -> impl Iterator<Item = u32> {
    stacks::all()
        .into_iter()
        .filter(|s| s.has_live())
        .map(|s| s.id)
}

fn emit_final_snapshot() {
    let sites = stacks::all()
        .into_iter()
        .map(|s| s.sample())
        .filter(|s| s.live_blocks > 0)
        .collect();
    writer::emit(&Record::Snapshot(Snapshot {
        time_ns: crate::uptime_ns(),
        rss: crate::rss_bytes(),
        sites,
        tick: Some(state::TICK.load(Ordering::Relaxed).into()),
    }));
}

/// Writes the last chunk of this image.
pub fn emit_end(status: ExitStatus) {
    let (allocs, live) = stacks::all()
        .iter()
        .map(|s| s.sample())
        .fold((0, 0), |(a, l), s| (a + s.allocs, l + s.live_blocks));
    if allocs == 0 && !crate::light::saw_calls() && status != ExitStatus::Exec {
        warn("no allocation was intercepted: the program may be statically linked or use its own allocator");
    }
    writer::emit(&Record::ProcessEnd(ProcessEnd {
        status,
        time_ns: crate::uptime_ns(),
        alloc_calls: allocs,
        free_calls: allocs.saturating_sub(live),
        agent_bytes: mem::MAPPED_BYTES.load(Ordering::Relaxed) as u64,
    }));
}

/// Runs the scan over every live block; returns the loss records and the site ids they use.
/// An on-demand check of the live process: the same scan, with the program's threads stopped only for it.
pub fn live_check() {
    if state::STATE.load(Ordering::Acquire) != state::ACTIVE {
        return;
    }
    let w = stop_world();
    let mut c = classify(None, None, &w, Trigger::Check);
    let resumed = world::release();
    c.leaks.stats.pause_ns = resumed.saturating_sub(w.pause_start_ns);
    state::emit_modules();
    writer::define_sites(c.sites.into_iter());
    writer::emit(&Record::Leaks(c.leaks));
    if let Some(e) = c.estimates {
        writer::emit(&Record::Estimates(e));
    }
    crate::timeline::write_snapshot();
    crate::ages::emit(leakscope_trace::AgesTrigger::Check, &c.blocks);
}

/// What a scan found: the loss records, the sites they name, sampled estimates, and the blocks scanned.
struct Classified {
    leaks: Leaks,
    sites: Vec<u32>,
    estimates: Option<Estimates>,
    blocks: Vec<Block>,
}

/// Classifies every live block. `floor_sp`: where the calling thread's live stack begins (None: the caller
/// is the agent's own thread, whose stack is agent memory).
fn classify(
    floor_sp: Option<usize>,
    regs: Option<&[usize]>,
    w: &world::World,
    trigger: Trigger,
) -> Classified {
    let live: u64 = stacks::all().iter().map(|s| s.sample().live_blocks).sum();
    let mut blocks = Vec::with_capacity(live as usize + 64); // grows (by mremap) if sites miss some
    live::collect(&mut blocks);
    blocks.sort_unstable_by_key(|b| b.addr());
    let maps = maps::read();
    let light = crate::light::on();
    if light {
        add_unsampled(&mut blocks, &maps, w);
    }
    let mut scan = Scan::new(&blocks, &maps);
    if light {
        scan.set_usable_site(state::unsampled_site());
    }
    // Interrupted threads may keep values in the 128-byte red zone below their stack pointer, which is valid
    // memory on x86-64 (Memcheck scans it too); the kernel put their signal frames below it.
    let stacks_sp: Vec<usize> = floor_sp
        .into_iter()
        .chain(w.stopped.iter().map(|t| t.sp.saturating_sub(RED_ZONE)))
        .collect();
    let roots = root_ranges(&maps, &blocks, &stacks_sp);
    let mut buf = alloc::vec![0usize; 8192];
    for &(lo, hi) in &roots {
        scan_region(&mut scan, lo, hi, &mut buf);
    }
    let root_bytes = scan.scanned_bytes;
    if let Some(r) = regs {
        scan.scan_registers(r);
    }
    for t in &w.stopped {
        scan.scan_registers(&t.regs);
    }
    scan.finish();
    let (records, estimates) = tally(&blocks, &scan, trigger);
    let pause_ns = world::monotonic_ns().saturating_sub(w.pause_start_ns);
    let stats = ScanStats {
        root_bytes,
        heap_bytes: scan.scanned_bytes - root_bytes,
        pause_ns,
        threads: w.stopped.len() as u32 + 1,
    };
    let sites = records.iter().map(|r| r.stack).collect();
    let leaks = Leaks {
        trigger,
        time_ns: crate::uptime_ns(),
        records,
        stats,
    };
    drop(scan);
    Classified {
        leaks,
        sites,
        estimates,
        blocks,
    }
}

/// The loss records of the classified blocks, by (kind, site) in that order, and with sampling the estimated
/// bytes and blocks of each (for a scan of `trigger`). Blocks of one site mostly lie together, so consecutive
/// blocks usually share their record: it is found without a map lookup (a lookup per block was a visible part
/// of the pause on a heap of millions of blocks).
fn tally(blocks: &[Block], scan: &Scan, trigger: Trigger) -> (Vec<LossRecord>, Option<Estimates>) {
    let sampling = crate::config::sample_rate() != 0;
    let mut index: BTreeMap<(LeakKind, u32), usize> = BTreeMap::new();
    let mut tallies: Vec<(LossRecord, (u64, u64))> = Vec::new();
    let mut last = None;
    for (i, b) in blocks.iter().enumerate() {
        let kind = match scan.state(i) {
            REACHABLE => LeakKind::Reachable,
            POSSIBLE => LeakKind::Possible,
            INDIRECT => LeakKind::Indirect,
            _ => LeakKind::Definite,
        };
        let key = (kind, b.site());
        let t = match last {
            Some((k, t)) if k == key => t,
            _ => {
                let t = *index.entry(key).or_insert_with(|| {
                    let record = LossRecord {
                        kind,
                        stack: b.site(),
                        bytes: 0,
                        blocks: 0,
                        indirect_bytes: 0,
                    };
                    tallies.push((record, (0, 0)));
                    tallies.len() - 1
                });
                last = Some((key, t));
                t
            }
        };
        let (r, e) = &mut tallies[t];
        r.bytes += b.size() as u64;
        r.blocks += 1;
        if kind == LeakKind::Definite {
            r.indirect_bytes += scan.indirect(i);
        }
        if sampling {
            let w = if state::is_unsampled(b.site()) {
                (b.size() as u64, 1)
            } else {
                state::weight(b.size())
            };
            *e = (e.0 + w.0, e.1 + w.1);
        }
    }
    let ordered: Vec<(LossRecord, (u64, u64))> = index.into_values().map(|t| tallies[t]).collect();
    let estimates = sampling.then(|| Estimates {
        trigger,
        records: ordered
            .iter()
            .map(|&(r, (bytes, n))| (r.kind, r.stack, bytes, n))
            .collect(),
    });
    (ordered.into_iter().map(|(r, _)| r).collect(), estimates)
}

/// Light sampled mode: adds the blocks the agent did not track, found in glibc's heap, to `blocks`.
fn add_unsampled(blocks: &mut Vec<Block>, maps: &[Mapping], w: &world::World) {
    use crate::glibc_heap::{tcache_of, walk};
    let threads = w.stopped.iter().map(|t| t.tp);
    let own = [
        crate::thread::pointer(),
        world::agent_thread_pointer(),
        crate::glibc_heap::main_thread_pointer(),
    ];
    let mut tcaches: Vec<usize> = threads
        .chain(own)
        .filter(|&tp| tp != 0)
        .filter_map(tcache_of)
        .collect();
    tcaches.sort_unstable();
    tcaches.dedup();
    // The agent's threads were created inside the agent: their thread vectors are the agent's.
    let dtvs: Vec<usize> = world::agent_dtvs().collect();
    let mut found = Vec::new();
    let site = state::unsampled_site();
    let walked = walk(maps, blocks, &tcaches, &dtvs, site, &mut found);
    if let Err(why) = walked {
        warn(&format!("glibc's heap could not be walked to its end ({why}); blocks past that point are not in this report"));
    }
    blocks.extend(found);
    blocks.sort_unstable_by_key(|b| b.addr());
}

fn is_special(m: &Mapping) -> bool {
    let p = m.path.as_str();
    matches!(
        p,
        "[vvar]" | "[vdso]" | "[vsyscall]" | "[vvar_vclock]" | "[heap]"
    ) || (p.starts_with("/dev/") && p != "/dev/zero" && !p.starts_with("/dev/shm/"))
}

/// The parts of an anonymous mapping that belong to malloc, which are never roots. None: all of it (an
/// arena heap, or memory that holds chunks malloc carved out of it). The kernel merges adjacent anonymous
/// mappings, so the one glibc made for a large block (its own mmap) may be one mapping with memory the
/// program mapped itself: only the large blocks' own mappings are left out then.
fn malloc_parts(m: &Mapping, maps: &[Mapping], blocks: &[Block]) -> Option<Vec<(usize, usize)>> {
    if m.is_file() {
        return Some(Vec::new());
    }
    if is_arena_heap(m, maps) {
        return None;
    }
    let i = blocks.partition_point(|b| b.addr() < m.start);
    let inside = blocks[i..].iter().take_while(|b| b.addr() < m.end);
    inside
        .map(|b| mmapped_chunk(b).filter(|&(lo, hi)| lo >= m.start && hi <= m.end))
        .collect()
}

/// The mapping glibc made for a large block on its own (an mmapped chunk): from the chunk's header, its
/// size word with IS_MMAPPED set and its prev_size word holding the distance from the mapping's start
/// (non-zero for aligned blocks). None when the block's chunk is not one, or does not look like glibc's.
fn mmapped_chunk(b: &Block) -> Option<(usize, usize)> {
    const IS_MMAPPED: usize = 2;
    const PAGE: usize = 4096;
    let raw = live::get(b.addr())?.raw;
    let chunk = raw.checked_sub(16)?;
    // SAFETY: the world is stopped and the block is live, so the allocation and the two words glibc keeps
    // in front of it are mapped.
    let (prev_size, size) = unsafe { (*(chunk as *const usize), *((chunk + 8) as *const usize)) };
    let (lo, hi) = (chunk.checked_sub(prev_size)?, chunk.checked_add(size & !7)?);
    let plausible =
        size & IS_MMAPPED != 0 && lo % PAGE == 0 && hi % PAGE == 0 && hi >= b.addr() + b.size();
    plausible.then_some((lo, hi))
}

/// glibc reserves each heap of a thread arena as 64 MiB, 64 MiB-aligned, and makes the part in use
/// read-write: the mapping starts at a 64 MiB boundary and either fills the 64 MiB or is followed by the
/// reserved rest (no access). A thread stack that happens to start at such a boundary is not followed by
/// that (its guard page lies below it), so it is still scanned.
fn is_arena_heap(m: &Mapping, maps: &[Mapping]) -> bool {
    const HEAP_MAX: usize = 64 << 20;
    if m.start % HEAP_MAX != 0 || !m.path.is_empty() {
        return false;
    }
    if m.end - m.start == HEAP_MAX {
        return true;
    }
    let next = maps.iter().find(|n| n.start == m.end);
    next.is_some_and(|n| {
        !n.read && !n.write && !n.exec && n.path.is_empty() && n.end == m.start + HEAP_MAX
    })
}

/// The root set: writable mappings that are not malloc's, not the agent's, and, for thread stacks, only the
/// part above the thread's stack pointer.
fn root_ranges(maps: &[Mapping], blocks: &[Block], sps: &[usize]) -> Vec<(usize, usize)> {
    let mut exclude = Vec::new();
    mem::REGIONS.snapshot(&mut exclude);
    let (alo, ahi) = state::agent_range();
    exclude.push((alo, ahi));
    if crate::light::on() {
        exclude.push(crate::glibc_heap::main_arena_range());
    }
    exclude.sort_unstable();
    // A stack pointer in agent memory (the timeline thread's) says nothing about the program's mapping
    // the kernel may have merged with that stack: the whole mapping is scanned, minus the agent's part.
    let in_agent = |sp: usize| exclude.iter().any(|&(a, b)| sp >= a && sp < b);
    let mut roots = Vec::new();
    for m in maps.iter().filter(|m| m.read && m.write && !is_special(m)) {
        let sp = sps
            .iter()
            .copied()
            .filter(|&sp| sp >= m.start && sp < m.end && !in_agent(sp))
            .min();
        let (lo, malloc) = match sp {
            Some(sp) => (sp & !(core::mem::size_of::<usize>() - 1), Vec::new()),
            None => match malloc_parts(m, maps, blocks) {
                Some(parts) => (m.start, parts),
                None => continue,
            },
        };
        let with_malloc;
        let skip: &[(usize, usize)] = if malloc.is_empty() {
            &exclude
        } else {
            with_malloc = sorted_union(&exclude, malloc);
            &with_malloc
        };
        subtract(lo, m.end, skip, &mut roots);
    }
    roots
}

/// The ranges of `a` and `b`, sorted by start.
fn sorted_union(a: &[(usize, usize)], b: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    let mut all = b;
    all.extend_from_slice(a);
    all.sort_unstable();
    all
}

/// Appends [lo, hi) minus the sorted `exclude` ranges.
fn subtract(mut lo: usize, hi: usize, exclude: &[(usize, usize)], out: &mut Vec<(usize, usize)>) {
    for &(a, b) in exclude {
        if b <= lo || a >= hi {
            continue;
        }
        if a > lo {
            out.push((lo, a));
        }
        lo = lo.max(b);
    }
    if lo < hi {
        out.push((lo, hi));
    }
}

/// Scans the aligned words of [lo, hi) through a copy made with process_vm_readv, so that a page that
/// cannot be read (a file mapping past its end, a racing munmap) is skipped instead of crashing the
/// program. A range may start unaligned (the agent's data ends mid-word, and the kernel merges the
/// program's next mapping with it): the copy then starts at the next word, or every word would be read
/// off by the same few bytes.
fn scan_region(scan: &mut Scan, lo: usize, hi: usize, buf: &mut [usize]) {
    const WORD: usize = core::mem::size_of::<usize>();
    let step = core::mem::size_of_val(buf);
    let hi = hi & !(WORD - 1);
    let mut at = lo.next_multiple_of(WORD);
    while at < hi {
        let len = step.min(hi - at);
        match maps::copy_out(at, len, buf) {
            // A short copy stopped at a page that cannot be read: the next round skips that page.
            Some(n) if n >= WORD => {
                scan.scan_root_words(&buf[..n / WORD]);
                at += n & !(WORD - 1);
            }
            // Unreadable: skip one page.
            _ => at = (at + 4096) & !4095,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtract_ranges() {
        let mut out = Vec::new();
        subtract(0, 100, &[(10, 20), (30, 40), (90, 200)], &mut out);
        assert_eq!(out, [(0, 10), (20, 30), (40, 90)]);
        out.clear();
        subtract(50, 60, &[(0, 55)], &mut out);
        assert_eq!(out, [(55, 60)]);
    }
}
