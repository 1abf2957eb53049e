//! Sampled mode's fast path: an allocation whose stack is not sampled goes straight to glibc, untracked.
//!
//! Tracking every block (a header and a map store per malloc and free) costs far more than the 3% a
//! production sampler may add. Here only sampled blocks are tracked; the rest are found at scan time by
//! walking glibc's own heap ([`crate::glibc_heap`]), so the reachability of every block still holds.
//! What a call costs outside a sample: the byte countdown (kept in a pthread key slot of this thread, read
//! at a fixed offset from the thread pointer: no TLS segment in the agent, no call), two comparisons, and
//! a jump to glibc through its GOT entry: eight instructions in `malloc`'s entry stub (assembly, as are
//! `calloc`'s and `realloc`'s). `free`'s seven recognise a tracked block by the top byte of its header word
//! just in front of it, where glibc keeps a chunk's size (whose top bits are always clear).
//!
//! Used when sampling is on without `LEAKSCOPE_PRECISE`, the program uses glibc's allocator, and the
//! layout of glibc's heap could be confirmed at start-up (otherwise sampled mode tracks every block).

use core::sync::atomic::{AtomicBool, AtomicIsize, AtomicU8, AtomicUsize, Ordering};

/// Non-zero when the fast path is on (a byte, for the entry stubs' `cmp`).
pub static LIGHT: AtomicU8 = AtomicU8::new(0);
/// Offset of this thread's countdown slot from the thread pointer.
pub static SLOT_OFFSET: AtomicIsize = AtomicIsize::new(0);
/// Blocks of at least this many bytes are always tracked (weight 1): glibc mmaps large blocks outside its
/// arenas, and the heap walk must know every such mapping. Lowered if the program lowers glibc's threshold.
pub static ALWAYS: AtomicUsize = AtomicUsize::new(64 << 10);
/// Requests below this size may take the entry stubs' fast path: [`ALWAYS`] while light mode is on, 0
/// otherwise (every request is then at least as large, so the stubs need no other test of the mode).
pub static FAST_BELOW: AtomicUsize = AtomicUsize::new(0);
/// Some thread took the slow path at least once (every thread's first call does).
static SEEN: AtomicBool = AtomicBool::new(false);

/// Whether the fast path is on.
#[inline]
pub fn on() -> bool {
    LIGHT.load(Ordering::Relaxed) != 0
}

/// Whether any allocation reached the agent in light mode.
pub fn saw_calls() -> bool {
    SEEN.load(Ordering::Relaxed)
}

#[inline]
fn slot() -> *mut usize {
    (crate::thread::pointer() as isize + SLOT_OFFSET.load(Ordering::Relaxed)) as *mut usize
}

/// Counts `size` bytes down this thread's countdown; true if this allocation is to be sampled (tracked
/// with its stack). The entry stubs of `malloc` and `free` inline the common case in assembly.
#[inline]
pub fn due(size: usize) -> bool {
    let s = slot();
    // SAFETY: the slot is this thread's own pthread key data word, which only this thread touches.
    let left = unsafe { *s };
    if left > size && !crate::sampling::always(size) {
        unsafe { *s = left - size };
        return false;
    }
    due_slow(s, left, size)
}

#[cold]
fn due_slow(s: *mut usize, left: usize, size: usize) -> bool {
    SEEN.store(true, Ordering::Relaxed);
    if crate::sampling::always(size) {
        if left == 0 {
            // SAFETY: as in `due`.
            unsafe { *s = gap() };
        }
        return true;
    }
    let left = if left == 0 { gap() } else { left }; // this thread's first call
    let sampled = left <= size;
    // SAFETY: as in `due`.
    unsafe { *s = if sampled { gap() } else { left - size } };
    sampled
}

/// A fresh exponential gap (at least 1 byte). From the process's generator: a thread that is never
/// sampled never builds a state of its own.
fn gap() -> usize {
    crate::sampling::shared_gap(crate::config::sample_rate()).max(1) as usize
}

/// Bits of a tracked block's header word that mark it (glibc's size word never has them set).
pub const MARK_SHIFT: u32 = 50;
pub const MARK: u64 = 0x2a5b;
/// The top byte of a tracked block's header word: the mark's high bits. The byte just in front of a block
/// of glibc's is the top byte of its chunk's size word, always 0, so this one byte tells the two apart as
/// surely as the whole mark; the stubs test it with one `cmp` on memory.
pub const MARK_BYTE: u8 = (MARK << MARK_SHIFT >> 56) as u8;

/// Is `p` a block the agent tracks? Only valid in light mode, for a block of the program's allocator.
///
/// # Safety
/// `p` must be non-null and a block glibc (or the agent) handed out.
#[inline]
pub unsafe fn is_tracked(p: *const core::ffi::c_void) -> bool {
    *(p as *const u8).sub(1) == MARK_BYTE
}

extern "C" {
    fn __libc_mallopt(param: i32, value: i32) -> i32;
}
const M_MMAP_THRESHOLD: i32 = -3;

/// Turns the fast path on if this program allows it (see the module doc). Called once at start-up, in the
/// first thread that reached the agent, before any block is tracked. False if sampled mode wanted it but
/// glibc's heap did not look as expected (every block is then tracked).
pub fn enable() -> bool {
    if crate::config::sample_rate() == 0 || crate::config::precise() || crate::real::custom() {
        return true;
    }
    if crate::config::env_u64(c"LEAKSCOPE_HEAP_WALK") == Some(0) {
        return true;
    }
    if !(find_slot_offset() && crate::glibc_heap::calibrate()) {
        return false;
    }
    if let Some(t) = crate::config::env_u64(c"MALLOC_MMAP_THRESHOLD_").or_else(tunable_threshold) {
        lower_always(t as usize);
    }
    LIGHT.store(1, Ordering::Release);
    FAST_BELOW.store(ALWAYS.load(Ordering::Relaxed), Ordering::Release);
    true
}

/// `glibc.malloc.mmap_threshold` of `GLIBC_TUNABLES` (`name=value` pairs separated by colons).
fn tunable_threshold() -> Option<u64> {
    let value = crate::config::env_str(c"GLIBC_TUNABLES")?
        .split(':')
        .find_map(|kv| kv.strip_prefix("glibc.malloc.mmap_threshold="))?;
    value.trim().parse().ok()
}

fn lower_always(threshold: usize) {
    ALWAYS.fetch_min(threshold.max(1), Ordering::Relaxed);
    FAST_BELOW.fetch_min(threshold.max(1), Ordering::Relaxed); // stays 0 outside light mode
}

/// Finds where this thread's data word for a fresh pthread key (the countdown) lives, relative to the thread
/// pointer.
fn find_slot_offset() -> bool {
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: valid out pointer; no destructor (the word is a byte count).
    if unsafe { libc::pthread_key_create(&mut key, None) } != 0 {
        return false;
    }
    // 0 (left by the probe) makes the first call of this thread draw its countdown.
    match crate::thread::key_slot_offset(key) {
        Some(off) => {
            SLOT_OFFSET.store(off, Ordering::Relaxed);
            true
        }
        None => false,
    }
}

/// The program's `mallopt`: in light mode, a lower mmap threshold lowers the size from which blocks are
/// always tracked.
#[no_mangle]
pub unsafe extern "C" fn mallopt(param: i32, value: i32) -> i32 {
    if on() && param == M_MMAP_THRESHOLD && value >= 0 {
        lower_always(value as usize);
    }
    __libc_mallopt(param, value)
}
