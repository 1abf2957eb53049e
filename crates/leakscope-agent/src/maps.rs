//! The process's memory map, from /proc/self/maps, read with plain syscalls into agent memory, and reads
//! of the process's memory that fail instead of faulting.

use alloc::string::String;
use alloc::vec::Vec;

#[derive(Clone, Debug)]
pub struct Mapping {
    pub start: usize,
    pub end: usize,
    pub read: bool,
    pub write: bool,
    pub exec: bool,
    pub inode: u64,
    pub path: String,
}

impl Mapping {
    pub fn is_file(&self) -> bool {
        self.inode != 0 && self.path.starts_with('/')
    }
}

fn read_all(path: &core::ffi::CStr) -> Vec<u8> {
    let mut out = Vec::new();
    // SAFETY: plain syscalls on buffers we own.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return out;
        }
        let mut buf = [0u8; 16384];
        loop {
            let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
            if n < 0 && crate::real::errno() == libc::EINTR {
                continue;
            }
            if n <= 0 {
                break;
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
        libc::close(fd);
    }
    out
}

/// Parses one line: `start-end perms offset dev inode   path`.
fn parse_line(line: &str) -> Option<Mapping> {
    let mut it = line.splitn(6, ' ');
    let range = it.next()?;
    let perms = it.next()?.as_bytes();
    let _offset = it.next()?;
    let _dev = it.next()?;
    let inode = it.next()?.parse().ok()?;
    let path = it.next().unwrap_or("").trim_start();
    let (a, b) = range.split_once('-')?;
    Some(Mapping {
        start: usize::from_str_radix(a, 16).ok()?,
        end: usize::from_str_radix(b, 16).ok()?,
        read: perms.first() == Some(&b'r'),
        write: perms.get(1) == Some(&b'w'),
        exec: perms.get(2) == Some(&b'x'),
        inode,
        path: String::from(path),
    })
}

/// Every mapping of this process, in address order.
pub fn read() -> Vec<Mapping> {
    // thread-self: when the main thread has exited (pthread_exit), /proc/self/maps is empty.
    let mut raw = read_all(c"/proc/thread-self/maps");
    if raw.is_empty() {
        raw = read_all(c"/proc/self/maps"); // kernels before 3.17
    }
    // Line by line: a path that is not UTF-8 must not cost the other mappings.
    raw.split(|&c| c == b'\n')
        .filter_map(|line| parse_line(&String::from_utf8_lossy(line)))
        .collect()
}

/// The mappings that cannot be read (guard pages, reserved ranges, pages the program protected), for code
/// that reads memory directly: a heap block or chunk may hold a page the program made inaccessible.
pub struct Unreadable(Vec<(usize, usize)>);

impl Unreadable {
    pub fn new(maps: &[Mapping]) -> Unreadable {
        Unreadable(
            maps.iter()
                .filter(|m| !m.read)
                .map(|m| (m.start, m.end))
                .collect(),
        )
    }

    /// Keeps only the ranges `keep` accepts (those that matter to the caller).
    pub fn retain(&mut self, keep: impl Fn(usize, usize) -> bool) {
        self.0.retain(|&(lo, hi)| keep(lo, hi));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether [lo, hi) meets one of them.
    pub fn overlaps(&self, lo: usize, hi: usize) -> bool {
        let i = self.0.partition_point(|&(start, _)| start < hi);
        i > 0 && self.0[i - 1].1 > lo
    }
}

/// Copies `len` bytes at `at` into `buf` with process_vm_readv: a page that cannot be read (a file mapping
/// past its end, a racing munmap) gives an error or a short count instead of a crash. Returns bytes copied.
pub fn copy_out(at: usize, len: usize, buf: &mut [usize]) -> Option<usize> {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: len,
    };
    let remote = libc::iovec {
        iov_base: at as *mut _,
        iov_len: len,
    };
    // SAFETY: the local buffer holds len bytes; the kernel checks the remote range.
    let n = unsafe {
        libc::process_vm_readv(
            libc::syscall(libc::SYS_gettid) as libc::pid_t,
            &local,
            1,
            &remote,
            1,
            0,
        )
    };
    (n >= 0).then_some(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines() {
        let m =
            parse_line("7f00a000-7f00b000 rw-p 00002000 fd:01 1234     /usr/lib/libx.so (deleted)")
                .unwrap();
        assert_eq!(
            (m.start, m.end, m.read, m.write, m.exec, m.inode),
            (0x7f00a000, 0x7f00b000, true, true, false, 1234)
        );
        assert_eq!(m.path, "/usr/lib/libx.so (deleted)");
        let m = parse_line("55d0-55e0 rw-p 00000000 00:00 0 ").unwrap();
        assert!(m.path.is_empty() && !m.is_file());
        assert!(!read().is_empty());
    }
}
