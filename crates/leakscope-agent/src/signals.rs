//! Fatal signals, without changing what the program sees.
//!
//! To report the live heap when a signal kills the process, the agent keeps its own handler installed for
//! every signal whose default action is to terminate. The program must not notice: runtimes decide things
//! from the current disposition (Rust's std only sets up its stack-overflow handler when SIGSEGV is at its
//! default). So `sigaction` and `signal` are interposed for those signals: the program reads and writes a
//! *virtual* disposition, the kernel keeps the agent's handler (with the program's mask and flags), and the
//! agent's handler runs the program's handler, ignores, or — when the virtual disposition is the default —
//! writes the final report and lets the signal kill the process as it would have.

use crate::report::{final_report, ExitPoint};
use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicBool, Ordering};
use leakscope_trace::ExitStatus;

/// Signals whose default action terminates the process (besides the real-time signals, see [`install`]).
const FATAL: [c_int; 22] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGILL,
    libc::SIGTRAP,
    libc::SIGABRT,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGUSR1,
    libc::SIGSEGV,
    libc::SIGUSR2,
    libc::SIGPIPE,
    libc::SIGALRM,
    libc::SIGTERM,
    libc::SIGSTKFLT,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGIO,
    libc::SIGPWR,
    libc::SIGSYS,
];

/// Faults that re-execute the faulting instruction when the handler returns (and then die of the default
/// action), when the kernel raised them for an instruction (si_code > 0).
const FAULTS: [c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

const NSIG: usize = 65;

/// The program's view of each signal's disposition, for the signals we keep hooked.
struct Virtual {
    hooked: [AtomicBool; NSIG],
    actions: [core::cell::UnsafeCell<libc::sigaction>; NSIG],
}

// SAFETY: an action slot is written by the program's sigaction calls (serialized by the program, as the
// kernel's own table would be racy too) and read by the handler.
unsafe impl Sync for Virtual {}

static VIRTUAL: Virtual = Virtual {
    hooked: [const { AtomicBool::new(false) }; NSIG],
    // SAFETY: an all-zero sigaction is SIG_DFL with an empty mask.
    actions: [const { core::cell::UnsafeCell::new(unsafe { core::mem::zeroed() }) }; NSIG],
};

type SigactionFn =
    unsafe extern "C" fn(c_int, *const libc::sigaction, *mut libc::sigaction) -> c_int;
static REAL_SIGACTION: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// glibc's sigaction (ours is interposed, so calls by name would come back here).
pub fn real_sigaction(sig: c_int, act: *const libc::sigaction, old: *mut libc::sigaction) -> c_int {
    let mut f = REAL_SIGACTION.load(Ordering::Acquire);
    if f == 0 {
        // SAFETY: dlsym with a valid name.
        f = unsafe { libc::dlsym(libc::RTLD_NEXT, c"sigaction".as_ptr()) } as usize;
        REAL_SIGACTION.store(f, Ordering::Release);
    }
    if f == 0 {
        return -1;
    }
    // SAFETY: f is glibc's sigaction.
    unsafe { core::mem::transmute::<usize, SigactionFn>(f)(sig, act, old) }
}

fn hooked(sig: c_int) -> bool {
    (sig as usize) < NSIG && VIRTUAL.hooked[sig as usize].load(Ordering::Acquire)
}

fn virtual_action(sig: c_int) -> *mut libc::sigaction {
    VIRTUAL.actions[sig as usize].get()
}

/// Installs the agent's handler in the kernel with the program's mask and flags.
fn install_real(sig: c_int, program: &libc::sigaction) {
    // SAFETY: building and installing a valid sigaction.
    unsafe {
        let mut sa: libc::sigaction = core::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
        sa.sa_mask = program.sa_mask;
        // Same flags as the program's (SA_RESTART, SA_ONSTACK, ...), but our handler emulates SA_RESETHAND
        // itself and always wants siginfo.
        sa.sa_flags = (program.sa_flags & !libc::SA_RESETHAND) | libc::SA_SIGINFO;
        if program.sa_sigaction == libc::SIG_DFL {
            // Only our own dying report runs: on the alternate stack, so that a stack overflow is reported.
            sa.sa_flags |= libc::SA_ONSTACK;
        }
        real_sigaction(sig, &sa, core::ptr::null_mut());
    }
}

/// Hooks every fatal signal whose inherited disposition is the default (an inherited SIG_IGN is left alone):
/// [`FATAL`] and the real-time signals glibc leaves to programs, but for the agent's own.
pub fn install() {
    let own = [crate::world::signal_number(), crate::config::check_signal()];
    let realtime = (libc::SIGRTMIN()..=libc::SIGRTMAX()).filter(|s| !own.contains(s));
    for sig in FATAL.into_iter().chain(realtime) {
        // SAFETY: query into a zeroed struct.
        let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
        if real_sigaction(sig, core::ptr::null(), &mut old) != 0
            || old.sa_sigaction != libc::SIG_DFL
        {
            continue;
        }
        // SAFETY: slot of a signal below NSIG; no handler can read it before `hooked` is set.
        unsafe { *virtual_action(sig) = old };
        install_real(sig, &old);
        VIRTUAL.hooked[sig as usize].store(true, Ordering::Release);
    }
}

/// Stops virtualizing `sig` (the agent uses it for something else, e.g. live checks).
pub fn unhook(sig: c_int) {
    if (sig as usize) < NSIG {
        VIRTUAL.hooked[sig as usize].store(false, Ordering::Release);
    }
}

/// Interposed `sigaction`: for hooked signals, the program reads and writes its virtual disposition.
#[no_mangle]
pub unsafe extern "C" fn sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    if !hooked(sig) {
        return real_sigaction(sig, act, old);
    }
    if !old.is_null() {
        *old = *virtual_action(sig);
    }
    if act.is_null() {
        return 0;
    }
    let new = *act;
    if new.sa_sigaction == libc::SIG_IGN {
        // Ignored signals are not fatal: hand the signal back to the kernel.
        VIRTUAL.hooked[sig as usize].store(false, Ordering::Release);
        return real_sigaction(sig, act, core::ptr::null_mut());
    }
    *virtual_action(sig) = new;
    install_real(sig, &new);
    0
}

