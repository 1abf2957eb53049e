//! The command line: `leakscope run` and `leakscope report`, their options, and the parsers of durations and
//! leak-kind lists.

use clap::{Args, Parser, Subcommand, ValueEnum};
use leakscope_analysis::LeakKind;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "leakscope",
    version,
    about = "Memory-leak detector for Linux programs (C, C++, Rust): Memcheck's verdicts at native speed",
    long_about = "Memory-leak detector for Linux programs (C, C++, Rust).\n\n\
        `leakscope run -- PROGRAM ARGS...` runs a dynamically linked program unmodified with leakscope's agent \
        preloaded, waits until it and every process it forked have ended, and reports each heap block never \
        freed, grouped by allocation stack and classified as Valgrind Memcheck does (definitely, indirectly, \
        possibly lost, still reachable). The recording is kept as a trace file that `leakscope report` renders \
        again."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a program under leakscope and report its leaks once it and every process it forked have ended
    #[command(
        override_usage = "leakscope run [OPTIONS] [--] PROGRAM [ARGS]...",
        long_about = "Run a program under leakscope and report its leaks once it and every process it forked \
        have ended.\n\nThe program's stdin, stdout, stderr, arguments and environment are its own; leakscope \
        adds LD_PRELOAD (the agent, in front of any existing value), LEAKSCOPE (the agent's settings), and, \
        as Valgrind does, GLIBCXX_FORCE_NEW=1 and GLIBCPP_FORCE_NEW=1 (libstdc++'s pool allocators then \
        allocate each object with operator new, where the leak check sees it). The report goes to stderr \
        (both formats) unless --output is given. leakscope exits with the program's status (128+N if a signal N killed it), or with \
        --error-exitcode when leaks were found. While waiting it ignores SIGINT and SIGQUIT (the terminal \
        sends them to the program too) and passes SIGTERM and SIGHUP on to the program.\n\n\
        Statically linked and set-user-ID programs cannot be traced (the dynamic loader does not preload into \
        them); leakscope says so and still runs them. Processes the program forks are traced and reported \
        under their pid, and so are the programs they exec (e.g. system()'s shell) unless --no-follow-exec.\n\n\
        Environment: LEAKSCOPE_QUARANTINE_BYTES (freed memory each thread holds back before reuse, as \
        Memcheck does; default 65536 = 64 KiB, 0 for none), LEAKSCOPE_PRECISE=1 (keep the protections sampled \
        mode drops), LEAKSCOPE_HEAP_WALK=0 (sampled mode tracks every block instead of walking glibc's heap), \
        LEAKSCOPE_AGENT (use this agent library instead of the embedded one), \
        LEAKSCOPE_UNWIND_REFERENCE=1 (walk every stack from scratch, to check the fast unwinder)."
    )]
    Run(RunArgs),
    /// Render the report of an existing trace file
    #[command(
        long_about = "Render the report of an existing trace file (as written by `leakscope run`). A trace cut \
        short (the program was killed) is reported as far as it goes, with a warning. Exits with 0, or with \
        --error-exitcode when leaks were found, or 2 when the file cannot be read as a trace."
    )]
    Report(ReportArgs),
    /// Run a leak check inside a program started with `leakscope run`, while it keeps running
    #[command(
        long_about = "Run a leak check inside a program started with `leakscope run`, while it keeps running.\n\n        PID is the program's process id as ps shows it (a process it forked works too). leakscope finds the \
        program's trace through its environment (the LEAKSCOPE variable), sends it the check signal \
        (default SIGRTMAX-2, or what `leakscope run --check-signal` chose), and waits \
        for the agent to write the result: the program's threads are stopped for the reachability scan only, \
        without ptrace, then go on. The report (to stdout) has the loss records as at exit, with what is new \
        or increased since the previous check (Memcheck's `leak_check increased`), the pause, and the growth \
        verdicts of every allocation site so far. Exits with 0, or --error-exitcode when leaks were found, or 2 \
        when the check could not be made."
    )]
    Check(CheckArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Memcheck-like loss records and leak summary
    Text,
    /// One JSON document (tool, exit_code, summary, leaks, children)
    Json,
}

