//! Delayed reuse of freed blocks, as Memcheck's queue of freed blocks (`--freelist-vol`).
//!
//! A freed block's memory is not handed out again until `LEAKSCOPE_QUARANTINE_BYTES` (default 64 KiB) of
//! later frees by the same thread. Until then malloc cannot return its address, so a pointer the program
//! kept to a freed block (a global left dangling) points at nothing live instead of at some new block, and
//! the scan does not take a lost block for reachable. Memcheck's verdicts depend on exactly this. Each
//! thread has its own queue, so frees never contend on a lock. When a thread exits its queue is kept, among
//! the orphans of exited threads (at least 1 MiB in all, oldest released first): releasing it at once let
//! the next thread's blocks take the addresses of blocks the exited one had just freed.
//!
//! Blocks that have served their time are *ripe*. Handing them back to glibc in the order they were freed
//! defeats its per-size caches (every malloc then takes glibc's slow path through its bins, which made the
//! quarantine cost a third of the agent's time), so small ripe glibc chunks are kept on per-size stacks
//! and the next malloc of that chunk size takes one directly ([`Ring::take`]); only the overflow goes back
//! to glibc. Only tracked blocks of up to [`MAX_BLOCK`] bytes are held (larger ones are unmapped by glibc
//! anyway).

use core::cell::Cell;
use core::ffi::c_void;

const MAX_BLOCK: usize = 1 << 20;
/// Ring capacity in blocks (16 bytes each, mapped on first use): one slot per 16 bytes of the quarantine,
/// within 1024..65536 (64 KiB of agent memory per thread by default).
#[inline]
fn cap() -> usize {
    (crate::config::quarantine_bytes() / 16)
        .next_power_of_two()
        .clamp(1 << 10, 1 << 16)
}
/// Most blocks released by one free (keeps each call's work bounded).
const MAX_EVICT: usize = 8;
/// Length of the array [`Ring::defer`] fills.
pub const OUT_LEN: usize = MAX_EVICT + 1;
/// Ripe chunks are recycled for glibc chunk sizes up to this many 16-byte units.
const CLASSES: usize = 65;
/// Ripe chunks kept per chunk size.
const STACK: usize = 128;

/// One thread's freed blocks (oldest first) and its ripe chunks by size.
pub struct Ring {
    /// (allocation, bytes held | chunk class << 48); mapped on first use.
    slots: Cell<*mut (usize, usize)>,
    head: Cell<usize>,
    len: Cell<usize>,
    bytes: Cell<usize>,
    /// Ripe chunks, per chunk class (chunk size / 16; 0 = not recyclable); mapped with `slots`.
    ripe: Cell<*mut Ripe>,
}

struct Ripe {
    len: [u8; CLASSES],
    chunks: [[usize; STACK]; CLASSES],
}

const CLASS_SHIFT: u32 = 48;

/// glibc's chunk size class of an allocation of `total` bytes (its `request2size` / 16), 0 if not
/// recycled.
#[inline]
pub fn class_for_request(total: usize) -> usize {
    let chunk = ((total + 8 + 15) & !15).max(32);
    match chunk / 16 {
        c if c < CLASSES && !crate::real::custom() => c,
        _ => 0,
    }
}

/// The chunk class of a glibc allocation being held (0: mmapped, too large, or another allocator's).
fn class_of_chunk(raw: usize) -> usize {
    if crate::real::custom() {
        return 0;
    }
    // SAFETY: raw is a live glibc allocation: the word before it is its chunk's size field.
    let size = unsafe { *(raw as *const usize).sub(1) };
    if size & 2 != 0 {
        return 0; // mmapped
    }
    match (size & !7) / 16 {
        c if c < CLASSES => c,
        _ => 0,
    }
}

/// Whether a freed block of `size` bytes is held back (else it is released at once).
pub fn holds(size: usize) -> bool {
    let limit = crate::config::quarantine_bytes();
    limit > 0 && size <= MAX_BLOCK && size <= limit
}

impl Ring {
    pub const fn new() -> Self {
        Ring {
            slots: Cell::new(core::ptr::null_mut()),
            head: Cell::new(0),
            len: Cell::new(0),
            bytes: Cell::new(0),
            ripe: Cell::new(core::ptr::null_mut()),
        }
    }

