// std::process::abort() (SIGABRT, 134) from a nested function: what the live frames hold is reachable; a
// forgotten Vec is definite.
// memcheck: same
// expect-exit: 134
// expect-summary: definite=311/1 indirect=0/0 possible=0/0 reachable=1173/4
// expect-leak: definite 311/1 rs_abort.rs:13
// expect-leak: reachable 312/1 rs_abort.rs:18
// expect-leak: reachable 313/1 rs_abort.rs:24
use std::hint::black_box;

#[inline(never)]
fn lose() {
    std::mem::forget(black_box(vec![5u8; 311]));
}

#[inline(never)]
fn bail() -> ! {
    let in_bail = black_box(vec![1u8; 312]);
    black_box(&in_bail);
    std::process::abort();
}

fn main() {
    let in_main = black_box(vec![2u8; 313]);
    lose();
    black_box(&in_main);
    bail();
}
