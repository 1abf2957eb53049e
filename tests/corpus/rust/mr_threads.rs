// Rust threads: each worker leaks a Box and exits; the main thread joins them and frees everything else.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=192/3 indirect=0/0 possible=0/0 reachable=544/1
// expect-leak: definite 192/3 mr_threads.rs:10
use std::thread;

#[inline(never)]
fn work(i: usize) {
    let b = Box::new([i as u8; 64]);
    std::hint::black_box(Box::leak(b));
}

fn main() {
    let handles: Vec<_> = (0..3).map(|i| thread::spawn(move || work(i))).collect();
    for h in handles {
        h.join().unwrap();
    }
    let s: String = (0..100).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    assert_eq!(s.len(), 100);
}
