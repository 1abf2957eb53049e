//! The interposed allocation functions. Each forwards to glibc, then records what happened.
//!
//! Rules that keep the program's behaviour intact: the real call happens exactly as the program asked
//! (same arguments, same result, errno as glibc left it); bookkeeping never fails the call; a call made
//! while this thread is already inside the agent passes straight through.

use crate::real;
use crate::state::{active, record_alloc, record_free, record_free_nested, Busy};
use crate::unwind::Caller;
use core::ffi::{c_int, c_void};

/// Assembly that zeroes the 2 KiB of stack below the stack pointer (keeping RAX; clobbers RCX,
/// RDX, RDI). glibc's malloc and the agent's bookkeeping leave copies of block addresses in the frames
/// they used; a later, deeper call chain with uninitialised locals (deep recursion, a stack overflow)
/// would keep them inside the live stack, and the scan would take a lost block for reachable. Memcheck
/// knows such words are undefined and ignores them. The agent's own stack use stays well below 2 KiB
/// (4 KiB cost 35% on the service workload).
macro_rules! scrub_asm {
    () => {
        concat!(
            "sub rsp, 2048\n",
            "mov rdi, rsp\n",
            "mov ecx, 256\n",
            "mov rdx, rax\n",
            "xor eax, eax\n",
            "rep stosq\n",
            "mov rax, rdx\n",
            "add rsp, 2048\n",
        )
    };
}
pub(crate) use scrub_asm;

/// Exports an allocation function as a stub that passes the caller's stack pointer and RBP at entry (in
/// the next two argument registers, named here) on to `$body`, calls it, and scrubs the stack the call
/// used. The stack walk then starts at the program's frame instead of stepping out of the agent's own
/// frames, which cost a third of the walk.
macro_rules! entry_stub {
    ($name:ident ($($arg:ident: $ty:ty),*) -> $ret:ty, $body:ident, $sp:literal, $bp:literal) => {
        #[unsafe(naked)]
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> $ret {
            core::arch::naked_asm!(
                ".cfi_startproc",
                concat!("mov ", $sp, ", rsp"),
                concat!("mov ", $bp, ", rbp"),
                "sub rsp, 8",
                ".cfi_adjust_cfa_offset 8",
                "call {body}",
                scrub_asm!(),
                "add rsp, 8",
                ".cfi_adjust_cfa_offset -8",
                "ret",
                ".cfi_endproc",
                body = sym $body,
            )
        }
    };
}

entry_stub!(malloc(_size: usize) -> *mut c_void, malloc_body, "rsi", "rdx");
entry_stub!(calloc(_n: usize, _size: usize) -> *mut c_void, calloc_body, "rdx", "rcx");
entry_stub!(realloc(_p: *mut c_void, _size: usize) -> *mut c_void, realloc_body, "rdx", "rcx");
entry_stub!(reallocarray(_p: *mut c_void, _n: usize, _size: usize) -> *mut c_void, reallocarray_body, "rcx", "r8");
entry_stub!(memalign(_align: usize, _size: usize) -> *mut c_void, memalign_body, "rdx", "rcx");
entry_stub!(aligned_alloc(_align: usize, _size: usize) -> *mut c_void, aligned_alloc_body, "rdx", "rcx");
entry_stub!(posix_memalign(_out: *mut *mut c_void, _align: usize, _size: usize) -> c_int, posix_memalign_body, "rcx", "r8");
entry_stub!(valloc(_size: usize) -> *mut c_void, valloc_body, "rsi", "rdx");
entry_stub!(pvalloc(_size: usize) -> *mut c_void, pvalloc_body, "rsi", "rdx");

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

/// Runs the bookkeeping `f` for a call that already happened, preserving errno.
#[inline]
fn book(f: impl FnOnce()) {
    let e = real::errno();
    f();
    real::set_errno(e);
}

unsafe extern "C" fn malloc_body(size: usize, sp: usize, bp: usize) -> *mut c_void {
    if !active() {
        return real::malloc(size);
    }
    let Some(b) = Busy::enter() else {
        return real::malloc(size);
    };
    let p = real::malloc(size);
    clear_fresh(p, 0, size);
    book(|| record_alloc(b.thread(), p, size, Caller { sp, bp }));
    p
}

unsafe extern "C" fn calloc_body(n: usize, size: usize, sp: usize, bp: usize) -> *mut c_void {
    if !active() {
        return real::calloc(n, size);
    }
    let Some(b) = Busy::enter() else {
        return real::calloc(n, size);
    };
    let p = real::calloc(n, size);
    book(|| record_alloc(b.thread(), p, n.wrapping_mul(size), Caller { sp, bp }));
    p
}