    /// Queues the freed allocation `raw`, which held a block of `size` bytes. The caller must `free` the
    /// allocations written to `out` (ripe ones that are not kept, or `raw` itself if it cannot be held)
    /// and returns how many.
    pub fn defer(&self, raw: *mut c_void, size: usize, out: &mut [*mut c_void; OUT_LEN]) -> usize {
        let limit = crate::config::quarantine_bytes();
        // A power of two: the ring wraps with a mask (a `%` by it was a division on every free).
        let cap = cap();
        let mask = cap - 1;
        if !holds(size) || !self.mapped() {
            out[0] = raw;
            return 1;
        }
        let slots = self.slots.get();
        let mut n = 0;
        let mut evicted = 0;
        while self.len.get() > 0
            && evicted < MAX_EVICT
            && (self.len.get() == cap || self.bytes.get() + size > limit)
        {
            let head = self.head.get();
            // SAFETY: head < cap() indexes the mapped ring.
            let (old, tagged) = unsafe { *slots.add(head) };
            self.head.set((head + 1) & mask);
            self.len.set(self.len.get() - 1);
            self.bytes
                .set(self.bytes.get() - (tagged & ((1 << CLASS_SHIFT) - 1)));
            evicted += 1;
            if !self.keep_ripe(old, tagged >> CLASS_SHIFT) {
                out[n] = old as *mut c_void;
                n += 1;
            }
        }
        if self.len.get() == cap {
            out[n] = raw;
            return n + 1;
        }
        let tail = (self.head.get() + self.len.get()) & mask;
        let class = class_of_chunk(raw as usize);
        // SAFETY: tail < cap() indexes the mapped ring.
        unsafe { *slots.add(tail) = (raw as usize, size | class << CLASS_SHIFT) };
        self.len.set(self.len.get() + 1);
        self.bytes.set(self.bytes.get() + size);
        n
    }

    /// Puts a ripe chunk on its size's stack; false if it must go back to glibc.
    fn keep_ripe(&self, raw: usize, class: usize) -> bool {
        let ripe = self.ripe.get();
        if class == 0 || ripe.is_null() {
            return false;
        }
        // SAFETY: ripe is mapped (with the ring) and only this thread touches it.
        let r = unsafe { &mut *ripe };
        let len = r.len[class] as usize;
        if len == STACK {
            return false;
        }
        r.chunks[class][len] = raw;
        r.len[class] += 1;
        true
    }

    /// A ripe chunk of glibc chunk class `class` (see [`class_for_request`]), if one is kept.
    #[inline]
    pub fn take(&self, class: usize) -> Option<usize> {
        let ripe = self.ripe.get();
        if class == 0 || ripe.is_null() {
            return None;
        }
        // SAFETY: as in keep_ripe.
        let r = unsafe { &mut *ripe };
        let len = r.len[class] as usize;
        if len == 0 {
            return None;
        }
        r.len[class] -= 1;
        Some(r.chunks[class][len - 1])
    }

    fn mapped(&self) -> bool {
        if self.slots.get().is_null() {
            let Some((p, r)) = spare().or_else(map_queue) else {
                return false;
            };
            self.ripe.set(r);
            self.slots.set(p);
        }
        true
    }

    /// The thread is exiting: its queue joins the orphans, and the oldest orphans beyond the limit are
    /// released.
    pub fn retire(&self) {
        if self.slots.get().is_null() {
            return;
        }
        let orphan = Orphan {
            slots: self.slots.replace(core::ptr::null_mut()),
            head: self.head.get(),
            len: self.len.replace(0),
            bytes: self.bytes.replace(0),
            ripe: self.ripe.replace(core::ptr::null_mut()),
        };
        let mut over = alloc::vec::Vec::new();
        {
            let mut list = ORPHANS.lock();
            list.push(orphan);
            let limit = crate::config::quarantine_bytes().max(ORPHANS_MIN);
            let mut total: usize = list.iter().map(|o| o.bytes).sum();
            while total > limit && !list.is_empty() {
                let o = list.remove(0);
                total -= o.bytes;
                over.push(o);
            }
        }
        over.into_iter().for_each(Orphan::release); // with the lock released: free may call the kernel
    }
}

