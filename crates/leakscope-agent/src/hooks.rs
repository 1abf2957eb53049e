//! The interposed allocation functions. Each forwards to glibc, then records what happened.
//!
//! Rules that keep the program's behaviour intact: the real call happens exactly as the program asked
//! (same arguments, same result, errno as glibc left it); bookkeeping never fails the call; a call made
//! while this thread is already inside the agent passes straight through.

use crate::real;
use crate::state::{active, record_alloc, record_free, Busy};
use core::ffi::{c_int, c_void};

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
    book(|| record_alloc(p, size));
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
    p
}

#[no_mangle]
pub unsafe extern "C" fn free(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    // Frees are recorded even from inside the agent: libc's exit-time cleanup frees program blocks.
    if crate::state::STATE.load(core::sync::atomic::Ordering::Acquire) == crate::state::ACTIVE {
        let _b = Busy::enter();
        book(|| {
            record_free(p);
        });
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
        book(|| record_alloc(q, size));
        return q;
    }
    // Forget the old block first: once glibc frees it another thread may get the same address.
    let mut old = None;
    book(|| old = crate::live::remove(p as usize));
    let q = real::realloc(p, size);
    book(|| {
        if q.is_null() && size != 0 {
            if let Some(b) = old {
                crate::live::insert(b); // realloc failed: the old block is still the program's
            }
            return;
        }
        if let Some(b) = old {
            if let Some(s) = crate::stacks::by_id(b.site) {
                s.on_free(b.size);
            }
        }
        if size != 0 || !q.is_null() {
            record_alloc(q, size);
        }
    });
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
    book(|| record_alloc(p, size));
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