#[no_mangle]
pub unsafe extern "C" fn free(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    // Frees are recorded even from inside the agent: libc's exit-time cleanup frees program blocks.
    if crate::state::STATE.load(core::sync::atomic::Ordering::Acquire) == crate::state::ACTIVE {
        let Some(b) = Busy::enter() else {
            book(|| record_free_nested(p));
            return real::free(p);
        };
        let t = b.thread();
        let mut release = [core::ptr::null_mut(); crate::quarantine::OUT_LEN];
        let mut n = 0;
        book(|| match record_free(t, p) {
            // The program's own block: held back before malloc may reuse its address.
            Some(size) => n = t.quarantine.defer(p, size, &mut release),
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

unsafe extern "C" fn realloc_body(
    p: *mut c_void,
    size: usize,
    sp: usize,
    bp: usize,
) -> *mut c_void {
    let caller = Caller { sp, bp };
    if !active() {
        return real::realloc(p, size);
    }
    let Some(b) = Busy::enter() else {
        // Nested: still keep the table right if a block we know moves or dies.
        let q = real::realloc(p, size);
        if !p.is_null() && (q != p || size == 0) {
            book(|| record_free_nested(p));
        }
        return q;
    };
    let t = b.thread();
    if p.is_null() {
        let q = real::realloc(p, size);
        clear_fresh(q, 0, size);
        book(|| record_alloc(t, q, size, caller));
        return q;
    }
    // Forget the old block first: once glibc frees it another thread may get the same address.
    let mut old = None;
    book(|| old = crate::live::remove(p as usize));
    if let (Some(old), true) = (old, size != 0 && crate::config::quarantine_bytes() > 0) {
        return realloc_moving(t, p, old, size, caller);
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
            crate::state::forget(t, &b);
            clear_fresh(q, b.size, size); // only the grown part is new
        }
        if size != 0 || !q.is_null() {
            record_alloc(t, q, size, caller);
        }
    });
    q
}

/// Memcheck's realloc: the block always moves (new block, copy, old one freed into the quarantine), so a
/// pointer the program kept to the old address does not keep the new block reachable.
unsafe fn realloc_moving(
    t: &crate::state::ThreadState,
    p: *mut c_void,
    old: crate::live::Block,
    size: usize,
    caller: Caller,
) -> *mut c_void {
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
        crate::state::forget(t, &old);
        record_alloc(t, q, size, caller);
        n = t.quarantine.defer(p, old.size, &mut release);
    });
    release[..n].iter().for_each(|&r| real::free(r));
    q
}

unsafe extern "C" fn reallocarray_body(
    p: *mut c_void,
    n: usize,
    size: usize,
    sp: usize,
    bp: usize,
) -> *mut c_void {
    match n.checked_mul(size) {
        Some(total) => realloc_body(p, total, sp, bp),
        None => {
            real::set_errno(libc::ENOMEM);
            core::ptr::null_mut()
        }
    }
}

/// Shared body of the aligned allocators.
#[inline]
unsafe fn aligned(size: usize, caller: Caller, alloc: impl FnOnce() -> *mut c_void) -> *mut c_void {
    if !active() {
        return alloc();
    }
    let Some(b) = Busy::enter() else {
        return alloc();
    };
    let p = alloc();
    clear_fresh(p, 0, size);
    book(|| record_alloc(b.thread(), p, size, caller));
    p
}

unsafe extern "C" fn memalign_body(align: usize, size: usize, sp: usize, bp: usize) -> *mut c_void {
    aligned(size, Caller { sp, bp }, || real::memalign(align, size))
}

unsafe extern "C" fn aligned_alloc_body(
    align: usize,
    size: usize,
    sp: usize,
    bp: usize,
) -> *mut c_void {
    // glibc 2.36: any power of two is accepted; others fail with EINVAL.
    if !align.is_power_of_two() {
        real::set_errno(libc::EINVAL);
        return core::ptr::null_mut();
    }
    aligned(size, Caller { sp, bp }, || real::memalign(align, size))
}

unsafe extern "C" fn posix_memalign_body(
    out: *mut *mut c_void,
    align: usize,
    size: usize,
    sp: usize,
    bp: usize,
) -> c_int {
    if !align.is_power_of_two() || align % core::mem::size_of::<*mut c_void>() != 0 {
        return libc::EINVAL;
    }
    let saved = real::errno();
    let p = aligned(size, Caller { sp, bp }, || real::memalign(align, size));
    if p.is_null() {
        real::set_errno(saved);
        return libc::ENOMEM;
    }
    *out = p;
    0
}

unsafe extern "C" fn valloc_body(size: usize, sp: usize, bp: usize) -> *mut c_void {
    aligned(size, Caller { sp, bp }, || real::valloc(size))
}

unsafe extern "C" fn pvalloc_body(size: usize, sp: usize, bp: usize) -> *mut c_void {
    aligned(size, Caller { sp, bp }, || real::pvalloc(size))
}