/// Interposed `signal` (BSD semantics, as glibc's): a sigaction with SA_RESTART.
#[no_mangle]
pub unsafe extern "C" fn signal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t {
    let mut sa: libc::sigaction = core::mem::zeroed();
    sa.sa_sigaction = handler;
    sa.sa_flags = libc::SA_RESTART;
    libc::sigemptyset(&mut sa.sa_mask);
    libc::sigaddset(&mut sa.sa_mask, sig);
    let mut old: libc::sigaction = core::mem::zeroed();
    if sigaction(sig, &sa, &mut old) != 0 {
        return libc::SIG_ERR;
    }
    old.sa_sigaction
}

extern "C" fn on_signal(sig: c_int, info: *mut libc::siginfo_t, uctx: *mut c_void) {
    // SAFETY: sig < NSIG (we only hook FATAL).
    let act = unsafe { &mut *virtual_action(sig) };
    let handler = act.sa_sigaction;
    if handler == libc::SIG_DFL {
        die(sig, info, uctx);
        return;
    }
    if handler == libc::SIG_IGN {
        return;
    }
    if act.sa_flags & libc::SA_RESETHAND != 0 {
        act.sa_sigaction = libc::SIG_DFL;
        act.sa_flags &= !libc::SA_RESETHAND;
    }
    // SAFETY: calling the program's handler the way the kernel would have.
    unsafe {
        if act.sa_flags & libc::SA_SIGINFO != 0 {
            let h: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) =
                core::mem::transmute(handler);
            h(sig, info, uctx);
        } else {
            let h: extern "C" fn(c_int) = core::mem::transmute(handler);
            h(sig);
        }
    }
}

/// Size of the alternate signal stack given to the main thread (when the program set none): enough for
/// the handler to start after a stack overflow, before it moves to [`REPORT_STACK`] bytes of its own.
const ALT_STACK: usize = 64 << 10;
/// Stack the dying report runs on: the signal may have landed on a nearly full stack or a small
/// alternate stack (Rust's is a few KiB).
const REPORT_STACK: usize = 1 << 20;

/// Gives the calling thread an alternate signal stack if it has none, so that a SIGSEGV from a stack
/// overflow still reaches the agent and is reported (as Memcheck does). A program's own is left alone.
pub fn ensure_alt_stack() {
    // SAFETY: sigaltstack queries and sets with valid structs; the stack is agent memory, never freed.
    unsafe {
        let mut old: libc::stack_t = core::mem::zeroed();
        if libc::sigaltstack(core::ptr::null(), &mut old) != 0
            || old.ss_flags & libc::SS_DISABLE == 0
        {
            return;
        }
        let base = crate::mem::map(ALT_STACK);
        if base.is_null() {
            return;
        }
        let st = libc::stack_t {
            ss_sp: base.cast(),
            ss_flags: 0,
            ss_size: ALT_STACK,
        };
        libc::sigaltstack(&st, core::ptr::null_mut());
    }
}

/// Calls `f(arg)` with the stack pointer moved to `top` (16-byte aligned), and back.
///
/// # Safety
/// `top` must be the high end of at least a few hundred KiB of writable memory nobody else uses.
unsafe fn call_on_stack(top: usize, f: extern "C" fn(*mut c_void), arg: *mut c_void) {
    core::arch::asm!(
        "mov r12, rsp",
        "mov rsp, {top}",
        "call {f}",
        "mov rsp, r12",
        top = in(reg) top & !15,
        f = in(reg) f,
        in("rdi") arg,
        out("r12") _,
        clobber_abi("C"),
    );
}

