//! The snapshot thread: every interval, appends the live bytes and blocks of each allocation site that
//! changed, plus the process RSS. The trace thus grows with sites × snapshots, not with allocations, and a
//! process killed by SIGKILL still leaves its heap as of the last snapshot. It also runs the live leak
//! checks that `leakscope check` requests with a signal: the handler only bumps a counter and wakes it.

use crate::state::{self, STATE, TICK};
use crate::{config, mem, stacks, world, writer};
use alloc::vec::Vec;
use core::ffi::c_void;
use core::sync::atomic::{AtomicU32, Ordering};

/// Bumped by the check signal's handler; the thread runs one check per change it sees.
static CHECKS_REQUESTED: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_check_signal(_: i32) {
    CHECKS_REQUESTED.fetch_add(1, Ordering::Release);
    // SAFETY: futex wake on a valid word (async-signal-safe).
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            CHECKS_REQUESTED.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        )
    };
}

/// Installs the handler of the check signal (`leakscope run --check-signal`, default SIGRTMAX-2).
fn install_check_signal() {
    let sig = config::check_signal();
    crate::signals::unhook(sig);
    // SAFETY: installing a handler that only touches an atomic.
    unsafe {
        let mut sa: libc::sigaction = core::mem::zeroed();
        sa.sa_sigaction = on_check_signal as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        crate::signals::real_sigaction(sig, &sa, core::ptr::null_mut());
    }
}
use leakscope_trace::{Record, SiteSample, Snapshot};

const THREAD_STACK: usize = 256 << 10;

extern "C" {
    /// glibc's "no thread was ever created" flag (`<sys/single_threaded.h>`): while it is set, glibc's
    /// malloc skips its arena locks and lock operations their atomic instructions.
    static mut __libc_single_threaded: core::ffi::c_char;
}

/// Whether glibc takes the program for single-threaded: the snapshot thread does not count (see [`start`]).
fn program_single_threaded() -> bool {
    // SAFETY: a byte glibc only writes from pthread_create, read racily on purpose.
    unsafe { core::ptr::addr_of!(__libc_single_threaded).read_volatile() != 0 }
}

/// Starts the thread (once, before `main`). Its stack is agent memory, so the leak scan skips it.
///
/// Creating it would make a single-threaded program multi-threaded in glibc's eyes, and every malloc,
/// free and mutex operation of the program dearer (2-6% of the benchmarks' time, all of it the agent's
/// fault). So glibc's flag is set back: the snapshot thread then must not use what the flag guards while
/// the program runs alone (glibc's malloc, stdio, the loader's locks), and it does not — its memory is the
/// agent's own, it reads and writes files with plain syscalls, it leaves the module list to the
/// program's threads ([`write_snapshot`]), sets its signal mask with the raw syscall, and never exits
/// ([`park_for_good`]). The program's first `pthread_create` clears the flag as usual.
pub fn start() {
    install_check_signal();
    let stack = mem::map(THREAD_STACK);
    if stack.is_null() {
        return;
    }
    // SAFETY: attr is initialised before use and destroyed after; the stack stays mapped for the
    // thread's whole life.
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        libc::pthread_attr_init(&mut attr);
        libc::pthread_attr_setstack(&mut attr, stack.cast(), THREAD_STACK);
        libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
        let mut tid: libc::pthread_t = 0;
        let alone = program_single_threaded();
        if libc::pthread_create(&mut tid, &attr, run, core::ptr::null_mut()) == 0 {
            world::set_agent_thread_pointer(tid as usize);
            if alone {
                core::ptr::addr_of_mut!(__libc_single_threaded).write_volatile(1);
            }
        }
        libc::pthread_attr_destroy(&mut attr);
    }
}

extern "C" fn run(_: *mut c_void) -> *mut c_void {
    // Everything this thread does is the agent's: allocations pass through, stop requests skip it.
    if let Some(t) = state::thread_state() {
        t.busy.set(true);
    }
    // SAFETY: plain syscall.
    world::set_agent_thread(unsafe { libc::syscall(libc::SYS_gettid) } as i32);
    // The check signal must reach this thread even when the thread that created it blocks signals (a
    // forked worker that blocks everything, say): a process-directed signal goes to a thread that does not
    // block it, and this one is always there.
    // The raw syscall: the program's `pthread_sigmask` is the agent's, which looks glibc's up with dlsym
    // (the loader's lock) the first time — not something this thread may do (see [`start`]).
    let set: u64 = 1 << (config::check_signal() - 1);
    // SAFETY: unblocking one signal in this thread; the kernel's sigset is 8 bytes.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_UNBLOCK,
            &set as *const u64,
            core::ptr::null_mut::<u64>(),
            8usize,
        )
    };
    // Interval 0: no periodic snapshots, only checks (wait in hour-long naps).
    let interval = match config::interval_ms() {
        0 => 3_600_000,
        ms => ms,
    };
    let mut seen = CHECKS_REQUESTED.load(Ordering::Acquire);
    let mut next = world::monotonic_ns() + period_ms(interval, 0) * 1_000_000;
    loop {
        // Wake at the next snapshot, and at least every LAST_THREAD_POLL_MS to notice that the program's
        // threads are all gone.
        let nap =
            (next.saturating_sub(world::monotonic_ns()) / 1_000_000).clamp(1, LAST_THREAD_POLL_MS);
        let ts = libc::timespec {
            tv_sec: (nap / 1000) as i64,
            tv_nsec: ((nap % 1000) * 1_000_000) as i64,
        };
        // SAFETY: futex wait on a valid word with a relative timeout; a check request wakes it early.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                CHECKS_REQUESTED.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                seen,
                &ts as *const libc::timespec,
            )
        };
        if STATE.load(Ordering::Acquire) != state::ACTIVE {
            park_for_good();
        }
        if program_threads_gone() {
            // glibc's last exiting thread calls exit(0); this thread kept that from happening.
            // SAFETY: ends the process the way it would have ended without the agent.
            unsafe { libc::exit(0) };
        }
        let requested = CHECKS_REQUESTED.load(Ordering::Acquire);
        if requested != seen {
            seen = requested;
            crate::report::live_check();
        }
        let now = world::monotonic_ns();
        if config::interval_ms() != 0 && now >= next {
            // On schedule (a late wake does not shift the following snapshots), unless far behind.
            let period = period_ms(interval, crate::uptime_ns()) * 1_000_000;
            next = if now - next < period {
                next + period
            } else {
                now + period
            };
            let tick = TICK.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            write_snapshot();
            // A pass over a huge site table (a million distinct stacks: tens of ms) must not keep a core
            // busy: the next snapshot waits at least SNAPSHOT_SHARE times as long as this one took.
            let done = world::monotonic_ns();
            next = next.max(done + (done - now) * SNAPSHOT_SHARE);
            if leakscope_trace::periodic_ages_due(tick.into()) {
                crate::ages::emit_periodic();
            }
        }
    }
}

