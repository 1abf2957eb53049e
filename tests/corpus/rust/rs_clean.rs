// Everything freed: Vec, String, Box, HashMap, BTreeMap, Rc, Arc shared with joined threads, a channel;
// only std's own reachable block(s) remain (no site in the program).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=0/0 indirect=0/0 possible=0/0 reachable=544/1
use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::rc::Rc;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

fn main() {
    let v: Vec<u64> = (0..1000).collect();
    let s = "text ".repeat(100);
    let b = Box::new([0u8; 4096]);
    let mut h = HashMap::new();
    let mut t = BTreeMap::new();
    for i in 0..200u32 {
        h.insert(i, i.to_string());
        t.insert(i, vec![i; 3]);
    }
    let r = Rc::new(vec![1, 2, 3]);
    let r2 = r.clone();
    black_box((&v, &s, &b, &h, &t, &r, &r2));
    let total = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let hs: Vec<_> = (0..3)
        .map(|i| {
            let total = total.clone();
            let tx = tx.clone();
            thread::spawn(move || {
                total.lock().unwrap().push(i);
                tx.send(format!("worker {i}")).unwrap();
            })
        })
        .collect();
    drop(tx);
    for h in hs {
        h.join().unwrap();
    }
    let msgs: Vec<String> = rx.iter().collect();
    black_box(msgs);
}
