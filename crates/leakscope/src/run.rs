//! `leakscope run`: find the program, warn when the agent cannot reach it, create the trace, start the
//! program with the agent preloaded, wait for it and its descendants, then report.

use crate::args::{Format, RunArgs};
use crate::elf::{self, Linkage};
use crate::present::{exit_code, present_with};
use crate::{agent, supervise, Failure};
use leakscope_analysis::{Options, Symbolizer};
use leakscope_report::Context;
use leakscope_trace::settings::Settings;
use leakscope_trace::{frame_chunk, ExitStatus, Record, RunInfo};
use std::ffi::{OsStr, OsString};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn run(args: RunArgs) -> Result<i32, Failure> {
    let program = args.command[0].clone();
    let exe = resolve(&program)?;
    let warnings = preload_warnings(&exe, &program);
    for w in &warnings {
        eprintln!("leakscope: warning: {w}");
    }
    let agent = agent::path().map_err(|message| Failure { message, code: 2 })?;
    let trace = args
        .trace
        .clone()
        .unwrap_or_else(|| default_trace_name(&program));
    create_trace(&trace)?;
    let trace_abs = std::path::absolute(&trace).unwrap_or_else(|_| trace.clone());
    supervise::prepare();
    let child = command(&exe, &args, &agent, &trace_abs)
        .spawn()
        .map_err(|e| spawn_failure(&program, &e))?;
    supervise::set_program(child.id());
    let opts = Options {
        root_pid: Some(child.id()),
        ..Options::default()
    };
    // Sampled mode is for production: its reports are small, and the program keeps its cores to itself.
    let all_stacks = args.output.all_stacks();
    let warm = (args.sample_rate == 0)
        .then(|| crate::warm::Warmup::start(trace_abs.clone(), opts.debug_dirs.clone(), all_stacks))
        .flatten();
    let ended = supervise::wait_all(child.id());
    let sym = match warm {
        Some(w) => w.finish(),
        None => Symbolizer::new(opts.debug_dirs.clone()),
    };
    append_run_info(&trace, child.id(), ended.root, &args.command);
    let code = ended.root.shell_code().unwrap_or(1);
    let data = crate::present::read_trace_file(&trace)?;
    let recorded = data.chunks.iter().any(|c| c.pid == child.id());
    let mut ctx = Context {
        exit_code: Some(code),
        trace: Some(trace.display().to_string()),
        ..Context::default()
    };
    if warnings.is_empty() && !recorded {
        ctx.warnings.push(not_loaded(&program, child.id()));
    }
    // Already printed above; a report on stderr in text would only repeat them.
    if args.output.output.is_some() || args.output.format != Format::Text {
        ctx.warnings.extend(warnings);
    }
    let opts = Options {
        observed: ended.all,
        ..opts
    };
    let found = present_with(&data, &opts, &args.output, ctx, false, sym)?;
    std::mem::forget(data); // as the report's: leakscope exits now
    Ok(exit_code(Some(code), found, args.output.error_exitcode))
}

fn show(program: &OsStr) -> String {
    program.to_string_lossy().into_owned()
}

fn failure(program: &OsStr, what: &str, code: i32) -> Failure {
    Failure {
        message: format!("cannot run '{}': {what}", show(program)),
        code,
    }
}

/// The executable `execvp` would run, or the shell's error (127: not found, 126: found but not runnable).
fn resolve(program: &OsStr) -> Result<PathBuf, Failure> {
    if program.as_bytes().contains(&b'/') {
        let path = PathBuf::from(program);
        return match fs::metadata(&path) {
            Err(_) => Err(failure(program, "no such file or directory", 127)),
            Ok(m) if m.is_dir() => Err(failure(program, "is a directory", 126)),
            Ok(_) if !executable(&path) => Err(failure(program, "permission denied", 126)),
            Ok(_) => Ok(path),
        };
    }
    let search = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let mut denied = false;
    for dir in std::env::split_paths(&search) {
        let candidate = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        }
        .join(program);
        if fs::metadata(&candidate).is_ok_and(|m| m.is_file()) {
            if executable(&candidate) {
                return Ok(candidate);
            }
            denied = true;
        }
    }
    if denied {
        Err(failure(program, "permission denied", 126))
    } else {
        Err(failure(
            program,
            "no such file or directory (not found in PATH)",
            127,
        ))
    }
}