/// Once recording is over (the process is exiting): wait for the end. Returning would run glibc's thread
/// exit, which frees this thread's vector and tcache with glibc's malloc — unlocked, as glibc may take the
/// program for single-threaded (see [`start`]), while the program's exit handlers free too.
fn park_for_good() -> ! {
    loop {
        // SAFETY: plain syscall; signals (a check request) only wake it.
        unsafe { libc::pause() };
    }
}

/// The snapshot thread's work stays below 1/SNAPSHOT_SHARE of a core (see [`run`]).
const SNAPSHOT_SHARE: u64 = 20;

/// Snapshots over the first [`FINE_INTERVALS`] intervals are this many times closer together.
const FINE_FACTOR: u64 = 10;
const FINE_INTERVALS: u64 = 10;
/// The finest period the start is recorded at.
const FINE_MIN_MS: u64 = 100;

/// Time to the next snapshot at `uptime_ns`: the interval, or a tenth of it (at least [`FINE_MIN_MS`])
/// during the first ten intervals, so that a run of a few seconds already has the points a growth verdict
/// needs (at the default 1 s: 100 snapshots in the first 10 s, then one a second). A long run's trace
/// gains at most 90 snapshots from it, once.
fn period_ms(interval: u64, uptime_ns: u64) -> u64 {
    if uptime_ns / 1_000_000 < interval.saturating_mul(FINE_INTERVALS) {
        (interval / FINE_FACTOR).max(FINE_MIN_MS).min(interval)
    } else {
        interval
    }
}

const LAST_THREAD_POLL_MS: u64 = 100;

/// Whether every thread of the program has exited (the main thread through `pthread_exit`), leaving only
/// this one: glibc counts it among the threads, so its last thread would never call `exit(0)`.
fn program_threads_gone() -> bool {
    // SAFETY: getpid/gettid cannot fail.
    let (pid, me) = unsafe { (libc::getpid(), libc::syscall(libc::SYS_gettid) as i32) };
    if !world::thread_dead(pid, pid) {
        return false; // the common case: one small read per wake
    }
    // SAFETY: opendir/readdir/closedir on a proc directory; this thread's allocations pass through.
    unsafe {
        let dir = libc::opendir(c"/proc/self/task".as_ptr());
        if dir.is_null() {
            return false;
        }
        let mut gone = true;
        loop {
            let e = libc::readdir(dir);
            if e.is_null() {
                break;
            }
            let name = core::ffi::CStr::from_ptr((*e).d_name.as_ptr()).to_bytes();
            let Some(tid) = parse_decimal(name) else {
                continue;
            };
            if tid != me && !world::thread_dead(pid, tid) {
                gone = false;
                break;
            }
        }
        libc::closedir(dir);
        gone
    }
}

fn parse_decimal(s: &[u8]) -> Option<i32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0i32, |n, &d| {
        n.checked_mul(10)?.checked_add(i32::from(d - b'0'))
    })
}

/// Appends one snapshot of the sites whose numbers changed since the previous one.
pub fn write_snapshot() {
    let mut changed: Vec<SiteSample> = Vec::new();
    for s in stacks::all() {
        let sample = s.sample();
        if s.snap_allocs.swap(sample.allocs, Ordering::Relaxed) != sample.allocs
            || s.snap_live.swap(sample.live_bytes, Ordering::Relaxed) != sample.live_bytes
        {
            changed.push(sample);
        }
    }
    // The loader's lock is one glibc does not take atomically in a single-threaded program (see [`start`]);
    // the exit report and live checks write the modules then.
    if !program_single_threaded() {
        state::emit_modules();
    }
    writer::define_sites(changed.iter().map(|c| c.stack));
    writer::emit(&Record::Snapshot(Snapshot {
        time_ns: crate::uptime_ns(),
        rss: crate::rss_bytes(),
        sites: changed,
        tick: Some(TICK.load(Ordering::Relaxed).into()),
    }));
}
