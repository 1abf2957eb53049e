//! The shared tail of both commands: analyze a trace, render it in the chosen format, write it where asked,
//! and choose the exit status.

use crate::args::{Format, Output};
use crate::Failure;
use leakscope_analysis::model::Processes;
use leakscope_analysis::{analyze_processes, Analysis, Options, Symbolizer};
use leakscope_report::Context;
use leakscope_trace::TraceFile;
use std::io::{IsTerminal, Write};
use std::path::Path;

/// Renders and writes the report (to stderr unless `--output`); returns whether leaks of the kinds that
/// count as errors were found.
pub fn present(
    trace: &TraceFile,
    opts: &Options,
    out: &Output,
    ctx: Context,
) -> Result<bool, Failure> {
    present_to(trace, opts, out, ctx, false)
}

/// [`present`], with the report going to stdout instead of stderr when `stdout` (and no `--output`).
pub fn present_to(
    trace: &TraceFile,
    opts: &Options,
    out: &Output,
    ctx: Context,
    stdout: bool,
) -> Result<bool, Failure> {
    let sym = Symbolizer::new(opts.debug_dirs.clone());
    present_with(trace, opts, out, ctx, stdout, sym)
}

/// [`present_to`] with a symbolizer that may already know the trace's stacks (see [`crate::warm`]).
pub fn present_with(
    trace: &TraceFile,
    opts: &Options,
    out: &Output,
    mut ctx: Context,
    stdout: bool,
    mut sym: Symbolizer,
) -> Result<bool, Failure> {
    let procs = Processes::from_trace(trace);
    let opts = Options {
        all_stacks: out.all_stacks(),
        ..opts.clone()
    };
    let analysis = analyze_processes(trace, &procs, &opts, &mut sym);
    // leakscope exits once the report is written: freeing a large report's processes, frames and debug
    // information piece by piece would only make it later.
    std::mem::forget(procs);
    std::mem::forget(sym);
    ctx.show_reachable = out.show_reachable;
    ctx.color = out.format == Format::Text && out.output.is_none() && color_wanted(stdout);
    let text = render(&analysis, &ctx, out.format);
    match &out.output {
        Some(path) => create_fresh(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| Failure {
                message: format!("cannot write the report to {}: {e}", path.display()),
                code: 2,
            })?,
        None if stdout => drop(std::io::stdout().lock().write_all(text.as_bytes())),
        // A closed stderr is no reason to fail the run.
        None => drop(std::io::stderr().lock().write_all(text.as_bytes())),
    }
    let found = analysis.has_leaks_of(&out.errors_for_kinds.0);
    std::mem::forget(analysis);
    Ok(found)
}

/// Creates `path` for writing. An old regular file of that name is removed first rather than truncated:
/// ext4 writes a file truncated and rewritten out to disk when it is closed (and discards the freed blocks
/// at once), which made each run with the same `--trace` or `--output` wait for the disk.
pub fn create_fresh(path: &Path) -> std::io::Result<std::fs::File> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
        std::fs::remove_file(path)?;
    }
    std::fs::File::create(path)
}

fn render(a: &Analysis, ctx: &Context, format: Format) -> String {
    match format {
        Format::Text => leakscope_report::text::render(a, ctx),
        Format::Json => leakscope_report::json::render(a, ctx),
    }
}

/// Colors only for a terminal that can show them (and a user who did not opt out with NO_COLOR).
fn color_wanted(stdout: bool) -> bool {
    (if stdout {
        std::io::stdout().is_terminal()
    } else {
        std::io::stderr().is_terminal()
    }) && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_some_and(|t| t != "dumb")
}

/// The program's own status, or `error_exitcode` when leaks of the kinds that count were found.
pub fn exit_code(program: Option<i32>, leaks_found: bool, error_exitcode: Option<i32>) -> i32 {
    match error_exitcode {
        Some(n) if leaks_found => n,
        _ => program.unwrap_or(0),
    }
}

/// Reads and decodes a trace file; an unreadable or non-trace file is a one-line failure.
pub fn read_trace_file(path: &std::path::Path) -> Result<leakscope_trace::TraceFile, Failure> {
    let fail = |message: String| Failure { message, code: 2 };
    let bytes = std::fs::read(path)
        .map_err(|e| fail(format!("cannot read the trace {}: {e}", path.display())))?;
    leakscope_trace::read_trace(&bytes).map_err(|e| fail(format!("{}: {e}", path.display())))
}

/// `leakscope report TRACE`.
pub fn report(args: crate::args::ReportArgs) -> Result<i32, Failure> {
    let trace = read_trace_file(&args.trace)?;
    let found = present(
        &trace,
        &Options::default(),
        &args.output,
        Context::default(),
    )?;
    Ok(exit_code(None, found, args.output.error_exitcode))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;
    use leakscope_trace::{frame_chunk, Origin, ProcessStart, Record};

    fn report_args(argv: &[&str]) -> crate::args::ReportArgs {
        let mut full = vec!["leakscope", "report"];
        full.extend(argv);
        match Cli::try_parse_from(full).unwrap().command {
            Command::Report(r) => r,
            _ => unreachable!(),
        }
    }

    fn temp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("leakscope-present-{}-{name}", std::process::id()))
    }

    #[test]
    fn garbage_trace_is_a_one_line_error() {
        let path = temp("garbage");
        std::fs::write(&path, b"this is not a trace at all").unwrap();
        let f = report(report_args(&[path.to_str().unwrap()])).unwrap_err();
        assert_eq!(f.code, 2);
        assert_eq!(
            f.message,
            format!("{}: not a leakscope trace (bad magic bytes): pass a file written by `leakscope run --trace`", path.display())
        );
        assert!(!f.message.contains('\n'));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn truncated_trace_is_reported_with_a_warning() {
        let mut bytes = leakscope_trace::file_header().to_vec();
        let start = Record::ProcessStart(ProcessStart {
            ppid: 1,
            origin: Origin::Exec,
            time_unix_ns: 0,
            exe: "/bin/prog".into(),
            args: vec!["prog".into()],
            agent_version: "0.1.0".into(),
            sample_rate: 0,
        });
        let mut payload = Vec::new();
        start.encode(&mut payload);
        frame_chunk(&mut bytes, start.kind(), 77, &payload);
        bytes.extend_from_slice(&[9, 0, 0, 0, 5]);
        let (path, out) = (temp("trunc.lstrace"), temp("trunc.json"));
        std::fs::write(&path, &bytes).unwrap();
        let args = report_args(&[
            path.to_str().unwrap(),
            "--format",
            "json",
            "--output",
            out.to_str().unwrap(),
            "--error-exitcode",
            "9",
        ]);
        assert_eq!(report(args).unwrap(), 0);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert!(v["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("trace truncated at byte"));
        assert_eq!(v["pid"], 77);
        assert!(v["exit_code"].is_null());
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(&out).unwrap();
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(Some(3), false, None), 3);
        assert_eq!(exit_code(Some(3), true, None), 3);
        assert_eq!(exit_code(Some(0), true, Some(42)), 42);
        assert_eq!(exit_code(Some(139), false, Some(42)), 139);
        assert_eq!(exit_code(None, false, Some(42)), 0);
        assert_eq!(exit_code(None, true, Some(7)), 7);
    }
}
