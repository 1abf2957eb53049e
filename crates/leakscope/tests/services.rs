//! Long-running services under the real `leakscope` binary: growth verdicts and their ranking on programs
//! with known growing, saturating and stable sites (tests/services/*.c and the shared bench's service),
//! under varying noise; live checks of a running program with their deltas and pause; the final report
//! after SIGTERM and SIGINT (handled or not) and what a trace keeps after SIGKILL; the trace's size.
//!
//! Each program runs a few seconds with snapshots every 100 ms. Needs gcc (skipped with a note without it).

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LEAKSCOPE: &str = env!("CARGO_BIN_EXE_leakscope");
const INTERVAL: &str = "100ms";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn work_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("services")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn have_gcc() -> bool {
    let ok = Command::new("gcc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: gcc is not installed");
    }
    ok
}

/// Compiles a C program with -O2 -g into `dir`.
fn build(source: &Path, dir: &Path, include: &Path) -> PathBuf {
    let exe = dir.join(source.file_stem().unwrap());
    let out = Command::new("gcc")
        .args(["-O2", "-g", "-Wall", "-I"])
        .arg(include)
        .arg("-o")
        .arg(&exe)
        .arg(source)
        .output()
        .expect("gcc runs");
    assert!(
        out.status.success(),
        "gcc {}: {}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

fn service(name: &str, dir: &Path) -> PathBuf {
    let src = repo().join("tests/services");
    build(&src.join(format!("{name}.c")), dir, &src)
}

/// `leakscope run --interval 100ms --format json` on a program; returns the report and the trace path.
fn run_json(dir: &Path, exe: &Path, args: &[&str]) -> (Value, PathBuf) {
    run_json_at(dir, exe, args, &["--interval", INTERVAL])
}

/// [`run_json`] with `interval` as the interval option (empty: the default).
fn run_json_at(dir: &Path, exe: &Path, args: &[&str], interval: &[&str]) -> (Value, PathBuf) {
    let (report, trace) = (dir.join("report.json"), dir.join("trace.lstrace"));
    let out = Command::new(LEAKSCOPE)
        .arg("run")
        .args(interval)
        .args(["--format", "json", "--output"])
        .arg(&report)
        .arg("--trace")
        .arg(&trace)
        .arg("--")
        .arg(exe)
        .args(args)
        .output()
        .expect("leakscope runs");
    assert!(
        out.status.success(),
        "leakscope run {}: {}",
        exe.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    (read_json(&report), trace)
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", path.display()))
}

/// The sites whose allocation site (first frame in the program) is in `function`.
fn sites<'a>(report: &'a Value, function: &str) -> Vec<&'a Value> {
    report["sites"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["site"]["function"] == function)
        .collect()
}

fn verdict(site: &Value) -> &str {
    site["growth"]["verdict"].as_str().unwrap()
}

fn rate(site: &Value) -> f64 {
    site["growth"]["bytes_per_sec"].as_f64().unwrap()
}

/// One line per site, for failure messages.
fn table(report: &Value) -> String {
    report["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {} {:.0} B/s conf {} live {} curve {}\n",
                s["site"]["function"],
                verdict(s),
                rate(s),
                s["growth"]["confidence"],
                s["live_bytes"],
                s["curve"]
            )
        })
        .collect()
}

fn growing_functions(report: &Value) -> Vec<String> {
    report["sites"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| verdict(s) == "growing")
        .map(|s| s["site"]["function"].as_str().unwrap_or("?").to_string())
        .collect()
}

