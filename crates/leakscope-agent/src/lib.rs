//! leakscope's agent: a shared library preloaded into the program under test (`LD_PRELOAD`).
//!
//! It interposes the allocation functions ([`hooks`]), records each live block with the interned stack that
//! allocated it ([`live`], [`stacks`], [`unwind`]), and when the process image ends ([`exit`]) stops the
//! other threads ([`world`]), including on fatal signals ([`signals`]), classifies every unfreed block the way Valgrind Memcheck does ([`scan`]) and
//! appends the result to the trace file ([`report`], [`writer`]). The agent's own memory never comes from
//! the program's heap ([`mem`]).
//!
//! Nothing here may unwind into the program: every exported function is `extern "C"` (a panic would abort),
//! and the code paths behind them avoid panicking operations.

#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod ages;
mod config;
mod cxx;
mod exit;
mod glibc_heap;
mod hooks;
mod light;
mod live;
mod maps;
mod mem;
mod modules;
mod quarantine;
mod real;
mod report;
mod sampling;
mod scan;
mod signals;
mod stacks;
mod state;
mod sync;
mod thread;
mod timeline;
mod unwind;
mod world;
mod writer;

/// A panic here would be a bug in the agent; unwinding into the program is not an option.
#[cfg(not(test))]
#[panic_handler]
fn on_panic(_: &core::panic::PanicInfo) -> ! {
    // SAFETY: terminates the process.
    unsafe { libc::abort() }
}

// The precompiled `core`/`alloc` reference the unwinder's personality routine and `_Unwind_Resume` from
// landing pads. With panic = "abort" nothing ever unwinds, so neither is ever called. They are defined as
// *hidden* symbols: a default-visibility `_Unwind_Resume` in a preloaded library would hijack the C++
// exception handling of every program we trace.
#[cfg(not(test))]
core::arch::global_asm!(
    ".globl rust_eh_personality",
    ".hidden rust_eh_personality",
    ".type rust_eh_personality,@function",
    "rust_eh_personality:",
    "ud2",
    ".globl _Unwind_Resume",
    ".hidden _Unwind_Resume",
    ".type _Unwind_Resume,@function",
    "_Unwind_Resume:",
    "ud2",
);

#[global_allocator]
static GLOBAL: mem::AgentAlloc = mem::AgentAlloc;

/// Runs when the library is loaded (after any allocation that already started the agent lazily).
extern "C" fn on_load() {
    exit::late_init();
}

#[used]
#[link_section = ".init_array"]
static ON_LOAD: extern "C" fn() = on_load;

static START_NS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Nanoseconds since the agent started in this image.
pub(crate) fn uptime_ns() -> u64 {
    let now = world::monotonic_ns();
    let start = START_NS.load(core::sync::atomic::Ordering::Relaxed);
    if start == 0 {
        START_NS.store(now, core::sync::atomic::Ordering::Relaxed);
        return 0;
    }
    now - start
}

/// Resident set size of this process, from /proc/self/statm.
pub(crate) fn rss_bytes() -> u64 {
    let mut buf = [0u8; 128];
    // SAFETY: plain syscalls on our own buffer.
    let n = unsafe {
        let fd = libc::open(
            c"/proc/self/statm".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return 0;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    let text = core::str::from_utf8(&buf[..n.max(0) as usize]).unwrap_or("");
    let pages: u64 = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Asks for the cache line at `addr` (a hint: it reads nothing and never faults, whatever the address).
#[inline]
pub(crate) fn prefetch(addr: usize) {
    // SAFETY: a prefetch cannot fault.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(addr as *const i8)
    };
}
