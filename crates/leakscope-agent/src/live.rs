//! The live-block table: address → (size, site id, birth tick) for every block not yet freed.
//!
//! Sharded by address so that threads allocating at once rarely meet on a lock; each shard is an
//! open-addressing table with linear probing and backward-shift deletion (no tombstones, so lookups stay
//! short however long the program runs). 16 bytes per entry (see [`Entry`]); shards grow at 3/4 load, so
//! the table costs 21 to 43 bytes per live block.

use crate::mem;
use crate::sync::SpinLock;
use core::ptr::null_mut;

const SHARD_BITS: u32 = 8;
const SHARDS: usize = 1 << SHARD_BITS;
const MIN_CAP: usize = 256;

/// What we know of one live block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    pub addr: usize,
    pub size: usize,
    pub site: u32,
    pub birth: u32,
}

/// A packed block: `key` = address / 8 (44 bits; 0 = empty slot) | birth tick (20 bits, wraps);
/// `meta` = size (40 bits) | site id (24 bits; all ones = no site).
#[derive(Clone, Copy)]
#[repr(C)]
struct Entry {
    key: u64,
    meta: u64,
}

const ADDR_BITS: u32 = 44;
const ADDR_MASK: u64 = (1 << ADDR_BITS) - 1;
const SIZE_BITS: u32 = 40;
const SIZE_MASK: u64 = (1 << SIZE_BITS) - 1;
const NO_SITE: u64 = (1 << 24) - 1;
/// Birth ticks are kept modulo 2^20.
pub const BIRTH_MASK: u32 = (1 << 20) - 1;

const EMPTY: Entry = Entry { key: 0, meta: 0 };

impl Entry {
    /// None for what cannot be packed (an address not 8-aligned, from some exotic allocator).
    fn pack(b: &Block) -> Option<Entry> {
        if b.addr % 8 != 0 || (b.addr as u64 >> 3) > ADDR_MASK {
            return None;
        }
        let site = if b.site as u64 >= NO_SITE {
            NO_SITE
        } else {
            b.site as u64
        };
        Some(Entry {
            key: (b.addr as u64 >> 3) | ((b.birth & BIRTH_MASK) as u64) << ADDR_BITS,
            meta: (b.size as u64).min(SIZE_MASK) | site << SIZE_BITS,
        })
    }

    #[inline]
    fn addr(&self) -> usize {
        ((self.key & ADDR_MASK) << 3) as usize
    }

    fn unpack(&self) -> Block {
        let site = self.meta >> SIZE_BITS;
        Block {
            addr: self.addr(),
            size: (self.meta & SIZE_MASK) as usize,
            site: if site == NO_SITE {
                u32::MAX
            } else {
                site as u32
            },
            birth: (self.key >> ADDR_BITS) as u32,
        }
    }
}

struct Shard {
    entries: *mut Entry,
    cap: usize,
    len: usize,
}

// SAFETY: entries are only touched under the shard's lock.
unsafe impl Send for Shard {}

static SHARDS_: [SpinLock<Shard>; SHARDS] = [const {
    SpinLock::new(Shard {
        entries: null_mut(),
        cap: 0,
        len: 0,
    })
}; SHARDS];

#[inline]
fn hash(addr: usize) -> usize {
    (addr as u64 >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize
}

#[inline]
fn shard_of(addr: usize) -> &'static SpinLock<Shard> {
    &SHARDS_[hash(addr) >> (usize::BITS - SHARD_BITS)]
}

impl Shard {
    fn slots(&mut self) -> &mut [Entry] {
        if self.entries.is_null() {
            return &mut [];
        }
        // SAFETY: entries points to cap entries we mapped.
        unsafe { core::slice::from_raw_parts_mut(self.entries, self.cap) }
    }

    fn needs_grow(&self) -> bool {
        (self.len + 1) * 4 > self.cap * 3
    }

    /// Moves every entry into the fresh (zeroed) table `p` of `cap` entries; returns the old table.
    fn rehash_into(&mut self, p: *mut Entry, cap: usize) -> (*mut Entry, usize) {
        let (old, old_cap) = (self.entries, self.cap);
        self.entries = p;
        self.cap = cap;
        self.len = 0;
        if !old.is_null() {
            // SAFETY: old table had old_cap entries.
            let olds = unsafe { core::slice::from_raw_parts(old, old_cap) };
            for e in olds.iter().filter(|e| e.key != 0) {
                self.place(*e);
            }
        }
        (old, old_cap)
    }

