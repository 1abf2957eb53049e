// Box::leak: the &'static it returns, held only by a local, is definitely lost once main's frame is gone;
// stored into a static AtomicPtr it is reachable; a leaked struct owning a Vec and a String makes those
// indirect; Vec::leak and String::leak stored in statics are reachable.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=96/2 indirect=113/2 possible=0/0 reachable=658/4
// expect-leak: definite 48/1 rs_box_leak.rs:28
// expect-leak: definite 48/1 rs_box_leak.rs:34
// expect-leak: indirect 80/1 rs_box_leak.rs:35
// expect-leak: indirect 33/1 rs_box_leak.rs:36
// expect-leak: reachable 64/1 rs_box_leak.rs:43
// expect-leak: reachable 24/1 rs_box_leak.rs:45
// expect-leak: reachable 26/1 rs_box_leak.rs:47
use std::hint::black_box;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

static KEPT: AtomicPtr<[u64; 8]> = AtomicPtr::new(std::ptr::null_mut());
static KEPT_SLICE: AtomicUsize = AtomicUsize::new(0);
static KEPT_STR: AtomicUsize = AtomicUsize::new(0);

struct Owner {
    items: Vec<u32>,
    name: String,
}

#[inline(never)]
fn lose_array() {
    let r: &'static mut [u8; 48] = Box::leak(Box::new([1u8; 48]));
    black_box(r);
}

#[inline(never)]
fn lose_owner() {
    let o = Box::new(Owner {
        items: vec![7; 20],
        name: "x".repeat(33),
    });
    black_box(Box::leak(o));
}

#[inline(never)]
fn keep() {
    let r = Box::leak(Box::new([2u64; 8]));
    KEPT.store(black_box(r), Ordering::SeqCst);
    let s: &'static mut [u16] = vec![3u16; 12].leak();
    KEPT_SLICE.store(black_box(s.as_ptr()) as usize, Ordering::SeqCst);
    let t: &'static mut str = String::from("kept string leaked forever").leak();
    KEPT_STR.store(black_box(t.as_ptr()) as usize, Ordering::SeqCst);
}

fn main() {
    lose_array();
    lose_owner();
    keep();
    // Read the statics, so that the optimiser keeps the stores (and the allocations) it would otherwise drop.
    black_box(KEPT.load(Ordering::SeqCst));
    black_box(KEPT_SLICE.load(Ordering::SeqCst));
    black_box(KEPT_STR.load(Ordering::SeqCst));
}
