//! Appends chunks to the trace file: one `write(2)` per chunk on an O_APPEND descriptor, so the program and
//! its forked children can share one file without tearing each other's chunks.
//!
//! The descriptor lives in the program's fd table, where the program may close it (daemons close every fd)
//! and reuse its number for a file of its own. So it is moved to a high number, and before each write the
//! agent checks that it still refers to the trace (device and inode); if not, it reopens the trace by path.

use crate::stacks;
use crate::sync::SpinLock;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use leakscope_trace::{frame_chunk, Record, StackDef, Stacks};

struct Writer {
    fd: i32,
    /// NUL-terminated path, for reopening.
    path: Vec<u8>,
    /// (st_dev, st_ino) of the trace file.
    id: (u64, u64),
    buf: Vec<u8>,
    payload: Vec<u8>,
}

static WRITER: SpinLock<Writer> = SpinLock::new(Writer {
    fd: -1,
    path: Vec::new(),
    id: (0, 0),
    buf: Vec::new(),
    payload: Vec::new(),
});

/// Lowest descriptor number the trace may use: out of the way of programs that count on small numbers.
const HIGH_FD: i32 = 700;
/// The pid stamped on chunks (changes in a forked child).
pub static PID: AtomicU32 = AtomicU32::new(0);
static FAILED: AtomicBool = AtomicBool::new(false);

/// Opens (creating if needed, with the file header) the trace at `path` (NUL-terminated).
pub fn open(path: &[u8]) -> bool {
    let Some((fd, id)) = open_fd(path) else {
        return false;
    };
    let mut w = WRITER.lock();
    w.fd = fd;
    w.id = id;
    w.path = path.to_vec();
    true
}

fn file_id(fd: i32) -> Option<(u64, u64)> {
    // SAFETY: fstat into a zeroed struct.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some((st.st_dev, st.st_ino))
}

fn open_fd(path: &[u8]) -> Option<(i32, (u64, u64))> {
    let flags = libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC;
    // SAFETY: path is NUL-terminated; plain syscalls on descriptors we own.
    unsafe {
        let fd = libc::open(path.as_ptr().cast(), flags, 0o644);
        if fd < 0 {
            return None;
        }
        let high = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, HIGH_FD);
        let fd = if high >= 0 {
            libc::close(fd);
            high
        } else {
            fd
        };
        // A file the CLI did not prepare: give it a header (racing writers both see size 0 only at creation).
        if libc::lseek(fd, 0, libc::SEEK_END) == 0 {
            write_all(fd, &leakscope_trace::file_header());
        }
        Some((fd, file_id(fd)?))
    }
}

/// The trace's descriptor, reopened if the program closed or reused ours.
fn checked_fd(w: &mut Writer) -> i32 {
    if w.fd >= 0 && file_id(w.fd) == Some(w.id) {
        return w.fd;
    }
    match open_fd(&w.path) {
        Some((fd, id)) => {
            w.fd = fd;
            w.id = id;
            fd
        }
        None => -1,
    }
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
    if w.path.is_empty() {
        return;
    }
    let fd = checked_fd(&mut w);
    if fd < 0 {
        return;
    }
    let Writer { buf, payload, .. } = &mut *w;
    payload.clear();
    buf.clear();
    rec.encode(payload);
    frame_chunk(buf, rec.kind(), PID.load(Ordering::Relaxed), payload);
    write_all(fd, buf);
}

/// Writes the definitions of the given sites that are not in the trace yet.
pub fn define_sites(ids: impl Iterator<Item = u32>) {
    // Written in chunks as they are found: a big program can have hundreds of thousands of stacks, and
    // the definitions' memory stays with the agent's allocator once freed.
    const CHUNK: usize = 4096;
    let mut defs = Vec::new();
    for id in ids {
        let Some(site) = stacks::by_id(id) else {
            continue;
        };
        if !site.written.swap(true, Ordering::Relaxed) {
            defs.push(StackDef {
                id,
                frames: site.frames().collect(),
            });
        }
        if defs.len() == CHUNK {
            emit_stacks(core::mem::take(&mut defs));
        }
    }
    if !defs.is_empty() {
        emit_stacks(defs);
    }
}

fn emit_stacks(stacks: Vec<StackDef>) {
    emit(&Record::Stacks(Stacks { stacks }));
}

pub fn lock_for_fork() {
    WRITER.raw_lock();
}

pub fn unlock_after_fork() {
    WRITER.force_unlock();
}