    fn place(&mut self, e: Entry) {
        let mask = self.cap - 1;
        let slots = self.slots();
        let addr = e.addr();
        let mut i = hash(addr) & mask;
        while slots[i].key != 0 {
            if slots[i].addr() == addr {
                break; // re-insert of an address we missed a free for: overwrite
            }
            i = (i + 1) & mask;
        }
        if slots[i].key == 0 {
            self.len += 1;
        }
        self.slots()[i] = e;
    }

    fn remove(&mut self, addr: usize) -> Option<Entry> {
        if self.cap == 0 {
            return None;
        }
        let mask = self.cap - 1;
        let slots = self.slots();
        let mut i = hash(addr) & mask;
        loop {
            if slots[i].key == 0 {
                return None;
            }
            if slots[i].addr() == addr {
                break;
            }
            i = (i + 1) & mask;
        }
        let found = slots[i];
        // Backward-shift deletion: pull later members of the probe run into the hole.
        let mut hole = i;
        let mut j = (i + 1) & mask;
        while slots[j].key != 0 {
            let home = hash(slots[j].addr()) & mask;
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                slots[hole] = slots[j];
                hole = j;
            }
            j = (j + 1) & mask;
        }
        slots[hole] = EMPTY;
        self.len -= 1;
        Some(found)
    }
}

/// Records a new live block.
#[inline]
pub fn insert(b: Block) {
    let Some(e) = Entry::pack(&b) else { return };
    let shard = shard_of(b.addr);
    let mut g = shard.lock();
    if g.needs_grow() {
        drop(g);
        grow(shard);
        g = shard.lock();
        if g.needs_grow() {
            return; // out of memory for bookkeeping: the block goes unrecorded rather than crash the program
        }
    }
    g.place(e);
}

/// Doubles a shard's table; the mmap and munmap happen with the lock released.
#[cold]
fn grow(shard: &SpinLock<Shard>) {
    let want = (shard.lock().cap * 2).max(MIN_CAP);
    let bytes = |cap: usize| cap * core::mem::size_of::<Entry>();
    let p = mem::map(bytes(want)).cast::<Entry>();
    if p.is_null() {
        return;
    }
    let mut g = shard.lock();
    let (old, old_cap) = if g.cap < want {
        g.rehash_into(p, want)
    } else {
        (p, want)
    };
    drop(g);
    if !old.is_null() {
        mem::unmap(old.cast(), bytes(old_cap));
    }
}

/// Forgets a block; returns what was recorded for it (None: not ours, e.g. allocated before the agent).
#[inline]
pub fn remove(addr: usize) -> Option<Block> {
    Some(shard_of(addr).lock().remove(addr)?.unpack())
}

/// Every live block, appended to `out` (takes each shard lock in turn).
pub fn collect(out: &mut alloc::vec::Vec<Block>) {
    for s in &SHARDS_ {
        let mut g = s.lock();
        out.extend(g.slots().iter().filter(|e| e.key != 0).map(Entry::unpack));
    }
}

/// Calls `f` on every live block, one shard at a time under its lock (nothing is copied; `f` must not
/// allocate through the program's heap or touch the live table).
pub fn for_each(mut f: impl FnMut(&Block)) {
    for s in &SHARDS_ {
        let mut g = s.lock();
        g.slots()
            .iter()
            .filter(|e| e.key != 0)
            .for_each(|e| f(&e.unpack()));
    }
}

/// Fork support: take every shard lock before `fork()`, release in both processes after.
pub fn lock_all() {
    SHARDS_.iter().for_each(|s| s.raw_lock());
}

pub fn unlock_all() {
    SHARDS_.iter().for_each(|s| s.force_unlock());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_many() {
        let base = 0x5555_0000_0000usize;
        for i in 0..100_000 {
            insert(Block {
                addr: base + i * 32,
                size: i,
                site: i as u32,
                birth: 0,
            });
        }
        for i in (0..100_000).step_by(2) {
            assert_eq!(remove(base + i * 32).unwrap().size, i);
        }
        assert!(remove(base + 2 * 32).is_none());
        let mut v = alloc::vec::Vec::new();
        collect(&mut v);
        let mine: alloc::vec::Vec<_> = v
            .iter()
            .filter(|b| b.addr >= base && b.addr < base + 100_000 * 32)
            .collect();
        assert_eq!(mine.len(), 50_000);
        assert!(mine
            .iter()
            .all(|b| b.size % 2 == 1 && b.site as usize == b.size));
        for i in (1..100_000).step_by(2) {
            assert!(remove(base + i * 32).is_some());
        }
    }
}
