//! C++'s global `operator new` and `new[]`, interposed, as Memcheck replaces them.
//!
//! libstdc++'s aligned `operator new(size, align_val_t)` rounds the size up to the alignment before calling
//! `aligned_alloc`, so the block we would see is larger than the one the program asked for; Memcheck, which
//! replaces `operator new` itself, reports the requested size. The plain ones call `malloc` with the exact
//! size (1 for 0), but through a frame of libstdc++'s that the stack walk must step out of on every
//! allocation of a C++ program. These stubs allocate the block the program asked for and record it. When
//! allocation fails they jump to libstdc++'s own function, which runs the new-handler and throws
//! `bad_alloc` (or returns null) — with no agent frame on the stack for the exception to cross.

use core::ffi::c_void;
use core::sync::atomic::{AtomicUsize, Ordering};

/// The real functions, resolved on first use: [new, new[], new nothrow, new[] nothrow], aligned, then
/// plain ([`PLAIN`] on).
static REAL: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];
const NAMES: [&core::ffi::CStr; 8] = [
    c"_ZnwmSt11align_val_t",
    c"_ZnamSt11align_val_t",
    c"_ZnwmSt11align_val_tRKSt9nothrow_t",
    c"_ZnamSt11align_val_tRKSt9nothrow_t",
    c"_Znwm",
    c"_Znam",
    c"_ZnwmRKSt9nothrow_t",
    c"_ZnamRKSt9nothrow_t",
];
/// Index of the first plain variant in [`REAL`].
const PLAIN: usize = 4;

/// Allocates a block (aligned unless `which` is a plain variant) and records the requested size; returns
/// null (→ fall back to the real function) on any failure, and the real function's address in `*real_out`.
extern "C" fn cxx_new(
    size: usize,
    align: usize,
    which: usize,
    real_out: *mut usize,
    sp: usize,
    bp: usize,
) -> *mut c_void {
    let mut f = REAL[which].load(Ordering::Acquire);
    if f == 0 {
        // SAFETY: dlsym with a valid name.
        f = unsafe { libc::dlsym(libc::RTLD_NEXT, NAMES[which].as_ptr()) } as usize;
        REAL[which].store(f, Ordering::Release);
    }
    // SAFETY: the stub passes a pointer to its own stack slot.
    unsafe { *real_out = f };
    let caller = crate::unwind::Caller { sp, bp };
    if which >= PLAIN {
        return crate::hooks::plain_block(size, caller);
    }
    if !align.is_power_of_two() {
        return core::ptr::null_mut();
    }
    crate::hooks::aligned_block(size, align, caller)
}

/// Stub body: keep the arguments, call `cxx_new`; on null, restore them and jump to the real function.
macro_rules! new_stub {
    ($name:ident, $which:literal) => {
        #[unsafe(naked)]
        #[no_mangle]
        pub unsafe extern "C" fn $name(_size: usize, _align: usize) -> *mut c_void {
            core::arch::naked_asm!(
                // Naked functions get no unwind info; the stack walk needs it to get past this frame.
                ".cfi_startproc",
                "push rdi",
                ".cfi_adjust_cfa_offset 8",
                "push rsi",
                ".cfi_adjust_cfa_offset 8",
                "push rdx",
                ".cfi_adjust_cfa_offset 8",
                "sub rsp, 16",
                ".cfi_adjust_cfa_offset 16",
                concat!("mov edx, ", $which),
                "mov rcx, rsp",
                // The caller's stack pointer at entry (above the 40 bytes pushed here) and its RBP.
                "lea r8, [rsp + 40]",
                "mov r9, rbp",
                "call {alloc}",
                "mov r11, [rsp]",
                "add rsp, 16",
                ".cfi_adjust_cfa_offset -16",
                "pop rdx",
                ".cfi_adjust_cfa_offset -8",
                "pop rsi",
                ".cfi_adjust_cfa_offset -8",
                "pop rdi",
                ".cfi_adjust_cfa_offset -8",
                "test rax, rax",
                "jz 2f",
                "cmp byte ptr [rip + {scrub}], 0",
                "je 4f",
                crate::hooks::scrub_asm!(),
                "4:",
                "ret",
                "2:",
                "test r11, r11",
                "jz 3f",
                "jmp r11",
                "3:",
                "ud2",
                ".cfi_endproc",
                alloc = sym cxx_new,
                scrub = sym crate::hooks::SCRUB,
            )
        }
    };
}

new_stub!(_ZnwmSt11align_val_t, 0);
new_stub!(_ZnamSt11align_val_t, 1);
new_stub!(_ZnwmSt11align_val_tRKSt9nothrow_t, 2);
new_stub!(_ZnamSt11align_val_tRKSt9nothrow_t, 3);
new_stub!(_Znwm, 4);
new_stub!(_Znam, 5);
new_stub!(_ZnwmRKSt9nothrow_t, 6);
new_stub!(_ZnamRKSt9nothrow_t, 7);
