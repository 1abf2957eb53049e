//! Delayed frees, as Memcheck's queue of freed blocks (`--freelist-vol`).
//!
//! A freed block goes back to malloc only after `LEAKSCOPE_QUARANTINE_BYTES` (default 4 MB) of later frees. Until then malloc cannot
//! hand its address out again, so a pointer the program kept to a freed block (a global left dangling)
//! points at nothing live instead of at some new block, and the scan does not take a lost block for
//! reachable. Memcheck's verdicts depend on exactly this. Only tracked blocks of up to [`MAX_BLOCK`] bytes
//! are held (larger ones are unmapped by glibc anyway).

use crate::sync::SpinLock;
use core::ffi::c_void;

const MAX_BLOCK: usize = 1 << 20;
/// Ring capacity in blocks (16 bytes each: 4 MiB of agent memory, mapped on first use).
const CAP: usize = 1 << 18;
/// Most blocks released by one free (keeps each call's work bounded).
const MAX_EVICT: usize = 8;

struct Ring {
    slots: *mut (usize, usize),
    head: usize,
    len: usize,
    bytes: usize,
}

// SAFETY: the ring's memory is only touched under its lock.
unsafe impl Send for Ring {}

static RING: SpinLock<Ring> = SpinLock::new(Ring {
    slots: core::ptr::null_mut(),
    head: 0,
    len: 0,
    bytes: 0,
});

/// Queues the freed block `p` of `size` bytes; the caller must `free` every block written to `out` (the
/// oldest ones, now past the limit) and returns how many. If the block cannot be queued, it is itself
/// the one to free.
pub fn defer(p: *mut c_void, size: usize, out: &mut [*mut c_void; MAX_EVICT + 1]) -> usize {
    let limit = crate::config::quarantine_bytes();
    if size > MAX_BLOCK || size > limit {
        out[0] = p;
        return 1;
    }
    let mut r = RING.lock();
    if r.slots.is_null() {
        r.slots = crate::mem::map(CAP * core::mem::size_of::<(usize, usize)>()).cast();
        if r.slots.is_null() {
            out[0] = p;
            return 1;
        }
    }
    let mut n = 0;
    while r.len > 0 && n < MAX_EVICT && (r.len == CAP || r.bytes + size > limit) {
        // SAFETY: head < CAP indexes the mapped ring.
        let (old, old_size) = unsafe { *r.slots.add(r.head) };
        r.head = (r.head + 1) % CAP;
        r.len -= 1;
        r.bytes -= old_size;
        out[n] = old as *mut c_void;
        n += 1;
    }
    if r.len == CAP {
        out[n] = p;
        return n + 1;
    }
    let tail = (r.head + r.len) % CAP;
    // SAFETY: tail < CAP indexes the mapped ring.
    unsafe { *r.slots.add(tail) = (p as usize, size) };
    r.len += 1;
    r.bytes += size;
    n
}

pub const OUT_LEN: usize = MAX_EVICT + 1;

/// Fork handlers: hold the lock across fork, release it in both processes.
pub fn lock_for_fork() {
    RING.raw_lock();
}

pub fn unlock_after_fork() {
    RING.force_unlock();
}
