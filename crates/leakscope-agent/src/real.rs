//! glibc's own allocator entry points, which the interposed functions forward to.
//!
//! glibc exports `__libc_malloc` and friends precisely so that interposers can reach the real allocator
//! without `dlsym` (which itself calls `calloc`). `posix_memalign`/`aligned_alloc` are built on
//! `__libc_memalign` with their own argument checks, as glibc does.

use core::ffi::c_void;

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

#[inline]
pub fn malloc(size: usize) -> *mut c_void {
    // SAFETY: glibc's allocator; any size is valid input.
    unsafe { __libc_malloc(size) }
}

#[inline]
pub fn calloc(n: usize, size: usize) -> *mut c_void {
    // SAFETY: as above; glibc checks n*size overflow.
    unsafe { __libc_calloc(n, size) }
}

/// # Safety
/// `p` must be null or a live block of glibc's allocator.
#[inline]
pub unsafe fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    __libc_realloc(p, size)
}

/// # Safety
/// `p` must be null or a live block of glibc's allocator.
#[inline]
pub unsafe fn free(p: *mut c_void) {
    __libc_free(p)
}

#[inline]
pub fn memalign(align: usize, size: usize) -> *mut c_void {
    // SAFETY: glibc validates the alignment itself.
    unsafe { __libc_memalign(align, size) }
}

#[inline]
pub fn valloc(size: usize) -> *mut c_void {
    // SAFETY: glibc's allocator.
    unsafe { __libc_valloc(size) }
}

#[inline]
pub fn pvalloc(size: usize) -> *mut c_void {
    // SAFETY: glibc's allocator.
    unsafe { __libc_pvalloc(size) }
}

pub fn set_errno(e: i32) {
    // SAFETY: errno is thread-local and always addressable.
    unsafe { *__errno_location() = e };
}

pub fn errno() -> i32 {
    // SAFETY: as above.
    unsafe { *__errno_location() }
}