/// The signal's default action is about to kill the process: report, then let it.
fn die(sig: c_int, info: *mut libc::siginfo_t, uctx: *mut c_void) {
    // SAFETY: the kernel passes valid siginfo and ucontext to SA_SIGINFO handlers.
    let (uc, code) = unsafe { (&*(uctx as *const libc::ucontext_t), (*info).si_code) };
    let g = &uc.uc_mcontext.gregs;
    let sp = g[libc::REG_RSP as usize] as usize;
    // The red zone below an interrupted stack pointer may hold the interrupted function's locals, so it is
    // a root (as in Memcheck) — unless the thread signalled itself (abort, assert, raise): then it was in
    // libc's raise, whose red zone holds only stale words of earlier calls, which Memcheck knows are
    // undefined.
    let in_libc = crate::modules::current()
        .find(g[libc::REG_RIP as usize] as usize)
        .is_some_and(|m| {
            m.path
                .rsplit('/')
                .next()
                .is_some_and(|f| f.starts_with("libc.so"))
        });
    // SAFETY: as above; si_pid is valid for signals sent by a process.
    let self_sent =
        code == libc::SI_TKILL && unsafe { (*info).si_pid() } == unsafe { libc::getpid() };
    let sp = if self_sent && in_libc {
        sp
    } else {
        sp.saturating_sub(crate::report::RED_ZONE)
    };
    // The dying thread's stack is a root but its registers are not: Memcheck does not scan the registers
    // of a thread killed by a signal (checked on SIGILL, SIGSEGV, SIGABRT, SIGTERM with a block held only in
    // rax, rbx or r11: "definitely lost").
    let mut point = ExitPoint {
        status: ExitStatus::Signal(sig),
        floor_sp: sp,
        regs: None,
        freeres: false,
    };
    extern "C" fn run(point: *mut c_void) {
        // SAFETY: `point` is the ExitPoint below, alive for the whole call.
        final_report(unsafe { core::ptr::read(point as *const ExitPoint) });
    }
    let stack = crate::mem::map(REPORT_STACK);
    let point_ptr = (&mut point as *mut ExitPoint).cast();
    if stack.is_null() {
        run(point_ptr);
    } else {
        // SAFETY: a fresh mapping of REPORT_STACK bytes that only this call uses.
        unsafe { call_on_stack(stack as usize + REPORT_STACK, run, point_ptr) };
    }
    VIRTUAL.hooked[sig as usize].store(false, Ordering::Release);
    // SAFETY: restore the default action and let the signal kill us as it would have.
    unsafe {
        let mut dfl: libc::sigaction = core::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        real_sigaction(sig, &dfl, core::ptr::null_mut());
        // A fault re-executes the faulting instruction on return and dies with the default action. Any
        // other signal (sent by kill/raise/abort, or by the kernel: SIGALRM, SIGXCPU, SIGPIPE, int3's
        // SIGTRAP) is sent again, and delivered when this handler returns.
        if code <= 0 || !FAULTS.contains(&sig) {
            libc::syscall(
                libc::SYS_tgkill,
                libc::getpid(),
                libc::syscall(libc::SYS_gettid),
                sig,
            );
        }
    }
}

type MaskFn = unsafe extern "C" fn(c_int, *const libc::sigset_t, *mut libc::sigset_t) -> c_int;
static REAL_PTHREAD_SIGMASK: core::sync::atomic::AtomicUsize =
    core::sync::atomic::AtomicUsize::new(0);
static REAL_SIGPROCMASK: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Calls glibc's `name` with `set` minus the agent's stop signal: a thread that blocks every signal (common
/// in servers that handle signals in one thread) must still stop for a scan.
unsafe fn masked(
    cache: &core::sync::atomic::AtomicUsize,
    name: &core::ffi::CStr,
    how: c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
) -> c_int {
    let mut f = cache.load(Ordering::Acquire);
    if f == 0 {
        f = libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) as usize;
        cache.store(f, Ordering::Release);
    }
    if f == 0 {
        return libc::EINVAL;
    }
    let real: MaskFn = core::mem::transmute(f);
    if set.is_null() || how == libc::SIG_UNBLOCK {
        return real(how, set, old);
    }
    let mut copy = *set;
    libc::sigdelset(&mut copy, crate::world::signal_number());
    real(how, &copy, old)
}

#[no_mangle]
pub unsafe extern "C" fn pthread_sigmask(
    how: c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
) -> c_int {
    masked(&REAL_PTHREAD_SIGMASK, c"pthread_sigmask", how, set, old)
}

#[no_mangle]
pub unsafe extern "C" fn sigprocmask(
    how: c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
) -> c_int {
    masked(&REAL_SIGPROCMASK, c"sigprocmask", how, set, old)
}
