// Rust: Box::leak kept in a local only (definitely lost once dropped from registers), mem::forget of a
// Vec, an Rc cycle (definite + indirect), and a Vec kept in a static Mutex (reachable).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=396/3 indirect=56/1 possible=0/0 reachable=576/2
// expect-leak: reachable 32/1 mr_leaks.rs:46
// expect-leak: definite 40/1 mr_leaks.rs:30
// expect-leak: indirect 56/1 mr_leaks.rs:37
// expect-leak: definite 56/1 mr_leaks.rs:36
// expect-leak: definite 300/1 mr_leaks.rs:24
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Mutex;

static KEPT: Mutex<Vec<u64>> = Mutex::new(Vec::new());

struct Node {
    next: RefCell<Option<Rc<Node>>>,
    _payload: [u64; 3],
}

#[inline(never)]
fn forget_vec() {
    let v: Vec<u8> = vec![7; 300];
    std::mem::forget(std::hint::black_box(v));
}

#[inline(never)]
fn leak_box() {
    let b: &'static mut [u32; 10] = Box::leak(Box::new([5; 10]));
    std::hint::black_box(b);
}

#[inline(never)]
fn rc_cycle() {
    let a = Rc::new(Node { next: RefCell::new(None), _payload: [1; 3] });
    let b = Rc::new(Node { next: RefCell::new(Some(a.clone())), _payload: [2; 3] });
    *a.next.borrow_mut() = Some(b.clone());
    std::hint::black_box(&b);
}

fn main() {
    forget_vec();
    leak_box();
    rc_cycle();
    KEPT.lock().unwrap().extend_from_slice(&[1, 2, 3, 4]);
}
