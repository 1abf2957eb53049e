//! Stopping every other thread for a scan, without ptrace.
//!
//! Boehm-GC style: each thread gets a real-time signal; its handler saves the interrupted registers and
//! stack pointer, reports in, and waits on a futex until released. A thread that is inside the agent (or
//! inside glibc's malloc on the agent's behalf) when the signal lands does not stop there — it might hold a
//! lock the scan or libc's exit-time cleanup needs — but parks itself as it leaves the agent.

use crate::state::{existing_thread_state, ThreadState};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering};

/// Saved state of a stopped thread.
#[derive(Clone, Copy, Default)]
pub struct Stopped {
    pub tid: i32,
    pub sp: usize,
    /// Its thread pointer (glibc's `struct pthread`).
    pub tp: usize,
    /// General-purpose registers (RAX..R15 and RIP), 0 when unknown.
    pub regs: [usize; 17],
}

const MAX_STOPPED: usize = 4096;
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);
static CONTROLLER: AtomicI32 = AtomicI32::new(0);
static RELEASE: AtomicU32 = AtomicU32::new(0);
static PARKED: AtomicUsize = AtomicUsize::new(0);
static mut SLOTS: [Stopped; MAX_STOPPED] = [Stopped {
    tid: 0,
    sp: 0,
    tp: 0,
    regs: [0; 17],
}; MAX_STOPPED];
/// Threads of the agent itself (never stopped by signal).
static AGENT_TID: AtomicI32 = AtomicI32::new(0);

static AGENT_TP: AtomicUsize = AtomicUsize::new(0);

/// Marks the calling thread as the agent's own (the snapshot thread).
pub fn set_agent_thread(tid: i32) {
    AGENT_TID.store(tid, Ordering::Relaxed);
}

/// The allocations holding the thread vectors of every snapshot thread this image ever had (a forked child
/// inherits its parent's in the heap, without the thread).
static AGENT_DTVS: [AtomicUsize; 16] = [const { AtomicUsize::new(0) }; 16];

/// Records the agent's own thread by its `pthread_t` (glibc's thread pointer), as soon as it is created.
pub fn set_agent_thread_pointer(tp: usize) {
    AGENT_TP.store(tp, Ordering::Relaxed);
    if let Some(dtv) = crate::glibc_heap::dtv_of(tp) {
        if let Some(slot) = AGENT_DTVS.iter().find(|s| s.load(Ordering::Relaxed) == 0) {
            slot.store(dtv, Ordering::Relaxed);
        }
    }
}

/// See [`AGENT_DTVS`].
pub fn agent_dtvs() -> impl Iterator<Item = usize> {
    AGENT_DTVS
        .iter()
        .map(|s| s.load(Ordering::Relaxed))
        .filter(|&d| d != 0)
}

/// The thread pointer of the agent's own thread (0: none).
pub fn agent_thread_pointer() -> usize {
    AGENT_TP.load(Ordering::Relaxed)
}

pub fn signal_number() -> i32 {
    libc::SIGRTMAX() - 1
}

fn gettid() -> i32 {
    // SAFETY: plain syscall.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

/// Installs the stop handler (once, at start-up).
pub fn install() {
    // SAFETY: sigaction with a valid handler; SA_RESTART keeps interrupted syscalls transparent.
    unsafe {
        let mut sa: libc::sigaction = core::mem::zeroed();
        sa.sa_sigaction = on_stop_signal as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigfillset(&mut sa.sa_mask);
        crate::signals::real_sigaction(signal_number(), &sa, core::ptr::null_mut());
    }
}

extern "C" fn on_stop_signal(_sig: i32, _info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
    if !STOP_REQUESTED.load(Ordering::Acquire) {
        return;
    }
    let e = crate::real::errno();
    let ts = existing_thread_state();
    if let Some(t) = ts.filter(|t| t.busy.get()) {
        t.deferred.set(true);
    } else {
        // SAFETY: the kernel passes a valid ucontext to SA_SIGINFO handlers.
        let uc = unsafe { &*(uctx as *const libc::ucontext_t) };
        park(from_ucontext(uc));
    }
    crate::real::set_errno(e);
}

/// Holds back the stop signal on this thread while alive (it is delivered when dropped).
pub struct HoldStop(u64);

impl HoldStop {
    #[allow(clippy::new_without_default)] // a guard: made only where it is held
    pub fn new() -> HoldStop {
        HoldStop(mask_stop(libc::SIG_BLOCK, 1 << (signal_number() - 1)))
    }
}

impl Drop for HoldStop {
    fn drop(&mut self) {
        mask_stop(libc::SIG_SETMASK, self.0);
    }
}

/// The raw syscall: the program's `pthread_sigmask` is the agent's (see [`crate::signals`]). Returns the
/// mask before.
fn mask_stop(how: i32, set: u64) -> u64 {
    let mut old = 0u64;
    // SAFETY: valid in and out pointers; the kernel's sigset is 8 bytes.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            how,
            &set as *const u64,
            &mut old as *mut u64,
            8usize,
        )
    };
    old
}

