//! Walking glibc's heap: every chunk the program holds, for the leak scan of light sampled mode
//! ([`crate::light`]), where most blocks were never seen by the agent.
//!
//! glibc (2.34 and later, x86-64) keeps its arenas in a ring: the main arena in libc's data, whose chunks
//! fill the `[heap]` mapping up to its top chunk, and thread arenas, each a chain of 64 MiB-aligned heaps
//! that start with a `heap_info` (the first also holds the arena's `malloc_state`). A chunk is in use when
//! the next chunk's PREV_INUSE bit is set — except chunks parked in a thread's tcache (on its lists, with
//! the process's random tcache key in their second word) and chunks on an arena's fast bins.
//! Each thread's own `tcache_perthread_struct` is a chunk too; it is read from the thread's `tcache`
//! variable and left out. Large blocks glibc mmaps on their own are always tracked by the agent.
//!
//! Nothing here trusts the layout blindly: [`calibrate`] confirms it at start-up by freeing blocks and
//! finding them where glibc must have put them, and the walk checks every size it follows.

use crate::live::Block;
use crate::maps::{copy_out, Mapping, Unreadable};
use alloc::vec::Vec;
use core::ffi::c_void;
use core::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

extern "C" {
    fn __libc_malloc(size: usize) -> *mut c_void;
    fn __libc_free(p: *mut c_void);
}

/// Offsets in glibc's `struct malloc_state` (2.27 and later, 64-bit).
const FASTBINS_Y: usize = 16;
const TOP: usize = 96;
const NEXT: usize = 2160;
const ARENA_SIZE: usize = 2200;
/// Bounds of `sizeof(heap_info)` (32 bytes before glibc 2.35, 48 since): the thread arena's `malloc_state`
/// follows it in the arena's first heap, so the arena's address gives it.
const HEAP_INFO_MIN: usize = 32;
const HEAP_INFO_MAX: usize = 64;
const HEAP_MAX: usize = 64 << 20;
const PREV_INUSE: usize = 1;
const SIZE_BITS: usize = 7;
const TCACHE_STRUCT_CHUNK: usize = 0x290;
const TCACHE_ENTRIES: usize = 128;

static MAIN_ARENA: AtomicUsize = AtomicUsize::new(0);
/// Offset of glibc's `tcache` thread variable from the thread pointer.
static TCACHE_VAR: AtomicIsize = AtomicIsize::new(0);
static MAIN_TP: AtomicUsize = AtomicUsize::new(0);

fn peek(addr: usize) -> Option<usize> {
    let mut w = [0usize; 1];
    (copy_out(addr, 8, &mut w)? == 8).then_some(w[0])
}

fn chunk_size(user: usize) -> Option<usize> {
    peek(user - 8).map(|s| s & !SIZE_BITS)
}

/// Confirms the heap layout this module assumes and records the main arena, the tcache key and where the
/// `tcache` variable lives. Called in the agent's first thread with nothing of the program's tracked yet.
pub fn calibrate() -> bool {
    // SAFETY: glibc's allocator, called directly; every block is freed again.
    unsafe { tcache_layout() && main_arena() }
}

/// Frees a 1000-byte block into this thread's tcache: its second word is then the tcache key, and the
/// tcache's entry for that size (one of the thread's static-TLS words points at the tcache) holds it.
unsafe fn tcache_layout() -> bool {
    let a = __libc_malloc(1000) as usize;
    if a == 0 {
        return false;
    }
    let Some(size) = chunk_size(a) else {
        return false;
    };
    __libc_free(a as *mut c_void);
    let key = peek(a + 8).unwrap_or(0);
    let idx = (size - 32) / 16;
    let tp = crate::thread::pointer();
    let is_tcache = |t: usize| {
        t % 16 == 0
            && t > 4096
            && chunk_size(t) == Some(TCACHE_STRUCT_CHUNK)
            && peek(t + TCACHE_ENTRIES + 8 * idx) == Some(a)
    };
    let found = tls_words(tp).find(|&(_, t)| is_tcache(t));
    let b = __libc_malloc(1000) as usize; // takes `a` back out of the tcache (clears its key)
    __libc_free(b as *mut c_void);
    let Some((at, _)) = found else {
        return false;
    };
    if key == 0 || key == a || b != a {
        return false;
    }
    TCACHE_VAR.store(at as isize - tp as isize, Ordering::Relaxed);
    if libc::getpid() as libc::c_long == libc::syscall(libc::SYS_gettid) {
        MAIN_TP.store(tp, Ordering::Relaxed);
    }
    true
}

