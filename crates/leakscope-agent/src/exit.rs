//! Every way a process image can end, and fork: each path records the exit status and where the exiting
//! thread's live stack begins, then triggers the final report exactly once.
//!
//! - return from `main`: `__libc_start_main` is interposed to call `main` through a trampoline that notes
//!   the return value and its own stack pointer (main's frame is dead after it returns);
//! - `exit()`: interposed to note the status and the caller's stack pointer, then glibc's exit runs the
//!   program's atexit handlers and destructors;
//! - the report itself runs from an atexit handler registered before any of the program's, so it runs after
//!   all of them and after `_dl_fini` (library destructors), the latest point that still sees the process;
//! - `_exit`/`_Exit`: interposed, report immediately;
//! - `quick_exit`: interposed to note the status; the report runs from an `at_quick_exit` handler
//!   registered first (glibc then leaves through its internal `_exit`, which no interposer sees);
//! - `daemon`: reimplemented so that the original process leaves through the interposed `_exit`;
//! - fatal signals: see [`crate::signals`] (reports when the default action is about to kill);
//! - `fork`: atfork handlers keep the agent's locks consistent; the child starts its own report;
//!   `vfork` is a `fork`, as under Valgrind.

use crate::report::{final_report, ExitPoint};
use crate::state::{self, STATE};
use crate::{stacks, writer};
use core::ffi::{c_char, c_int, c_void};
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use leakscope_trace::{ExitStatus, Origin};

const NO_STATUS: i64 = i64::MIN;
static EXIT_CODE: AtomicI64 = AtomicI64::new(NO_STATUS);
static FLOOR_SP: AtomicUsize = AtomicUsize::new(0);
static LATE_INIT: AtomicBool = AtomicBool::new(false);

type MainFn = extern "C" fn(c_int, *mut *mut c_char, *mut *mut c_char) -> c_int;
static REAL_MAIN: AtomicUsize = AtomicUsize::new(0);

