// Collections leaked with Box::leak into locals (each collection's header block definite, its storage
// indirect): HashMap<u32, String> (hashbrown's table is held by a pointer into its middle: the leaked map
// reaches it all the same), VecDeque, BinaryHeap, LinkedList (both nodes indirect), BTreeSet. Doubly linked
// nodes (and B-tree nodes with parent pointers) form one cycle whose lowest-addressed block Memcheck makes
// the clique leader; a block the header does not point at directly stays definite if it is the leader:
// the list has two nodes, both pointed at by the header (head and tail), so either way they are indirect;
// the B-tree's first leaf (the lowest block, natively as under Memcheck) stays a definite leader of its own.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=192/6 indirect=1216/18 possible=0/0 reachable=544/1
// expect-leak: definite 48/1 rs_collections.rs:32
// expect-leak: definite 32/1 rs_collections.rs:41
// expect-leak: definite 24/1 rs_collections.rs:43
// expect-leak: definite 24/1 rs_collections.rs:52
// expect-leak: definite 40/1 rs_collections.rs:53
// expect-leak: definite 24/1 rs_collections.rs:54
// expect-leak: indirect 280/1 rs_collections.rs:28
// expect-leak: indirect 192/4 rs_collections.rs:30
// expect-leak: indirect 128/1 rs_collections.rs:37
// expect-leak: indirect 80/1 rs_collections.rs:42
// expect-leak: indirect 80/2 rs_collections.rs:50
// expect-leak: indirect 456/9 rs_collections.rs:53
use std::collections::{BTreeSet, BinaryHeap, HashMap, LinkedList, VecDeque};
use std::hint::black_box;

#[inline(never)]
fn leak_map() {
    let mut m = HashMap::with_capacity(6);
    for i in 0..4u32 {
        m.insert(i, format!("entry {i} of the leaked map"));
    }
    black_box(Box::leak(Box::new(m)));
}

#[inline(never)]
fn leak_deque_heap() {
    let mut d = VecDeque::with_capacity(16);
    for i in 0..10u64 {
        d.push_front(i);
    }
    black_box(Box::leak(Box::new(d)));
    let h: BinaryHeap<i32> = (0..20).collect();
    black_box(Box::leak(Box::new(h)));
}

#[inline(never)]
fn leak_list_set() {
    let mut l = LinkedList::new();
    for i in 0..2u64 {
        l.push_back([i; 3]);
    }
    black_box(Box::leak(Box::new(l)));
    let s: BTreeSet<u16> = (0..100).collect();
    black_box(Box::leak(Box::new(s)));
}

fn main() {
    leak_map();
    leak_deque_heap();
    leak_list_set();
}
