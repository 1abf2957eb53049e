//! The live blocks: what the agent knows of every block the program holds, without a lock on the hot path.
//!
//! Each tracked block carries a 16-byte [`Header`] just in front of the address the program gets (its
//! size, site and birth tick, and where the underlying allocation starts), and a byte map over the address
//! space marks where tracked blocks start. malloc writes the header and one map byte; free reads the header
//! (the block's own cache line, which the allocator touches anyway) and clears the byte. Plain stores, no
//! locked instruction, no table lookup: a sharded hash table with a lock per shard cost a fifth of the
//! agent's time (two locked operations per malloc/free pair, each draining the store buffer full of the
//! block the program had just written). The map also answers "is this pointer ours?" for `free` of blocks
//! allocated before the agent started, and lists every live block in address order for the leak scan.
//!
//! The map has one byte per 32-byte granule (1 + the 8-byte word of the granule where a block starts;
//! every tracked allocation is at least 32 bytes, so no two blocks start in one granule), in regions of
//! 4 GiB of address space with a 128 MiB map each, mapped without reserving memory: only the pages written
//! become resident, a byte per 32 bytes of heap where small blocks are dense, far less where blocks are
//! large or sparse. A bitmap per region records which map pages were ever written, so that listing the
//! blocks reads only those.

use crate::mem;
use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicU8, Ordering};

/// Bytes in front of every tracked block.
pub const HEADER: usize = 16;

/// What we know of one live block, packed in 16 bytes (the leak scan lists every live block at once):
/// address / 8 (44 bits) | birth tick (20 bits), then size (40 bits) | site id (24 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    key: u64,
    meta: u64,
}

impl Block {
    /// `site` u32::MAX (or beyond 24 bits) = none; `birth` is kept modulo 2^20.
    pub fn new(addr: usize, size: usize, site: u32, birth: u32) -> Block {
        Block {
            key: (addr as u64 >> 3) | ((birth & BIRTH_MASK) as u64) << 44,
            meta: (size as u64).min(SIZE_MASK) | (site as u64).min(NO_SITE) << 40,
        }
    }

    /// Address (8-aligned: tracked blocks always are).
    #[inline]
    pub fn addr(&self) -> usize {
        ((self.key & ((1 << 44) - 1)) << 3) as usize
    }

    #[inline]
    pub fn size(&self) -> usize {
        (self.meta & SIZE_MASK) as usize
    }

    /// Site id; u32::MAX = none.
    #[inline]
    pub fn site(&self) -> u32 {
        match self.meta >> 40 {
            NO_SITE => u32::MAX,
            s => s as u32,
        }
    }

    /// Snapshot tick at birth, modulo 2^20.
    #[inline]
    pub fn birth(&self) -> u32 {
        (self.key >> 44) as u32
    }
}

const SIZE_MASK: u64 = (1 << 40) - 1;

/// Birth ticks are kept modulo 2^20.
pub const BIRTH_MASK: u32 = (1 << 20) - 1;
const SITE_BITS: u32 = 24;
const NO_SITE: u64 = (1 << SITE_BITS) - 1;

/// The header in front of a block: `size`, then site (24 bits) | birth (20 bits) | log2 of the distance
/// from the underlying allocation's start to the block, in units of 16 bytes (6 bits) | a mark (14 bits,
/// see [`crate::light::is_tracked`]).
#[repr(C)]
struct Header {
    size: u64,
    meta: u64,
}

impl Header {
    fn new(b: &Block, shift: u32) -> Header {
        let site = (b.site() as u64).min(NO_SITE);
        Header {
            size: b.size() as u64,
            meta: site
                | (b.birth() as u64) << SITE_BITS
                | (shift as u64) << 44
                | crate::light::MARK << crate::light::MARK_SHIFT,
        }
    }

    fn block(&self, addr: usize) -> Block {
        let site = match self.meta & NO_SITE {
            NO_SITE => u32::MAX,
            s => s as u32,
        };
        let birth = (self.meta >> SITE_BITS) as u32 & BIRTH_MASK;
        Block::new(addr, self.size as usize, site, birth)
    }

    /// Distance from the underlying allocation's start to the block.
    fn offset(&self) -> usize {
        HEADER << ((self.meta >> 44) & 63)
    }
}

/// A tracked block as `free` finds it: the block and the allocation it lives in.
#[derive(Clone, Copy, Debug)]
pub struct Held {
    pub block: Block,
    /// Start of the underlying allocation (what the real allocator must be given back).
    pub raw: usize,
    /// `shift` of [`adopt`]: the block is `HEADER << shift` bytes into `raw`.
    pub shift: u32,
}

