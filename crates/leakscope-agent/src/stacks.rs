//! Interned call stacks (allocation sites) and their live counters.
//!
//! Each distinct stack gets a dense id and one [`Site`] that lives forever. Lookups are lock-free: a hash
//! table of (key, site id) slots that is only ever replaced whole (grown copies are published by pointer
//! swap; the old table stays mapped for a reader still probing it, its memory given back). Inserting a new
//! stack takes a lock; that happens once per distinct stack. A stack is known by its 64-bit hash and frame
//! count (see [`key`]), as the threads' site caches know it: comparing frames too, and reading the site for
//! its id, cost 29% of the agent's time where a program's stacks outnumber those caches. Stacks are stored
//! packed as the trace stores them ([`leakscope_trace::packed`]: 2–4 bytes a frame instead of 8, a third of
//! what a million stacks took).

use crate::sync::SpinLock;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use leakscope_trace::{packed, SiteSample};

/// Counter stripes per site. Up to [`OWNED`] threads at a time each own a stripe (a thread that exits
/// hands its stripe on) and update it with plain loads and stores: a locked add costs ~20 cycles and
/// drains the store buffer (full of the block the program just wrote), and four of them per malloc/free
/// pair were a fifth of the agent's cost. Other threads, and calls nested inside the agent (a signal
/// handler's free), use atomic adds on one of [`PER_CPU`] shared stripes, chosen by the CPU they run on:
/// with a single shared stripe, a pool of 64 threads on two cores spent 40% of its time bouncing that
/// cache line between the cores. Separate cache lines keep two threads allocating at one site from
/// fighting over one.
pub const STRIPES: usize = OWNED + PER_CPU;
/// Threads with a stripe of their own.
pub const OWNED: usize = 4;
/// Shared stripes, picked by CPU number.
const PER_CPU: usize = 4;

/// A shared stripe for a caller without one of its own: the one of the CPU it runs on (glibc reads the
/// number from the thread's rseq area, without a system call). A thread moved meanwhile only shares a
/// line with another CPU for a moment: the adds are atomic.
#[inline]
pub fn shared_stripe() -> usize {
    // SAFETY: no arguments; -1 on failure, which maps to some stripe as well.
    let cpu = unsafe { libc::sched_getcpu() };
    OWNED + cpu as usize % PER_CPU
}

/// Cumulative counters of one site in one stripe, two per event: live amounts are differences (allocated
/// minus freed) instead of counters of their own, which would cost two more locked adds.
struct Counters {
    allocs: AtomicU64,
    alloc_bytes: AtomicU64,
    frees: AtomicU64,
    freed_bytes: AtomicU64,
}

/// The counters of [`PAGE`] consecutive site ids, stripe after stripe: `[STRIPES][PAGE]`, one mapping per
/// page of sites, created with the page's first site. Counters are kept apart from the sites, stripe by
/// stripe, so that a site costs 32 bytes in each stripe some thread wrote to (pages of stripes nobody
/// writes are never touched, so take no memory) instead of a cache line per stripe: a program with a
/// million distinct stacks took 2.9 GB. Neighbouring sites share a line only within a stripe, which one
/// thread owns (or, for the shared stripes, one CPU mostly uses).
static COUNTER_PAGES: [AtomicPtr<Counters>; PAGE] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; PAGE];

const COUNTER_PAGE_BYTES: usize = STRIPES * PAGE * core::mem::size_of::<Counters>();

/// Stripes some thread was ever given or picked, one bit each: a site's totals read only those (a
/// snapshot reads every site, and each stripe is a cache miss of its own).
static USED_STRIPES: AtomicU32 = AtomicU32::new(0);

/// Notes that `stripe` is in use, before its first count (a thread taking its own).
pub fn use_stripe(stripe: usize) {
    USED_STRIPES.fetch_or(1 << stripe.min(STRIPES - 1), Ordering::Release);
}

/// Notes that the shared stripes are in use, before a caller without a stripe of its own first counts:
/// once per such thread or nested free, off the allocation path.
pub fn use_shared_stripes() {
    let shared = ((1 << PER_CPU) - 1) << OWNED;
    if USED_STRIPES.load(Ordering::Relaxed) & shared != shared {
        USED_STRIPES.fetch_or(shared, Ordering::Release);
    }
}

/// The counters of site `id` in `stripe`; None before its page exists (ids are published after it).
#[inline]
fn counters(id: u32, stripe: usize) -> Option<&'static Counters> {
    let page = COUNTER_PAGES
        .get(id as usize >> PAGE_BITS)?
        .load(Ordering::Acquire);
    if page.is_null() {
        return None;
    }
    let i = stripe.min(STRIPES - 1) * PAGE + (id as usize & (PAGE - 1));
    // SAFETY: the page holds STRIPES * PAGE counters and is never freed.
    Some(unsafe { &*page.add(i) })
}

