//! The interposed allocation functions. Each forwards to glibc, then records what happened.
//!
//! Rules that keep the program's behaviour intact: the real call happens exactly as the program asked
//! (same arguments, same result, errno as glibc left it); bookkeeping never fails the call; a call made
//! while this thread is already inside the agent passes straight through.

use crate::real;
use crate::state::{active, record_alloc, record_free, Busy};
use core::ffi::{c_int, c_void};

/// Clears the bytes [from, size) of a block the program just received. Bytes the program never writes then
/// hold zero instead of whatever the memory held before (old pointers, malloc's free-list links), which a
/// scan that reads every word would take for pointers — Memcheck knows such bytes are undefined and skips
/// them. A correct program never reads them, so nothing it computes changes. Chunks glibc mmapped for this
/// request are fresh zero pages and are left alone (touching them would cost time and resident memory).
#[inline]
pub fn clear_fresh(p: *mut c_void, from: usize, size: usize) {
    if p.is_null() || from >= size {
        return;
    }
    // SAFETY: p is a live block of at least `size` bytes the program has not seen yet; for glibc, the word
    // before it is the chunk's size field (bit 1: mmapped).
    unsafe {
        if real::custom() {
            if size > 1 << 20 {
                return; // large blocks of other allocators are usually fresh pages too
            }
        } else if *(p as *const usize).sub(1) & 2 != 0 {
            return;
        }
        core::ptr::write_bytes(p.cast::<u8>().add(from), 0, size - from);
    }
}

/// Zeroes the stack just below the caller's frame, where glibc's malloc and the agent's bookkeeping left
/// copies of the block's address. A later, deeper call chain with uninitialised locals (deep recursion, a
/// stack overflow) would otherwise keep those copies inside the live stack, and the scan would take a lost
/// block for reachable.
#[inline(never)]
pub fn scrub_stack() {
    let mut area = core::mem::MaybeUninit::<[u8; SCRUB_BYTES]>::uninit();
    // SAFETY: writes our own local array; black_box keeps the stores.
    unsafe { core::ptr::write_bytes(area.as_mut_ptr(), 0, 1) };
    core::hint::black_box(&mut area);
}
const SCRUB_BYTES: usize = 2048;

/// Puts a freed block in this thread's quarantine; returns how many blocks of `out` to free now.
fn hold(p: *mut c_void, size: usize, out: &mut [*mut c_void; crate::quarantine::OUT_LEN]) -> usize {
    match crate::state::thread_state() {
        Some(t) => t.quarantine.defer(p, size, out),
        None => {
            out[0] = p;
            1
        }
    }
}

/// Runs the bookkeeping `f` for a call that already happened, preserving errno.
#[inline]
fn book(f: impl FnOnce()) {
    let e = real::errno();
    f();
    real::set_errno(e);
}

#[no_mangle]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    if !active() {
        return real::malloc(size);
    }
    let Some(_b) = Busy::enter() else {
        return real::malloc(size);
    };
    let p = real::malloc(size);
    clear_fresh(p, 0, size);
    book(|| record_alloc(p, size));
    scrub_stack();
    p
}

#[no_mangle]
pub unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    if !active() {
        return real::calloc(n, size);
    }
    let Some(_b) = Busy::enter() else {
        return real::calloc(n, size);
    };
    let p = real::calloc(n, size);
    book(|| record_alloc(p, n.wrapping_mul(size)));
    scrub_stack();
    p
}

#[no_mangle]
pub unsafe extern "C" fn free(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    // Frees are recorded even from inside the agent: libc's exit-time cleanup frees program blocks.
    if crate::state::STATE.load(core::sync::atomic::Ordering::Acquire) == crate::state::ACTIVE {
        let Some(_b) = Busy::enter() else {
            book(|| {
                record_free(p);
            });
            return real::free(p);
        };
        let mut release = [core::ptr::null_mut(); crate::quarantine::OUT_LEN];
        let mut n = 0;
        book(|| match record_free(p) {
            // The program's own block: held back before malloc may reuse its address.
            Some(size) => n = hold(p, size, &mut release),
            None => {
                release[0] = p;
                n = 1;
            }
        });
        release[..n].iter().for_each(|&q| real::free(q));
        return;
    }
    real::free(p);
}

