//! The allocator the interposed functions forward to.
//!
//! Normally glibc's: it exports `__libc_malloc` and friends precisely so that interposers can reach it
//! without `dlsym` (which itself may call `calloc`). But a program linked with another allocator as a shared
//! library (`-ljemalloc`, `-ltcmalloc`) must keep getting that one — blocks of two allocators must never mix —
//! so at start-up [`detect`] looks up the next definition of `malloc` after the agent and, if it is not
//! glibc's, every call goes to the next definitions instead.

use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

extern "C" {
    pub fn __libc_malloc(size: usize) -> *mut c_void;
    pub fn __libc_calloc(n: usize, size: usize) -> *mut c_void;
    pub fn __libc_realloc(p: *mut c_void, size: usize) -> *mut c_void;
    pub fn __libc_free(p: *mut c_void);
    fn __libc_memalign(align: usize, size: usize) -> *mut c_void;
    fn __errno_location() -> *mut i32;
}

static CUSTOM: AtomicBool = AtomicBool::new(false);
/// Next definitions: malloc, calloc, realloc, free, memalign.
static NEXT: [AtomicUsize; 5] = [const { AtomicUsize::new(0) }; 5];
const NAMES: [&core::ffi::CStr; 5] = [c"malloc", c"calloc", c"realloc", c"free", c"memalign"];

/// Looks for a non-glibc allocator after the agent in symbol lookup order. Called once, early.
pub fn detect() {
    // SAFETY: dlsym with valid names; the results are functions with the C allocator signatures.
    unsafe {
        let next = libc::dlsym(libc::RTLD_NEXT, c"malloc".as_ptr()) as usize;
        if next == 0 || next == __libc_malloc as *const () as usize {
            return;
        }
        for (slot, name) in NEXT.iter().zip(NAMES) {
            slot.store(
                libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) as usize,
                Ordering::Relaxed,
            );
        }
        if NEXT.iter().all(|f| f.load(Ordering::Relaxed) != 0) {
            CUSTOM.store(true, Ordering::Release);
        }
    }
}

/// Is the program using an allocator other than glibc's?
pub fn custom() -> bool {
    CUSTOM.load(Ordering::Relaxed)
}

macro_rules! next {
    ($i:expr, $t:ty) => {
        core::mem::transmute::<usize, $t>(NEXT[$i].load(Ordering::Relaxed))
    };
}

#[inline]
pub fn malloc(size: usize) -> *mut c_void {
    // SAFETY: the program's allocator; any size is valid input.
    unsafe {
        if custom() {
            return next!(0, unsafe extern "C" fn(usize) -> *mut c_void)(size);
        }
        __libc_malloc(size)
    }
}

#[inline]
pub fn calloc(n: usize, size: usize) -> *mut c_void {
    // SAFETY: as above; the allocator checks n*size overflow.
    unsafe {
        if custom() {
            return next!(1, unsafe extern "C" fn(usize, usize) -> *mut c_void)(n, size);
        }
        __libc_calloc(n, size)
    }
}

/// # Safety
/// `p` must be null or a live block of the program's allocator.
#[inline]
pub unsafe fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    if custom() {
        return next!(2, unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void)(p, size);
    }
    __libc_realloc(p, size)
}

/// # Safety
/// `p` must be null or a live block of the program's allocator.
#[inline]
pub unsafe fn free(p: *mut c_void) {
    if custom() {
        return next!(3, unsafe extern "C" fn(*mut c_void))(p);
    }
    __libc_free(p)
}

#[inline]
pub fn memalign(align: usize, size: usize) -> *mut c_void {
    // SAFETY: the allocator validates the alignment itself.
    unsafe {
        if custom() {
            return next!(4, unsafe extern "C" fn(usize, usize) -> *mut c_void)(align, size);
        }
        __libc_memalign(align, size)
    }
}

/// The allocator's `malloc_usable_size` (looked up on first use: glibc exports no `__libc_` name for it).
///
/// # Safety
/// `p` must be null or a live block of the program's allocator.
pub unsafe fn usable_size(p: *mut c_void) -> usize {
    static NEXT_USABLE: AtomicUsize = AtomicUsize::new(0);
    let mut f = NEXT_USABLE.load(Ordering::Acquire);
    if f == 0 {
        f = libc::dlsym(libc::RTLD_NEXT, c"malloc_usable_size".as_ptr()) as usize;
        NEXT_USABLE.store(f, Ordering::Release);
    }
    if f == 0 {
        return 0;
    }
    core::mem::transmute::<usize, unsafe extern "C" fn(*mut c_void) -> usize>(f)(p)
}

/// This thread's errno.
pub fn errno_location() -> *mut i32 {
    // SAFETY: always valid.
    unsafe { __errno_location() }
}

pub fn set_errno(e: i32) {
    // SAFETY: errno is thread-local and always addressable.
    unsafe { *__errno_location() = e };
}

pub fn errno() -> i32 {
    // SAFETY: as above.
    unsafe { *__errno_location() }
}