fn executable(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}

fn spawn_failure(program: &OsStr, e: &std::io::Error) -> Failure {
    match e.raw_os_error() {
        Some(libc::ENOENT) => failure(program, "no such file or directory", 127),
        Some(libc::EACCES) => failure(program, "permission denied", 126),
        Some(libc::ENOEXEC) => failure(program, "exec format error (not an executable)", 126),
        _ => failure(program, &e.to_string(), 126),
    }
}

/// Why the dynamic loader will not preload the agent into this executable, if it won't.
fn preload_warnings(exe: &Path, program: &OsStr) -> Vec<String> {
    let name = show(program);
    let mut out = Vec::new();
    match elf::linkage(exe) {
        Linkage::Static => out.push(format!(
            "'{name}' is statically linked: the agent cannot be preloaded into it, so nothing will be recorded"
        )),
        Linkage::Elf32 => out.push(format!(
            "'{name}' is a 32-bit program: the 64-bit agent cannot be loaded into it, so nothing will be recorded"
        )),
        Linkage::Dynamic | Linkage::Other => {}
    }
    if let Ok(m) = fs::metadata(exe) {
        // SAFETY: plain id getters.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let setid = (m.mode() & 0o4000 != 0 && m.uid() != uid)
            || (m.mode() & 0o2000 != 0 && m.gid() != gid);
        if setid {
            out.push(format!(
                "'{name}' is set-user-ID or set-group-ID: the dynamic loader ignores LD_PRELOAD for it, so nothing will be recorded"
            ));
        }
    }
    out
}

fn not_loaded(program: &OsStr, pid: u32) -> String {
    format!(
        "the agent was not loaded into '{}' (the trace holds nothing from pid {pid}), so nothing was recorded: \
         set-user-ID programs ignore LD_PRELOAD, statically linked ones cannot preload, and a wrapper that \
         clears LD_PRELOAD or execs through a static helper prevents it",
        show(program)
    )
}

/// `leakscope.<program>.<pid>.lstrace` in the current directory.
fn default_trace_name(program: &OsStr) -> PathBuf {
    let base = Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "program".into());
    PathBuf::from(format!("leakscope.{base}.{}.lstrace", std::process::id()))
}

/// A fresh trace with its file header; the agent appends to it.
fn create_trace(path: &Path) -> Result<(), Failure> {
    let write = || -> std::io::Result<()> {
        let mut f = crate::present::create_fresh(path)?;
        f.set_permissions(fs::Permissions::from_mode(0o644))?;
        f.write_all(&leakscope_trace::file_header())
    };
    write().map_err(|e| Failure {
        message: format!("cannot create the trace file {}: {e}", path.display()),
        code: 2,
    })
}

