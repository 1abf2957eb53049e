//! Watching over the program while it runs: leakscope becomes a child subreaper (orphaned descendants are
//! reparented to it), waits until every process has ended, keeps the terminal's SIGINT/SIGQUIT from killing
//! it (the program gets them too and decides), and passes SIGTERM/SIGHUP on to the program.

use leakscope_analysis::ExitStatus;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};

/// The program's pid, for the forwarding handler (0 until it is spawned).
static PROGRAM: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = PROGRAM.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Caught rather than ignored: a caught signal reverts to its default in the exec'ed program, an ignored one
/// would stay ignored there.
extern "C" fn swallow(_: libc::c_int) {}

fn install(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: a zeroed sigaction with a valid handler and an empty mask.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// Call before spawning the program.
pub fn prepare() {
    // SAFETY: plain prctl; failure (very old kernel) only means orphans are not waited for.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    install(libc::SIGINT, swallow);
    install(libc::SIGQUIT, swallow);
    install(libc::SIGTERM, forward);
    install(libc::SIGHUP, forward);
}

pub fn set_program(pid: u32) {
    PROGRAM.store(pid as i32, Ordering::Relaxed);
}

/// How each process that ended was reported by `waitpid`.
pub struct Ended {
    pub root: ExitStatus,
    pub all: HashMap<u32, ExitStatus>,
}

fn decode(status: libc::c_int) -> Option<ExitStatus> {
    if libc::WIFEXITED(status) {
        Some(ExitStatus::Code(libc::WEXITSTATUS(status)))
    } else if libc::WIFSIGNALED(status) {
        Some(ExitStatus::Signal(libc::WTERMSIG(status)))
    } else {
        None
    }
}

/// Reaps every child until none is left (the program and every descendant reparented to us).
pub fn wait_all(root: u32) -> Ended {
    let mut all = HashMap::new();
    loop {
        let mut status = 0;
        // SAFETY: valid out pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break; // ECHILD: nothing left to wait for.
        }
        if let Some(s) = decode(status) {
            all.insert(pid as u32, s);
        }
    }
    let root = all.get(&root).copied().unwrap_or(ExitStatus::Unknown);
    Ended { root, all }
}
