//! Delayed frees, as Memcheck's queue of freed blocks (`--freelist-vol`).
//!
//! A freed block goes back to malloc only after `LEAKSCOPE_QUARANTINE_BYTES` (default 4 MB) of later frees
//! by the same thread. Until then malloc cannot hand its address out again, so a pointer the program kept to
//! a freed block (a global left dangling) points at nothing live instead of at some new block, and the scan
//! does not take a lost block for reachable. Memcheck's verdicts depend on exactly this. Each thread has its
//! own ring, so frees never contend on a lock; a thread's ring is emptied when it exits. Only tracked blocks
//! of up to [`MAX_BLOCK`] bytes are held (larger ones are unmapped by glibc anyway).

use core::cell::Cell;
use core::ffi::c_void;

const MAX_BLOCK: usize = 1 << 20;
/// Ring capacity in blocks (16 bytes each: 1 MiB of agent memory per thread, mapped on first use).
const CAP: usize = 1 << 16;
/// Most blocks released by one free (keeps each call's work bounded).
const MAX_EVICT: usize = 8;
/// Length of the array [`Ring::defer`] fills.
pub const OUT_LEN: usize = MAX_EVICT + 1;

/// One thread's freed blocks, oldest first.
pub struct Ring {
    slots: Cell<*mut (usize, usize)>,
    head: Cell<usize>,
    len: Cell<usize>,
    bytes: Cell<usize>,
}

impl Ring {
    pub const fn new() -> Self {
        Ring {
            slots: Cell::new(core::ptr::null_mut()),
            head: Cell::new(0),
            len: Cell::new(0),
            bytes: Cell::new(0),
        }
    }

    /// Queues the freed block `p` of `size` bytes. The caller must `free` the blocks written to `out` (the
    /// oldest ones, now past the limit, or `p` itself if it cannot be held) and returns how many.
    pub fn defer(&self, p: *mut c_void, size: usize, out: &mut [*mut c_void; OUT_LEN]) -> usize {
        let limit = crate::config::quarantine_bytes();
        if size > MAX_BLOCK || size > limit || !self.mapped() {
            out[0] = p;
            return 1;
        }
        let slots = self.slots.get();
        let mut n = 0;
        while self.len.get() > 0
            && n < MAX_EVICT
            && (self.len.get() == CAP || self.bytes.get() + size > limit)
        {
            let head = self.head.get();
            // SAFETY: head < CAP indexes the mapped ring.
            let (old, old_size) = unsafe { *slots.add(head) };
            self.head.set((head + 1) % CAP);
            self.len.set(self.len.get() - 1);
            self.bytes.set(self.bytes.get() - old_size);
            out[n] = old as *mut c_void;
            n += 1;
        }
        if self.len.get() == CAP {
            out[n] = p;
            return n + 1;
        }
        let tail = (self.head.get() + self.len.get()) % CAP;
        // SAFETY: tail < CAP indexes the mapped ring.
        unsafe { *slots.add(tail) = (p as usize, size) };
        self.len.set(self.len.get() + 1);
        self.bytes.set(self.bytes.get() + size);
        n
    }

    fn mapped(&self) -> bool {
        if self.slots.get().is_null() {
            let p = crate::mem::map(CAP * core::mem::size_of::<(usize, usize)>());
            self.slots.set(p.cast());
        }
        !self.slots.get().is_null()
    }

    /// Frees every held block and returns the ring's memory (the thread is exiting).
    pub fn drain(&self) {
        let slots = self.slots.get();
        if slots.is_null() {
            return;
        }
        for i in 0..self.len.get() {
            // SAFETY: the first `len` slots from `head` hold blocks.
            let (p, _) = unsafe { *slots.add((self.head.get() + i) % CAP) };
            // SAFETY: a block the program freed and we held back: freeing it now is the free it asked for.
            unsafe { crate::real::free(p as *mut c_void) };
        }
        self.len.set(0);
        self.bytes.set(0);
        self.slots.set(core::ptr::null_mut());
        crate::mem::unmap(slots.cast(), CAP * core::mem::size_of::<(usize, usize)>());
    }
}
