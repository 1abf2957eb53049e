//! Sampled mode (`--sample-rate`): the summary keeps every block (every block is scanned), and each site's
//! estimated leaked bytes agree with the exact run's within the estimator's own error.
//!
//! With rate R, a block of size s is sampled with probability p = 1 − e^(−s/R) and stands for s/p bytes,
//! so for n blocks of size s the estimate has standard deviation s·sqrt(n(1−p)/p). The test allows 4
//! standard deviations (a false failure about once in 16 000 runs) per site.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn build() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sampling");
    std::fs::create_dir_all(&dir).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/sampling/sites.c");
    let exe = dir.join("sites");
    let ok = Command::new("gcc")
        .args(["-g", "-O1", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .unwrap()
        .success();
    assert!(ok, "cannot build {}", src.display());
    exe
}

fn run(exe: &Path, rate: u64) -> Value {
    let out = exe.with_extension(format!("{rate}.json"));
    let status = Command::new(env!("CARGO_BIN_EXE_leakscope"))
        .args([
            "run",
            "--format",
            "json",
            "--sample-rate",
            &rate.to_string(),
            "--output",
        ])
        .arg(&out)
        .arg("--trace")
        .arg(exe.with_extension(format!("{rate}.lstrace")))
        .arg("--")
        .arg(exe)
        .status()
        .unwrap();
    assert!(status.success());
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

/// Site function → (bytes, blocks) of its definite records; with `estimated`, the estimates instead.
fn by_function(doc: &Value, estimated: bool) -> BTreeMap<String, (u64, u64)> {
    let mut out = BTreeMap::new();
    for leak in doc["leaks"].as_array().unwrap() {
        let Some(func) = leak["site"]["function"].as_str() else {
            continue;
        };
        let (b, n) = if estimated {
            (&leak["estimated_bytes"], &leak["estimated_blocks"])
        } else {
            (&leak["bytes"], &leak["blocks"])
        };
        let e = out.entry(func.to_string()).or_insert((0, 0));
        e.0 += b.as_u64().unwrap_or(0);
        e.1 += n.as_u64().unwrap_or(0);
    }
    out
}

#[test]
fn sampled_estimates_agree_with_the_exact_run() {
    const RATE: u64 = 65536;
    let exe = build();
    let exact = run(&exe, 0);
    let sampled = run(&exe, RATE);
    // Reachability is computed for every block: the same blocks of each kind. The blocks whose stacks were
    // not sampled are found in glibc's heap and count their usable size (at most 39 bytes more: glibc's
    // rounding, and a chunk up to 16 bytes larger than needed that it did not split).
    for kind in ["definite", "indirect", "possible", "reachable"] {
        let (e, s) = (&exact["summary"][kind], &sampled["summary"][kind]);
        assert_eq!(e["blocks"], s["blocks"], "{kind} blocks");
        let (eb, sb, n) = (
            e["bytes"].as_u64().unwrap(),
            s["bytes"].as_u64().unwrap(),
            e["blocks"].as_u64().unwrap(),
        );
        assert!(
            sb >= eb && sb <= eb + 39 * n,
            "{kind}: exact {eb} bytes, sampled {sb}"
        );
    }
    let truth = by_function(&exact, false);
    let estimates = by_function(&sampled, true);
    let sizes = [
        ("small_blocks", 64u64),
        ("medium_blocks", 1000),
        ("large_blocks", 200_000),
    ];
    for (func, size) in sizes {
        let (bytes, blocks) = truth[func];
        assert_eq!(bytes, size * blocks, "{func}: exact run");
        let p = 1.0 - (-(size as f64) / RATE as f64).exp();
        let sd = size as f64 * (blocks as f64 * (1.0 - p) / p).sqrt();
        let est = estimates.get(func).map_or(0, |e| e.0) as f64;
        assert!(
            (est - bytes as f64).abs() <= 4.0 * sd + size as f64,
            "{func}: estimated {est} bytes, exact {bytes}, allowed ±{:.0}",
            4.0 * sd
        );
    }
    // Blocks larger than the rate are practically always sampled.
    assert_eq!(estimates["large_blocks"].1, 50);
    assert!(
        !estimates.contains_key("churn"),
        "freed blocks must not be reported"
    );
}
