// Rust stack overflow: std's handler prints the message and aborts (SIGABRT, 134); the report still runs.
// memcheck: differs: under Valgrind the overflow kills the program with SIGSEGV (139) before std's handler
// can abort (134, natively); the leak summary is Memcheck's
// expect-exit: 134
// expect-summary: definite=0/0 indirect=0/0 possible=0/0 reachable=588/3
// expect-leak: reachable 40/1 mr_stack_overflow.rs:18
// expect-summary[O2]: definite=0/0 indirect=0/0 possible=0/0 reachable=548/2
// expect-leak[O2]: none
#![allow(unconditional_recursion)]
#[inline(never)]
fn recurse(n: u64) -> u64 {
    let buf = [n; 64];
    std::hint::black_box(&buf);
    recurse(n + 1) + buf[3]
}

fn main() {
    let b = Box::new([1u8; 40]);
    std::mem::forget(b);
    println!("{}", recurse(0));
}
