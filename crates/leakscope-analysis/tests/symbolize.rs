//! Symbolization of a real gcc-built program: inlined frames at -O2, separate debug files found by build-id,
//! the symbol-table fallback, and demangling.
//!
//! The C program prints the return addresses of two calls and its load bias (`&__ehdr_start`: the ELF header
//! sits at virtual address 0 of a PIE), which is exactly what the agent records.

use leakscope_analysis::modules::ModuleMap;
use leakscope_analysis::{demangle, Frame, Symbolizer};
use leakscope_trace::ModuleEvent;
use std::path::{Path, PathBuf};
use std::process::Command;

const PROGRAM: &str = r#"#include <stdio.h>
#include <stdlib.h>
extern const char __ehdr_start;
static void *ra_alloc, *ra_outer;
__attribute__((noinline)) void *grab(size_t n) { ra_alloc = __builtin_return_address(0); return malloc(n); }
static inline __attribute__((always_inline)) char *make(size_t n) {
    char *p = grab(n);
    p[0] = 1;
    return p;
}
__attribute__((noinline)) char *outer(size_t n) {
    ra_outer = __builtin_return_address(0);
    char *p = make(n);
    return p;
}
int main(void) {
    char *p = outer(16);
    printf("%lx %lx %lx\n", (unsigned long)ra_alloc, (unsigned long)ra_outer, (unsigned long)&__ehdr_start);
    free(p);
    return 0;
}
"#;

struct Built {
    dir: PathBuf,
    exe: PathBuf,
    ra_alloc: u64,
    ra_outer: u64,
    bias: u64,
}

