//! The test corpus (tests/corpus/): small C, C++ and Rust programs that state their expected leaks in header
//! comments. Each is built at -O0 and -O2 and run under the real `leakscope` binary and agent; the tests
//! assert the exit status, the exact four-kind summary and every (kind, allocation site) with its bytes and
//! blocks; cross-check the same against Valgrind Memcheck when it is installed; and compare the stacks of the
//! agent's cached unwinder with its plain reference walk.
//!
//! Header lines (in the first 40 lines of a program):
//! `// expect-exit: N`, `// expect-summary: definite=B/N indirect=B/N possible=B/N reachable=B/N`,
//! `// expect-leak: KIND B/N FILE:LINE`, `// expect-child-summary:` / `// expect-child-leak:` /
//! `// expect-child-exit: N` (a forked child),
//! `// args: …` (`{dir}` = the build directory), `// needs-lib: support/X.c` (built as `{dir}/libX.so`),
//! `// needs-bin: support/X.c` (built as `{dir}/X`), `// memcheck: same | differs: WHY | skip: WHY`
//! (`memcheck[O0]: …` for one build only), `// light: differs: WHY | skip: WHY` (light sampled mode, see
//! `light_sampled_mode_finds_every_block`).
//! A key written `expect-summary[O2]` replaces the plain one for that build (`expect-leak[O2]: none`: no
//! sites in that build).
//!
//! Environment: `LEAKSCOPE_CORPUS=substring` runs only matching programs; `LEAKSCOPE_SKIP_MEMCHECK=1` skips
//! the Memcheck cross-check (it also skips itself when `valgrind` is not installed).

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const BUILDS: [&str; 2] = ["O0", "O2"];
const KINDS: [&str; 4] = ["definite", "indirect", "possible", "reachable"];

/// Bytes and blocks of one kind or one site.
type Amount = (u64, u64);
/// (kind, "file:line") → amount.
type Sites = BTreeMap<(String, String), Amount>;

#[derive(Debug, Default, Clone, PartialEq)]
struct Expected {
    exit: i32,
    summary: BTreeMap<String, Amount>,
    sites: Sites,
    child: Option<(BTreeMap<String, Amount>, Sites)>,
    /// The first child's exit status, when the header states one.
    child_exit: Option<i32>,
}

