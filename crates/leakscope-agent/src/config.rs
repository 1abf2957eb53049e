//! Options the CLI passes through the environment (read once at start-up, without allocating).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static SAMPLE_RATE: AtomicU64 = AtomicU64::new(0);
static INTERVAL_MS: AtomicU64 = AtomicU64::new(1000);
static WALK_CACHE: AtomicBool = AtomicBool::new(true);
static CHECK_SIGNAL: AtomicU64 = AtomicU64::new(0);
static QUARANTINE: AtomicU64 = AtomicU64::new(DEFAULT_QUARANTINE);
static PRECISE: AtomicBool = AtomicBool::new(true);

/// Default bytes of freed blocks each thread holds back before reuse (see quarantine.rs). It is about the
/// dangling pointers a program keeps while it goes on allocating: 64 KiB gives every program of the test
/// corpus and of two held-out runs against Memcheck (190 program builds) the verdicts it gets with 1 or
/// 4 MiB, at a fraction of the cost (on bench's service workload, per allocation: +4 ns at 64 KiB, +30 ns
/// at 1 MiB, about +60 ns at 4 MiB): memory that comes back later comes back colder. Memcheck holds 20 MB.
const DEFAULT_QUARANTINE: u64 = 64 << 10;

/// The environment variable `name`, if set and UTF-8.
pub fn env_str(name: &core::ffi::CStr) -> Option<&'static str> {
    // SAFETY: getenv does not allocate; the string is NUL-terminated and lives in environ.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: as above.
    unsafe { core::ffi::CStr::from_ptr(p) }.to_str().ok()
}

pub fn env_u64(name: &core::ffi::CStr) -> Option<u64> {
    env_str(name)?.trim().parse().ok()
}

/// Reads the settings of `leakscope run` (the `LEAKSCOPE` variable: sampling rate, snapshot interval,
/// check signal) and the user's knobs `LEAKSCOPE_QUARANTINE_BYTES`, `LEAKSCOPE_PRECISE` and
/// `LEAKSCOPE_UNWIND_REFERENCE` (1: walk every stack from scratch, for comparing the fast path against it).
pub fn load() {
    use leakscope_trace::settings::number;
    let s = crate::state::settings().unwrap_or(&[]);
    if let Some(v) = number(s, "signal") {
        CHECK_SIGNAL.store(v, Ordering::Relaxed);
    }
    if env_u64(c"LEAKSCOPE_UNWIND_REFERENCE") == Some(1) {
        WALK_CACHE.store(false, Ordering::Relaxed);
    }
    if let Some(v) = number(s, "rate") {
        SAMPLE_RATE.store(v, Ordering::Relaxed);
    }
    if let Some(v) = number(s, "interval") {
        INTERVAL_MS.store(v, Ordering::Relaxed);
    }
    // Sampled mode is for production: unless asked otherwise it drops what makes verdicts Memcheck's at a
    // cost per call (zero-filled blocks, scrubbed stack and registers, the quarantine).
    let precise = env_u64(c"LEAKSCOPE_PRECISE").map_or(sample_rate() == 0, |v| v != 0);
    PRECISE.store(precise, Ordering::Relaxed);
    crate::hooks::set_scrub(precise);
    if !precise {
        QUARANTINE.store(0, Ordering::Relaxed);
    }
    if let Some(v) = env_u64(c"LEAKSCOPE_QUARANTINE_BYTES") {
        QUARANTINE.store(v, Ordering::Relaxed);
    }
}

/// Whether new blocks are zero-filled and the stack and registers an allocation used are scrubbed (see
/// `hooks`): on by default, off by default in sampled mode (`LEAKSCOPE_PRECISE` decides).
pub fn precise() -> bool {
    PRECISE.load(Ordering::Relaxed)
}

/// Bytes of freed blocks held back before malloc may reuse them (`LEAKSCOPE_QUARANTINE_BYTES`; 0: none,
/// and realloc may then grow blocks in place instead of always moving them).
pub fn quarantine_bytes() -> usize {
    QUARANTINE.load(Ordering::Relaxed) as usize
}

/// Bytes between sampled stacks; 0 = every allocation.
pub fn sample_rate() -> u64 {
    SAMPLE_RATE.load(Ordering::Relaxed)
}

/// Snapshot interval in milliseconds (0: no snapshot thread).
pub fn interval_ms() -> u64 {
    INTERVAL_MS.load(Ordering::Relaxed)
}

/// Whether stack walks may reuse the thread's previous walk (off only for reference runs).
pub fn walk_cache() -> bool {
    WALK_CACHE.load(Ordering::Relaxed)
}

/// The signal that asks for a live leak check (`leakscope run --check-signal`, default SIGRTMAX-2).
pub fn check_signal() -> i32 {
    match CHECK_SIGNAL.load(Ordering::Relaxed) {
        0 => libc::SIGRTMAX() - 2,
        s => s as i32,
    }
}