/// Adds `v` to a counter; `owned`: only this thread ever writes it, so no locked instruction is needed
/// (readers see either value, both correct at some instant).
#[inline]
fn add(c: &AtomicU64, v: u64, owned: bool) {
    if owned {
        c.store(c.load(Ordering::Relaxed).wrapping_add(v), Ordering::Relaxed);
    } else {
        c.fetch_add(v, Ordering::Relaxed);
    }
}

/// Counts a block in at site `id`: its (bytes, blocks) weight, (size, 1) unless sampling. `stripe`: the
/// caller's own stripe (below [`OWNED`]) or a shared one (below [`STRIPES`]).
#[inline]
pub fn on_alloc(id: u32, weight: (u64, u64), stripe: usize) {
    add_weight(id, weight, stripe, |c| (&c.alloc_bytes, &c.allocs));
}

/// Counts a block out of site `id`, with the weight it came in with.
#[inline]
pub fn on_free(id: u32, weight: (u64, u64), stripe: usize) {
    add_weight(id, weight, stripe, |c| (&c.freed_bytes, &c.frees));
}

/// Adds a weight to the (bytes, blocks) pair of counters `pair` picks.
#[inline]
fn add_weight(
    id: u32,
    (bytes, blocks): (u64, u64),
    stripe: usize,
    pair: impl Fn(&Counters) -> (&AtomicU64, &AtomicU64),
) {
    if let Some(c) = counters(id, stripe) {
        let owned = stripe < OWNED;
        let (b, n) = pair(c);
        add(n, blocks, owned);
        add(b, bytes, owned);
    }
}

/// Asks for the cache line of site `id`'s counters in `stripe`, which [`on_alloc`] will update: the line
/// is usually cold (the program's own data evicts it between two allocations at a site).
#[inline]
pub fn prefetch(id: u32, stripe: usize) {
    if let Some(c) = counters(id, stripe) {
        crate::prefetch(c as *const Counters as usize);
    }
}

/// One allocation site: its stack, and what the last snapshot wrote of it. Sites and their frames live in
/// an arena, exactly sized: they are never freed.
pub struct Site {
    pub id: u32,
    /// [`key`] of the stack.
    key: u64,
    /// The stack, packed (see [`leakscope_trace::packed`]); [`Site::frames`] unpacks it.
    code: &'static [u8],
    /// Whether the definition has been written to the trace.
    pub written: AtomicBool,
    /// Values in the last snapshot written (to write only sites that changed).
    pub snap_allocs: AtomicU64,
    pub snap_live: AtomicU64,
}

impl Site {
    /// The stack's return addresses, innermost first.
    pub fn frames(&self) -> packed::Unpack<'static> {
        packed::Unpack::new(self.code)
    }

    /// Live and cumulative amounts now. Frees are read first: a block freed between the two reads is then
    /// still counted live, never negative.
    pub fn sample(&self) -> SiteSample {
        let used = USED_STRIPES.load(Ordering::Acquire);
        // One pass over the stripes per pair of counters (a pass per counter was 1.6% of a compiler's run
        // with 50 K sites).
        let sum = |pair: fn(&Counters) -> (&AtomicU64, &AtomicU64)| -> (u64, u64) {
            (0..STRIPES)
                .filter(|k| used & (1 << k) != 0)
                .filter_map(|k| counters(self.id, k))
                .map(pair)
                .fold((0, 0), |(n, b), (cn, cb)| {
                    (
                        n + cn.load(Ordering::Relaxed),
                        b + cb.load(Ordering::Relaxed),
                    )
                })
        };
        let (frees, freed) = sum(|c| (&c.frees, &c.freed_bytes));
        let (allocs, alloc_bytes) = sum(|c| (&c.allocs, &c.alloc_bytes));
        SiteSample {
            stack: self.id,
            live_bytes: alloc_bytes.saturating_sub(freed),
            live_blocks: allocs.saturating_sub(frees),
            allocs,
            alloc_bytes,
        }
    }

    /// Whether any block of this site is live.
    pub fn has_live(&self) -> bool {
        self.sample().live_blocks > 0
    }
}

/// Bump allocation of sites and frames (under [`INSERT`]): the general allocator's power-of-two classes
/// would round a 22-frame stack's 176 bytes up to 256.
struct Arena {
    next: usize,
    end: usize,
}

const ARENA_CHUNK: usize = 1 << 20;