#[derive(Debug)]
struct Program {
    name: String,
    source: PathBuf,
    lang: Lang,
    header: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Lang {
    C,
    Cxx,
    Rust,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus")
}

fn build_dir(build: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("corpus")
        .join(build)
}

/// Every program of the corpus (filtered by `LEAKSCOPE_CORPUS`).
fn programs() -> Vec<Program> {
    let filter = std::env::var("LEAKSCOPE_CORPUS").unwrap_or_default();
    let mut out = Vec::new();
    for (sub, lang) in [("c", Lang::C), ("cxx", Lang::Cxx), ("rust", Lang::Rust)] {
        let Ok(dir) = std::fs::read_dir(corpus_dir().join(sub)) else {
            continue;
        };
        for entry in dir.flatten() {
            let source = entry.path();
            let ext = source.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !matches!(ext, "c" | "cpp" | "cc" | "rs") {
                continue;
            }
            let name = source.file_stem().unwrap().to_string_lossy().into_owned();
            if !name.contains(&filter) {
                continue;
            }
            let text = std::fs::read_to_string(&source).unwrap();
            let header = parse_header(&text);
            out.push(Program {
                name,
                source,
                lang,
                header,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `// key: value` lines of the first 40 lines.
fn parse_header(text: &str) -> Vec<(String, String)> {
    text.lines()
        .take(40)
        .filter_map(|l| l.trim().strip_prefix("// "))
        .filter_map(|l| l.split_once(": "))
        .filter(|(k, _)| {
            let key = k.split('[').next().unwrap_or(k);
            key.starts_with("expect-")
                || ["args", "needs-lib", "needs-bin", "memcheck", "light"].contains(&key)
        })
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

impl Program {
    /// Values of `key` for `build`: the `key[build]` lines if any, else the plain ones.
    fn values(&self, key: &str, build: &str) -> Vec<&str> {
        let specific = format!("{key}[{build}]");
        let pick = |k: &str| -> Vec<&str> {
            self.header
                .iter()
                .filter(|(hk, _)| hk == k)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        let own = pick(&specific);
        if own.is_empty() {
            pick(key)
        } else {
            own
        }
    }

    fn expected(&self, build: &str) -> Result<Expected, String> {
        let exit = match self.values("expect-exit", build).first() {
            Some(v) => v.parse().map_err(|_| format!("bad expect-exit {v}"))?,
            None => 0,
        };
        let summary = match self.values("expect-summary", build).first() {
            Some(v) => parse_summary(v)?,
            None => return Err("no expect-summary line".into()),
        };
        let sites = parse_sites(&self.values("expect-leak", build))?;
        let child = match self.values("expect-child-summary", build).first() {
            Some(v) => Some((
                parse_summary(v)?,
                parse_sites(&self.values("expect-child-leak", build))?,
            )),
            None => None,
        };
        let child_exit = match self.values("expect-child-exit", build).first() {
            Some(v) => Some(
                v.parse()
                    .map_err(|_| format!("bad expect-child-exit {v}"))?,
            ),
            None => None,
        };
        Ok(Expected {
            exit,
            summary,
            sites,
            child,
            child_exit,
        })
    }

    fn memcheck(&self, build: &str) -> &str {
        self.values("memcheck", build)
            .first()
            .copied()
            .unwrap_or("same")
    }

    /// The `light:` header line: "same" unless the program explains why light sampled mode differs.
    fn light(&self, build: &str) -> &str {
        self.values("light", build)
            .first()
            .copied()
            .unwrap_or("same")
    }

    fn args(&self, dir: &Path) -> Vec<String> {
        let Some(line) = self.values("args", "").first().copied() else {
            return Vec::new();
        };
        line.split_whitespace()
            .map(|a| a.replace("{dir}", &dir.display().to_string()))
            .collect()
    }
}

fn parse_amount(s: &str) -> Result<Amount, String> {
    let (b, n) = s.split_once('/').ok_or(format!("bad amount {s}"))?;
    Ok((
        b.parse().map_err(|_| format!("bad bytes {b}"))?,
        n.parse().map_err(|_| format!("bad blocks {n}"))?,
    ))
}

fn parse_summary(line: &str) -> Result<BTreeMap<String, Amount>, String> {
    let mut out = BTreeMap::new();
    for part in line.split_whitespace() {
        let (kind, amount) = part.split_once('=').ok_or(format!("bad summary {part}"))?;
        out.insert(kind.to_string(), parse_amount(amount)?);
    }
    for kind in KINDS {
        if !out.contains_key(kind) {
            return Err(format!("summary lacks {kind}: {line}"));
        }
    }
    Ok(out)
}

fn parse_sites(lines: &[&str]) -> Result<Sites, String> {
    let mut out = Sites::new();
    for line in lines.iter().filter(|l| **l != "none") {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [kind, amount, site] = parts[..] else {
            return Err(format!("bad expect-leak line: {line}"));
        };
        let (b, n) = parse_amount(amount)?;
        let e = out.entry((kind.to_string(), site.to_string())).or_default();
        e.0 += b;
        e.1 += n;
    }
    Ok(out)
}

/// Builds every program (and its support files) for both builds, once per test binary.
fn built() -> &'static Result<(), String> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut errors = Vec::new();
        for build in BUILDS {
            let dir = build_dir(build);
            std::fs::create_dir_all(&dir).unwrap();
            for p in programs() {
                if let Err(e) = build_program(&p, build, &dir) {
                    errors.push(format!("{} [{build}]: {e}", p.name));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n"))
        }
    })
}

fn build_program(p: &Program, build: &str, dir: &Path) -> Result<(), String> {
    let opt = format!("-{build}");
    for lib in p.values("needs-lib", "") {
        let src = corpus_dir().join(lib);
        let stem = src.file_stem().unwrap().to_string_lossy();
        let out = dir.join(format!("lib{stem}.so"));
        compile(
            Command::new("gcc")
                .args(["-g", &opt, "-shared", "-fPIC", "-o"])
                .arg(&out)
                .arg(&src),
        )?;
    }
    for bin in p.values("needs-bin", "") {
        let src = corpus_dir().join(bin);
        let out = dir.join(src.file_stem().unwrap());
        compile(
            Command::new("gcc")
                .args(["-g", &opt, "-pthread", "-o"])
                .arg(&out)
                .arg(&src),
        )?;
    }
    let out = dir.join(&p.name);
    let mut cmd = match p.lang {
        Lang::C => {
            let mut c = Command::new("gcc");
            c.args(["-g", &opt, "-pthread", "-o"])
                .arg(&out)
                .arg(&p.source)
                .arg("-ldl");
            c
        }
        Lang::Cxx => {
            let mut c = Command::new("g++");
            c.args(["-g", &opt, "-pthread", "-o"])
                .arg(&out)
                .arg(&p.source);
            c
        }
        Lang::Rust => {
            let mut c = Command::new("rustc");
            let level = if build == "O0" { "0" } else { "2" };
            c.args([
                "-g",
                "-C",
                &format!("opt-level={level}"),
                "--edition",
                "2021",
                "-o",
            ])
            .arg(&out)
            .arg(&p.source);
            c
        }
    };
    compile(&mut cmd)
}

fn compile(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Runs `cmd` (stdout/stderr discarded) with a time limit; returns its status code (128+N if killed).
fn run_limited(cmd: &mut Command, limit: Duration) -> Result<i32, String> {
    use std::os::unix::process::ExitStatusExt;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{cmd:?} did not finish within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What one run reported: exit status, summary and sites of the root and of its first forked child.
#[derive(Debug, Default, PartialEq)]
struct Observed {
    exit: i32,
    summary: BTreeMap<String, Amount>,
    sites: Sites,
    child: Option<(BTreeMap<String, Amount>, Sites)>,
    child_exit: Option<i32>,
}

/// Runs the program under `leakscope run --format json` and returns the parsed report.
fn run_leakscope(
    p: &Program,
    dir: &Path,
    tag: &str,
    env: &[(&str, &str)],
) -> Result<Value, String> {
    run_leakscope_with(p, dir, tag, &[], env)
}

/// [`run_leakscope`] with more options for `leakscope run`.
fn run_leakscope_with(
    p: &Program,
    dir: &Path,
    tag: &str,
    options: &[&str],
    env: &[(&str, &str)],
) -> Result<Value, String> {
    let json = dir.join(format!("{}.{tag}.json", p.name));
    let trace = dir.join(format!("{}.{tag}.lstrace", p.name));
    let _ = std::fs::remove_file(&json);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leakscope"));
    cmd.arg("run")
        .arg("--format")
        .arg("json")
        .arg("--output")
        .arg(&json)
        .arg("--trace")
        .arg(&trace)
        .args(options)
        .arg("--")
        .arg(dir.join(&p.name))
        .args(p.args(dir))
        .current_dir(dir)
        .envs(env.iter().copied());
    run_limited(&mut cmd, Duration::from_secs(120))?;
    let text = std::fs::read_to_string(&json).map_err(|e| format!("no JSON report: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("bad JSON report: {e}"))
}

fn observed_from_json(doc: &Value, source_file: &str) -> Observed {
    let process = |v: &Value| -> (BTreeMap<String, Amount>, Sites) {
        let mut summary = BTreeMap::new();
        for kind in KINDS {
            let t = &v["summary"][kind];
            summary.insert(
                kind.to_string(),
                (
                    t["bytes"].as_u64().unwrap_or(0),
                    t["blocks"].as_u64().unwrap_or(0),
                ),
            );
        }
        let mut sites = Sites::new();
        for leak in v["leaks"].as_array().into_iter().flatten() {
            let Some(site) = site_in(&leak["stack"], source_file) else {
                continue;
            };
            let e = sites
                .entry((leak["kind"].as_str().unwrap_or("?").to_string(), site))
                .or_default();
            e.0 += leak["bytes"].as_u64().unwrap_or(0);
            e.1 += leak["blocks"].as_u64().unwrap_or(0);
        }
        (summary, sites)
    };
    let (summary, sites) = process(doc);
    let first_child = doc["children"].as_array().and_then(|c| c.first());
    Observed {
        exit: doc["exit_code"].as_i64().unwrap_or(-1) as i32,
        summary,
        sites,
        child: first_child.map(process),
        child_exit: first_child
            .and_then(|c| c["exit_code"].as_i64())
            .map(|c| c as i32),
    }
}

/// The first frame of a JSON stack in one of the program's own source files (the allocation site).
fn site_in(stack: &Value, source_file: &str) -> Option<String> {
    stack.as_array()?.iter().find_map(|f| {
        let file = f["file"].as_str()?;
        (file == source_file || support_file(file))
            .then(|| format!("{file}:{}", f["line"].as_u64().unwrap_or(0)))
    })
}

/// Support sources (dlopen'ed libraries, exec targets) count as the program's own code.
fn support_file(file: &str) -> bool {
    corpus_dir().join("support").join(file).exists()
}

fn expected_matches(exp: &Expected, obs: &Observed) -> Vec<String> {
    let mut diffs = Vec::new();
    if exp.exit != obs.exit {
        diffs.push(format!(
            "exit status: expected {}, got {}",
            exp.exit, obs.exit
        ));
    }
    compare(
        &mut diffs,
        "",
        &exp.summary,
        &exp.sites,
        &obs.summary,
        &obs.sites,
    );
    match (&exp.child, &obs.child) {
        (Some((es, el)), Some((os, ol))) => compare(&mut diffs, "child ", es, el, os, ol),
        (Some(_), None) => diffs.push("expected a forked child's report, got none".into()),
        _ => {}
    }
    if exp.child_exit.is_some() && exp.child_exit != obs.child_exit {
        diffs.push(format!(
            "child exit status: expected {:?}, got {:?}",
            exp.child_exit, obs.child_exit
        ));
    }
    diffs
}

fn compare(
    diffs: &mut Vec<String>,
    who: &str,
    exp_summary: &BTreeMap<String, Amount>,
    exp_sites: &Sites,
    summary: &BTreeMap<String, Amount>,
    sites: &Sites,
) {
    for kind in KINDS {
        let (e, o) = (exp_summary.get(kind), summary.get(kind));
        if e != o {
            diffs.push(format!("{who}{kind}: expected {e:?}, got {o:?}"));
        }
    }
    for (key, amount) in exp_sites {
        match sites.get(key) {
            Some(got) if got == amount => {}
            got => diffs.push(format!(
                "{who}{} at {}: expected {amount:?}, got {got:?}",
                key.0, key.1
            )),
        }
    }
    for (key, amount) in sites {
        if !exp_sites.contains_key(key) {
            diffs.push(format!(
                "{who}unexpected {} at {}: {amount:?}",
                key.0, key.1
            ));
        }
    }
}

fn source_file(p: &Program) -> String {
    p.source.file_name().unwrap().to_string_lossy().into_owned()
}

/// Runs `check` on every (program, build), collecting every failure; fails once at the end with all of them.
fn for_each_build(check: impl Fn(&Program, &str, &Path) -> Result<(), String>) {
    if let Err(e) = built() {
        panic!("building the corpus failed:\n{e}");
    }
    let programs = programs();
    assert!(
        !programs.is_empty(),
        "no programs in {}",
        corpus_dir().display()
    );
    let mut failures = Vec::new();
    for p in &programs {
        for build in BUILDS {
            if let Err(e) = check(p, build, &build_dir(build)) {
                failures.push(format!("{} [-{build}]: {e}", p.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} runs failed:\n{}",
        failures.len(),
        programs.len() * BUILDS.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_reports_match_expectations() {
    for_each_build(|p, build, dir| {
        let exp = p.expected(build)?;
        let doc = run_leakscope(p, dir, "exact", &[])?;
        let diffs = expected_matches(&exp, &observed_from_json(&doc, &source_file(p)));
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(diffs.join("; "))
        }
    });
}

/// A program that ends at once races the agent's start-up: the snapshot thread may still be building its
/// state, holding the agent allocator's lock, when the exit scan stops every thread. About one run in a
/// hundred hung there once. Runs the empty program 150 times in full and in sampled mode.
#[test]
fn programs_that_end_at_once_never_hang() {
    if let Err(e) = built() {
        panic!("building the corpus failed:\n{e}");
    }
    let Some(p) = programs().into_iter().find(|p| p.name == "c_clean_empty") else {
        return; // filtered out by LEAKSCOPE_CORPUS
    };
    let sampled = ["--sample-rate", "524288"];
    for (tag, options) in [("quick", &[][..]), ("quick-sampled", &sampled[..])] {
        for i in 0..150 {
            let doc = run_leakscope_with(&p, &build_dir("O2"), tag, options, &[])
                .unwrap_or_else(|e| panic!("{tag} run {i}: {e}"));
            assert_eq!(doc["exit_code"], 0, "{tag} run {i}");
            assert_eq!(
                doc["leaks"].as_array().map(Vec::len),
                Some(0),
                "{tag} run {i}"
            );
        }
    }
}

/// The fast path (cached CFI rules and per-thread walk cache) must give exactly the stacks of the plain walk.
#[test]
fn cached_unwinder_gives_the_reference_stacks() {
    fn stacks(doc: &Value) -> Vec<String> {
        let mut out: Vec<String> = doc["leaks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| {
                let frames: Vec<String> = l["stack"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| format!("{}@{}:{}", f["function"], f["file"], f["line"]))
                    .collect();
                format!(
                    "{} {} {} {}",
                    l["kind"],
                    l["bytes"],
                    l["blocks"],
                    frames.join(" < ")
                )
            })
            .collect();
        out.sort();
        out
    }
    for_each_build(|p, _build, dir| {
        let fast = run_leakscope(p, dir, "fast", &[])?;
        let reference = run_leakscope(p, dir, "ref", &[("LEAKSCOPE_UNWIND_REFERENCE", "1")])?;
        let (a, b) = (stacks(&fast), stacks(&reference));
        if a == b {
            Ok(())
        } else {
            Err(format!("cached unwinder: {a:#?}\nreference: {b:#?}"))
        }
    });
}

/// Light sampled mode (`--sample-rate`; the blocks it did not sample are found by walking glibc's heap)
/// at a rate so high that no stack is sampled: every block must still be found, with the kind the exact run
/// gives it, and its usable size (at most 39 bytes more than the program asked for: glibc rounds a request
/// up to its chunk granule and hands out whole a chunk up to 16 bytes larger than needed). A program whose header
/// says `light: differs: WHY` has verdicts that need what light mode leaves out (zero-filled blocks,
/// scrubbed registers, the quarantine, requested sizes for the heuristics); there only the totals must
/// match. `light: skip: WHY` leaves a program out (one whose heap sampled mode declines to walk).
#[test]
fn light_sampled_mode_finds_every_block() {
    fn total(s: &BTreeMap<String, Amount>) -> Amount {
        s.values().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    }
    fn close((eb, en): Amount, (gb, gn): Amount) -> bool {
        gn == en && gb >= eb && gb <= eb + 39 * en
    }
    for_each_build(|p, build, dir| {
        if p.light(build).starts_with("skip") {
            return Ok(());
        }
        let exp = p.expected(build)?;
        let rate = ["--sample-rate", "1073741824"];
        let doc = run_leakscope_with(p, dir, "light", &rate, &[])?;
        let observed = observed_from_json(&doc, &source_file(p));
        let got = observed.summary;
        if doc.to_string().contains("sampled mode tracks every block") {
            return Err("the agent did not walk glibc's heap".into());
        }
        if !close(total(&exp.summary), total(&got)) {
            return Err(format!(
                "all kinds: expected {:?}, light mode {:?}",
                exp.summary, got
            ));
        }
        // A forked child walks the heap it inherited (with the parent's agent allocations in it).
        if let (Some((want, _)), Some((seen, _))) = (&exp.child, &observed.child) {
            if !close(total(want), total(seen)) {
                return Err(format!("child: expected {want:?}, light mode {seen:?}"));
            }
        }
        if p.light(build).starts_with("differs") {
            return Ok(());
        }
        match KINDS.iter().find(|&&k| !close(exp.summary[k], got[k])) {
            Some(k) => Err(format!(
                "{k}: expected {:?}, light mode {:?}",
                exp.summary, got
            )),
            None => Ok(()),
        }
    });
}

fn valgrind_available() -> bool {
    std::env::var_os("LEAKSCOPE_SKIP_MEMCHECK").is_none()
        && Command::new("valgrind")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Runs Memcheck on the program; returns what it reported for the root process (its last image).
fn run_memcheck(p: &Program, dir: &Path) -> Result<Observed, String> {
    let logs = dir.join(format!("{}.memcheck", p.name));
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs).unwrap();
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--leak-check=full",
        "--show-leak-kinds=all",
        "--trace-children=yes",
        "--num-callers=50",
    ])
    .arg(format!("--log-file={}/%p.log", logs.display()))
    .arg(dir.join(&p.name))
    .args(p.args(dir))
    .current_dir(dir);
    let exit = run_limited(&mut cmd, Duration::from_secs(180))?;
    // The root's log is the one of the smallest pid: forked children get larger ones.
    let mut files: Vec<(u32, PathBuf)> = std::fs::read_dir(&logs)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid = e.path().file_stem()?.to_str()?.parse().ok()?;
            Some((pid, e.path()))
        })
        .collect();
    files.sort();
    let parse =
        |path: &Path| parse_memcheck(&std::fs::read_to_string(path).unwrap(), &source_file(p));
    let (summary, sites) = parse(&files.first().ok_or("Memcheck wrote no log")?.1);
    let child = files.get(1).map(|(_, path)| parse(path));
    Ok(Observed {
        exit,
        summary,
        sites,
        child,
        child_exit: None,
    })
}

/// Memcheck's text log → its four-kind summary and per-site amounts (the site is the first frame in the
/// program's source file).
fn parse_memcheck(log: &str, source_file: &str) -> (BTreeMap<String, Amount>, Sites) {
    let lines: Vec<&str> = log
        .lines()
        .map(|l| l.split_once("== ").map_or(l, |(_, rest)| rest))
        .collect();
    let mut summary: BTreeMap<String, Amount> =
        KINDS.iter().map(|k| (k.to_string(), (0, 0))).collect();
    let mut sites = Sites::new();
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim();
        for (label, kind) in [
            ("definitely lost:", "definite"),
            ("indirectly lost:", "indirect"),
            ("possibly lost:", "possible"),
            ("still reachable:", "reachable"),
        ] {
            if let Some(rest) = line.strip_prefix(label) {
                summary.insert(kind.to_string(), bytes_in_blocks(rest));
            }
        }
        let Some((kind, amount)) = loss_record(line) else {
            continue;
        };
        let site = lines[i + 1..]
            .iter()
            .map(|l| l.trim())
            .take_while(|l| l.starts_with("at ") || l.starts_with("by "))
            .find_map(|l| {
                let loc = l.rsplit_once('(')?.1.strip_suffix(')')?;
                let (file, line) = loc.split_once(':')?;
                (file == source_file || support_file(file)).then(|| format!("{file}:{line}"))
            });
        if let Some(site) = site {
            let e = sites.entry((kind.to_string(), site)).or_default();
            e.0 += amount.0;
            e.1 += amount.1;
        }
    }
    (summary, sites)
}

/// "248 bytes in 6 blocks" → (248, 6).
fn bytes_in_blocks(s: &str) -> Amount {
    let nums: Vec<u64> = s
        .split_whitespace()
        .filter_map(|w| w.replace(',', "").parse().ok())
        .collect();
    (
        nums.first().copied().unwrap_or(0),
        nums.get(1).copied().unwrap_or(0),
    )
}

/// "144 (48 direct, 96 indirect) bytes in 1 blocks are definitely lost in loss record 3 of 5" →
/// ("definite", (48, 1)): a record's own (direct) bytes.
fn loss_record(line: &str) -> Option<(&'static str, Amount)> {
    let kind = [
        ("are definitely lost", "definite"),
        ("are indirectly lost", "indirect"),
        ("are possibly lost", "possible"),
        ("are still reachable", "reachable"),
    ]
    .iter()
    .find(|(phrase, _)| line.contains(phrase))?
    .1;
    let words: Vec<String> = line
        .split_whitespace()
        .map(|w| w.replace(',', ""))
        .collect();
    let total: u64 = words.first()?.parse().ok()?;
    let direct = match words.get(1) {
        Some(w) if w.starts_with('(') => w.trim_start_matches('(').parse().ok()?,
        _ => total,
    };
    let blocks_at = words.iter().position(|w| w == "in")? + 1;
    let blocks: u64 = words.get(blocks_at)?.parse().ok()?;
    Some((kind, (direct, blocks)))
}

/// Where Valgrind is installed, Memcheck must give the same exit status, summary and sites as the header
/// (and so as leakscope), except for programs whose header explains a deliberate difference.
#[test]
fn corpus_expectations_agree_with_memcheck() {
    if !valgrind_available() {
        eprintln!(
            "valgrind not installed (or LEAKSCOPE_SKIP_MEMCHECK set): Memcheck cross-check skipped"
        );
        return;
    }
    for_each_build(|p, build, dir| {
        let verdict = p.memcheck(build);
        if verdict != "same" {
            eprintln!(
                "{} [-{build}]: Memcheck cross-check not applied ({verdict})",
                p.name
            );
            return Ok(());
        }
        let exp = Expected {
            child_exit: None, // Memcheck's log does not say
            ..p.expected(build)?
        };
        // Memcheck itself now and then finds a stale word that points into a lost block (c_malloc_calloc
        // -O2: its 1 MiB block was "possibly lost" in 3 of 150 runs): only a disagreement that persists
        // over three runs counts.
        let mut diffs = Vec::new();
        for _ in 0..3 {
            diffs = expected_matches(&exp, &run_memcheck(p, dir)?);
            if diffs.is_empty() {
                return Ok(());
            }
        }
        Err(format!(
            "Memcheck disagrees with the header: {}",
            diffs.join("; ")
        ))
    });
}

#[test]
fn memcheck_log_parsing() {
    let log = "==7== 144 (48 direct, 96 indirect) bytes in 1 blocks are definitely lost in loss record 3 of 5\n\
               ==7==    at 0x4846828: malloc (vg_replace_malloc.c:442)\n\
               ==7==    by 0x109176: make (list.c:12)\n\
               ==7== \n\
               ==7== 1,024 bytes in 2 blocks are still reachable in loss record 1 of 5\n\
               ==7==    at 0x4846828: malloc (vg_replace_malloc.c:442)\n\
               ==7==    by 0x109176: keep (list.c:20)\n\
               ==7==    definitely lost: 48 bytes in 1 blocks\n\
               ==7==    still reachable: 1,024 bytes in 2 blocks\n";
    let (summary, sites) = parse_memcheck(log, "list.c");
    assert_eq!(summary["definite"], (48, 1));
    assert_eq!(summary["reachable"], (1024, 2));
    assert_eq!(summary["indirect"], (0, 0));
    assert_eq!(sites[&("definite".into(), "list.c:12".into())], (48, 1));
    assert_eq!(sites[&("reachable".into(), "list.c:20".into())], (1024, 2));
}
