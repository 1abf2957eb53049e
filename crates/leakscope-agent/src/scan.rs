//! Memcheck's leak classification, computed in the live process.
//!
//! The same algorithm as Valgrind's `mc_leakcheck.c`, so that users get the verdicts they know:
//! 1. Every aligned word of the roots is a candidate pointer. A pointer to the start of a block (or an
//!    interior pointer that one of Memcheck's default heuristics accepts: stdstring, length64, newarray,
//!    multipleinheritance) from a root or a *reachable* block makes it Reachable; any other pointer makes an
//!    unreached block Possible. A block is (re)scanned whenever its state changes, with a mark stack.
//! 2. Then each still-unreached block, in address order, leads a "clique": every unreached block found
//!    from it becomes Indirect and its bytes (plus those it already led) count as the leader's indirect
//!    bytes. Leaders that remain are Definite.
//!
//! What we cannot copy: Memcheck ignores words it knows are uninitialised; we see every word. glibc's
//! malloc keeps pointers to free chunks' headers in its arena (bins, top); such a pointer lands exactly 8
//! bytes before the usable end of the block below it, so those exact values are ignored (see `is_chunk_header`).

use crate::maps::Mapping;
use alloc::vec;
use alloc::vec::Vec;
use core::ffi::c_void;

pub const UNREACHED: u8 = 0;
pub const POSSIBLE: u8 = 1;
pub const REACHABLE: u8 = 2;
pub const INDIRECT: u8 = 3;

const WORD: usize = core::mem::size_of::<usize>();

extern "C" {
    fn malloc_usable_size(p: *mut c_void) -> usize;
}

/// The blocks being classified, sorted by address, and their scan state.
pub struct Scan<'m> {
    pub addr: Vec<usize>,
    pub size: Vec<usize>,
    pub state: Vec<u8>,
    pub indirect: Vec<u64>,
    /// Address of the next chunk's header when it lies inside the block (else 0).
    header_in: Vec<usize>,
    pending: Vec<bool>,
    markstack: Vec<u32>,
    lo: usize,
    hi: usize,
    maps: &'m [Mapping],
    pub scanned_bytes: u64,
}

impl<'m> Scan<'m> {
    /// `blocks` must be live glibc blocks sorted by address: (address, size).
    pub fn new(blocks: &[(usize, usize)], maps: &'m [Mapping]) -> Self {
        if crate::real::custom() {
            // Not glibc's heap: no chunk headers to filter, and its malloc_usable_size does not apply.
            return Self::with_headers(blocks, maps, vec![0; blocks.len()]);
        }
        let header_in = blocks
            .iter()
            .map(|&(a, s)| {
                // SAFETY: a is a live block of glibc's allocator.
                let usable = unsafe { malloc_usable_size(a as *mut c_void) };
                let h = (a + usable).wrapping_sub(8);
                if usable >= 8 && h >= a && h < a + s {
                    h
                } else {
                    0
                }
            })
            .collect();
        Self::with_headers(blocks, maps, header_in)
    }

    fn with_headers(blocks: &[(usize, usize)], maps: &'m [Mapping], header_in: Vec<usize>) -> Self {
        let n = blocks.len();
        let addr: Vec<usize> = blocks.iter().map(|b| b.0).collect();
        let size: Vec<usize> = blocks.iter().map(|b| b.1).collect();
        let lo = addr.first().copied().unwrap_or(0);
        let hi = blocks.iter().map(|&(a, s)| a + s.max(1)).max().unwrap_or(0);
        Scan {
            addr,
            size,
            state: vec![UNREACHED; n],
            indirect: vec![0; n],
            header_in,
            pending: vec![false; n],
            markstack: Vec::with_capacity(n.min(1 << 20)),
            lo,
            hi,
            maps,
            scanned_bytes: 0,
        }
    }