/// The environment the program gets: its own, plus the agent preloaded, the agent's settings in one
/// variable, and libstdc++'s GLIBCXX_FORCE_NEW (and its old name) as Valgrind sets them — so that the
/// program sees as many added variables as under Memcheck, and libstdc++'s pool allocators (if a program
/// uses one) allocate each object with `operator new`, where the leak check sees it, as under Memcheck.
fn command(exe: &Path, args: &RunArgs, agent: &Path, trace: &Path) -> Command {
    let mut cmd = Command::new(exe);
    cmd.arg0(&args.command[0]).args(&args.command[1..]);
    let mut preload = OsString::from(agent);
    if let Some(existing) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
        preload.push(":");
        preload.push(existing);
    }
    let interval_ms = match args.interval.as_millis() {
        0 if !args.interval.is_zero() => 1,
        ms => ms,
    };
    let settings = Settings {
        cli: std::process::id(),
        interval_ms: interval_ms as u64,
        sample_rate: args.sample_rate,
        // Exec'ed descendants are traced unless --no-follow-exec (then only the process leakscope started).
        follow_exec: !args.no_follow_exec,
        check_signal: args.check_signal,
        trace: trace.display().to_string(),
    };
    cmd.env("LD_PRELOAD", preload)
        .env(leakscope_trace::settings::VAR, settings.encode());
    for var in ["GLIBCXX_FORCE_NEW", "GLIBCPP_FORCE_NEW"] {
        if std::env::var_os(var).is_none() {
            cmd.env(var, "1");
        }
    }
    cmd
}

/// Records which process was the program and how it ended (pid 0: written by the CLI).
fn append_run_info(trace: &Path, root: u32, status: ExitStatus, command: &[OsString]) {
    let rec = Record::RunInfo(RunInfo {
        root_pid: root,
        status,
        command: command
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
    });
    let mut payload = Vec::new();
    rec.encode(&mut payload);
    let mut chunk = Vec::new();
    frame_chunk(&mut chunk, rec.kind(), 0, &payload);
    let written = OpenOptions::new()
        .append(true)
        .open(trace)
        .and_then(|mut f| f.write_all(&chunk));
    if let Err(e) = written {
        eprintln!(
            "leakscope: warning: cannot append the run record to {}: {e}",
            trace.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn message(r: Result<PathBuf, Failure>) -> (String, i32) {
        let f = r.unwrap_err();
        (f.message, f.code)
    }

    #[test]
    fn missing_or_unrunnable_programs_fail_like_a_shell() {
        assert_eq!(
            message(resolve(OsStr::new("leakscope-no-such-program"))),
            ("cannot run 'leakscope-no-such-program': no such file or directory (not found in PATH)".into(), 127)
        );
        assert_eq!(
            message(resolve(OsStr::new("./no/such/prog"))),
            (
                "cannot run './no/such/prog': no such file or directory".into(),
                127
            )
        );
        assert_eq!(
            message(resolve(OsStr::new("/"))),
            ("cannot run '/': is a directory".into(), 126)
        );
        let file = std::env::temp_dir().join(format!("leakscope-noexec-{}", std::process::id()));
        fs::write(&file, "data").unwrap();
        // Root may execute nothing without an x bit either, so this holds for every user.
        assert_eq!(message(resolve(file.as_os_str())).1, 126);
        fs::remove_file(&file).unwrap();
        assert_eq!(
            resolve(OsStr::new("sh")).unwrap().file_name().unwrap(),
            "sh"
        );
    }

    #[test]
    fn static_programs_are_announced() {
        let dir = std::env::temp_dir().join(format!("leakscope-run-static-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("s.c"), "int main(void) { return 0; }\n").unwrap();
        let built = Command::new("gcc")
            .arg("-static")
            .arg("-o")
            .arg(dir.join("s"))
            .arg(dir.join("s.c"))
            .output();
        if built.is_ok_and(|o| o.status.success()) {
            assert_eq!(
                preload_warnings(&dir.join("s"), OsStr::new("./s")),
                ["'./s' is statically linked: the agent cannot be preloaded into it, so nothing will be recorded"]
            );
        } else {
            eprintln!("skipped: gcc -static is not available (no static glibc)");
        }
        assert!(preload_warnings(Path::new("/bin/sh"), OsStr::new("sh")).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn default_trace_name_uses_the_program_name() {
        let name = default_trace_name(OsStr::new("./build/my prog"));
        assert_eq!(
            name,
            PathBuf::from(format!("leakscope.my prog.{}.lstrace", std::process::id()))
        );
    }
}
