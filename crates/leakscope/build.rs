//! Builds the LD_PRELOAD agent (crates/leakscope-agent) with a nested `cargo build --release` into
//! `<target dir>/agent-build`, so that the CLI can embed it with `include_bytes!`: a plain `cargo build` or
//! `cargo install --path crates/leakscope` gives a complete tool. The agent is always built optimized
//! (it runs inside the traced program) and for the CLI's target.

use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.join("../..");
    for watched in [
        "crates/leakscope-agent/src",
        "crates/leakscope-agent/Cargo.toml",
        "crates/leakscope-trace/src",
        "crates/leakscope-trace/Cargo.toml",
        "crates/leakscope-agent/Cargo.lock",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    // OUT_DIR is <target dir>[/<triple>]/<profile>/build/leakscope-<hash>/out.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .expect("OUT_DIR has the usual shape")
        .join("agent-build");
    let so = build_agent(&workspace, &target_dir);
    let bytes =
        std::fs::read(&so).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", so.display())));
    println!("cargo:rustc-env=LEAKSCOPE_AGENT_SO={}", so.display());
    println!(
        "cargo:rustc-env=LEAKSCOPE_AGENT_HASH={:016x}",
        fnv1a(&bytes)
    );
}

/// Runs the nested build; returns the path of the built library.
fn build_agent(workspace: &Path, target_dir: &Path) -> PathBuf {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--manifest-path"])
        .arg(workspace.join("crates/leakscope-agent/Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    let (target, host) = (
        env::var("TARGET").unwrap_or_default(),
        env::var("HOST").unwrap_or_default(),
    );
    let mut release_dir = target_dir.to_path_buf();
    if target != host {
        cmd.args(["--target", &target]);
        release_dir.push(&target);
    }
    for (key, _) in env::vars_os() {
        if leaks_into_nested_build(&key) {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run cargo to build the agent: {e}")));
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        fail("building the agent (crates/leakscope-agent) failed; its errors are above");
    }
    release_dir.join("release").join("libleakscope_agent.so")
}

/// Variables cargo sets for this build script (profile, target dir, flags, jobserver, wrappers) that would
/// change how the nested build compiles or where it writes. Registry, network and terminal settings stay.
fn leaks_into_nested_build(key: &OsStr) -> bool {
    let Some(key) = key.to_str() else {
        return false;
    };
    const KEEP: [&str; 7] = [
        "CARGO_HOME",
        "CARGO_NET_",
        "CARGO_HTTP_",
        "CARGO_REGISTRIES_",
        "CARGO_REGISTRY_",
        "CARGO_TERM_",
        "CARGO_BUILD_JOBS",
    ];
    const CLEAR: [&str; 13] = [
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "MAKEFLAGS",
        "MFLAGS",
        "OUT_DIR",
        "TARGET",
        "HOST",
        "NUM_JOBS",
        "OPT_LEVEL",
        "DEBUG",
        "PROFILE",
        "RUSTC_LINKER",
    ];
    if key.starts_with("CARGO_") {
        return !KEEP.iter().any(|k| key.starts_with(k));
    }
    key.starts_with("__CARGO") || key.starts_with("DEP_") || CLEAR.contains(&key)
}

/// 64-bit FNV-1a: names the cache file of the agent by its contents.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1);
}