#[test]
fn mixed_service_verdicts_ranking_ages_and_trace_size() {
    if !have_gcc() {
        return;
    }
    let dir = work_dir("mixed");
    let exe = service("mixed", &dir);
    let (r, trace) = run_json(&dir, &exe, &["3.5"]);
    let t = table(&r);
    // Growing first, fastest first: the appended list (2.4 KB/s, still reachable), then the lost buffers
    // (2 KB/s, definitely lost).
    assert_eq!(
        growing_functions(&r),
        ["history_append", "parse_error"],
        "{t}"
    );
    let all = r["sites"].as_array().unwrap();
    let history = &all[0];
    assert_eq!(history["site"]["function"], "history_append", "{t}");
    assert!((1500.0..3500.0).contains(&rate(history)), "{t}");
    assert!(history["kinds"]["reachable"].as_u64().unwrap() > 0);
    assert!(history["growth"]["confidence"].as_f64().unwrap() > 0.9);
    let projected = history["growth"]["projected_24h_bytes"].as_u64().unwrap();
    assert!(projected > 100_000_000, "{t}");
    let lost = &all[1];
    assert_eq!(lost["site"]["function"], "parse_error", "{t}");
    assert!(lost["kinds"]["definite"].as_u64().unwrap() > 0);
    // Its blocks keep arriving and never leave: ages spread over the whole run.
    let age = &lost["age"];
    assert!(age["oldest_s"].as_f64().unwrap() > 2.5, "{age}");
    let median = age["median_s"].as_f64().unwrap();
    assert!((0.8..2.6).contains(&median), "{age}");
    assert!(age["newest_s"].as_f64().unwrap() < 0.5, "{age}");
    // The cache filled up: saturating, never growing; start-up state: stable and old.
    let cache = sites(&r, "cache_insert");
    assert!(!cache.is_empty(), "{t}");
    assert!(cache.iter().all(|s| verdict(s) == "saturating"), "{t}");
    let config = sites(&r, "load_config");
    assert_eq!(config.len(), 1, "{t}");
    assert_eq!(verdict(config[0]), "stable", "{t}");
    assert!(config[0]["age"]["newest_s"].as_f64().unwrap() > 3.0);
    assert!(config[0]["kinds"]["reachable"].as_u64() > Some(0), "{t}");
    // The timeline and the curves cover the run.
    let tl = &r["timeline"];
    let snapshots = tl["snapshots"].as_u64().unwrap();
    assert!((25..=40).contains(&snapshots), "{tl}");
    assert_eq!(
        history["curve"].as_array().unwrap().len(),
        tl["times_s"].as_array().unwrap().len()
    );
    // The trace grows with sites x snapshots: within the bound docs/services.md states (200 bytes per
    // snapshot plus 26 per changed site, plus the definitions and the scan).
    let bytes = std::fs::metadata(&trace).unwrap().len();
    assert!(
        bytes < 8_192 + snapshots * (200 + 26 * 6),
        "{bytes} bytes for {snapshots} snapshots"
    );
}

#[test]
fn slow_reachable_leak_under_a_noisy_working_set() {
    if !have_gcc() {
        return;
    }
    let dir = work_dir("slowleak");
    let exe = service("slowleak", &dir);
    // The three noise levels run at once (each mostly sleeps).
    let runs: Vec<_> = ["0", "1", "2"]
        .into_iter()
        .map(|noise| {
            let d = dir.join(format!("noise{noise}"));
            std::fs::create_dir_all(&d).unwrap();
            let exe = exe.clone();
            std::thread::spawn(move || (noise, run_json(&d, &exe, &["3.5", noise]).0))
        })
        .collect();
    for h in runs {
        let (noise, r) = h.join().unwrap();
        let t = table(&r);
        let leak = sites(&r, "remember_client");
        assert_eq!(leak.len(), 1, "noise {noise}: {t}");
        assert_eq!(verdict(leak[0]), "growing", "noise {noise}: {t}");
        assert!(
            (150.0..600.0).contains(&rate(leak[0])),
            "noise {noise}: {t}"
        );
        assert_eq!(
            growing_functions(&r),
            ["remember_client"],
            "noise {noise}: {t}"
        );
        let ws = sites(&r, "ws_fill");
        assert!(
            ws.iter().all(|s| verdict(s) != "growing"),
            "noise {noise}: {t}"
        );
        assert!(ws[0]["live_bytes"].as_u64().unwrap() > 10_000_000);
    }
}

#[test]
fn lru_caches_are_saturating_not_growing() {
    if !have_gcc() {
        return;
    }
    let dir = work_dir("lru");
    let exe = service("lru", &dir);
    let (r, _) = run_json(&dir, &exe, &["3.5"]);
    let t = table(&r);
    assert!(growing_functions(&r).is_empty(), "{t}");
    for f in ["small_value", "big_value"] {
        let s = sites(&r, f);
        assert!(!s.is_empty(), "{t}");
        assert!(s.iter().all(|s| verdict(s) == "saturating"), "{f}: {t}");
    }
}

