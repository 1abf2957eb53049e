// std::process::exit(3) from a nested function: no destructors run, so the Vecs held by the live frames of
// main and of the caller are reachable; a forgotten Box is definite.
// memcheck: same
// expect-exit: 3
// expect-summary: definite=301/1 indirect=0/0 possible=0/0 reachable=1149/3
// expect-leak: definite 301/1 rs_exit.rs:13
// expect-leak: reachable 302/1 rs_exit.rs:18
// expect-leak: reachable 303/1 rs_exit.rs:24
use std::hint::black_box;

#[inline(never)]
fn lose() {
    std::mem::forget(black_box(Box::new([4u8; 301])));
}

#[inline(never)]
fn leave(code: i32) -> ! {
    let in_leave = black_box(vec![1u8; 302]);
    black_box(&in_leave);
    std::process::exit(code);
}

fn main() {
    let in_main = black_box(vec![2u8; 303]);
    lose();
    black_box(&in_main);
    leave(3);
}
