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
    fn __libc_malloc(size: usize) -> *mut c_void;
    fn __libc_calloc(n: usize, size: usize) -> *mut c_void;
    fn __libc_realloc(p: *mut c_void, size: usize) -> *mut c_void;
    fn __libc_free(p: *mut c_void);
    fn __libc_memalign(align: usize, size: usize) -> *mut c_void;
    fn __libc_valloc(size: usize) -> *mut c_void;
    fn __libc_pvalloc(size: usize) -> *mut c_void;
    fn __errno_location() -> *mut i32;
}

static CUSTOM: AtomicBool = AtomicBool::new(false);
/// Next definitions: malloc, calloc, realloc, free, memalign, valloc, pvalloc.
static NEXT: [AtomicUsize; 7] = [const { AtomicUsize::new(0) }; 7];
const NAMES: [&core::ffi::CStr; 7] = [
    c"malloc",
    c"calloc",
    c"realloc",
    c"free",
    c"memalign",
    c"valloc",
    c"pvalloc",
];

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
        if NEXT[..5].iter().all(|f| f.load(Ordering::Relaxed) != 0) {
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

#[inline]
pub fn valloc(size: usize) -> *mut c_void {
    // SAFETY: as above.
    unsafe {
        if custom() {
            return match NEXT[5].load(Ordering::Relaxed) {
                0 => memalign(4096, size),
                _ => next!(5, unsafe extern "C" fn(usize) -> *mut c_void)(size),
            };
        }
        __libc_valloc(size)
    }
}

#[inline]
pub fn pvalloc(size: usize) -> *mut c_void {
    // SAFETY: as above.
    unsafe {
        if custom() {
            return match NEXT[6].load(Ordering::Relaxed) {
                0 => memalign(4096, (size.max(1) + 4095) & !4095),
                _ => next!(6, unsafe extern "C" fn(usize) -> *mut c_void)(size),
            };
        }
        __libc_pvalloc(size)
    }
}

pub fn set_errno(e: i32) {
    // SAFETY: errno is thread-local and always addressable.
    unsafe { *__errno_location() = e };
}

pub fn errno() -> i32 {
    // SAFETY: as above.
    unsafe { *__errno_location() }
}
