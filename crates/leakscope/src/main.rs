//! leakscope's command line: `leakscope run` starts a program with the agent preloaded and reports its leaks
//! when it ends; `leakscope report` renders a trace again. Errors are one line on stderr, never a backtrace.

mod agent;
mod args;
mod check;
mod elf;
mod present;
mod run;
mod supervise;
mod warm;

use clap::Parser;

/// An error that ends leakscope: one line and an exit status.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: i32,
}

fn main() {
    std::panic::set_hook(Box::new(|info| {
        // The warm-up thread's work is redone by the report: its failure must not end the run.
        if std::thread::current().name() == Some(warm::THREAD) {
            return;
        }
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("leakscope: internal error: {what}{at} (please report this)");
        std::process::exit(70);
    }));
    let cli = args::Cli::parse();
    let result = match cli.command {
        args::Command::Run(a) => run::run(a),
        args::Command::Report(a) => present::report(a),
        args::Command::Check(a) => check::check(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(f) => {
            eprintln!("leakscope: {}", f.message);
            std::process::exit(f.code);
        }
    }
}