impl Arena {
    /// `len` bytes aligned to 8, or None when out of memory.
    fn take(&mut self, len: usize) -> Option<*mut u8> {
        let len = (len + 7) & !7;
        if self.next + len > self.end {
            let size = ARENA_CHUNK.max(len);
            let p = crate::mem::map(size);
            if p.is_null() {
                return None;
            }
            (self.next, self.end) = (p as usize, p as usize + size);
        }
        let p = self.next;
        self.next += len;
        Some(p as *mut u8)
    }

    fn site(&mut self, site: Site) -> Option<&'static Site> {
        let p = self.take(core::mem::size_of::<Site>())?.cast::<Site>();
        // SAFETY: fresh arena memory of Site's size, 8-aligned; never freed.
        unsafe {
            p.write(site);
            Some(&*p)
        }
    }

    /// `frames`, packed.
    fn frames(&mut self, frames: &[usize]) -> Option<&'static [u8]> {
        let addrs = || frames.iter().map(|&f| f as u64);
        let len = packed::packed_len(addrs());
        let p = self.take(len)?;
        let mut at = 0;
        // SAFETY: as above, room for len bytes, which is what pack writes.
        unsafe {
            packed::pack(addrs(), |b| {
                p.add(at).write(b);
                at += 1;
            });
            Some(core::slice::from_raw_parts(p, len))
        }
    }
}

/// A slot of the stack table: a site's key and id, so that a lookup reads only the table's own line
/// (following a pointer to the site, even just for its id, was a cache miss per lookup).
struct Slot {
    key: AtomicU64,
    /// The site's id + 1; 0: empty.
    id: AtomicU32,
}

struct Table {
    mask: usize,
    slots: Box<[Slot]>,
}

impl Table {
    fn with_capacity(cap: usize) -> Table {
        // SAFETY: an all-zero Slot is a valid empty one (key 0, id 0); zeroed memory from the agent's
        // allocator is mostly untouched pages, which a loop of stores would fault in.
        let slots = unsafe { crate::mem::zeroed_slice::<Slot>(cap) };
        Table {
            mask: cap - 1,
            slots,
        }
    }

    /// Where a stack's probe starts: from the key's upper half, where the multiply of
    /// `unwind::hash_frames` mixed in every bit (its low bits depend only on the low bits of the frames,
    /// and a million stacks that differ in a few return addresses piled up in long probe runs).
    #[inline]
    fn home(key: u64) -> usize {
        (key >> 32) as usize
    }

    /// The id of the site with this key.
    fn find(&self, key: u64) -> Option<u32> {
        let mut i = Self::home(key) & self.mask;
        loop {
            let slot = &self.slots[i];
            let id = slot.id.load(Ordering::Acquire);
            if id == 0 {
                return None;
            }
            // The key was stored before the id was published (Release), so it is the site's.
            if slot.key.load(Ordering::Relaxed) == key {
                return Some(id - 1);
            }
            i = (i + 1) & self.mask;
        }
    }

    fn insert(&self, s: &Site) {
        let mut i = Self::home(s.key) & self.mask;
        while self.slots[i].id.load(Ordering::Relaxed) != 0 {
            i = (i + 1) & self.mask;
        }
        self.slots[i].key.store(s.key, Ordering::Relaxed);
        self.slots[i].id.store(s.id + 1, Ordering::Release);
    }
}

static TABLE: AtomicPtr<Table> = AtomicPtr::new(core::ptr::null_mut());
static COUNT: AtomicU32 = AtomicU32::new(0);
static INSERT: SpinLock<Arena> = SpinLock::new(Arena { next: 0, end: 0 });

/// id → site, two levels so it never moves: 4096 pages of 4096 entries (site counters are paged the same
/// way).
const PAGE_BITS: u32 = 12;
const PAGE: usize = 1 << PAGE_BITS;
static BY_ID: [AtomicPtr<[AtomicPtr<Site>; PAGE]>; PAGE] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; PAGE];