/// Options of both commands: how and where to report, and when to fail.
#[derive(Args, Debug)]
pub struct Output {
    /// Report format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to FILE [default: stderr, for both formats, so the program's stdout stays untouched;
    /// stdout for `check`]
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// List still-reachable blocks too, in the text report (the summary always counts them; JSON always
    /// lists them)
    #[arg(long)]
    pub show_reachable: bool,
    /// Exit with N when leaks of a kind in --errors-for-kinds were found, in the program or any process it
    /// forked
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..=255))]
    pub error_exitcode: Option<i32>,
    /// Kinds of leak that count for --error-exitcode: comma-separated definite, indirect, possible, reachable,
    /// or all, or none
    #[arg(long, value_name = "LIST", default_value = "definite,possible", value_parser = parse_kinds)]
    pub errors_for_kinds: Kinds,
}

impl Output {
    /// Does the report show every stack? The default text report leaves out still-reachable records.
    pub fn all_stacks(&self) -> bool {
        self.format != Format::Text || self.show_reachable
    }
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub output: Output,
    /// Trace file to write; it is kept, and its path printed [default:
    /// leakscope.<program>.<pid of leakscope>.lstrace in the current directory]
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// How often the agent records a heap snapshot (the per-site live heap shown if the program is killed
    /// before its leak scan): e.g. 200ms, 1s, 5m; 0 for none
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,
    /// The signal that asks the agent for a live leak check (for supervisors that can only send a signal of
    /// their choice, e.g. USR2): a name (USR2, SIGUSR2, RTMIN+3, RTMAX-2) or a number [default: RTMAX-2].
    /// The program must not use it itself
    #[arg(long, value_name = "SIGNAL", value_parser = parse_signal)]
    pub check_signal: Option<i32>,
    /// Record the stack of about one allocation per BYTES allocated instead of every allocation's (0: every
    /// allocation). For production: Poisson sampling by bytes (blocks of 64 KiB or more always), unbiased
    /// per-site estimates. Unsampled allocations go straight to glibc and are found in its heap at the scan,
    /// so the summary still has every block (unsampled ones at their usable size), but the protections that
    /// make verdicts match Memcheck's exactly (zero-filled blocks, scrubbed stacks, the quarantine) are off
    /// unless LEAKSCOPE_PRECISE=1 (which also tracks every block). 524288 (512 KiB) is a good start
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    pub sample_rate: u64,
    /// Do not trace programs that the program's forked children (or their descendants, e.g. system()'s
    /// shell) start with exec; by default they are traced and reported as children, as Memcheck's
    /// --trace-children=yes does. An exec by the program itself is always followed
    #[arg(long)]
    pub no_follow_exec: bool,
    /// The program to run, then its arguments (everything after PROGRAM is passed to it unchanged)
    #[arg(
        value_name = "PROGRAM",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<OsString>,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The trace file to render
    #[arg(value_name = "TRACE")]
    pub trace: PathBuf,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Process id of the program (as ps shows it), started with `leakscope run`
    #[arg(value_name = "PID")]
    pub pid: u32,
    /// How long to wait for the check's result
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// The program's trace file [default: from the program's environment]
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// The check signal [default: from the program's environment, else RTMAX-2]
    #[arg(long, value_name = "SIGNAL", value_parser = parse_signal)]
    pub signal: Option<i32>,
    #[command(flatten)]
    pub output: Output,
}

/// `USR2`, `SIGUSR2`, `RTMIN+3`, `SIGRTMAX-2` or a number.
pub fn parse_signal(s: &str) -> Result<i32, String> {
    let bad = || format!("invalid signal '{s}' (expected e.g. USR2, RTMIN+3, RTMAX-2 or a number)");
    let name = s.trim().to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    let n = if let Ok(n) = name.parse::<i32>() {
        n
    } else if let Some(rest) = name.strip_prefix("RTMIN") {
        libc::SIGRTMIN() + offset(rest).ok_or_else(bad)?
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        libc::SIGRTMAX() + offset(rest).ok_or_else(bad)?
    } else {
        match name {
            "HUP" => libc::SIGHUP,
            "INT" => libc::SIGINT,
            "QUIT" => libc::SIGQUIT,
            "USR1" => libc::SIGUSR1,
            "USR2" => libc::SIGUSR2,
            "PIPE" => libc::SIGPIPE,
            "ALRM" => libc::SIGALRM,
            "TERM" => libc::SIGTERM,
            "WINCH" => libc::SIGWINCH,
            "URG" => libc::SIGURG,
            "PWR" => libc::SIGPWR,
            _ => return Err(bad()),
        }
    };
    let forbidden = [libc::SIGKILL, libc::SIGSTOP, libc::SIGRTMAX() - 1];
    if n <= 0 || n > libc::SIGRTMAX() || forbidden.contains(&n) {
        return Err(format!(
            "signal '{s}' cannot be the check signal (SIGKILL, SIGSTOP and RTMAX-1, the agent's stop signal, are not allowed)"
        ));
    }
    Ok(n)
}

