// mem::forget and friends: a forgotten Vec (its buffer definite), a forgotten Box, a ManuallyDrop<String>
// never dropped, a Box::into_raw pointer dropped, a forgotten Vec<String> (buffer definite, strings
// indirect) and a forgotten BTreeMap (root node definite, the other nodes indirect).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=630/6 indirect=1116/9 possible=0/0 reachable=544/1
// expect-leak: definite 240/1 rs_forget.rs:21
// expect-leak: definite 100/1 rs_forget.rs:27
// expect-leak: definite 26/1 rs_forget.rs:33
// expect-leak: definite 24/1 rs_forget.rs:39
// expect-leak: definite 96/1 rs_forget.rs:45
// expect-leak: definite 144/1 rs_forget.rs:56
// expect-leak: indirect 156/3 rs_forget.rs:47
// expect-leak: indirect 960/6 rs_forget.rs:56
use std::collections::BTreeMap;
use std::hint::black_box;
use std::mem::{self, ManuallyDrop};

#[inline(never)]
fn forget_vec() {
    let v: Vec<u64> = (0..30).collect();
    mem::forget(black_box(v));
}

#[inline(never)]
fn forget_box() {
    let b = Box::new([9u32; 25]);
    mem::forget(black_box(b));
}

#[inline(never)]
fn manually_drop() {
    let s = ManuallyDrop::new(String::from("never dropped, never freed"));
    black_box(&s);
}

#[inline(never)]
fn into_raw() {
    let p = Box::into_raw(Box::new((1u64, 2u64, 3u64)));
    black_box(p);
}

#[inline(never)]
fn forget_strings() {
    let mut v = Vec::with_capacity(4);
    for i in 0..3 {
        v.push(format!("string number {i} long enough"));
    }
    mem::forget(black_box(v));
}

#[inline(never)]
fn forget_btree() {
    let mut m = BTreeMap::new();
    for i in 0..40u32 {
        m.insert(i, i as u64);
    }
    mem::forget(black_box(m));
}

fn main() {
    forget_vec();
    forget_box();
    manually_drop();
    into_raw();
    forget_strings();
    forget_btree();
}
