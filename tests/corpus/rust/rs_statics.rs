// Statics as roots: a Vec in a static Mutex (reachable), a HashMap in a static OnceLock (hashbrown points
// into the middle of its table allocation, so the table is possibly lost, and its Strings with it), a Box kept in a static AtomicPtr (reachable); a thread_local! Vec of the main
// thread is dropped when main's thread exits (freed).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=0/0 indirect=0/0 possible=304/4 reachable=772/3
// expect-leak: possible 148/1 rs_statics.rs:31
// expect-leak: possible 156/3 rs_statics.rs:33
// expect-leak: reachable 128/1 rs_statics.rs:28
// expect-leak: reachable 100/1 rs_statics.rs:37
use std::cell::RefCell;
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Mutex, OnceLock};

static LIST: Mutex<Vec<u64>> = Mutex::new(Vec::new());
static TABLE: OnceLock<HashMap<u32, String>> = OnceLock::new();
static BOXED: AtomicPtr<[u8; 100]> = AtomicPtr::new(std::ptr::null_mut());

thread_local! {
    static LOCAL: RefCell<Vec<u8>> = RefCell::new(Vec::new());
}

#[inline(never)]
fn fill() {
    let mut l = LIST.lock().unwrap();
    l.reserve_exact(16);
    l.extend(0..16);
    TABLE.get_or_init(|| {
        let mut m = HashMap::with_capacity(3);
        for i in 0..3 {
            m.insert(i, format!("value {i} in the static table"));
        }
        m
    });
    BOXED.store(Box::into_raw(Box::new([5u8; 100])), Ordering::SeqCst);
    LOCAL.with(|v| v.borrow_mut().extend_from_slice(&[1u8; 300]));
}

fn main() {
    fill();
    black_box(&LIST);
    black_box(TABLE.get());
    black_box(BOXED.load(Ordering::SeqCst));
}