/// The main thread's pointer, if it is the thread that calibrated: its static TLS outlives it, so its
/// tcache is still known after it called `pthread_exit`.
pub fn main_thread_pointer() -> usize {
    MAIN_TP.load(Ordering::Relaxed)
}

/// The words of the static TLS area below the thread pointer (up to 64 KiB, page by page while readable),
/// with their addresses, nearest first.
fn tls_words(tp: usize) -> impl Iterator<Item = (usize, usize)> {
    const PAGE: usize = 4096;
    let top = tp & !7;
    (0..16usize)
        .map_while(move |k| {
            let hi = if k == 0 {
                top
            } else {
                ((top - 1) & !(PAGE - 1)) - (k - 1) * PAGE
            };
            let lo = (hi - 1) & !(PAGE - 1);
            let mut buf = [0usize; PAGE / 8];
            (copy_out(lo, hi - lo, &mut buf)? == hi - lo).then_some((lo, (hi - lo) / 8, buf))
        })
        .flat_map(|(lo, n, buf)| (0..n).rev().map(move |i| (lo + i * 8, buf[i])))
}

/// Frees a block too large for the tcache next to blocks in use: glibc puts it at the head of its arena's
/// unsorted bin, whose address (bin 1, inside the arena) is then the block's back link.
unsafe fn main_arena() -> bool {
    let mut held = [0usize; 8];
    let mut arena = 0;
    for slot in held.iter_mut().step_by(2) {
        let big = __libc_malloc(1200) as usize;
        let guard = __libc_malloc(24) as usize;
        if big == 0 || guard == 0 {
            break;
        }
        let prev_in_use = peek(big - 8).is_some_and(|s| s & PREV_INUSE != 0);
        if prev_in_use {
            __libc_free(big as *mut c_void);
            arena = peek(big + 8).unwrap_or(0).wrapping_sub(TOP);
            __libc_free(guard as *mut c_void);
            break;
        }
        *slot = big; // keep it (its neighbour below is free) and try again further up
        *(slot as *mut usize).add(1) = guard;
    }
    for &p in &held {
        if p != 0 {
            __libc_free(p as *mut c_void);
        }
    }
    // The main arena is the one whose top chunk ends at the program break.
    let brk = libc::sbrk(0) as usize;
    let ends_at_brk = |m: usize| {
        let top = peek(m + TOP).unwrap_or(0);
        top != 0 && peek(top + 8).is_some_and(|s| top + (s & !SIZE_BITS) == brk)
    };
    match ring(arena).into_iter().find(|&m| ends_at_brk(m)) {
        Some(m) => {
            MAIN_ARENA.store(m, Ordering::Relaxed);
            true
        }
        None => false,
    }
}

/// The main arena's `malloc_state` (in libc's data): its bins and top pointer point at chunk headers, each
/// the last word of the block before, so the leak scan must not take it as a root.
pub fn main_arena_range() -> (usize, usize) {
    let m = MAIN_ARENA.load(Ordering::Relaxed);
    (m, m + ARENA_SIZE)
}

/// The arenas on glibc's ring, starting at `arena` (empty if it is not one).
fn ring(arena: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut a = arena;
    while a != 0 && out.len() < 4096 {
        out.push(a);
        a = peek(a + NEXT).unwrap_or(0);
        if a == arena {
            return out;
        }
    }
    Vec::new()
}

/// Is an arena's lock held (a stopped thread is inside malloc: its chunks may be half-updated)?
pub fn busy() -> bool {
    ring(MAIN_ARENA.load(Ordering::Relaxed))
        .iter()
        .any(|&a| peek(a).is_some_and(|w| w as u32 != 0))
}

/// The `tcache_perthread_struct` of the thread whose pointer is `tp`, if it has one.
pub fn tcache_of(tp: usize) -> Option<usize> {
    let t = peek((tp as isize + TCACHE_VAR.load(Ordering::Relaxed)) as usize)?;
    (t != 0).then_some(t)
}

/// The allocation holding the dynamic thread vector of the thread whose pointer is `tp` (0: none): the TCB's
/// second word points 16 bytes into it.
pub fn dtv_of(tp: usize) -> Option<usize> {
    let dtv = peek(tp.checked_add(8)?)?;
    dtv.checked_sub(16).filter(|&a| a > 4096)
}

