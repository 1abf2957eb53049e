// Rust threads: three workers each forget a Vec from their own line and are joined (definite); a worker
// that panics is joined and its payload dropped (freed); a worker parked for good when main returns holds
// a Vec in its frame (reachable); std's and glibc's records of that live thread are counted as Memcheck
// counts them.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=357/3 indirect=0/0 possible=288/1 reachable=1032/6
// expect-leak: definite 111/1 rs_threads.rs:22
// expect-leak: definite 122/1 rs_threads.rs:27
// expect-leak: definite 124/1 rs_threads.rs:32
// expect-leak: possible 288/1 rs_threads.rs:37
// expect-leak: reachable 136/3 rs_threads.rs:51
// expect-leak: reachable 320/1 rs_threads.rs:52
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

static READY: AtomicBool = AtomicBool::new(false);

#[inline(never)]
fn forget_a() {
    std::mem::forget(black_box(vec![1u8; 111]));
}

#[inline(never)]
fn forget_b() {
    std::mem::forget(black_box(vec![2u16; 61]));
}

#[inline(never)]
fn forget_c() {
    std::mem::forget(black_box(vec![3u32; 31]));
}

fn main() {
    let fs: [fn(); 3] = [forget_a, forget_b, forget_c];
    let hs: Vec<_> = fs.iter().map(|&f| thread::spawn(f)).collect();
    for h in hs {
        h.join().unwrap();
    }
    std::panic::set_hook(Box::new(|_| {}));
    let r = thread::spawn(|| {
        let v = black_box(vec![0u8; 50]);
        if v.len() == 50 {
            panic!("worker gives up");
        }
    })
    .join();
    assert!(r.is_err());
    drop(r);
    thread::spawn(|| {
        let held = black_box(vec![7u64; 40]);
        READY.store(true, Ordering::SeqCst);
        loop {
            thread::park();
            black_box(&held);
        }
    });
    // A spin (no channel): whether main would block first is up to the scheduler, and a blocked receiver
    // allocates.
    while !READY.load(Ordering::SeqCst) {
        thread::yield_now();
    }
}