/// At the default 1 s interval the first 10 s are recorded every 100 ms: a 4 s run gets its verdicts.
#[test]
fn a_short_run_at_the_default_interval_gets_verdicts() {
    if !have_gcc() {
        return;
    }
    let dir = work_dir("default-interval");
    let exe = service("mixed", &dir);
    let (r, _) = run_json_at(&dir, &exe, &["4"], &[]);
    let t = table(&r);
    let snapshots = r["timeline"]["snapshots"].as_u64().unwrap();
    assert!((30..=41).contains(&snapshots), "{}", r["timeline"]);
    assert_eq!(
        growing_functions(&r),
        ["history_append", "parse_error"],
        "{t}"
    );
    assert!(sites(&r, "cache_insert")
        .iter()
        .all(|s| verdict(s) == "saturating"));
}

/// The report `leakscope run` prints — symbolized partly while the program ran, by the thread that follows
/// the trace — is the one `leakscope report` renders from the trace afterwards, from scratch.
#[test]
fn the_report_of_a_run_is_the_report_of_its_trace() {
    if !have_gcc() {
        return;
    }
    let dir = work_dir("rerender");
    let exe = service("mixed", &dir);
    let (mut during, trace) = run_json(&dir, &exe, &["1.5"]);
    let again = dir.join("again.json");
    let status = Command::new(LEAKSCOPE)
        .args(["report", "--format", "json", "--output"])
        .arg(&again)
        .arg(&trace)
        .status()
        .expect("leakscope report runs");
    assert!(status.success());
    let after = read_json(&again);
    assert!(during["sites"].as_array().is_some_and(|s| s.len() >= 5));
    // Only `run` names the trace it kept.
    assert_eq!(after["trace"], Value::Null);
    during["trace"] = Value::Null;
    assert_eq!(during, after);
}

/// Caches emptied at shutdown hold nothing at exit, but they are listed, with their verdict.
#[test]
fn caches_freed_at_shutdown_keep_their_verdict() {
    if !have_gcc() {
        return;
    }
    let dir = work_dir("lru-cleanup");
    let exe = service("lru", &dir);
    let (r, _) = run_json_at(&dir, &exe, &["3.5", "1"], &[]);
    let t = table(&r);
    assert!(growing_functions(&r).is_empty(), "{t}");
    for f in ["small_value", "big_value"] {
        let s = sites(&r, f);
        assert!(!s.is_empty(), "{f}: {t}");
        assert!(s.iter().all(|s| verdict(s) == "saturating"), "{f}: {t}");
        assert!(s.iter().all(|s| s["live_bytes"] == 0), "{f}: {t}");
    }
}

#[test]
fn shared_bench_service() {
    let bench = repo().join("../shared/bench");
    if !bench.join("service.c").exists() {
        eprintln!("skipped: {} is not there", bench.display());
        return;
    }
    if !have_gcc() {
        return;
    }
    let dir = work_dir("bench");
    let exe = build(&bench.join("service.c"), &dir, &bench);
    let (r, _) = run_json(&dir, &exe, &["2000000"]);
    let t = table(&r);
    // The true leak (definitely lost) and the logical one (two still-reachable sites), fastest first.
    assert_eq!(
        growing_functions(&r),
        ["validate_request", "record_history", "record_history"],
        "{t}"
    );
    assert!(sites(&r, "validate_request")[0]["kinds"]["definite"].as_u64() > Some(0));
    assert!(sites(&r, "record_history")
        .iter()
        .all(|s| s["kinds"]["reachable"].as_u64() > Some(0)));
    // The bounded cache (freed at shutdown) filled before the first snapshot: saturating.
    let cache = sites(&r, "cache_lookup_or_insert");
    assert_eq!(cache.len(), 3, "{t}");
    assert!(cache.iter().all(|s| verdict(s) == "saturating"), "{t}");
}

/// A program started by `leakscope run` in the background, with its pid (it prints it first).
struct Service {
    run: Child,
    pid: i32,
    dir: PathBuf,
}