/// Appends every chunk in use that is not in `tracked` (the agent's blocks, sorted by address), on a free
/// list (the fast bins, or a tcache of `tcaches`), one of `tcaches` themselves or of `others` (glibc's
/// allocations for the agent), as a block of its usable size at `site`, sorted by address. Err: a heap
/// could not be walked to its end (its blocks up to the inconsistency are kept).
pub fn walk(
    maps: &[Mapping],
    tracked: &[Block],
    tcaches: &[usize],
    others: &[usize],
    site: u32,
    out: &mut Vec<Block>,
) -> Result<(), &'static str> {
    let main = MAIN_ARENA.load(Ordering::Relaxed);
    let mut found = Vec::new();
    let mut result = Ok(());
    let arenas = ring(main);
    let holes = Unreadable::new(maps);
    for &arena in &arenas {
        let r = if arena == main {
            walk_main(arena, maps, &mut found)
        } else {
            walk_thread_arena(arena, &holes, &mut found)
        };
        result = result.and(r);
    }
    found.sort_unstable();
    // Freed chunks glibc keeps marked in use. (A chunk keeps the tcache key in its second word after its
    // thread exited and malloc handed it out again from the bins: only the lists tell.)
    let mut free = parked(tcaches, &found);
    free.extend(fast_bins(&arenas, &found));
    free.sort_unstable();
    let mut t = 0;
    for (user, size) in found {
        // The agent's own blocks live inside chunks too: the one starting in this chunk, if any.
        t += tracked[t..].partition_point(|b| b.addr() < user);
        if tracked.get(t).is_some_and(|b| b.addr() < user + size) {
            continue;
        }
        if free.binary_search(&user).is_ok() || tcaches.contains(&user) || others.contains(&user) {
            continue;
        }
        out.push(Block::new(user, size, site, 0));
    }
    result
}

/// Every chunk on the lists of the given `tcache_perthread_struct`s. Links are mangled with their
/// own address (glibc's safe-linking: next = (address >> 12) ^ stored); each list is read for at most its
/// count of entries plus one: a thread stopped inside `tcache_put` may have linked a chunk in without
/// counting it yet (the list's last chunk would then look in use, and lost). Each struct is copied in one
/// system call, and a link inside a chunk the walk found (`found`, sorted) is read directly: a peek per
/// word took 130 calls per thread, most of a short program's exit.
fn parked(tcaches: &[usize], found: &[(usize, usize)]) -> Vec<usize> {
    const BINS: usize = 64;
    const WORDS: usize = (TCACHE_ENTRIES + 8 * BINS) / 8;
    let mut out = Vec::new();
    for &t in tcaches {
        let mut s = [0usize; WORDS];
        if copy_out(t, WORDS * 8, &mut s) != Some(WORDS * 8) {
            continue;
        }
        for bin in 0..BINS {
            let count = (s[bin / 4] >> (16 * (bin % 4))) & 0xffff;
            let mut e = s[TCACHE_ENTRIES / 8 + bin];
            for _ in 0..=count {
                if e == 0 {
                    break;
                }
                out.push(e);
                let stored = if found.binary_search_by_key(&e, |&(u, _)| u).is_ok() {
                    // SAFETY: e is the first word of a chunk the walk found, inside a heap.
                    Some(unsafe { *(e as *const usize) })
                } else {
                    peek(e)
                };
                e = stored.map_or(0, |w| (e >> 12) ^ w);
            }
        }
    }
    out
}

/// The chunks on the fast bins of `arenas` (freed small chunks glibc keeps marked in use), as user
/// addresses. Each bin's head is in the arena's `malloc_state`; links are safe-linked like the
/// tcache's, from the chunk's fd word (16 bytes in). A list is followed only through chunks the walk found
/// in use (`found`, sorted), whose words can be read directly; it cannot be longer than that.
fn fast_bins(arenas: &[usize], found: &[(usize, usize)]) -> Vec<usize> {
    const FASTBINS: usize = 10;
    let mut out = Vec::new();
    for &a in arenas {
        let mut heads = [0usize; FASTBINS];
        if copy_out(a + FASTBINS_Y, 8 * FASTBINS, &mut heads) != Some(8 * FASTBINS) {
            continue;
        }
        for mut chunk in heads {
            for _ in 0..found.len() {
                let fd = chunk.wrapping_add(16);
                if chunk == 0 || found.binary_search_by_key(&fd, |&(u, _)| u).is_err() {
                    break;
                }
                out.push(fd);
                // SAFETY: fd is the first word of a chunk the walk found, inside a heap.
                chunk = (fd >> 12) ^ unsafe { *(fd as *const usize) };
            }
        }
    }
    out
}

