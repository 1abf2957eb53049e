//! `leakscope check PID`: a leak check of a program that is still running under `leakscope run`.
//!
//! The agent inside the program runs the check when it receives its check signal: it stops the other
//! threads, scans, lets them go, and appends a `Leaks` chunk (trigger `Check`) to the trace, then a snapshot
//! and the ages of the live blocks. This command finds the trace and the signal in the program's environment,
//! makes sure the agent is there to catch the signal (an uncaught real-time signal would kill the program),
//! sends it, waits for the new chunk, and reports the check with its deltas against the previous one.

use crate::args::CheckArgs;
use crate::present::{exit_code, present_to, read_trace_file};
use crate::Failure;
use leakscope_analysis::Options;
use leakscope_report::Context;
use leakscope_trace::settings;
use leakscope_trace::{read_trace, AgesTrigger, Record, Trigger};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn fail(message: String) -> Failure {
    Failure { message, code: 2 }
}

pub fn check(args: CheckArgs) -> Result<i32, Failure> {
    let (pid, env) = program(args.pid)?;
    let settings = settings_of(&env);
    let trace = match (
        &args.trace,
        settings.and_then(|v| settings::field(v, "trace")),
    ) {
        (Some(t), _) => t.clone(),
        (None, Some(v)) => PathBuf::from(String::from_utf8_lossy(v).into_owned()),
        (None, None) => {
            return Err(fail(format!(
                "process {pid} was not started by `leakscope run` (its environment has no {}); \
                 pass --trace FILE if it was",
                settings::VAR
            )))
        }
    };
    let signal = match args.signal {
        Some(s) => s,
        None => settings
            .and_then(|v| settings::number(v, "signal"))
            .map_or_else(|| libc::SIGRTMAX() - 2, |s| s as i32),
    };
    if !catches(pid, signal)? {
        return Err(fail(format!(
            "the leakscope agent is not active in process {pid} (it does not catch signal {signal}, which would kill it): \
             was it started with `leakscope run`, and has it started up?"
        )));
    }
    let before = complete_len(&trace)?;
    // SAFETY: plain kill(2).
    if unsafe { libc::kill(pid as i32, signal) } != 0 {
        return Err(fail(format!(
            "cannot signal process {pid}: {}",
            std::io::Error::last_os_error()
        )));
    }
    wait_for_check(&trace, pid, before, args.timeout)?;
    let data = read_trace_file(&trace)?;
    let out = args.output;
    let opts = Options {
        check_pid: Some(pid),
        ..Options::default()
    };
    let ctx = Context {
        trace: Some(trace.display().to_string()),
        ..Context::default()
    };
    let found = present_to(&data, &opts, &out, ctx, true)?;
    Ok(exit_code(Some(0), found, out.error_exitcode))
}

/// The agent's settings in a process's environment (`LEAKSCOPE`).
fn settings_of(env: &[(String, String)]) -> Option<&[u8]> {
    env.iter()
        .find(|(k, _)| k == settings::VAR)
        .map(|(_, v)| v.as_bytes())
}

/// The traced program to check and its environment: `pid` itself, or, when `pid` is a `leakscope run`
/// (whose environment has no trace), the one program it started.
fn program(pid: u32) -> Result<(u32, Vec<(String, String)>), Failure> {
    let env = environment(pid)?;
    let traced = |env: &[(String, String)]| settings_of(env).is_some();
    if traced(&env) {
        return Ok((pid, env));
    }
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let mut found = children
        .split_whitespace()
        .filter_map(|c| c.parse::<u32>().ok())
        .filter_map(|c| environment(c).ok().filter(|e| traced(e)).map(|e| (c, e)));
    match (found.next(), found.next()) {
        (Some((child, env)), None) => {
            eprintln!("leakscope: checking process {child}, the program that process {pid} runs");
            Ok((child, env))
        }
        _ => Ok((pid, env)),
    }
}

/// The process's initial environment, as (name, value) pairs.
fn environment(pid: u32) -> Result<Vec<(String, String)>, Failure> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).map_err(|e| {
        fail(match e.kind() {
            std::io::ErrorKind::NotFound => format!("no process {pid}"),
            _ => format!("cannot read the environment of process {pid}: {e}"),
        })
    })?;
    Ok(raw
        .split(|&b| b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect())
}

/// Whether the process has a handler installed for `signal` (SigCgt in /proc/PID/status).
fn catches(pid: u32, signal: i32) -> Result<bool, Failure> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| fail(format!("cannot read the status of process {pid}: {e}")))?;
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .unwrap_or(0);
    Ok((1..=64).contains(&signal) && mask & (1u64 << (signal - 1)) != 0)
}

/// Where the trace's last complete chunk ends (a writer may be in the middle of the next one).
fn complete_len(path: &Path) -> Result<u64, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| fail(format!("cannot read the trace {}: {e}", path.display())))?;
    let header = leakscope_trace::CHUNK_HEADER_LEN;
    let mut pos = leakscope_trace::FILE_HEADER_LEN;
    while let Some(len) = bytes.get(pos..pos + 4) {
        let n = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        if pos + header + n > bytes.len() {
            break;
        }
        pos += header + n;
    }
    Ok(pos.min(bytes.len()) as u64)
}

/// Progress of checks of `pid` in the part of the trace from byte `from` on: (checks finished, of which the
/// last has its ages written too). A check is finished when its Leaks chunk is written; its ages follow.
fn checks_done(path: &Path, pid: u32, from: u64) -> Result<(usize, bool), Failure> {
    use std::io::{Read, Seek, SeekFrom};
    let cannot = |e: std::io::Error| fail(format!("cannot read the trace {}: {e}", path.display()));
    // Only what was appended since `from` (the trace may be large after a long run).
    let mut part = leakscope_trace::file_header().to_vec();
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    file.seek(SeekFrom::Start(
        from.max(leakscope_trace::FILE_HEADER_LEN as u64),
    ))
    .map_err(cannot)?;
    file.read_to_end(&mut part).map_err(cannot)?;
    if part.len() == leakscope_trace::FILE_HEADER_LEN {
        return Ok((0, false));
    }
    let trace = read_trace(&part).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    let (mut n, mut aged) = (0, false);
    for c in trace.chunks.iter().filter(|c| c.pid == pid) {
        match &c.record {
            Record::Leaks(l) if l.trigger == Trigger::Check => (n, aged) = (n + 1, false),
            Record::Ages(a) if a.trigger == AgesTrigger::Check => aged = true,
            _ => {}
        }
    }
    Ok((n, aged))
}

/// Polls the trace until a check of `pid` appears after byte `from`.
fn wait_for_check(path: &Path, pid: u32, from: u64, timeout: Duration) -> Result<(), Failure> {
    let start = Instant::now();
    let mut leaks_seen: Option<Instant> = None;
    loop {
        let (n, aged) = checks_done(path, pid, from)?;
        if n > 0 && aged {
            return Ok(());
        }
        if n > 0 {
            // The ages come right after; do not wait long for them.
            let seen = *leaks_seen.get_or_insert_with(Instant::now);
            if seen.elapsed() > Duration::from_secs(2) {
                return Ok(());
            }
        }
        // SAFETY: kill with signal 0 only checks that the process exists.
        if unsafe { libc::kill(pid as i32, 0) } != 0 {
            return Err(fail(format!(
                "process {pid} ended before its check was written"
            )));
        }
        if start.elapsed() > timeout {
            return Err(fail(format!(
                "no check result from process {pid} after {:.0?} (is it stopped, or its agent's thread blocked?)",
                timeout
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