const REGION_BITS: u32 = 32;
const ADDRESS_BITS: u32 = 47;
const N_REGIONS: usize = 1 << (ADDRESS_BITS - REGION_BITS);
const GRANULE_BITS: u32 = 5;
/// Marks: 1 + which 8-byte word of its granule a block starts at.
const WORDS_PER_GRANULE: usize = 1 << (GRANULE_BITS - 3);
const MAP_BYTES: usize = 1 << (REGION_BITS - GRANULE_BITS);
const PAGE_BITS: u32 = 12;
const MAP_PAGES: usize = MAP_BYTES >> PAGE_BITS;

/// One 4 GiB region of the address space: its byte map and which of the map's pages were written.
struct Region {
    map: *mut AtomicU8,
    touched: [AtomicU64; MAP_PAGES / 64],
}

static REGIONS: [AtomicPtr<Region>; N_REGIONS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; N_REGIONS];
/// One bit per entry of [`REGIONS`] that holds a region: listing the blocks reads these 4 KiB, not the
/// 256 KiB of pointers (untouched pages that reading would fault in, a tenth of a short program's exit).
static PUBLISHED: [AtomicU64; N_REGIONS / 64] = [const { AtomicU64::new(0) }; N_REGIONS / 64];

#[inline]
fn region(addr: usize) -> Option<&'static Region> {
    let p = REGIONS.get(addr >> REGION_BITS)?.load(Ordering::Acquire);
    // SAFETY: regions are never freed once published.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// The map byte of `addr` (which must be 8-aligned) and the value that marks a block starting there.
#[inline]
fn slot(r: &Region, addr: usize) -> (&AtomicU8, u8) {
    let i = (addr & ((1 << REGION_BITS) - 1)) >> GRANULE_BITS;
    // SAFETY: i < MAP_BYTES; the map is MAP_BYTES long.
    (
        unsafe { &*r.map.add(i) },
        1 + ((addr >> 3) & (WORDS_PER_GRANULE - 1)) as u8,
    )
}

/// Makes sure blocks at `addr` can be tracked (maps its region on first use). False if `addr` is not
/// 8-aligned or beyond the map, or the agent is out of memory: the block must then go untracked.
#[inline]
pub fn prepare(addr: usize) -> bool {
    addr % 8 == 0 && (region(addr).is_some() || new_region(addr))
}

