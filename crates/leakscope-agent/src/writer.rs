//! Appends chunks to the trace file: one `write(2)` per chunk on an O_APPEND descriptor, so the program and
//! its forked children can share one file without tearing each other's chunks.

use crate::stacks;
use crate::sync::SpinLock;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use leakscope_trace::{frame_chunk, Record, StackDef, Stacks};

struct Writer {
    fd: i32,
    buf: Vec<u8>,
    payload: Vec<u8>,
}

static WRITER: SpinLock<Writer> = SpinLock::new(Writer {
    fd: -1,
    buf: Vec::new(),
    payload: Vec::new(),
});
/// The pid stamped on chunks (changes in a forked child).
pub static PID: AtomicU32 = AtomicU32::new(0);
static FAILED: AtomicBool = AtomicBool::new(false);

/// Opens (creating if needed, with the file header) the trace at `path` (NUL-terminated).
pub fn open(path: &[u8]) -> bool {
    let flags = libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC;
    // SAFETY: path is NUL-terminated.
    let fd = unsafe { libc::open(path.as_ptr().cast(), flags, 0o644) };
    if fd < 0 {
        return false;
    }
    // A file the CLI did not prepare: give it a header (racing writers both see size 0 only at creation).
    // SAFETY: fd is ours.
    let size = unsafe { libc::lseek(fd, 0, libc::SEEK_END) };
    if size == 0 {
        write_all(fd, &leakscope_trace::file_header());
    }
    WRITER.lock().fd = fd;
    true
}

fn write_all(fd: i32, mut data: &[u8]) -> bool {
    while !data.is_empty() {
        // SAFETY: data is a valid slice.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            if crate::real::errno() == libc::EINTR {
                continue;
            }
            FAILED.store(true, Ordering::Relaxed);
            return false;
        }
        data = &data[n as usize..];
    }
    true
}

/// Encodes and appends one record.
pub fn emit(rec: &Record) {
    let mut w = WRITER.lock();
    if w.fd < 0 {
        return;
    }
    let Writer { fd, buf, payload } = &mut *w;
    payload.clear();
    buf.clear();
    rec.encode(payload);
    frame_chunk(buf, rec.kind(), PID.load(Ordering::Relaxed), payload);
    write_all(*fd, buf);
}

/// Writes the definitions of the given sites that are not in the trace yet.
pub fn define_sites(ids: impl Iterator<Item = u32>) {
    let mut defs = Vec::new();
    for id in ids {
        let Some(site) = stacks::by_id(id) else {
            continue;
        };
        if !site.written.swap(true, Ordering::Relaxed) {
            defs.push(StackDef {
                id,
                frames: site.frames.iter().map(|&f| f as u64).collect(),
            });
        }
    }
    // Keep chunks moderate in size: a big program can have hundreds of thousands of stacks.
    for part in defs.chunks(4096) {
        emit(&Record::Stacks(Stacks {
            stacks: part.to_vec(),
        }));
    }
}

pub fn lock_for_fork() {
    WRITER.raw_lock();
}

pub fn unlock_after_fork() {
    WRITER.force_unlock();
}