fn start(dir: &Path, exe: &Path, args: &[&str], extra: &[&str]) -> Service {
    let mut run = Command::new(LEAKSCOPE)
        .args([
            "run",
            "--interval",
            INTERVAL,
            "--format",
            "json",
            "--output",
        ])
        .arg(dir.join("final.json"))
        .arg("--trace")
        .arg(dir.join("trace.lstrace"))
        .args(extra)
        .arg("--")
        .arg(exe)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(run.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pid = line
        .trim()
        .strip_prefix("pid ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid line: {line:?}"));
    Service {
        run,
        pid,
        dir: dir.to_path_buf(),
    }
}

impl Service {
    fn check(&self, extra: &[&str]) -> (Value, Duration) {
        let t0 = Instant::now();
        let out = Command::new(LEAKSCOPE)
            .args(["check", &self.pid.to_string(), "--format", "json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "check: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = serde_json::from_slice(&out.stdout).unwrap();
        (v, t0.elapsed())
    }

    fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on the program we started.
        assert_eq!(unsafe { libc::kill(self.pid, sig) }, 0);
    }

    /// Waits for `leakscope run` to end; returns its exit code, stderr and final report.
    fn finish(mut self) -> (i32, String, Value) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.run.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "leakscope run did not end");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(self.run.stderr.as_mut().unwrap(), &mut err).unwrap();
        (
            status.code().unwrap_or(-1),
            err,
            read_json(&self.dir.join("final.json")),
        )
    }
}

fn definite(report: &[Value], function: &str) -> Option<Value> {
    report
        .iter()
        .find(|l| l["kind"] == "definite" && l["site"]["function"] == function)
        .cloned()
}

#[test]
fn live_checks_report_new_and_increased_then_sigint_gives_the_final_report() {
    if !have_gcc() {
        return;
    }
    let dir = work_dir("check");
    let exe = service("mixed", &dir);
    // Runs until a signal; handles SIGINT and SIGTERM itself.
    let svc = start(&dir, &exe, &["0", "1"], &[]);
    std::thread::sleep(Duration::from_millis(1200));
    let (first, took) = svc.check(&[]);
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(first["check"]["number"], 1);
    assert!(first["check"]["previous"].is_null());
    let pause = first["pause_ms"].as_f64().unwrap();
    assert!(pause > 0.0 && pause < 500.0, "pause {pause} ms");
    let lost1 = definite(first["leaks"].as_array().unwrap(), "parse_error").expect("lost blocks");
    assert!(definite(first["new"].as_array().unwrap(), "parse_error").is_some());
    std::thread::sleep(Duration::from_millis(800));
    let (second, _) = svc.check(&[]);
    assert_eq!(second["check"]["number"], 2);
    assert_eq!(second["check"]["previous"]["number"], 1);
    let lost2 = definite(second["leaks"].as_array().unwrap(), "parse_error").unwrap();
    assert!(lost2["blocks"].as_u64() > lost1["blocks"].as_u64());
    assert!(definite(second["new"].as_array().unwrap(), "parse_error").is_none());
    let inc = definite(second["increased"].as_array().unwrap(), "parse_error")
        .expect("the lost buffers increased");
    assert_eq!(
        inc["blocks_delta"].as_u64().unwrap(),
        lost2["blocks"].as_u64().unwrap() - lost1["blocks"].as_u64().unwrap()
    );
    assert!(inc["bytes_delta"].as_u64().unwrap() > 0);
    // Growth so far is in the check's report too.
    assert_eq!(verdict(sites(&second, "history_append")[0]), "growing");
    // The text form states the check, the pause and the deltas.
    let text = Command::new(LEAKSCOPE)
        .args(["check", &svc.pid.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("live check 3 at"), "{text}");
    assert!(text.contains("program paused"), "{text}");
    assert!(
        text.contains("are definitely lost in loss record"),
        "{text}"
    );
    assert!(
        text.contains("LEAK SUMMARY (+ since live check 2 at"),
        "{text}"
    );
    // The program went on; SIGINT, which it handles, ends it with a full report.
    std::thread::sleep(Duration::from_millis(300));
    svc.signal(libc::SIGINT);
    let (code, err, fin) = svc.finish();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("stop signal handled"), "{err}");
    assert!(!fin["scan"].is_null());
    let lost_end = definite(fin["leaks"].as_array().unwrap(), "parse_error").unwrap();
    assert!(lost_end["blocks"].as_u64() > lost2["blocks"].as_u64());
    assert_eq!(
        growing_functions(&fin)[..2],
        ["history_append", "parse_error"]
    );
}

