// A panic that nobody catches in main (exit status 101): the unwinding drops main's locals (freed); a
// Vec forgotten before is definite; std's panic machinery's blocks are counted as Memcheck counts them.
// memcheck: same
// expect-exit: 101
// expect-summary: definite=321/1 indirect=0/0 possible=0/0 reachable=544/1
// expect-leak: definite 321/1 rs_panic.rs:11
use std::hint::black_box;

#[inline(never)]
fn lose() {
    std::mem::forget(black_box(vec![6u8; 321]));
}

#[inline(never)]
fn fail(n: usize) {
    let local = black_box(vec![1u8; n]);
    if local.len() == 322 {
        panic!("failing with {} bytes", local.len());
    }
}

fn main() {
    std::panic::set_hook(Box::new(|_| {}));
    let in_main = black_box(vec![2u8; 323]);
    lose();
    fail(322);
    black_box(&in_main);
}
