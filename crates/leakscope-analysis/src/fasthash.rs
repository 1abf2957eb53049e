//! A fast hash for the analyzer's maps. Their keys (stack ids, addresses, symbolized stacks) come from the
//! trace, not from an adversary, so SipHash's protection buys nothing, and in a report of tens of
//! thousands of stacks it cost more than the lookups it served.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FastHasher`]; create it with `FastMap::default()`.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Multiply-rotate hashing of whole words (as rustc's FxHash); the multiply comes last, so the high bits
/// the table uses for its control bytes depend on every input bit.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(26) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, v: u8) {
        self.add(v.into());
    }
    fn write_u32(&mut self, v: u32) {
        self.add(v.into());
    }
    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }
    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, BuildHasherDefault};

    #[test]
    fn equal_keys_hash_equally_and_neighbours_differ() {
        let b = BuildHasherDefault::<FastHasher>::default();
        assert_eq!(
            b.hash_one((1u32, vec![7u64, 8])),
            b.hash_one((1u32, vec![7u64, 8]))
        );
        let top = |k: u64| b.hash_one(k) >> 57;
        let distinct: std::collections::BTreeSet<u64> = (0..1000u64).map(top).collect();
        assert!(
            distinct.len() > 100,
            "control bytes must vary: {}",
            distinct.len()
        );
    }
}
