//! Which frames of an allocation stack are the allocator's plumbing (dropped, so that a record starts in the
//! code that asked for memory) and which is the allocation site (the first frame in the program's own code).

use crate::symbolize::Frame;

/// Functions that only forward a request to `malloc` & co.: C++'s global `operator new`/`new[]` (every
/// variant: nothrow, aligned, sized) and Rust's global-allocator shims and `Global` allocator methods.
fn is_plumbing(f: &Frame) -> bool {
    let Some(name) = f.function.as_deref() else {
        return false;
    };
    const RUST_PREFIXES: [&str; 7] = [
        "alloc::alloc::",
        "<alloc::alloc::Global>::",
        "<alloc::alloc::Global as core::alloc::Allocator>::",
        "std::sys::alloc::",
        "std::sys::pal::unix::alloc::",
        "<std::alloc::System as core::alloc::global::GlobalAlloc>::",
        "<std::alloc::System>::",
    ];
    // `__rust_alloc` and friends, whatever path the symbol-mangling scheme puts in front of them.
    const RUST_SHIMS: [&str; 4] = ["__rust_alloc", "__rust_realloc", "__rdl_", "__rg_"];
    let last = name.rsplit("::").next().unwrap_or(name);
    // A class's own `operator new` is the program's code and reads `Class::operator new(...)`.
    name.starts_with("operator new")
        || name.starts_with("_Znw")
        || name.starts_with("_Zna")
        || RUST_PREFIXES.iter().any(|p| name.starts_with(p))
        || RUST_SHIMS.iter().any(|p| last.starts_with(p))
}

/// Drops the leading plumbing frames (never all of them: an all-plumbing stack stays as it is).
pub fn trim_plumbing(frames: &mut Vec<Frame>) {
    let n = frames.iter().take_while(|f| is_plumbing(f)).count();
    if n < frames.len() {
        frames.drain(..n);
    }
}

/// Functions that run the program's `main`: glibc's start-up code.
const BELOW_MAIN: [&str; 4] = [
    "__libc_start_call_main",
    "__libc_start_main",
    "__libc_start_main_impl",
    "_start",
];

/// Where Rust's runtime hands over to the program (its own backtraces stop there too).
const RUST_ENTRY: &str = "std::sys::backtrace::__rust_begin_short_backtrace";

/// glibc's thread start-up code, at the bottom of every thread's stack.
const THREAD_START: [&str; 3] = ["start_thread", "clone3", "clone"];

/// Is `name` one of glibc's start-up functions: below `main` (cut from every stack) or starting a thread?
/// Their frames (and any below them) are named from the symbol table alone, without DWARF.
pub fn is_start_up(name: &str) -> bool {
    BELOW_MAIN.contains(&name) || THREAD_START.contains(&name)
}

/// Is this the frame [`cut_below_main`] cuts below (or at, for Rust's)?
pub fn is_program_entry(f: &Frame) -> bool {
    f.function
        .as_deref()
        .is_some_and(|n| n == "main" || n.starts_with(RUST_ENTRY))
}

/// Drops the frames below `main` as Memcheck does by default (glibc's start-up code; in a Rust program the
/// runtime frames below `__rust_begin_short_backtrace`). A thread's stack loses only the start-up frames.
pub fn cut_below_main(frames: &mut Vec<Frame>) {
    fn name(f: &Frame) -> &str {
        f.function.as_deref().unwrap_or("")
    }
    let end = if let Some(i) = frames.iter().position(|f| name(f).starts_with(RUST_ENTRY)) {
        i
    } else if let Some(i) = frames.iter().position(|f| name(f) == "main") {
        i + 1
    } else {
        let below = frames.iter().position(|f| BELOW_MAIN.contains(&name(f)));
        below.unwrap_or(frames.len())
    };
    frames.truncate(end.max(1));
}

/// Runtime libraries whose frames are never the allocation site.
fn is_runtime_module(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    const RUNTIME: [&str; 12] = [
        "libc.so",
        "libc-",
        "libstdc++.so",
        "libc++.so",
        "libc++abi.so",
        "ld-linux",
        "ld64.so",
        "libgcc_s.so",
        "libm.so",
        "libpthread.so",
        "libdl.so",
        "librt.so",
    ];
    RUNTIME.iter().any(|r| name.starts_with(r))
}

/// Library code compiled into the program: Rust's std/alloc/core (`/rustc/<hash>/library/...`) and the
/// crates std vendors (`/rust/deps/`, e.g. hashbrown behind `HashMap`), crates from Cargo's registry or git
/// checkouts, and C++ standard headers.
fn is_library_source(file: &str) -> bool {
    file.starts_with("/rustc/")
        || file.starts_with("/rust/deps/")
        || file.contains("/.cargo/registry/")
        || file.contains("/.cargo/git/")
        || file.starts_with("/usr/include/")
        || file.starts_with("/usr/lib/gcc/")
}