#[no_mangle]
pub unsafe extern "C" fn cfree(p: *mut c_void) {
    free(p)
}

#[no_mangle]
pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    if !active() {
        return real::realloc(p, size);
    }
    let busy = Busy::enter();
    if busy.is_none() {
        // Nested: still keep the table right if a block we know moves or dies.
        let q = real::realloc(p, size);
        if !p.is_null() && (q != p || size == 0) {
            book(|| {
                record_free(p);
            });
        }
        return q;
    }
    if p.is_null() {
        let q = real::realloc(p, size);
        clear_fresh(q, 0, size);
        book(|| record_alloc(q, size));
        scrub_stack();
        return q;
    }
    // Forget the old block first: once glibc frees it another thread may get the same address.
    let mut old = None;
    book(|| old = crate::live::remove(p as usize));
    if let (Some(b), true) = (old, size != 0 && crate::config::quarantine_bytes() > 0) {
        return realloc_moving(p, b, size);
    }
    let q = real::realloc(p, size);
    book(|| {
        if q.is_null() && size != 0 {
            if let Some(b) = old {
                crate::live::insert(b); // realloc failed: the old block is still the program's
            }
            return;
        }
        if let Some(b) = old {
            crate::state::forget(&b);
            clear_fresh(q, b.size, size); // only the grown part is new
        }
        if size != 0 || !q.is_null() {
            record_alloc(q, size);
        }
    });
    scrub_stack();
    q
}

/// Memcheck's realloc: the block always moves (new block, copy, old one freed into the quarantine), so a
/// pointer the program kept to the old address does not keep the new block reachable.
unsafe fn realloc_moving(p: *mut c_void, old: crate::live::Block, size: usize) -> *mut c_void {
    let q = real::malloc(size);
    if q.is_null() {
        book(|| crate::live::insert(old)); // realloc failed: the old block is still the program's
        return q;
    }
    let keep = old.size.min(size);
    core::ptr::copy_nonoverlapping(p.cast::<u8>(), q.cast::<u8>(), keep);
    clear_fresh(q, keep, size);
    let mut release = [core::ptr::null_mut(); crate::quarantine::OUT_LEN];
    let mut n = 0;
    book(|| {
        crate::state::forget(&old);
        record_alloc(q, size);
        n = hold(p, old.size, &mut release);
    });
    release[..n].iter().for_each(|&r| real::free(r));
    scrub_stack();
    q
}

#[no_mangle]
pub unsafe extern "C" fn reallocarray(p: *mut c_void, n: usize, size: usize) -> *mut c_void {
    match n.checked_mul(size) {
        Some(total) => realloc(p, total),
        None => {
            real::set_errno(libc::ENOMEM);
            core::ptr::null_mut()
        }
    }
}

/// Shared body of the aligned allocators.
#[inline]
unsafe fn aligned(size: usize, alloc: impl FnOnce() -> *mut c_void) -> *mut c_void {
    if !active() {
        return alloc();
    }
    let Some(_b) = Busy::enter() else {
        return alloc();
    };
    let p = alloc();
    clear_fresh(p, 0, size);
    book(|| record_alloc(p, size));
    scrub_stack();
    p
}

#[no_mangle]
pub unsafe extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    aligned(size, || real::memalign(align, size))
}

#[no_mangle]
pub unsafe extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    // glibc 2.36: any power of two is accepted; others fail with EINVAL.
    if !align.is_power_of_two() {
        real::set_errno(libc::EINVAL);
        return core::ptr::null_mut();
    }
    aligned(size, || real::memalign(align, size))
}

#[no_mangle]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    if !align.is_power_of_two() || align % core::mem::size_of::<*mut c_void>() != 0 {
        return libc::EINVAL;
    }
    let saved = real::errno();
    let p = aligned(size, || real::memalign(align, size));
    if p.is_null() {
        real::set_errno(saved);
        return libc::ENOMEM;
    }
    *out = p;
    0
}

#[no_mangle]
pub unsafe extern "C" fn valloc(size: usize) -> *mut c_void {
    aligned(size, || real::valloc(size))
}

#[no_mangle]
pub unsafe extern "C" fn pvalloc(size: usize) -> *mut c_void {
    aligned(size, || real::pvalloc(size))
}
