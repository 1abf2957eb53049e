//! The agent's own memory: a size-class allocator on `mmap`, installed as the crate's `#[global_allocator]`.
//!
//! The agent must never allocate through the target's malloc (that would recurse into our hooks and, worse,
//! put our tables in the heap the leak scan walks). Every region mapped here is registered in [`REGIONS`] so
//! the scan can skip the agent's memory when it looks for roots.

use crate::sync::SpinLock;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::null_mut;
use core::sync::atomic::{AtomicUsize, Ordering};

const MIN_CLASS_SHIFT: usize = 4; // 16 bytes
const MAX_CLASS_SHIFT: usize = 16; // 64 KiB; larger requests get their own mapping
const N_CLASSES: usize = MAX_CLASS_SHIFT - MIN_CLASS_SHIFT + 1;
const REFILL_BYTES: usize = 1 << 20;
const PAGE: usize = 4096;

/// Total bytes the agent has mapped for itself (reported in the trace).
pub static MAPPED_BYTES: AtomicUsize = AtomicUsize::new(0);

struct FreeNode {
    next: *mut FreeNode,
}

struct Class {
    free: *mut FreeNode,
    bump: usize,
    end: usize,
}

// SAFETY: the raw pointers are only touched under the class's lock.
unsafe impl Send for Class {}

static CLASSES: [SpinLock<Class>; N_CLASSES] = [const {
    SpinLock::new(Class {
        free: null_mut(),
        bump: 0,
        end: 0,
    })
}; N_CLASSES];

/// Maps `len` bytes of private anonymous memory and registers them as agent memory.
pub fn map(len: usize) -> *mut u8 {
    let p = map_with(len, 0);
    if !p.is_null() {
        MAPPED_BYTES.fetch_add(len, Ordering::Relaxed);
    }
    p
}

/// [`map`] for a large, sparsely written area: no swap space is reserved for it, and only the pages
/// written ever take memory (so it is not counted in [`MAPPED_BYTES`]).
pub fn map_sparse(len: usize) -> *mut u8 {
    map_with(len, libc::MAP_NORESERVE)
}

fn map_with(len: usize, flags: libc::c_int) -> *mut u8 {
    // SAFETY: plain anonymous mapping; failure is reported as null.
    let p = unsafe {
        libc::mmap(
            null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | flags,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return null_mut();
    }
    REGIONS.add(p as usize, len);
    p.cast()
}

/// Returns a mapping made by [`map`].
pub fn unmap(p: *mut u8, len: usize) {
    MAPPED_BYTES.fetch_sub(len, Ordering::Relaxed);
    unmap_sparse(p, len);
}

/// Returns a mapping made by [`map_sparse`].
pub fn unmap_sparse(p: *mut u8, len: usize) {
    REGIONS.remove(p as usize);
    // SAFETY: p/len came from `map` or `map_sparse`.
    unsafe { libc::munmap(p.cast(), len) };
}

/// Gives back the memory of a large block that stays allocated and is never freed: from then on it reads
/// as zeros, taking no memory. Only a block with a mapping of its own (larger than the largest class) is
/// discarded; a small one shares its pages and is left as it is.
pub fn discard(p: *mut u8, layout: Layout) {
    if layout.align() > PAGE || class_of(&layout) < N_CLASSES {
        return;
    }
    let len = large_len(&layout);
    // SAFETY: p starts the block's own mapping of len bytes (map_large); its pages become zero pages.
    if unsafe { libc::madvise(p.cast(), len, libc::MADV_DONTNEED) } == 0 {
        MAPPED_BYTES.fetch_sub(len, Ordering::Relaxed);
    }
}

/// `n` all-zero `T`s, boxed: from fresh pages, mostly untouched until used (see `alloc_zeroed`).
///
/// # Safety
/// All-zero bytes must be a valid `T`, and `n` and `T`'s size non-zero (a global allocator is never asked
/// for zero bytes).
pub unsafe fn zeroed_slice<T>(n: usize) -> alloc::boxed::Box<[T]> {
    let Ok(layout) = Layout::array::<T>(n) else {
        alloc::alloc::handle_alloc_error(Layout::new::<T>())
    };
    let p = alloc::alloc::alloc_zeroed(layout).cast::<T>();
    if p.is_null() {
        alloc::alloc::handle_alloc_error(layout)
    }
    alloc::boxed::Box::from_raw(core::ptr::slice_from_raw_parts_mut(p, n))
}

fn class_of(layout: &Layout) -> usize {
    let need = layout.size().max(layout.align()).max(1 << MIN_CLASS_SHIFT);
    let shift = usize::BITS as usize - (need - 1).leading_zeros() as usize;
    shift - MIN_CLASS_SHIFT
}

/// A block of `class`, and whether it is fresh from a new mapping (all zero: never handed out before).
fn alloc_small(class: usize) -> (*mut u8, bool) {
    let size = 1usize << (class + MIN_CLASS_SHIFT);
    loop {
        {
            let mut c = CLASSES[class].lock();
            if !c.free.is_null() {
                let n = c.free;
                // SAFETY: nodes on the free list are blocks of this class we own.
                c.free = unsafe { (*n).next };
                return (n.cast(), false);
            }
            if c.bump + size <= c.end {
                let p = c.bump;
                c.bump += size;
                return (p as *mut u8, true);
            }
        }
        // Refill outside the lock: no lock is held across a syscall.
        let len = REFILL_BYTES.max(size * 16);
        let region = map(len);
        if region.is_null() {
            return (null_mut(), false);
        }
        let mut c = CLASSES[class].lock();
        c.bump = region as usize;
        c.end = region as usize + len;
    }
}

fn free_small(p: *mut u8, class: usize) {
    let mut c = CLASSES[class].lock();
    let n = p.cast::<FreeNode>();
    // SAFETY: p is a block of this class being returned to us.
    unsafe { (*n).next = c.free };
    c.free = n;
}

fn large_len(layout: &Layout) -> usize {
    (layout.size() + PAGE - 1) & !(PAGE - 1)
}

/// A large allocation of the agent's own; big ones ask for transparent huge pages: on a big heap the
/// scan's tables are hundreds of MB touched once, and 4 KiB page faults were a third of its pause.
fn map_large(len: usize) -> *mut u8 {
    let p = map(len);
    advise_huge(p, len);
    p
}

fn advise_huge(p: *mut u8, len: usize) {
    if !p.is_null() && len >= 4 << 20 {
        // SAFETY: advice on our own mapping; failure (no THP) is harmless.
        unsafe { libc::madvise(p.cast(), len, libc::MADV_HUGEPAGE) };
    }
}

/// GlobalAlloc's realloc: allocate, copy, free.
unsafe fn realloc_by_copy(a: &AgentAlloc, p: *mut u8, old: Layout, new: Layout) -> *mut u8 {
    let q = a.alloc(new);
    if !q.is_null() {
        core::ptr::copy_nonoverlapping(p, q, old.size().min(new.size()));
        a.dealloc(p, old);
    }
    q
}

/// The allocator behind every Rust allocation in the agent.
pub struct AgentAlloc;

unsafe impl GlobalAlloc for AgentAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > PAGE {
            return null_mut();
        }
        let class = class_of(&layout);
        if class < N_CLASSES {
            alloc_small(class).0
        } else {
            map_large(large_len(&layout))
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = Layout::from_size_align_unchecked(new_size, layout.align());
        if class_of(&layout) < N_CLASSES || class_of(&new) < N_CLASSES {
            return realloc_by_copy(self, p, layout, new);
        }
        // Large to large: let the kernel move the pages instead of copying them (the scan's block list
        // grows to hundreds of MB on big heaps).
        let (old_len, new_len) = (large_len(&layout), large_len(&new));
        let q = libc::mremap(p.cast(), old_len, new_len, libc::MREMAP_MAYMOVE);
        if q == libc::MAP_FAILED {
            return null_mut();
        }
        REGIONS.remove(p as usize);
        REGIONS.add(q as usize, new_len);
        MAPPED_BYTES.fetch_add(new_len, Ordering::Relaxed);
        MAPPED_BYTES.fetch_sub(old_len, Ordering::Relaxed);
        advise_huge(q.cast(), new_len);
        q.cast()
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        let class = class_of(&layout);
        if class < N_CLASSES {
            free_small(p, class)
        } else {
            unmap(p, large_len(&layout))
        }
    }

    /// Fresh mappings are zero already: only a block used before is cleared (writing zeros over untouched
    /// pages would only fault them in, a tenth of a short program's run under the agent).
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let class = class_of(&layout);
        if layout.align() > PAGE || class >= N_CLASSES {
            return self.alloc(layout);
        }
        let (p, fresh) = alloc_small(class);
        if !p.is_null() && !fresh {
            core::ptr::write_bytes(p, 0, layout.size());
        }
        p
    }
}