    /// Index of the block containing `ptr` (zero-sized blocks cover one byte, as in Memcheck).
    #[inline]
    fn find(&self, ptr: usize) -> Option<usize> {
        if ptr < self.lo || ptr >= self.hi {
            return None;
        }
        let i = self.addr.partition_point(|&a| a <= ptr).checked_sub(1)?;
        let end = self.addr[i] + self.size[i].max(1);
        if ptr >= end || ptr == self.header_in[i] {
            return None;
        }
        Some(i)
    }

    fn push(&mut self, i: usize) {
        if !self.pending[i] {
            self.pending[i] = true;
            self.markstack.push(i as u32);
        }
    }

    /// A candidate pointer found in a root or in a block whose chain from the roots is `prior_definite`.
    #[inline]
    fn reach(&mut self, ptr: usize, prior_definite: bool) {
        let Some(i) = self.find(ptr) else { return };
        if self.state[i] == REACHABLE {
            return;
        }
        let as_start = ptr == self.addr[i] || self.heuristic(ptr, i);
        if as_start && prior_definite {
            self.state[i] = REACHABLE;
            self.push(i);
        } else if self.state[i] == UNREACHED {
            self.state[i] = POSSIBLE;
            self.push(i);
        }
    }

    /// A pointer found while gathering the clique led by `leader`.
    #[inline]
    fn gather(&mut self, ptr: usize, leader: usize) {
        let Some(i) = self.find(ptr) else { return };
        if self.state[i] == UNREACHED && i != leader {
            self.push(i);
            self.indirect[leader] += self.size[i] as u64 + self.indirect[i];
            self.state[i] = INDIRECT;
        }
    }

    fn word_at(&self, a: usize) -> usize {
        // SAFETY: callers only read inside live blocks or readable mappings.
        unsafe { (a as *const usize).read_unaligned() }
    }

    /// Memcheck's default heuristics for interior pointers that should count as start pointers.
    fn heuristic(&self, ptr: usize, i: usize) -> bool {
        let (a, s) = (self.addr[i], self.size[i]);
        // stdstring (old ABI): length, capacity, refcount, then the characters.
        if ptr == a + 3 * WORD && s >= 3 * WORD {
            let cap = self.word_at(a + WORD);
            if (3 * WORD).wrapping_add(cap).wrapping_add(1) == s && self.word_at(a) <= cap {
                return true;
            }
        }
        if ptr == a + WORD && s >= WORD {
            let n = self.word_at(a);
            // length64: the first word holds the length of the rest.
            if n > 0 && s - WORD == n {
                return true;
            }
            // newarray: the first word is an element count that divides the rest (new[] cookie).
            if n > 0 && (s - WORD) % n == 0 {
                return true;
            }
        }
        // multipleinheritance: a vtable pointer at the pointed-to sub-object and at the block start.
        if ptr % WORD == 0 && ptr + WORD <= a + s && s >= WORD {
            let inner = self.word_at(ptr);
            let first = self.word_at(a);
            if inner % WORD == 0 && inner >= 4096 && first % WORD == 0 && first >= 4096 {
                return self.is_vtable(inner) && self.is_vtable(first);
            }
        }
        false
    }

    fn mapping(&self, a: usize) -> Option<&Mapping> {
        let i = self.maps.partition_point(|m| m.start <= a).checked_sub(1)?;
        let m = &self.maps[i];
        (a < m.end).then_some(m)
    }

    /// A table of at least two code pointers (NULLs allowed) within 20 words, in a file-backed readable mapping.
    fn is_vtable(&self, p: usize) -> bool {
        let Some(m) = self.mapping(p) else {
            return false;
        };
        if !m.is_file() || !m.read {
            return false;
        }
        let last = (p + 20 * WORD).min(m.end - WORD);
        let mut found = 0;
        let mut q = p;
        while q <= last {
            let f = self.word_at(q);
            q += WORD;
            if f == 0 {
                continue;
            }
            match self.mapping(f) {
                Some(fm) if fm.is_file() && fm.exec => found += 1,
                _ => return false,
            }
            if found == 2 {
                return true;
            }
        }
        false
    }