fn from_ucontext(uc: &libc::ucontext_t) -> Stopped {
    let g = &uc.uc_mcontext.gregs;
    let order = [
        libc::REG_RAX,
        libc::REG_RBX,
        libc::REG_RCX,
        libc::REG_RDX,
        libc::REG_RSI,
        libc::REG_RDI,
        libc::REG_RBP,
        libc::REG_RSP,
        libc::REG_R8,
        libc::REG_R9,
        libc::REG_R10,
        libc::REG_R11,
        libc::REG_R12,
        libc::REG_R13,
        libc::REG_R14,
        libc::REG_R15,
        libc::REG_RIP,
    ];
    let mut regs = [0usize; 17];
    for (r, &i) in regs.iter_mut().zip(order.iter()) {
        *r = g[i as usize] as usize;
    }
    Stopped {
        tid: gettid(),
        sp: g[libc::REG_RSP as usize] as usize,
        tp: crate::thread::pointer(),
        regs,
    }
}

/// Called as a thread leaves the agent: parks it if a stop is under way and it was asked while busy.
#[inline]
pub fn park_if_requested(t: &ThreadState) {
    if STOP_REQUESTED.load(Ordering::Relaxed) && t.deferred.replace(false) {
        let marker = 0usize;
        park(Stopped {
            tid: gettid(),
            sp: &marker as *const usize as usize,
            tp: crate::thread::pointer(),
            regs: [0; 17],
        });
    }
}

fn park(me: Stopped) {
    if CONTROLLER.load(Ordering::Relaxed) == me.tid {
        return;
    }
    let gen = RELEASE.load(Ordering::Acquire);
    let i = PARKED.load(Ordering::Relaxed);
    // Slots are claimed by a CAS on the count so two threads never share one.
    let mut idx = i;
    while idx < MAX_STOPPED {
        match PARKED.compare_exchange(idx, idx + 1, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => {
                // SAFETY: slot idx is ours alone; the controller reads it only after seeing the count.
                unsafe { (*core::ptr::addr_of_mut!(SLOTS))[idx] = me };
                break;
            }
            Err(now) => idx = now,
        }
    }
    READY.fetch_add(1, Ordering::Release);
    while RELEASE.load(Ordering::Acquire) == gen {
        // SAFETY: futex wait on a valid word; spurious wake-ups re-check the generation.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                RELEASE.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                gen,
                core::ptr::null::<libc::timespec>(),
            )
        };
    }
}

/// Count of threads that finished writing their slot.
static READY: AtomicUsize = AtomicUsize::new(0);

/// Result of a stop: who is stopped, who could not be.
pub struct World {
    pub stopped: Vec<Stopped>,
    pub missed: Vec<i32>,
    pub pause_start_ns: u64,
}

/// Lists the thread ids of this process.
fn thread_ids() -> Vec<i32> {
    let mut out = Vec::new();
    // SAFETY: plain syscalls on our own buffer; dirents parsed within the returned length.
    unsafe {
        let fd = libc::open(
            c"/proc/self/task".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return out;
        }
        let mut buf = [0u8; 8192];
        loop {
            let n = libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) as isize;
            if n <= 0 {
                break;
            }
            let mut off = 0usize;
            while off < n as usize {
                let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
                let name = &buf[off + 19..off + reclen];
                let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                if let Some(tid) = core::str::from_utf8(&name[..end])
                    .ok()
                    .and_then(|s| s.parse().ok())
                {
                    out.push(tid);
                }
                off += reclen;
            }
        }
        libc::close(fd);
    }
    out
}

fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Stops every other thread of the process (the agent's own excepted) and returns their saved state.
pub fn stop_others() -> World {
    let me = gettid();
    let pause_start_ns = now_ns();
    CONTROLLER.store(me, Ordering::Relaxed);
    PARKED.store(0, Ordering::Relaxed);
    READY.store(0, Ordering::Relaxed);
    STOP_REQUESTED.store(true, Ordering::Release);
    // SAFETY: plain syscall.
    let pid = unsafe { libc::getpid() };
    let agent = AGENT_TID.load(Ordering::Relaxed);
    let mut signaled: Vec<i32> = Vec::new();
    // Threads may be created while we work: look again until the list is stable.
    for _ in 0..4 {
        let mut new = 0;
        for tid in thread_ids() {
            if tid == me || tid == agent || signaled.contains(&tid) || thread_dead(pid, tid) {
                continue; // a zombie (e.g. a main thread that called pthread_exit) never answers
            }
            // SAFETY: plain syscall.
            if unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, signal_number()) } == 0 {
                signaled.push(tid);
                new += 1;
            }
        }
        if new == 0 {
            break;
        }
    }
    // Wait (bounded) for everyone to report in; threads that died meanwhile never will.
    let deadline = now_ns() + 2_000_000_000;
    while READY.load(Ordering::Acquire) < signaled.len() && now_ns() < deadline {
        let alive = thread_ids();
        // The agent's snapshot thread may have registered itself after we read AGENT_TID: it never parks.
        let agent = AGENT_TID.load(Ordering::Relaxed);
        signaled.retain(|t| alive.contains(t) && *t != agent);
        if READY.load(Ordering::Acquire) >= signaled.len() {
            break;
        }
        // SAFETY: plain syscall.
        unsafe { libc::usleep(200) };
    }
    let n = PARKED.load(Ordering::Acquire).min(MAX_STOPPED);
    // SAFETY: slots [0, n) were written before READY counted them.
    let stopped: Vec<Stopped> = unsafe { (&(*core::ptr::addr_of!(SLOTS)))[..n].to_vec() };
    let missed = signaled
        .iter()
        .copied()
        .filter(|t| !stopped.iter().any(|s| s.tid == *t))
        .collect();
    World {
        stopped,
        missed,
        pause_start_ns,
    }
}

pub fn monotonic_ns() -> u64 {
    now_ns()
}

/// Lets the stopped threads go on (live checks; never at exit). Returns the time they resumed.
pub fn release() -> u64 {
    STOP_REQUESTED.store(false, Ordering::Release);
    RELEASE.fetch_add(1, Ordering::Release);
    // SAFETY: futex wake on a valid word.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            RELEASE.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        )
    };
    CONTROLLER.store(0, Ordering::Relaxed);
    now_ns()
}

/// A thread is dead when /proc reports it as a zombie (state Z or X after the command's closing paren).
pub fn thread_dead(pid: i32, tid: i32) -> bool {
    let mut path = [0u8; 64];
    let mut w = Writer(&mut path, 0);
    let _ = core::fmt::write(&mut w, format_args!("/proc/{pid}/task/{tid}/stat\0"));
    let mut buf = [0u8; 512];
    // SAFETY: path is NUL-terminated; plain open/read/close into a local buffer.
    let n = unsafe {
        let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return true; // already reaped
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    let text = &buf[..n.max(0) as usize];
    match text.iter().rposition(|&b| b == b')') {
        Some(i) => matches!(text.get(i + 2), Some(b'Z' | b'X')),
        None => false,
    }
}

/// Formats into a fixed buffer (no allocation).
struct Writer<'a>(&'a mut [u8], usize);

impl core::fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.1 + s.len();
        let dst = self.0.get_mut(self.1..end).ok_or(core::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.1 = end;
        Ok(())
    }
}