fn is_rust_std_name(name: &str) -> bool {
    [
        "std::", "core::", "alloc::", "<std::", "<core::", "<alloc::",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

/// Is this frame in the program's own code?
pub fn is_own_code(f: &Frame) -> bool {
    if f.module.as_deref().is_some_and(is_runtime_module) {
        return false;
    }
    match (&f.file, &f.function) {
        (Some(file), _) => !is_library_source(file),
        (None, Some(name)) => !is_rust_std_name(name),
        // Nothing known about it: not something to point a user at.
        (None, None) => false,
    }
}

/// Index of the allocation site: the first frame in the program's own code. Rust's `main` shim (no source,
/// called from the runtime's start-up) is not the program's.
pub fn site(frames: &[Frame]) -> Option<usize> {
    let rust_shim = |i: usize| {
        let f = &frames[i];
        f.file.is_none()
            && f.function.as_deref() == Some("main")
            && i > 0
            && frames[i - 1]
                .function
                .as_deref()
                .is_some_and(|n| n.starts_with("std::rt::lang_start"))
    };
    (0..frames.len()).find(|&i| is_own_code(&frames[i]) && !rust_shim(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, file: Option<&str>, module: &str) -> Frame {
        Frame {
            address: 0x1000,
            function: Some(function.into()),
            file: file.map(Into::into),
            line: file.map(|_| 1),
            module: Some(module.into()),
            inlined: false,
        }
    }

    const STDCXX: &str = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";
    const LIBC: &str = "/usr/lib/x86_64-linux-gnu/libc.so.6";

    #[test]
    fn operator_new_variants_are_trimmed() {
        let mut f = vec![
            frame(
                "operator new(unsigned long, std::nothrow_t const&)",
                None,
                STDCXX,
            ),
            frame(
                "operator new[](unsigned long, std::align_val_t)",
                None,
                STDCXX,
            ),
            frame(
                "Widget::operator new(unsigned long)",
                Some("/src/w.cc"),
                "/bin/w",
            ),
            frame("main", Some("/src/w.cc"), "/bin/w"),
        ];
        trim_plumbing(&mut f);
        assert_eq!(f.len(), 2);
        assert_eq!(
            f[0].function.as_deref(),
            Some("Widget::operator new(unsigned long)")
        );
    }

    #[test]
    fn frames_below_main_are_cut() {
        let mut f = vec![
            frame("make_token", Some("/src/leaky.c"), "/bin/leaky"),
            frame("main", Some("/src/leaky.c"), "/bin/leaky"),
            frame(
                "__libc_start_call_main",
                Some("../sysdeps/nptl/libc_start_call_main.h"),
                LIBC,
            ),
            frame("_start", None, "/bin/leaky"),
        ];
        cut_below_main(&mut f);
        assert_eq!(f.len(), 2);
        let mut f = vec![
            frame("worker", Some("/src/t.c"), "/bin/t"),
            frame("start_thread", None, LIBC),
            frame("clone3", None, LIBC),
        ];
        cut_below_main(&mut f);
        assert_eq!(f.len(), 3);
    }

    #[test]
    fn libc_frames_stay_but_are_not_the_site() {
        let mut f = vec![
            frame("strdup", None, LIBC),
            frame("remember", Some("/src/leaky.c"), "/bin/leaky"),
        ];
        trim_plumbing(&mut f);
        assert_eq!(f.len(), 2);
        assert_eq!(site(&f), Some(1));
    }

    #[test]
    fn rust_runtime_is_cut_and_its_main_shim_is_no_site() {
        let rt = |f: &str| frame(f, Some("/rustc/abc/library/std/src/rt.rs"), "/bin/r");
        let mut f = vec![
            frame(
                "<alloc::alloc::Global>::alloc_impl_runtime",
                Some("/rustc/abc/library/alloc/src/alloc.rs"),
                "/bin/r",
            ),
            frame("__rustc::__rust_alloc", None, "/bin/r"),
            frame("r::main", Some("/src/main.rs"), "/bin/r"),
            rt("std::sys::backtrace::__rust_begin_short_backtrace::<fn(), ()>"),
            rt("std::rt::lang_start_internal"),
            frame("main", None, "/bin/r"),
        ];
        trim_plumbing(&mut f);
        cut_below_main(&mut f);
        assert_eq!(f.len(), 1);
        assert_eq!(site(&f), Some(0));
        let f = vec![
            rt("std::rt::lang_start_internal"),
            frame("main", None, "/bin/r"),
        ];
        assert_eq!(site(&f), None);
    }

    #[test]
    fn vendored_and_registry_crates_are_not_the_site() {
        let f = vec![
            frame(
                "hashbrown::raw::alloc::inner::do_alloc",
                Some("/rust/deps/hashbrown-0.16.1/src/raw/alloc.rs"),
                "/bin/r",
            ),
            frame(
                "serde_json::de::from_str",
                Some("/home/u/.cargo/registry/src/index.crates.io-1/serde_json-1.0/src/de.rs"),
                "/bin/r",
            ),
            frame("r::parse", Some("/src/main.rs"), "/bin/r"),
        ];
        assert_eq!(site(&f), Some(2));
    }

    #[test]
    fn rust_std_is_skipped_for_the_site() {
        let mut f = vec![
            frame(
                "alloc::alloc::alloc",
                Some("/rustc/abc/library/alloc/src/alloc.rs"),
                "/bin/r",
            ),
            frame(
                "alloc::raw_vec::finish_grow",
                Some("/rustc/abc/library/alloc/src/raw_vec.rs"),
                "/bin/r",
            ),
            frame("std::rt::lang_start", None, "/bin/r"),
            frame("r::main", Some("/src/main.rs"), "/bin/r"),
        ];
        trim_plumbing(&mut f);
        assert_eq!(
            f[0].function.as_deref(),
            Some("alloc::raw_vec::finish_grow")
        );
        assert_eq!(site(&f), Some(2));
    }
}
