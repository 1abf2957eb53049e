//! Call stacks packed as the trace stores their frames: each return address as its difference from the
//! one before (the first from 0), zigzag-encoded in LEB128. A caller usually lies in the same binary as its
//! callee, a few KB to MB away, so a frame takes 2–4 bytes instead of 8. The agent keeps its stack table
//! this way, and the analyzer the stack definitions it reads.

use crate::varint::{leb128, read_leb128, unzigzag, zigzag};

/// Writes `frames` packed, a byte at a time.
pub fn pack(frames: impl IntoIterator<Item = u64>, mut out: impl FnMut(u8)) {
    let mut prev = 0u64;
    for f in frames {
        leb128(zigzag(f.wrapping_sub(prev) as i64), &mut out);
        prev = f;
    }
}

/// Bytes `frames` take packed.
pub fn packed_len(frames: impl IntoIterator<Item = u64>) -> usize {
    let mut n = 0;
    pack(frames, |_| n += 1);
    n
}

/// The return addresses of packed frames, innermost first.
#[derive(Clone)]
pub struct Unpack<'a> {
    code: &'a [u8],
    prev: u64,
}

impl<'a> Unpack<'a> {
    pub fn new(code: &'a [u8]) -> Self {
        Unpack { code, prev: 0 }
    }
}

impl Iterator for Unpack<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        let (z, len) = read_leb128(self.code)?;
        self.code = &self.code[len..];
        self.prev = self.prev.wrapping_add(unzigzag(z) as u64);
        Some(self.prev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn packed(frames: &[u64]) -> Vec<u8> {
        let mut v = Vec::new();
        pack(frames.iter().copied(), |b| v.push(b));
        assert_eq!(v.len(), packed_len(frames.iter().copied()));
        v
    }

    #[test]
    fn stacks_unpack_to_what_was_packed() {
        let stacks: [&[u64]; 5] = [
            &[],
            &[
                0x5555_5555_1234,
                0x5555_5555_0f00,
                0x7fff_f7dd_1d90,
                0x5555_5555_0000,
            ],
            &[u64::MAX, 0, 1, u64::MAX / 2, u64::MAX / 2 + 1],
            &[1],
            &[0x7f00_0000_0000; 40],
        ];
        for frames in stacks {
            let code = packed(frames);
            assert_eq!(Unpack::new(&code).collect::<Vec<_>>(), frames);
        }
        // Near frames take few bytes: 2 for a difference below 8 KiB.
        assert_eq!(packed(&[0x5555_5555_1234, 0x5555_5555_0f00]).len(), 7 + 2);
    }

    #[test]
    fn the_trace_packs_frames_the_same_way() {
        let frames = [0x5555_5555_1234u64, 0x5555_5555_0f00, 0x7fff_f7dd_1d90];
        let mut trace = Vec::new();
        let mut prev = 0u64;
        for f in frames {
            crate::varint::put_i64(&mut trace, f.wrapping_sub(prev) as i64);
            prev = f;
        }
        assert_eq!(packed(&frames), trace);
    }
}