impl Drop for Built {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run tool");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Compiles the program with `gcc -g -O2` into a fresh directory and runs it once; None without gcc.
fn build(name: &str) -> Option<Built> {
    if Command::new("gcc").arg("--version").output().is_err() {
        eprintln!("skipped: gcc is not installed");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("leakscope-sym-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("inl.c"), PROGRAM).unwrap();
    let exe = dir.join("inl");
    run(Command::new("gcc")
        .args(["-g", "-O2", "-fPIE", "-pie", "-o"])
        .arg(&exe)
        .arg(dir.join("inl.c")));
    let out = Command::new(&exe).output().unwrap();
    let nums: Vec<u64> = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|w| u64::from_str_radix(w, 16).unwrap())
        .collect();
    Some(Built {
        dir,
        exe,
        ra_alloc: nums[0],
        ra_outer: nums[1],
        bias: nums[2],
    })
}

fn modules(b: &Built, path: &Path, build_id: Vec<u8>) -> ModuleMap {
    let mut m = ModuleMap::default();
    m.apply(&ModuleEvent {
        loaded: true,
        start: b.bias,
        end: b.bias + 0x10_0000,
        bias: b.bias,
        path: path.to_str().unwrap().into(),
        build_id,
    });
    m
}

fn describe(frames: &[Frame]) -> Vec<(String, String, u32, bool)> {
    frames
        .iter()
        .map(|f| {
            (
                f.function.as_deref().unwrap_or_default().to_string(),
                f.file_name().unwrap_or_default().to_string(),
                f.line.unwrap_or(0),
                f.inlined,
            )
        })
        .collect()
}

#[test]
fn inlined_frames_are_frames_of_their_own() {
    let Some(b) = build("dwarf") else { return };
    let mut sym = Symbolizer::new(vec![]);
    let map = modules(&b, &b.exe, vec![]);
    let frames = sym.symbolize(&map, b.ra_alloc);
    assert_eq!(
        describe(&frames),
        [
            ("make".into(), "inl.c".into(), 7, true),
            ("outer".into(), "inl.c".into(), 13, false),
        ]
    );
    assert!(frames.iter().all(|f| f.address == b.ra_alloc));
    assert_eq!(frames[0].module.as_deref(), b.exe.to_str());
    assert_eq!(frames[0].file.as_deref(), b.dir.join("inl.c").to_str());
    let frames = sym.symbolize(&map, b.ra_outer);
    assert_eq!(
        describe(&frames),
        [("main".into(), "inl.c".into(), 17, false)]
    );
    assert!(sym.take_warnings().is_empty());
}

fn build_id_of(exe: &Path) -> Vec<u8> {
    let out = Command::new("readelf").arg("-n").arg(exe).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let hex = text
        .split("Build ID: ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn separate_debug_file_is_found_by_build_id() {
    let Some(b) = build("buildid") else { return };
    let id = build_id_of(&b.exe);
    let hex: String = id.iter().map(|x| format!("{x:02x}")).collect();
    let debug_dir = b.dir.join("debug");
    let target = debug_dir
        .join(".build-id")
        .join(&hex[..2])
        .join(format!("{}.debug", &hex[2..]));
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    run(Command::new("objcopy")
        .arg("--only-keep-debug")
        .arg(&b.exe)
        .arg(&target));
    // Everything stripped, .symtab included: only the debug file can name these frames.
    run(Command::new("strip").arg("--strip-all").arg(&b.exe));
    let map = modules(&b, &b.exe, id);
    let frames = Symbolizer::new(vec![debug_dir]).symbolize(&map, b.ra_alloc);
    assert_eq!(
        describe(&frames)[0],
        ("make".into(), "inl.c".into(), 7, true)
    );
    assert_eq!(
        describe(&frames)[1],
        ("outer".into(), "inl.c".into(), 13, false)
    );
    // Without the debug directory nothing names the address.
    let frames = Symbolizer::new(vec![]).symbolize(&map, b.ra_alloc);
    assert_eq!(frames.len(), 1);
    assert_eq!(
        (frames[0].function.as_deref(), frames[0].line),
        (None, None)
    );
    assert_eq!(frames[0].module.as_deref(), b.exe.to_str());
}

#[test]
fn symbol_table_is_the_fallback_without_dwarf() {
    let Some(b) = build("symtab") else { return };
    run(Command::new("strip").arg("--strip-debug").arg(&b.exe));
    let map = modules(&b, &b.exe, vec![]);
    let frames = Symbolizer::new(vec![]).symbolize(&map, b.ra_alloc);
    assert_eq!(
        describe(&frames),
        [("outer".into(), String::new(), 0, false)]
    );
}

#[test]
fn missing_module_gives_addresses_and_one_warning() {
    let mut m = ModuleMap::default();
    m.apply(&ModuleEvent {
        loaded: true,
        start: 0x1000,
        end: 0x2000,
        bias: 0x1000,
        path: "/nonexistent/libgone.so".into(),
        build_id: vec![1, 2, 3, 4],
    });
    let mut sym = Symbolizer::new(vec![]);
    let a = sym.symbolize(&m, 0x1234);
    let b = sym.symbolize(&m, 0x1500);
    assert_eq!((a[0].address, a[0].function.as_deref()), (0x1234, None));
    assert_eq!(b[0].module.as_deref(), Some("/nonexistent/libgone.so"));
    assert_eq!(
        sym.take_warnings(),
        ["cannot read /nonexistent/libgone.so: frames in it are shown as addresses"]
    );
    assert_eq!(sym.symbolize(&m, 0x9000)[0].module, None);
}

#[test]
fn demangles_cpp_and_rust() {
    assert_eq!(demangle("_ZN3foo3barEi"), "foo::bar(int)");
    assert_eq!(demangle("_Znwm"), "operator new(unsigned long)");
    assert_eq!(
        demangle("_ZnwmRKSt9nothrow_t"),
        "operator new(unsigned long, std::nothrow_t const&)"
    );
    assert_eq!(
        demangle("_ZN4core3fmt5write17h0123456789abcdefE"),
        "core::fmt::write"
    );
    assert_eq!(
        demangle("_RNvC9backtrace3foo.llvm.A5310EB9"),
        "backtrace::foo"
    );
    assert_eq!(demangle("main"), "main");
}
