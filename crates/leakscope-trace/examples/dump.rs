//! Prints every chunk of a trace in debug form: `cargo run -p leakscope-trace --example dump -- FILE`.
fn main() {
    let path = std::env::args().nth(1).expect("usage: dump TRACE");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    match leakscope_trace::read_trace(&bytes) {
        Ok(t) => {
            for c in &t.chunks {
                println!("[pid {} @{}] {:?}", c.pid, c.offset, c.record);
            }
            for w in &t.warnings {
                println!("warning: {w}");
            }
        }
        Err(e) => eprintln!("{e}"),
    }
}