const MAX_REGIONS: usize = 8192;

/// Address ranges the agent mapped for itself; the leak scan never treats them as roots.
pub struct Regions {
    inner: SpinLock<RegionTable>,
}

struct RegionTable {
    n: usize,
    start: [usize; MAX_REGIONS],
    len: [usize; MAX_REGIONS],
}

pub static REGIONS: Regions = Regions {
    inner: SpinLock::new(RegionTable {
        n: 0,
        start: [0; MAX_REGIONS],
        len: [0; MAX_REGIONS],
    }),
};

impl Regions {
    fn add(&self, start: usize, len: usize) {
        let mut t = self.inner.lock();
        if t.n < MAX_REGIONS {
            let n = t.n;
            t.start[n] = start;
            t.len[n] = len;
            t.n += 1;
        }
    }

    fn remove(&self, start: usize) {
        let mut t = self.inner.lock();
        if let Some(i) = t.start[..t.n].iter().position(|&s| s == start) {
            let last = t.n - 1;
            t.start[i] = t.start[last];
            t.len[i] = t.len[last];
            t.n = last;
        }
    }

    /// Copies the registered ranges into `out` as (start, end) pairs. Never allocates under the lock
    /// (allocating may map a new region, which takes the same lock).
    pub fn snapshot(&self, out: &mut alloc::vec::Vec<(usize, usize)>) {
        loop {
            let n = self.inner.lock().n;
            out.reserve(n + 8);
            let t = self.inner.lock();
            if t.n <= out.capacity() - out.len() {
                out.extend((0..t.n).map(|i| (t.start[i], t.start[i] + t.len[i])));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_up() {
        assert_eq!(class_of(&Layout::from_size_align(1, 1).unwrap()), 0);
        assert_eq!(class_of(&Layout::from_size_align(16, 8).unwrap()), 0);
        assert_eq!(class_of(&Layout::from_size_align(17, 8).unwrap()), 1);
        assert_eq!(class_of(&Layout::from_size_align(8, 64).unwrap()), 2);
        assert_eq!(
            class_of(&Layout::from_size_align(65536, 8).unwrap()),
            N_CLASSES - 1
        );
        assert_eq!(
            class_of(&Layout::from_size_align(65537, 8).unwrap()),
            N_CLASSES
        );
    }
}