/// What the table knows a stack by: its hash (`unwind::hash_frames`) and its frame count. Each step of the
/// hash is a bijection of the previous value, so stacks that differ in one frame never collide; two others
/// do with probability 2^-64 (for a million distinct stacks, one program in 30 million would merge two).
#[inline]
pub fn key(hash: u64, frames: usize) -> u64 {
    hash ^ (frames as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The id of the site of the stack with this [`key`], if it has one yet.
#[inline]
pub fn lookup(key: u64) -> Option<u32> {
    let t = TABLE.load(Ordering::Acquire);
    // SAFETY: tables are never freed.
    (!t.is_null()).then(|| unsafe { &*t }.find(key)).flatten()
}

/// The id of the site for this stack, created on first sight. None only if the id space (16M stacks) is
/// exhausted. `hash` must be `unwind::hash_frames(frames)`.
#[inline]
pub fn intern(frames: &[usize], hash: u64) -> Option<u32> {
    let key = key(hash, frames.len());
    lookup(key).or_else(|| intern_slow(key, frames))
}

#[cold]
fn intern_slow(key: u64, frames: &[usize]) -> Option<u32> {
    let mut arena = INSERT.lock();
    if let Some(s) = lookup(key) {
        return Some(s);
    }
    let mut t = TABLE.load(Ordering::Acquire);
    let id = COUNT.load(Ordering::Relaxed);
    if id as usize >= PAGE * PAGE {
        return None;
    }
    // SAFETY: as above.
    if t.is_null() || (id as usize + 1) * 2 > unsafe { (&(*t)).slots.len() } {
        t = grow(t);
    }
    if !counter_page(id) {
        return None;
    }
    let code = arena.frames(frames)?;
    let site = arena.site(Site {
        id,
        key,
        code,
        written: AtomicBool::new(false),
        snap_allocs: AtomicU64::new(0),
        snap_live: AtomicU64::new(0),
    })?;
    publish_id(site);
    // SAFETY: as above.
    unsafe { &*t }.insert(site);
    COUNT.store(id + 1, Ordering::Release);
    Some(id)
}

fn grow(old: *mut Table) -> *mut Table {
    // SAFETY: tables are never freed.
    let cap = if old.is_null() {
        4096
    } else {
        (unsafe { (&(*old)).slots.len() }) * 2
    };
    let t = Box::leak(Box::new(Table::with_capacity(cap)));
    for id in 0..COUNT.load(Ordering::Relaxed) {
        if let Some(s) = by_id(id) {
            t.insert(s);
        }
    }
    TABLE.store(t, Ordering::Release);
    if !old.is_null() {
        // The old table stays (a reader may still be probing it) but its memory goes: a probe there now
        // reads empty slots and takes the slow path, which waits for this lock and finds the new table.
        // SAFETY: tables are never freed.
        let slots = unsafe { &(*old).slots };
        crate::mem::discard(
            slots.as_ptr() as *mut u8,
            core::alloc::Layout::for_value(&**slots),
        );
    }
    t
}

/// Makes sure the counter page of site `id` exists (false: out of memory).
fn counter_page(id: u32) -> bool {
    let slot = &COUNTER_PAGES[id as usize >> PAGE_BITS];
    if slot.load(Ordering::Acquire).is_null() {
        let p = crate::mem::map_sparse(COUNTER_PAGE_BYTES);
        if p.is_null() {
            return false;
        }
        slot.store(p.cast(), Ordering::Release);
    }
    true
}

fn publish_id(site: &'static Site) {
    let (hi, lo) = (site.id as usize >> PAGE_BITS, site.id as usize & (PAGE - 1));
    let mut page = BY_ID[hi].load(Ordering::Acquire);
    if page.is_null() {
        // SAFETY: null pointers are all-zero AtomicPtrs; the slice has PAGE of them. Never freed.
        page = unsafe {
            let zeroed = crate::mem::zeroed_slice::<AtomicPtr<Site>>(PAGE);
            Box::into_raw(zeroed).cast::<[AtomicPtr<Site>; PAGE]>()
        };
        BY_ID[hi].store(page, Ordering::Release);
    }
    // SAFETY: pages are never freed.
    let page = unsafe { &*page };
    page[lo].store(site as *const Site as *mut Site, Ordering::Release);
}

/// The site with this id.
#[inline]
pub fn by_id(id: u32) -> Option<&'static Site> {
    let (hi, lo) = (id as usize >> PAGE_BITS, id as usize & (PAGE - 1));
    let page = BY_ID.get(hi)?.load(Ordering::Acquire);
    if page.is_null() {
        return None;
    }
    // SAFETY: pages and sites are never freed.
    let p = unsafe { &*page }[lo].load(Ordering::Acquire);
    (!p.is_null()).then(|| unsafe { &*p })
}

/// Number of sites so far.
pub fn count() -> u32 {
    COUNT.load(Ordering::Acquire)
}

/// All sites in id order.
pub fn all() -> Vec<&'static Site> {
    (0..count()).filter_map(by_id).collect()
}

/// Fork support: hold the insert lock across `fork()` so the child never inherits it taken.
pub fn lock_for_fork() {
    INSERT.raw_lock();
}

pub fn unlock_after_fork() {
    INSERT.force_unlock();
}