/// The main arena: chunks from the start of `[heap]` up to the top chunk.
fn walk_main(
    arena: usize,
    maps: &[Mapping],
    out: &mut Vec<(usize, usize)>,
) -> Result<(), &'static str> {
    let top = peek(arena + TOP).unwrap_or(0);
    let Some(i) = maps
        .iter()
        .position(|m| m.start <= top && top + 16 <= m.end)
    else {
        return Err("the main arena's top chunk is outside every mapping");
    };
    // The heap may span several mappings (the program changed the protection of part of it): its start
    // is where the run of adjacent `[heap]` mappings below the top chunk's begins.
    let mut start = maps[i].start;
    for m in maps[..i].iter().rev() {
        if m.end != start || m.path != "[heap]" {
            break;
        }
        if !m.read {
            return Err("part of the main heap is not readable (the program protected it)");
        }
        start = m.start;
    }
    walk_chunks(start, top, maps[i].end, true, out)
}

/// A thread arena: each heap of its chain, newest (holding the top chunk) first.
fn walk_thread_arena(
    arena: usize,
    holes: &Unreadable,
    out: &mut Vec<(usize, usize)>,
) -> Result<(), &'static str> {
    let top = peek(arena + TOP).unwrap_or(0);
    let info = arena % HEAP_MAX;
    if !(HEAP_INFO_MIN..=HEAP_INFO_MAX).contains(&info) {
        return Err("a thread arena is not at the start of a heap");
    }
    let mut heap = top & !(HEAP_MAX - 1);
    for _ in 0..1024 {
        if heap == 0 {
            return Ok(());
        }
        let (Some(owner), Some(prev), Some(size)) = (peek(heap), peek(heap + 8), peek(heap + 16))
        else {
            return Err("a thread arena's heap is unreadable");
        };
        if owner != arena || size > HEAP_MAX || size < info + 16 {
            return Err("a thread arena's heap does not name its arena");
        }
        let first = if arena == heap + info {
            heap + info + ARENA_SIZE
        } else {
            heap + info
        };
        let start = (first + 15) & !15;
        let limit = heap + size;
        let newest = top >= heap && top < limit;
        if newest && top + 16 > limit {
            return Err("a thread arena's top chunk is outside its heap");
        }
        if holes.overlaps(start, limit) {
            return Err("part of a thread arena's heap is not readable (the program protected it)");
        }
        walk_chunks(start, if newest { top } else { limit }, limit, newest, out)?;
        heap = prev;
    }
    Err("a thread arena has too many heaps")
}

/// Chunks from `c` to `end` (the top chunk if `to_top`; else the heap's end, where a fencepost stops
/// the walk), in memory readable up to `limit`, appending each chunk in use as (user address, usable size).
fn walk_chunks(
    mut c: usize,
    end: usize,
    limit: usize,
    to_top: bool,
    out: &mut Vec<(usize, usize)>,
) -> Result<(), &'static str> {
    // SAFETY (reads): the world is stopped, and every header read lies below `limit`, inside the heap.
    let word = |a: usize| unsafe { *(a as *const usize) };
    while c < end {
        if c + 16 > limit {
            return Err("a chunk runs past its heap");
        }
        let size = word(c + 8) & !SIZE_BITS;
        if size == 16 && !to_top {
            return Ok(()); // the fencepost glibc leaves when an arena moves on to a new heap
        }
        if size < 32 || size % 16 != 0 || size > end - c {
            return Err("a chunk's size is inconsistent (a thread was inside malloc, or the heap is corrupt)");
        }
        let next = c + size;
        if next + 16 > limit {
            return if to_top {
                Err("a chunk runs past its heap")
            } else {
                Ok(())
            };
        }
        if word(next + 8) & PREV_INUSE != 0 {
            out.push((c + 16, size - 8));
        }
        c = next;
    }
    if c == end || !to_top {
        Ok(())
    } else {
        Err("the chunks do not end at the top chunk")
    }
}