#[cold]
fn new_region(addr: usize) -> bool {
    let Some(top) = REGIONS.get(addr >> REGION_BITS) else {
        return false;
    };
    let r = mem::map(core::mem::size_of::<Region>()).cast::<Region>();
    let map = mem::map_sparse(MAP_BYTES).cast::<AtomicU8>();
    if r.is_null() || map.is_null() {
        release_region(r, map);
        return false;
    }
    // SAFETY: r is fresh zeroed memory of Region's size; zero is a valid bitmap.
    unsafe { core::ptr::addr_of_mut!((*r).map).write(map) };
    if top
        .compare_exchange(
            core::ptr::null_mut(),
            r,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_err()
    {
        release_region(r, map); // another thread mapped it first
    }
    let i = addr >> REGION_BITS;
    PUBLISHED[i / 64].fetch_or(1 << (i % 64), Ordering::Release);
    true
}

fn release_region(r: *mut Region, map: *mut AtomicU8) {
    if !r.is_null() {
        mem::unmap(r.cast(), core::mem::size_of::<Region>());
    }
    if !map.is_null() {
        mem::unmap_sparse(map.cast(), MAP_BYTES);
    }
}

/// Starts tracking block `b` (its region prepared by [`prepare`]), `HEADER << shift` bytes into its
/// underlying allocation. Writes the header in front of it and marks it in the map.
#[inline]
pub fn adopt(b: &Block, shift: u32) {
    let Some(r) = region(b.addr()) else { return };
    // SAFETY: the HEADER bytes in front of the block belong to its allocation and to us.
    unsafe { ((b.addr() - HEADER) as *mut Header).write(Header::new(b, shift)) };
    let (byte, mark) = slot(r, b.addr());
    byte.store(mark, Ordering::Release);
    let page = (b.addr() & ((1 << REGION_BITS) - 1)) >> (GRANULE_BITS + PAGE_BITS);
    let word = &r.touched[page / 64];
    let bit = 1u64 << (page % 64);
    if word.load(Ordering::Relaxed) & bit == 0 {
        word.fetch_or(bit, Ordering::Relaxed);
    }
}

/// The tracked block at `addr`, if there is one.
#[inline]
pub fn get(addr: usize) -> Option<Held> {
    if addr % 8 != 0 {
        return None;
    }
    let r = region(addr)?;
    let (byte, mark) = slot(r, addr);
    if byte.load(Ordering::Acquire) != mark {
        return None;
    }
    // SAFETY: the map says a tracked block starts at addr, so its header is in front of it.
    let h = unsafe { &*((addr - HEADER) as *const Header) };
    let shift = ((h.meta >> 44) & 63) as u32;
    Some(Held {
        block: h.block(addr),
        raw: addr - h.offset(),
        shift,
    })
}

/// Stops tracking the block at `addr` (it is being freed or moved); returns what was recorded for it.
/// None: not a tracked block (allocated before the agent started, by another allocator, or not a block).
#[inline]
pub fn release(addr: usize) -> Option<Held> {
    let held = get(addr)?;
    let r = region(addr)?;
    slot(r, addr).0.store(0, Ordering::Release);
    Some(held)
}

/// Calls `f` on every live block in address order. The caller must keep the program from allocating or
/// freeing meanwhile (the world is stopped, or the process is exiting), since headers are read directly.
///
/// Headers are read a few blocks behind the map: each is prefetched when the map shows its block, since
/// on a large heap nearly every header is a cache miss of its own.
pub fn for_each(mut f: impl FnMut(&Block)) {
    const AHEAD: usize = 16;
    let mut read = |addr: usize| {
        // SAFETY: no block changes while the world is stopped; the map says addr is a tracked block.
        let h = unsafe { &*((addr - HEADER) as *const Header) };
        f(&h.block(addr));
    };
    let mut ring = [0usize; AHEAD];
    let mut n = 0;
    for_each_start(|addr| {
        crate::prefetch(addr - HEADER);
        if n >= AHEAD {
            read(ring[n % AHEAD]);
        }
        ring[n % AHEAD] = addr;
        n += 1;
    });
    (n.saturating_sub(AHEAD)..n).for_each(|k| read(ring[k % AHEAD]));
}

/// Every live block, appended to `out` in address order (see [`for_each`]).
pub fn collect(out: &mut alloc::vec::Vec<Block>) {
    for_each(|b| out.push(*b));
}

/// [`for_each`] while the program runs (the snapshot thread): headers are read with `process_vm_readv`,
/// so that a block freed and unmapped meanwhile is skipped instead of faulting, and a block whose map mark
/// went away during the read is left out. What a block being freed at that very moment reports may be
/// stale; callers use this for statistics only.
pub fn for_each_running(mut f: impl FnMut(&Block)) {
    const BATCH: usize = 256;
    let mut addrs = [0usize; BATCH];
    let mut n = 0;
    let mut flush = |addrs: &[usize]| {
        let mut heads = [const { core::mem::MaybeUninit::<Header>::uninit() }; BATCH];
        let got = read_headers(addrs, &mut heads);
        for (i, &a) in addrs.iter().enumerate() {
            if got[i / 64] & (1 << (i % 64)) != 0 && get(a).is_some() {
                // SAFETY: read_headers filled entry i.
                f(&unsafe { heads[i].assume_init_ref() }.block(a));
            }
        }
    };
    for_each_start(|a| {
        addrs[n] = a;
        n += 1;
        if n == BATCH {
            flush(&addrs);
            n = 0;
        }
    });
    flush(&addrs[..n]);
}

/// Reads the header of each block in `addrs` into `out`; returns which ones were read (a bitset).
fn read_headers(addrs: &[usize], out: &mut [core::mem::MaybeUninit<Header>]) -> [u64; 4] {
    let mut got = [0u64; 4];
    let mut start = 0;
    while start < addrs.len() {
        let local: alloc::vec::Vec<libc::iovec> = (start..addrs.len())
            .map(|i| libc::iovec {
                iov_base: out[i].as_mut_ptr().cast(),
                iov_len: HEADER,
            })
            .collect();
        let remote: alloc::vec::Vec<libc::iovec> = addrs[start..]
            .iter()
            .map(|&a| libc::iovec {
                iov_base: (a - HEADER) as *mut _,
                iov_len: HEADER,
            })
            .collect();
        // SAFETY: every local iovec points into `out`; the kernel checks the remote ranges and stops at the
        // first one it cannot read.
        let read = unsafe {
            libc::process_vm_readv(
                libc::getpid(),
                local.as_ptr(),
                local.len() as libc::c_ulong,
                remote.as_ptr(),
                remote.len() as libc::c_ulong,
                0,
            )
        };
        let whole = read.max(0) as usize / HEADER;
        for i in start..start + whole {
            got[i / 64] |= 1 << (i % 64);
        }
        start += whole + 1; // skip the one that could not be read
    }
    got
}

/// Calls `f` on the address of every block the map marks, in address order. Reads only the map (agent
/// memory), so it is safe while the program runs; the blocks themselves may be going away meanwhile.
pub fn for_each_start(mut f: impl FnMut(usize)) {
    let published = PUBLISHED.iter().enumerate().flat_map(|(wi, w)| {
        let mut bits = w.load(Ordering::Acquire);
        core::iter::from_fn(move || {
            let b = bits.trailing_zeros() as usize;
            bits &= bits.wrapping_sub(1);
            (b < 64).then_some(wi * 64 + b)
        })
    });
    for ri in published {
        let p = REGIONS[ri].load(Ordering::Acquire);
        if p.is_null() {
            continue;
        }
        // SAFETY: published regions are never freed.
        let r = unsafe { &*p };
        for (wi, word) in r.touched.iter().enumerate() {
            let mut bits = word.load(Ordering::Acquire);
            while bits != 0 {
                let page = wi * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                scan_map_page(r, ri, page, &mut f);
            }
        }
    }
}

fn scan_map_page(r: &Region, ri: usize, page: usize, f: &mut impl FnMut(usize)) {
    let first = page << PAGE_BITS;
    // SAFETY: the page lies within the map; reading it as words (racing byte stores are harmless: a
    // block appearing or going away at that moment is seen either way).
    let words = unsafe {
        core::slice::from_raw_parts(r.map.add(first).cast::<AtomicU64>(), (1 << PAGE_BITS) / 8)
    };
    for (i, w) in words.iter().enumerate() {
        let mut v = w.load(Ordering::Relaxed);
        while v != 0 {
            let k = v.trailing_zeros() as usize / 8;
            let mark = (v >> (8 * k)) as u8;
            v &= !(0xff << (8 * k));
            if mark != 0 && mark as usize <= WORDS_PER_GRANULE {
                let granule = first + i * 8 + k;
                f((ri << REGION_BITS) | granule << GRANULE_BITS | (mark as usize - 1) << 3);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake allocation of `n` words with room for a header, 16-aligned.
    fn fake(n: usize) -> usize {
        let v = alloc::vec![0u128; n / 2 + 2].leak();
        v.as_ptr() as usize + HEADER
    }

    #[test]
    fn adopt_get_release_and_list() {
        let mut addrs = alloc::vec::Vec::new();
        for i in 0..1000 {
            let a = fake(4);
            assert!(prepare(a));
            adopt(&Block::new(a, i, i as u32, 7), 0);
            addrs.push(a);
        }
        for (i, &a) in addrs.iter().enumerate().step_by(2) {
            let h = release(a).unwrap();
            assert_eq!(
                (h.block.size(), h.block.site(), h.raw),
                (i, i as u32, a - HEADER)
            );
        }
        assert!(release(addrs[0]).is_none(), "released twice");
        assert!(get(addrs[0] + 16).is_none(), "not a block start");
        let mut seen = alloc::vec::Vec::new();
        for_each(|b| {
            if addrs.contains(&b.addr()) {
                seen.push(*b);
            }
        });
        assert_eq!(seen.len(), 500);
        assert!(seen.windows(2).all(|w| w[0].addr() < w[1].addr()));
        assert!(seen
            .iter()
            .all(|b| b.size() % 2 == 1 && b.site() as usize == b.size() && b.birth() == 7));
        for &a in addrs.iter().skip(1).step_by(2) {
            assert!(release(a).is_some());
        }
    }

    #[test]
    fn aligned_offsets_and_odd_words() {
        let a = fake(64) + 48; // 64 bytes into its allocation: shift 2
        assert!(prepare(a));
        adopt(&Block::new(a, 5, u32::MAX, BIRTH_MASK + 3), 2);
        let h = get(a).unwrap();
        assert_eq!(
            (h.raw, h.shift, h.block.site(), h.block.birth()),
            (a - 64, 2, u32::MAX, 2)
        );
        assert!(release(a).is_some());
        // A block at the second word of a granule (8-aligned allocators).
        let b = fake(4) + 8;
        assert!(prepare(b));
        let blk = Block::new(b, 8, 1, 0);
        adopt(&blk, 0);
        assert_eq!(get(b).unwrap().block, blk);
        assert!(get(b - 8).is_none());
        assert!(release(b).is_some());
        assert!(!prepare(b + 1), "unaligned addresses are not tracked");
    }
}
