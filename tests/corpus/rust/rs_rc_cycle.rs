// Reference-counted cycles: two Rc nodes pointing at each other (one definite, one indirect); an
// Rc<RefCell<>> ring of three nodes whose Vec buffers hang from them (one node definite, the rest
// indirect); an Arc cycle; a cycle broken by a Weak back-pointer (freed). The members of each cycle come
// from one line and have one size, so whichever Memcheck picks as the cycle's definite block, the counts hold.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=136/3 indirect=312/7 possible=0/0 reachable=544/1
// expect-leak: definite 48/1 rs_rc_cycle.rs:43
// expect-leak: definite 56/1 rs_rc_cycle.rs:52
// expect-leak: definite 32/1 rs_rc_cycle.rs:62
// expect-leak: indirect 48/1 rs_rc_cycle.rs:43
// expect-leak: indirect 232/5 rs_rc_cycle.rs:52
// expect-leak: indirect 32/1 rs_rc_cycle.rs:62
use std::cell::RefCell;
use std::hint::black_box;
use std::rc::{Rc, Weak};
use std::sync::{Arc, Mutex};

struct Pair {
    other: RefCell<Option<Rc<Pair>>>,
    v: [u64; 2],
}

struct Ring {
    next: RefCell<Option<Rc<Ring>>>,
    data: Vec<u32>,
}

struct Shared {
    other: Mutex<Option<Arc<Shared>>>,
}

struct Parent {
    child: RefCell<Option<Rc<Child>>>,
}

struct Child {
    parent: RefCell<Weak<Parent>>,
}

#[inline(never)]
fn pair() {
    let p: Vec<Rc<Pair>> = (0..2).map(|i| Rc::new(Pair { other: RefCell::new(None), v: [i, i] })).collect();
    *p[0].other.borrow_mut() = Some(p[1].clone());
    *p[1].other.borrow_mut() = Some(p[0].clone());
    black_box(&p);
}

#[inline(never)]
fn ring() {
    let nodes: Vec<Rc<Ring>> = (0..3)
        .map(|i| Rc::new(Ring { next: RefCell::new(None), data: vec![i; 10] }))
        .collect();
    for i in 0..3 {
        *nodes[i].next.borrow_mut() = Some(nodes[(i + 1) % 3].clone());
    }
    black_box(&nodes);
}

#[inline(never)]
fn arc_cycle() {
    let s: Vec<Arc<Shared>> = (0..2).map(|_| Arc::new(Shared { other: Mutex::new(None) })).collect();
    *s[0].other.lock().unwrap() = Some(s[1].clone());
    *s[1].other.lock().unwrap() = Some(s[0].clone());
    black_box(&s);
}

#[inline(never)]
fn weak_back() {
    let p = Rc::new(Parent { child: RefCell::new(None) });
    let c = Rc::new(Child { parent: RefCell::new(Weak::new()) });
    *c.parent.borrow_mut() = Rc::downgrade(&p);
    *p.child.borrow_mut() = Some(c);
    black_box(&p);
}

fn main() {
    pair();
    ring();
    arc_cycle();
    weak_back();
}