#[test]
fn sigterm_to_leakscope_gives_a_full_report_and_sigkill_keeps_the_snapshots() {
    if !have_gcc() {
        return;
    }
    let dir = work_dir("signals");
    let exe = service("mixed", &dir);
    // No handler: SIGTERM's default action kills the program; sent to leakscope, which passes it on (as a
    // supervisor would). A check signal of the user's choice works as well.
    let term_dir = dir.join("term");
    std::fs::create_dir_all(&term_dir).unwrap();
    let svc = start(&term_dir, &exe, &["0", "0"], &["--check-signal", "USR2"]);
    // Long enough for the cache (full after about 1.2 s) to be seen flat.
    std::thread::sleep(Duration::from_millis(3000));
    let (check, _) = svc.check(&[]);
    assert!(definite(check["leaks"].as_array().unwrap(), "parse_error").is_some());
    // SAFETY: kill(2) on the leakscope process we started.
    assert_eq!(unsafe { libc::kill(svc.run.id() as i32, libc::SIGTERM) }, 0);
    let (code, err, fin) = svc.finish();
    assert_eq!(code, 128 + libc::SIGTERM, "{err}");
    assert!(!fin["scan"].is_null(), "{fin}");
    assert!(fin["summary"]["definite"]["blocks"].as_u64() > Some(0));
    assert_eq!(
        growing_functions(&fin)[..2],
        ["history_append", "parse_error"]
    );

    // SIGKILL: nothing runs in the program; the trace still has every snapshot up to the last.
    let kill_dir = dir.join("kill");
    std::fs::create_dir_all(&kill_dir).unwrap();
    let svc = start(&kill_dir, &exe, &["0", "0"], &[]);
    // Long enough for the cache (full after about 1.2 s) to be seen flat.
    std::thread::sleep(Duration::from_millis(3000));
    svc.signal(libc::SIGKILL);
    let (code, _, _) = svc.finish();
    assert_eq!(code, 128 + libc::SIGKILL);
    let out = Command::new(LEAKSCOPE)
        .args(["report", "--format", "json", "--output"])
        .arg(kill_dir.join("again.json"))
        .arg(kill_dir.join("trace.lstrace"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let r = read_json(&kill_dir.join("again.json"));
    assert!(r["scan"].is_null());
    assert!(r["heap"]["bytes"].as_u64() > Some(0));
    assert!(
        r["timeline"]["snapshots"].as_u64() >= Some(15),
        "{}",
        r["timeline"]
    );
    assert_eq!(
        growing_functions(&r)[..2],
        ["history_append", "parse_error"],
        "{}",
        table(&r)
    );
}

/// Sampled mode's live check walks glibc's heap while two threads malloc and free as fast as they can: every
/// check finds the 100 lost blocks and exactly the blocks the program holds (the threads' slots, at most
/// one more each in flight, and glibc's few blocks of its own), and never warns that a heap could not be
/// walked. Nothing is sampled at this rate: every block comes from the walk.
#[test]
fn sampled_live_checks_walk_the_heap_while_threads_allocate() {
    if !have_gcc() {
        return;
    }
    let dir = work_dir("churn");
    let exe = service("churn_threads", &dir);
    let svc = start(&dir, &exe, &["2"], &["--sample-rate", "1073741824"]);
    std::thread::sleep(Duration::from_millis(300));
    let held = 100 + 2 * 500;
    for _ in 0..5 {
        let (c, _) = svc.check(&[]);
        let s = &c["summary"];
        let blocks = |k: &str| s[k]["blocks"].as_u64().unwrap();
        assert_eq!(blocks("definite"), 100, "{s}");
        let total: u64 = ["definite", "indirect", "possible", "reachable"]
            .iter()
            .map(|k| blocks(k))
            .sum();
        assert!(
            (held..=held + 2 + 8).contains(&total),
            "{total} blocks in use: {s}"
        );
        let warnings = c["messages"].to_string();
        assert!(!warnings.contains("heap"), "{warnings}");
        std::thread::sleep(Duration::from_millis(100));
    }
    svc.signal(libc::SIGTERM);
    let (code, err, fin) = svc.finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(fin["summary"]["definite"]["blocks"], 100);
}