#[inline(always)]
fn current_sp() -> usize {
    let sp: usize;
    // SAFETY: reads rsp only.
    unsafe {
        core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    sp
}

unsafe fn next_symbol(name: &core::ffi::CStr) -> *mut c_void {
    libc::dlsym(libc::RTLD_NEXT, name.as_ptr())
}

extern "C" fn main_trampoline(
    argc: c_int,
    argv: *mut *mut c_char,
    envp: *mut *mut c_char,
) -> c_int {
    // SAFETY: REAL_MAIN was set from the program's own main pointer just before.
    let main: MainFn = unsafe { core::mem::transmute(REAL_MAIN.load(Ordering::Relaxed)) };
    let r = main(argc, argv, envp);
    note_exit(r, current_sp());
    r
}

/// Return from main: main's frame is dead, its callee-saved registers were restored.
fn note_exit(code: c_int, sp: usize) {
    if EXIT_CODE
        .compare_exchange(NO_STATUS, code as i64, Ordering::AcqRel, Ordering::Relaxed)
        .is_ok()
    {
        FLOOR_SP.store(sp, Ordering::Release);
    }
}

type StartMain = unsafe extern "C" fn(
    MainFn,
    c_int,
    *mut *mut c_char,
    *mut c_void,
    *mut c_void,
    *mut c_void,
    *mut c_void,
) -> c_int;

#[no_mangle]
pub unsafe extern "C" fn __libc_start_main(
    main: MainFn,
    argc: c_int,
    argv: *mut *mut c_char,
    init: *mut c_void,
    fini: *mut c_void,
    rtld_fini: *mut c_void,
    stack_end: *mut c_void,
) -> c_int {
    let real = next_symbol(c"__libc_start_main");
    if real.is_null() {
        libc::abort();
    }
    let real: StartMain = core::mem::transmute(real);
    late_init();
    if STATE.load(Ordering::Acquire) != state::ACTIVE {
        return real(main, argc, argv, init, fini, rtld_fini, stack_end);
    }
    REAL_MAIN.store(main as usize, Ordering::Relaxed);
    real(
        main_trampoline,
        argc,
        argv,
        init,
        fini,
        rtld_fini,
        stack_end,
    )
}

// `exit`, `_exit`, `_Exit` and `quick_exit` are naked stubs: they pass the caller's stack pointer at the call
// (everything below it is dead, as Memcheck sees it) and the caller's callee-saved registers (which the real
// exit path would push onto the stack, where Memcheck scans them) to the Rust side as arguments 2..8.
macro_rules! exit_stub {
    ($name:ident => $target:ident) => {
        #[unsafe(naked)]
        #[no_mangle]
        pub unsafe extern "C" fn $name(_status: c_int) -> ! {
            core::arch::naked_asm!(
                    "lea rsi, [rsp + 8]",
                    "sub rsp, 8",
                    "push r15",
                    "push r14",
                    "mov rdx, rbx",
                    "mov rcx, rbp",
                    "mov r8, r12",
                    "mov r9, r13",
                "call {f}",
                "ud2",
                f = sym $target,
            )
        }
    };
}

exit_stub!(exit => exit_impl);
exit_stub!(_exit => exit_now);
exit_stub!(_Exit => exit_now);
exit_stub!(quick_exit => quick_exit_impl);

/// The caller's callee-saved registers at its `exit()` call (rbx, rbp, r12..r15).
static EXIT_REGS: [AtomicUsize; 6] = [const { AtomicUsize::new(0) }; 6];

#[allow(clippy::too_many_arguments)]
extern "C" fn exit_impl(
    status: c_int,
    floor: usize,
    rbx: usize,
    rbp: usize,
    r12: usize,
    r13: usize,
    r14: usize,
    r15: usize,
) -> ! {
    note_exit_call(status, floor, [rbx, rbp, r12, r13, r14, r15]);
    call_real_exit(c"exit", status)
}

/// `quick_exit` runs the `at_quick_exit` handlers, then glibc's internal `_exit`, which no interposer
/// sees: the report runs from an `at_quick_exit` handler of the agent's, registered first.
#[allow(clippy::too_many_arguments)]
extern "C" fn quick_exit_impl(
    status: c_int,
    floor: usize,
    rbx: usize,
    rbp: usize,
    r12: usize,
    r13: usize,
    r14: usize,
    r15: usize,
) -> ! {
    note_exit_call(status, floor, [rbx, rbp, r12, r13, r14, r15]);
    call_real_exit(c"quick_exit", status)
}

/// Notes the status, the caller's stack pointer and its callee-saved registers at an exit call.
fn note_exit_call(status: c_int, floor: usize, regs: [usize; 6]) {
    if EXIT_CODE
        .compare_exchange(
            NO_STATUS,
            status as i64,
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_ok()
    {
        for (slot, v) in EXIT_REGS.iter().zip(regs) {
            slot.store(v, Ordering::Relaxed);
        }
        FLOOR_SP.store(floor, Ordering::Release);
    }
}

fn call_real_exit(name: &core::ffi::CStr, status: c_int) -> ! {
    // SAFETY: looking up and calling glibc's function with the program's status.
    unsafe {
        let real = next_symbol(name);
        if real.is_null() {
            libc::syscall(libc::SYS_exit_group, status);
        }
        let real: extern "C" fn(c_int) -> ! = core::mem::transmute(real);
        real(status)
    }
}

/// `vfork` runs the child in the parent's memory until it execs or exits: a report from such a child
/// would act on the parent's state. As under Valgrind, it is a `fork`.
#[no_mangle]
pub extern "C" fn vfork() -> libc::pid_t {
    // SAFETY: plain fork; the atfork handlers keep the agent consistent in both processes.
    unsafe { libc::fork() }
}

/// glibc's `daemon`, whose parent leaves through glibc's internal `_exit`, which no interposer sees; here
/// it leaves through the interposed one, so the original process gets its report.
#[no_mangle]
pub unsafe extern "C" fn daemon(nochdir: c_int, noclose: c_int) -> c_int {
    match libc::fork() {
        -1 => return -1,
        0 => {}
        _ => _exit(0),
    }
    if libc::setsid() == -1 {
        return -1;
    }
    if nochdir == 0 {
        libc::chdir(c"/".as_ptr());
    }
    if noclose == 0 {
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if fd < 0 {
            return -1;
        }
        for target in 0..3 {
            libc::dup2(fd, target);
        }
        if fd > 2 {
            libc::close(fd);
        }
    }
    0
}

#[allow(clippy::too_many_arguments)]
extern "C" fn exit_now(
    status: c_int,
    floor: usize,
    rbx: usize,
    rbp: usize,
    r12: usize,
    r13: usize,
    r14: usize,
    r15: usize,
) -> ! {
    let regs = [rbx, rbp, r12, r13, r14, r15];
    final_report(ExitPoint {
        status: ExitStatus::Code(status),
        floor_sp: floor,
        regs: Some(&regs),
        freeres: true,
    });
    // glibc's _exit is exit_group; calling it by name would land back here.
    loop {
        // SAFETY: terminates the process.
        unsafe { libc::syscall(libc::SYS_exit_group, status) };
    }
}

/// Runs after every other atexit handler and destructor (it was registered before them). Registered
/// with `on_exit`, so the status is known however `exit` was reached (libc's `err`, `error` and `errx`
/// call it from inside libc, past the interposed `exit`).
extern "C" fn at_exit(status: c_int, _: *mut c_void) {
    let code = EXIT_CODE.load(Ordering::Acquire);
    let status = ExitStatus::Code(if code == NO_STATUS {
        status
    } else {
        code as i32
    });
    report_at_exit(status);
}

/// `quick_exit`: runs after the program's `at_quick_exit` handlers (it was registered before them).
extern "C" fn at_quick_exit_handler() {
    let code = EXIT_CODE.load(Ordering::Acquire);
    let status = if code == NO_STATUS {
        ExitStatus::Unknown
    } else {
        ExitStatus::Code(code as i32)
    };
    report_at_exit(status);
}

fn report_at_exit(status: ExitStatus) {
    let floor = match FLOOR_SP.load(Ordering::Acquire) {
        0 => current_sp(),
        sp => sp,
    };
    // After exit(), the callee-saved registers of its caller are roots (glibc's exit path saves them in
    // frames below the caller's stack pointer, where Memcheck finds them); after main returned, they are 0.
    let regs = EXIT_REGS.each_ref().map(|r| r.load(Ordering::Relaxed));
    final_report(ExitPoint {
        status,
        floor_sp: floor,
        regs: Some(&regs),
        freeres: true,
    });
}

extern "C" {
    fn on_exit(f: extern "C" fn(c_int, *mut c_void), arg: *mut c_void) -> c_int;
    fn at_quick_exit(f: extern "C" fn()) -> c_int;
}

/// Registers the exit hooks; called from the lazy start, before the program's own registrations.
pub fn register_at_exit() {
    // SAFETY: static functions with a null argument.
    unsafe {
        on_exit(at_exit, core::ptr::null_mut());
        at_quick_exit(at_quick_exit_handler);
    }
}

extern "C" fn before_fork() {
    writer::lock_for_fork();
    stacks::lock_for_fork();
    crate::quarantine::lock_for_fork();
}

extern "C" fn after_fork_parent() {
    crate::quarantine::unlock_after_fork();
    stacks::unlock_after_fork();
    writer::unlock_after_fork();
}

extern "C" fn after_fork_child() {
    crate::quarantine::unlock_after_fork();
    stacks::unlock_after_fork();
    writer::unlock_after_fork();
    if STATE.load(Ordering::Acquire) != state::ACTIVE {
        return;
    }
    // SAFETY: plain syscalls.
    let (pid, ppid) = unsafe { (libc::getpid() as u32, libc::getppid() as u32) };
    writer::PID.store(pid, Ordering::Relaxed);
    // EXIT_CODE, FLOOR_SP and EXIT_REGS stay: a child forked while the parent was exiting (from an
    // atexit handler) goes on exiting with the same status, on the same stack.
    for s in stacks::all() {
        s.written.store(false, Ordering::Relaxed);
        s.snap_allocs.store(0, Ordering::Relaxed);
    }
    state::forget_written_modules();
    let _busy = state::Busy::enter();
    state::emit_start(Origin::Fork, ppid);
    state::emit_modules();
    // Threads do not survive fork: the child gets a snapshot thread of its own (timeline, live checks).
    crate::timeline::start();
}

/// Set-up that must not run inside an arbitrary first malloc call: signal handlers and fork hooks.
pub fn late_init() {
    if !state::active() || LATE_INIT.swap(true, Ordering::AcqRel) {
        return;
    }
    let _busy = state::Busy::enter();
    crate::signals::install();
    crate::signals::ensure_alt_stack();
    crate::world::install();
    crate::timeline::start();
    // SAFETY: static handlers.
    unsafe {
        libc::pthread_atfork(
            Some(before_fork),
            Some(after_fork_parent),
            Some(after_fork_child),
        )
    };
}