/// Bytes the orphans may hold at least: they cost memory, not time (nothing cycles through them).
const ORPHANS_MIN: usize = 1 << 20;

/// A queue of an exited thread.
struct Orphan {
    slots: *mut (usize, usize),
    head: usize,
    len: usize,
    bytes: usize,
    ripe: *mut Ripe,
}

// SAFETY: an orphan's memory belongs to it alone once its thread has exited.
unsafe impl Send for Orphan {}

static ORPHANS: crate::sync::SpinLock<alloc::vec::Vec<Orphan>> =
    crate::sync::SpinLock::new(alloc::vec::Vec::new());

impl Orphan {
    /// Frees every held and ripe block and returns the queue's memory.
    fn release(self) {
        let free = |p: usize| {
            // SAFETY: a block the program freed and we held back: freeing it now is the free it asked for.
            unsafe { crate::real::free(p as *mut c_void) }
        };
        for i in 0..self.len {
            // SAFETY: the first `len` slots from `head` hold blocks.
            free(unsafe { *self.slots.add((self.head + i) % cap()) }.0);
        }
        // SAFETY: mapped with the ring.
        let r = unsafe { &*self.ripe };
        for (class, stack) in r.chunks.iter().enumerate() {
            stack[..r.len[class] as usize].iter().for_each(|&p| free(p));
        }
        if keep_spare(self.slots, self.ripe) {
            return;
        }
        crate::mem::unmap(self.slots.cast(), ring_bytes());
        crate::mem::unmap(self.ripe.cast(), core::mem::size_of::<Ripe>());
    }
}

/// The memory of released queues, kept for new threads: unmapping it made the kernel interrupt the other
/// CPUs to flush their TLBs, a tenth of the time of a program that keeps starting threads.
static SPARES: crate::sync::SpinLock<Spares> = crate::sync::SpinLock::new(Spares {
    queues: [(0, 0); MAX_SPARES],
    n: 0,
});
/// Queues kept at most (130 KiB each).
const MAX_SPARES: usize = 64;

/// (ring, ripe stacks) of released queues; a fixed array, so that nothing allocates under the lock.
struct Spares {
    queues: [(usize, usize); MAX_SPARES],
    n: usize,
}

fn ring_bytes() -> usize {
    cap() * core::mem::size_of::<(usize, usize)>()
}

/// Keeps a released queue's memory for a new thread; false if enough are kept already.
fn keep_spare(slots: *mut (usize, usize), ripe: *mut Ripe) -> bool {
    let mut spares = SPARES.lock();
    let n = spares.n;
    if n == MAX_SPARES {
        return false;
    }
    spares.queues[n] = (slots as usize, ripe as usize);
    spares.n += 1;
    true
}

/// A released queue's memory, its ripe stacks emptied.
fn spare() -> Option<(*mut (usize, usize), *mut Ripe)> {
    let (p, r) = {
        let mut spares = SPARES.lock();
        spares.n = spares.n.checked_sub(1)?;
        spares.queues[spares.n]
    };
    let r = r as *mut Ripe;
    // SAFETY: r is a Ripe no thread uses any more; emptying its stacks makes it a fresh one.
    unsafe { (*r).len = [0; CLASSES] };
    Some((p as *mut (usize, usize), r))
}

fn map_queue() -> Option<(*mut (usize, usize), *mut Ripe)> {
    let p = crate::mem::map(ring_bytes());
    let r = crate::mem::map(core::mem::size_of::<Ripe>());
    if p.is_null() || r.is_null() {
        return None; // (a lost mapping here is only agent memory)
    }
    Some((p.cast(), r.cast()))
}

/// Fork support: the child must not inherit the orphans' lock taken.
pub fn lock_for_fork() {
    ORPHANS.raw_lock();
    SPARES.raw_lock();
}

pub fn unlock_after_fork() {
    SPARES.force_unlock();
    ORPHANS.force_unlock();
}