    /// Scans a root region (words read from `words`, which may be a copy of the region).
    pub fn scan_root_words(&mut self, words: &[usize]) {
        self.scanned_bytes += (words.len() * WORD) as u64;
        for &w in words {
            if w >= self.lo && w < self.hi {
                self.reach(w, true);
            }
        }
    }

    /// Register values of a thread.
    pub fn scan_registers(&mut self, regs: &[usize]) {
        for &r in regs {
            self.reach(r, true);
        }
    }

    fn block_words(&self, i: usize) -> (usize, usize) {
        let start = (self.addr[i] + WORD - 1) & !(WORD - 1);
        let end = (self.addr[i] + self.size[i]) & !(WORD - 1);
        (start, end)
    }

    /// Processes the mark stack until empty. `leader` None = the reachability pass.
    fn drain(&mut self, leader: Option<usize>) {
        while let Some(i) = self.markstack.pop() {
            let i = i as usize;
            self.pending[i] = false;
            let prior_definite = self.state[i] != POSSIBLE;
            let (mut p, end) = self.block_words(i);
            self.scanned_bytes += end.saturating_sub(p) as u64;
            while p < end {
                let w = self.word_at(p);
                p += WORD;
                if w < self.lo || w >= self.hi {
                    continue;
                }
                match leader {
                    None => self.reach(w, prior_definite),
                    Some(l) => self.gather(w, l),
                }
            }
        }
    }

    /// Finishes the classification after all roots and registers were scanned.
    pub fn finish(&mut self) {
        self.drain(None);
        for i in 0..self.addr.len() {
            if self.state[i] == UNREACHED {
                self.push(i);
                self.drain(Some(i));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds blocks in a Vec-backed arena; returns (scan input, arena base).
    fn blocks_in(arena: &mut [usize], sizes: &[usize]) -> Vec<(usize, usize)> {
        let base = arena.as_mut_ptr() as usize;
        let mut off = 0;
        sizes
            .iter()
            .map(|&s| {
                let b = (base + off, s);
                off += (s + 16 + 15) & !15;
                b
            })
            .collect()
    }

    fn set(addr: usize, v: usize) {
        // SAFETY: test arena memory.
        unsafe { (addr as *mut usize).write(v) };
    }

    #[test]
    fn cycle_list_and_interior() {
        let mut arena = vec![0usize; 1024];
        // 0 -> 1 -> 0 (cycle), 2 -> 3 (list), 4 only via interior root pointer, 5 from root, 6 <- 5 interior
        let b = blocks_in(&mut arena, &[32, 48, 16, 16, 64, 16, 40]);
        set(b[0].0, b[1].0);
        set(b[1].0, b[0].0);
        set(b[2].0, b[3].0);
        set(b[5].0 + 8, b[6].0 + 8);
        let mut s = Scan::with_headers(&b, &[], vec![0; b.len()]);
        s.scan_root_words(&[b[4].0 + 16, b[5].0, 12345]);
        s.finish();
        assert_eq!(
            s.state,
            vec![UNREACHED, INDIRECT, UNREACHED, INDIRECT, POSSIBLE, REACHABLE, POSSIBLE]
        );
        assert_eq!(s.indirect[0], 48);
        assert_eq!(s.indirect[2], 16);
    }

    #[test]
    fn possible_upgrades_to_reachable_and_newarray_cookie() {
        let mut arena = vec![0usize; 256];
        let b = blocks_in(&mut arena, &[24, 16, 8 + 3 * 8]);
        set(b[0].0, b[1].0); // 0 -> 1
        set(b[2].0, 3); // new[] cookie: 3 elements of 8 bytes
        let mut s = Scan::with_headers(&b, &[], vec![0; b.len()]);
        s.scan_root_words(&[b[0].0 + 8, b[0].0, b[2].0 + 8]);
        s.finish();
        assert_eq!(s.state, vec![REACHABLE, REACHABLE, REACHABLE]);
    }
}
