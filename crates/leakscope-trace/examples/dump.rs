//! Prints every chunk of a trace in debug form: `cargo run -p leakscope-trace --example dump -- FILE`.
fn main() {
    let path = std::env::args().nth(1).expect("usage: dump TRACE");
    match leakscope_trace::read_trace_file(std::path::Path::new(&path)) {
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