/// `+3`, `-2` or nothing.
fn offset(s: &str) -> Option<i32> {
    if s.is_empty() {
        Some(0)
    } else {
        s.parse().ok()
    }
}

/// A set of leak kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kinds(pub Vec<LeakKind>);

pub fn parse_kinds(s: &str) -> Result<Kinds, String> {
    let mut kinds = Vec::new();
    for word in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        match word {
            "all" => kinds.extend(LeakKind::ALL),
            "none" => {}
            _ => kinds.push(
                LeakKind::ALL
                    .into_iter()
                    .find(|k| k.name() == word)
                    .ok_or_else(|| {
                        format!("unknown leak kind '{word}' (expected definite, indirect, possible, reachable, all or none)")
                    })?,
            ),
        }
    }
    kinds.sort();
    kinds.dedup();
    Ok(Kinds(kinds))
}

/// `200ms`, `1s`, `5m`, `1h`, or `0`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(digits);
    let bad = || format!("invalid duration '{s}' (expected e.g. 200ms, 1s, 5m, or 0)");
    let n: u64 = num.parse().map_err(|_| bad())?;
    let ms = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" | "min" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "" if n == 0 => Some(0),
        _ => None,
    };
    ms.map(Duration::from_millis).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("1.5s").is_err());
        assert!(parse_duration("ms").is_err());
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("USR2"), Ok(libc::SIGUSR2));
        assert_eq!(parse_signal("sigusr1"), Ok(libc::SIGUSR1));
        assert_eq!(parse_signal("RTMIN+3"), Ok(libc::SIGRTMIN() + 3));
        assert_eq!(parse_signal("SIGRTMAX-2"), Ok(libc::SIGRTMAX() - 2));
        assert_eq!(parse_signal("12"), Ok(12));
        assert!(parse_signal("KILL").is_err());
        assert!(parse_signal("9").is_err());
        assert!(parse_signal("RTMAX-1").is_err());
        assert!(parse_signal("FOO").is_err());
    }

    #[test]
    fn kinds() {
        use LeakKind::*;
        assert_eq!(
            parse_kinds("possible,definite"),
            Ok(Kinds(vec![Definite, Possible]))
        );
        assert_eq!(parse_kinds("all").unwrap().0.len(), 4);
        assert_eq!(parse_kinds("none"), Ok(Kinds(vec![])));
        assert!(parse_kinds("definitely").is_err());
    }

    #[test]
    fn cli_is_consistent_and_run_takes_the_rest_verbatim() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "leakscope",
            "run",
            "--format",
            "json",
            "--",
            "prog",
            "--format",
            "-x",
        ])
        .unwrap();
        let Command::Run(run) = cli.command else {
            panic!("run")
        };
        assert_eq!(run.output.format, Format::Json);
        assert_eq!(run.command, ["prog", "--format", "-x"]);
        assert_eq!(
            run.output.errors_for_kinds,
            Kinds(vec![LeakKind::Definite, LeakKind::Possible])
        );
        assert_eq!(run.interval, Duration::from_secs(1));
        let cli = Cli::try_parse_from(["leakscope", "run", "prog", "-v"]).unwrap();
        let Command::Run(run) = cli.command else {
            panic!("run")
        };
        assert_eq!(run.command, ["prog", "-v"]);
        assert!(Cli::try_parse_from(["leakscope", "run"]).is_err());
    }
}
