//! Agent life cycle and per-thread state: lazy start-up on the first intercepted call, the re-entrancy
//! guard, and the recording of one allocation.

use crate::{modules, stacks, unwind, writer};
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicIsize, AtomicU32, AtomicU8, AtomicUsize, Ordering};
use leakscope_trace::{ModuleEvent, Modules, Origin, ProcessStart, Record};

pub const UNINIT: u8 = 0;
pub const STARTING: u8 = 1;
pub const ACTIVE: u8 = 2;
/// Not tracing (no trace requested, or an exec'ed descendant we were not asked to follow).
pub const DORMANT: u8 = 3;
/// The final report was written; calls pass straight through.
pub const FINISHED: u8 = 4;

pub static STATE: AtomicU8 = AtomicU8::new(UNINIT);
/// Coarse clock for block birth times, in snapshot ticks; advanced by the snapshot thread.
pub static TICK: AtomicU32 = AtomicU32::new(0);
/// The agent's own code range: frames in it are dropped from stacks.
static AGENT_LO: AtomicUsize = AtomicUsize::new(0);
static AGENT_HI: AtomicUsize = AtomicUsize::new(0);

/// Per-thread state. Kept in a pthread key slot rather than in TLS: a TLS segment in the agent would
/// change the size of glibc's per-thread DTV block, which Memcheck reports for threads still running.
/// Aligned to two cache lines so that two threads' states never share one (every call writes `busy` and the
/// quarantine ring: false sharing made two allocating threads three times slower).
#[repr(align(128))]
pub struct ThreadState {
    /// Inside the agent: allocations made now are the agent's own (or libc's on its behalf) and pass through.
    pub busy: Cell<bool>,
    /// Top of this thread's stack (exclusive), 0 = not known yet.
    pub stack_hi: Cell<usize>,
    /// Other stacks this thread ran on (see [`foreign_stack_hi`]), as (low, high) bounds of their mapping.
    foreign: [Cell<(usize, usize)>; FOREIGN],
    foreign_next: Cell<usize>,
    /// A stop-the-world request arrived while busy: park when leaving the agent.
    pub deferred: Cell<bool>,
    /// This thread's previous stack walk (see [`unwind::WalkCache`]).
    pub walk: core::cell::UnsafeCell<unwind::WalkCache>,
    /// Byte countdown of sampled mode.
    pub sampler: crate::sampling::Sampler,
    /// Blocks this thread freed, held back before malloc may reuse them.
    pub quarantine: crate::quarantine::Ring,
    /// The counter stripe of each site this thread owns (see [`stacks::STRIPES`]); OWNED or more: none.
    pub stripe: usize,
    /// Stacks this thread saw lately.
    pub sites: SiteCache,
    /// This thread's errno (its address never changes; looking it up per call cost 5%).
    pub errno: *mut i32,
}

impl ThreadState {
    /// The counter stripe this thread adds to now: its own, or a shared one.
    #[inline]
    pub fn counter_stripe(&self) -> usize {
        match self.stripe {
            s if s < stacks::OWNED => s,
            _ => stacks::shared_stripe(),
        }
    }

    /// Runs bookkeeping `f` for a call that already happened, leaving errno as the call left it.
    #[inline]
    pub fn book<R>(&self, f: impl FnOnce() -> R) -> R {
        // SAFETY: errno points at this thread's errno, which lives as long as the thread.
        let e = unsafe { *self.errno };
        let r = f();
        unsafe { *self.errno = e };
        r
    }
}

/// Counter stripes no live thread owns, one bit each (see [`stacks::OWNED`]).
static FREE_STRIPES: AtomicUsize = AtomicUsize::new((1 << stacks::OWNED) - 1);

/// Takes a free stripe for a new thread (OWNED if none is left). Acquire: the stripe's last owner
/// updated it with plain stores, which the new owner's must follow.
fn take_stripe() -> usize {
    let mut free = FREE_STRIPES.load(Ordering::Acquire);
    while free != 0 {
        let s = free.trailing_zeros() as usize;
        match FREE_STRIPES.compare_exchange_weak(
            free,
            free & !(1 << s),
            Ordering::Acquire,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                stacks::use_stripe(s);
                return s;
            }
            Err(now) => free = now,
        }
    }
    stacks::use_shared_stripes();
    stacks::OWNED
}

/// An exiting thread gives its stripe back (after its last update of it).
fn return_stripe(s: usize) {
    if s < stacks::OWNED {
        FREE_STRIPES.fetch_or(1 << s, Ordering::Release);
    }
}

static KEY: AtomicU32 = AtomicU32::new(u32::MAX);
/// Where each thread's word for KEY lives relative to its thread pointer (0: unknown, ask glibc). Read
/// directly, it spares a call into libc on every malloc and free.
static KEY_SLOT: AtomicIsize = AtomicIsize::new(0);

unsafe extern "C" fn drop_thread_state(p: *mut c_void) {
    let st = alloc::boxed::Box::from_raw(p as *mut ThreadState);
    st.quarantine.retire();
    return_stripe(st.stripe);
    drop(st);
}

fn create_key() {
    let mut k: libc::pthread_key_t = 0;
    // SAFETY: valid out pointer; keys below 32 need no allocation in glibc.
    if unsafe { libc::pthread_key_create(&mut k, Some(drop_thread_state)) } == 0 {
        // The probe also clears a value an earlier key of this index may have left in this thread.
        let slot = crate::thread::key_slot_offset(k).unwrap_or(0);
        KEY_SLOT.store(slot, Ordering::Relaxed);
        KEY.store(k, Ordering::Release);
    }
}

/// This thread's state, created on first use. None before the agent started or if the key is unavailable.
#[inline]
pub fn thread_state() -> Option<&'static ThreadState> {
    existing_thread_state().or_else(|| match KEY.load(Ordering::Acquire) {
        u32::MAX => None,
        k => new_thread_state(k),
    })
}

/// This thread's state if it has one; never creates it (signal handlers must not allocate).
#[inline]
pub fn existing_thread_state() -> Option<&'static ThreadState> {
    let k = KEY.load(Ordering::Acquire);
    if k == u32::MAX {
        return None;
    }
    let p = match KEY_SLOT.load(Ordering::Relaxed) {
        // SAFETY: reads this thread's slot for our key.
        0 => unsafe { libc::pthread_getspecific(k).cast::<ThreadState>() },
        // SAFETY: this thread's data word for our key (found at start-up), which only glibc's
        // pthread_setspecific and thread exit write, on this thread.
        off => unsafe { *((crate::thread::pointer() as isize + off) as *const *const ThreadState) },
    };
    if !p.is_null() {
        // SAFETY: the slot holds a ThreadState we leaked for this thread; freed only at its exit.
        return Some(unsafe { &*p });
    }
    None
}

#[cold]
fn new_thread_state(k: libc::pthread_key_t) -> Option<&'static ThreadState> {
    // Building the state takes the agent allocator's lock before `busy` exists to say so: a stop signal
    // landing now would park this thread holding it, and the scan would wait on it forever.
    let _held = crate::world::HoldStop::new();
    let st = alloc::boxed::Box::leak(alloc::boxed::Box::new(ThreadState {
        busy: Cell::new(false),
        stack_hi: Cell::new(0),
        foreign: [const { Cell::new((0, 0)) }; FOREIGN],
        foreign_next: Cell::new(0),
        deferred: Cell::new(false),
        walk: core::cell::UnsafeCell::new(unwind::WalkCache::new()),
        sampler: crate::sampling::Sampler::new(),
        quarantine: crate::quarantine::Ring::new(),
        stripe: take_stripe(),
        sites: SiteCache::new(),
        errno: crate::real::errno_location(),
    }));
    // SAFETY: storing our pointer in our key's slot.
    unsafe { libc::pthread_setspecific(k, st as *mut ThreadState as *const c_void) };
    Some(st)
}

/// Marks this thread as inside the agent for the guard's lifetime.
pub struct Busy(&'static ThreadState);

impl Busy {
    /// None if this thread is already inside the agent (a nested call must pass through).
    #[inline]
    pub fn enter() -> Option<Busy> {
        let t = thread_state()?;
        (!t.busy.replace(true)).then_some(Busy(t))
    }

    /// The thread inside the agent.
    #[inline]
    pub fn thread(&self) -> &'static ThreadState {
        self.0
    }
}

impl Drop for Busy {
    #[inline]
    fn drop(&mut self) {
        self.0.busy.set(false);
        crate::world::park_if_requested(self.0);
    }
}

/// Is recording on? Starts the agent on the first call.
#[inline]
pub fn active() -> bool {
    match STATE.load(Ordering::Acquire) {
        ACTIVE => true,
        UNINIT => start(),
        _ => false,
    }
}

#[cold]
fn start() -> bool {
    if STATE
        .compare_exchange(UNINIT, STARTING, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return STATE.load(Ordering::Acquire) == ACTIVE;
    }
    create_key();
    crate::real::detect();
    let Some(_busy) = Busy::enter() else {
        STATE.store(DORMANT, Ordering::Release);
        return false;
    };
    let next = if begin_tracing() { ACTIVE } else { DORMANT };
    STATE.store(next, Ordering::Release);
    next == ACTIVE
}

fn getenv(name: &core::ffi::CStr) -> Option<&'static [u8]> {
    // SAFETY: getenv reads environ without allocating; the returned string outlives us in practice.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    (!p.is_null()).then(|| unsafe { core::ffi::CStr::from_ptr(p) }.to_bytes_with_nul())
}

/// The settings `leakscope run` left in the environment (`LEAKSCOPE`, see `leakscope_trace::settings`),
/// NUL-terminated.
pub fn settings() -> Option<&'static [u8]> {
    getenv(c"LEAKSCOPE")
}

/// Decides whether this image is traced; if so opens the trace and writes who we are.
fn begin_tracing() -> bool {
    use leakscope_trace::settings::{field, number};
    let Some(s) = settings() else {
        return false;
    };
    // The trace is the last field: its value runs to the NUL, which open() needs.
    let Some(path) = field(s, "trace").filter(|p| p.len() > 1) else {
        return false;
    };
    // SAFETY: plain syscalls.
    let (pid, ppid) = unsafe { (libc::getpid() as u32, libc::getppid() as u32) };
    // A fresh image whose parent is not the leakscope CLI is an exec'ed descendant: follow only if asked.
    let follow = number(s, "follow") == Some(1);
    if let Some(cli) = number(s, "cli") {
        if cli as u32 != ppid && !follow {
            mark_exec_away(path, pid);
            return false;
        }
    }
    if !writer::open(path) {
        return false;
    }
    writer::PID.store(pid, Ordering::Relaxed);
    find_agent_range();
    crate::config::load();
    let light = crate::light::enable();
    crate::uptime_ns();
    emit_start(Origin::Exec, ppid);
    emit_modules();
    if !light {
        writer::emit(&Record::Message(leakscope_trace::Message {
            level: leakscope_trace::Level::Warning,
            text: "sampled mode tracks every block: the layout of glibc's heap could not be confirmed at start-up (it needs glibc 2.34 or later on x86-64 with its tcache on), so the heap cannot be walked".into(),
        }));
    }
    crate::exit::register_at_exit();
    true
}

/// An exec'ed descendant we do not follow: tell the reader that the forked image it knew is gone.
fn mark_exec_away(path: &[u8], pid: u32) {
    if writer::open(path) {
        writer::PID.store(pid, Ordering::Relaxed);
        crate::report::emit_end(leakscope_trace::ExitStatus::Exec);
    }
}

fn find_agent_range() {
    let here = find_agent_range as *const () as usize;
    if let Some(m) = modules::current().find(here) {
        AGENT_LO.store(m.start, Ordering::Relaxed);
        AGENT_HI.store(m.end, Ordering::Relaxed);
    }
}

/// Is `pc` inside the agent's own code?
#[inline]
pub fn in_agent(pc: usize) -> bool {
    pc >= AGENT_LO.load(Ordering::Relaxed) && pc < AGENT_HI.load(Ordering::Relaxed)
}

pub fn agent_range() -> (usize, usize) {
    (
        AGENT_LO.load(Ordering::Relaxed),
        AGENT_HI.load(Ordering::Relaxed),
    )
}

pub fn emit_start(origin: Origin, ppid: u32) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    writer::emit(&Record::ProcessStart(ProcessStart {
        ppid,
        origin,
        time_unix_ns: ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64,
        exe: modules::exe_path(),
        args: cmdline(),
        agent_version: String::from(env!("CARGO_PKG_VERSION")),
        sample_rate: crate::config::sample_rate(),
    }));
}

/// The modules written to the trace so far, by (start, path hash).
static WRITTEN_MODULES: crate::sync::SpinLock<Vec<(usize, usize)>> =
    crate::sync::SpinLock::new(Vec::new());

/// Writes load/unload events for modules that changed since the last call (all of them the first time).
pub fn emit_modules() {
    let list = modules::refresh();
    let mut written = WRITTEN_MODULES.lock();
    let mut events = Vec::new();
    for m in &list.modules {
        if !written.iter().any(|&(s, e)| s == m.start && e == m.end) {
            written.push((m.start, m.end));
            events.push(ModuleEvent {
                loaded: true,
                start: m.start as u64,
                end: m.end as u64,
                bias: m.bias as u64,
                path: m.path.clone(),
                build_id: m.build_id.clone(),
            });
        }
    }
    written.retain(|&(s, e)| {
        let present = list.modules.iter().any(|m| m.start == s && m.end == e);
        if !present {
            events.push(ModuleEvent {
                loaded: false,
                start: s as u64,
                end: e as u64,
                bias: 0,
                path: String::new(),
                build_id: Vec::new(),
            });
        }
        present
    });
    drop(written);
    if !events.is_empty() {
        writer::emit(&Record::Modules(Modules { events }));
    }
}

/// In a forked child: everything must be written again under the new pid.
pub fn forget_written_modules() {
    WRITTEN_MODULES.force_unlock();
    WRITTEN_MODULES.lock().clear();
}

fn read_file(path: &core::ffi::CStr) -> Vec<u8> {
    let mut out = Vec::new();
    // SAFETY: plain syscalls on our own buffer.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return out;
        }
        let mut buf = [0u8; 4096];
        loop {
            let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
            if n <= 0 {
                break;
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
        libc::close(fd);
    }
    out
}

fn cmdline() -> Vec<String> {
    let raw = read_file(c"/proc/self/cmdline");
    raw.split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Upper bound of the current thread's stack, for bounded unwinding. 0 if unknown.
#[inline]
fn stack_hi(t: &ThreadState, sp: usize) -> usize {
    let cached = t.stack_hi.get();
    if cached != 0 && sp < cached && sp + (256 << 20) > cached {
        return cached;
    }
    let hi = compute_stack_hi(sp);
    if hi != 0 {
        t.stack_hi.set(hi);
        return hi;
    }
    foreign_stack_hi(t, sp)
}

/// The end of the mapping holding `sp` when the thread runs on a stack that is neither the main stack nor
/// glibc's for the thread (a signal stack, a coroutine's stack in the heap or in its own mapping). Found in
/// /proc/self/maps once and remembered (a few per thread), so that the walk never reads past the mapping.
#[cold]
fn foreign_stack_hi(t: &ThreadState, sp: usize) -> usize {
    let known = t
        .foreign
        .iter()
        .map(Cell::get)
        .find(|&(lo, hi)| lo <= sp && sp < hi);
    if let Some((_, hi)) = known {
        return hi;
    }
    let maps = crate::maps::read();
    let Some(m) = maps
        .iter()
        .find(|m| m.start <= sp && sp < m.end && m.read && m.write)
    else {
        return 0;
    };
    let slot = t.foreign_next.get();
    t.foreign[slot % FOREIGN].set((m.start, m.end));
    t.foreign_next.set(slot + 1);
    m.end
}

/// Foreign stacks remembered per thread.
const FOREIGN: usize = 4;

extern "C" {
    static __libc_stack_end: *mut c_void;
}

#[cold]
fn compute_stack_hi(sp: usize) -> usize {
    // SAFETY: __libc_stack_end is set by ld.so before any code runs.
    let main_end = unsafe { __libc_stack_end } as usize;
    let main_hi = (main_end + 4095) & !4095;
    if sp < main_hi && sp + (1 << 30) > main_hi {
        return main_hi;
    }
    // glibc threads: the thread descriptor sits at the top of the thread's stack mapping.
    // SAFETY: pthread_self never fails.
    let tcb = unsafe { libc::pthread_self() } as usize;
    if sp < tcb && sp + (1 << 30) > tcb {
        return tcb;
    }
    0
}

/// A thread's recently seen stacks, by hash: most allocations come from a few hot stacks, and a hit here
/// skips copying the stack out of the walk cache and looking it up in the global table. Entries are keyed
/// by the 64-bit hash and the frame count (each step of the hash is a bijection of the previous value,
/// so stacks that differ in one frame never collide; others collide with probability 2^-63).
///
/// Sets of [`WAYS`] entries (one cache line), most recent first: a direct-mapped table let two hot stacks
/// that shared a slot evict each other on every call (service missed on 13% of its calls with 11 stacks).
pub struct SiteCache {
    sets: [Set; SETS],
}

const WAYS: usize = 4;
const SETS: usize = 64;

#[repr(C, align(64))]
struct Set([Cell<(u64, u32, u32)>; WAYS]);

impl SiteCache {
    pub const fn new() -> Self {
        SiteCache {
            sets: [const { Set([const { Cell::new((0, 0, u32::MAX)) }; WAYS]) }; SETS],
        }
    }

    #[inline]
    fn set(&self, hash: u64) -> &[Cell<(u64, u32, u32)>; WAYS] {
        // The top bits: the hash's last step is a multiplication, whose high bits depend on every frame.
        &self.sets[(hash >> 58) as usize % SETS].0
    }

    #[inline]
    fn get(&self, hash: u64, n: usize) -> Option<u32> {
        let set = self.set(hash);
        let w = set.iter().position(|e| {
            let (h, c, id) = e.get();
            h == hash && c as usize == n && id != u32::MAX
        })?;
        let hit = set[w].get();
        if w > 0 {
            to_front(set, w, hit);
        }
        Some(hit.2)
    }

    #[inline]
    fn put(&self, hash: u64, n: usize, id: u32) {
        to_front(self.set(hash), WAYS - 1, (hash, n as u32, id));
    }
}

/// Makes `entry` the most recent way of `set`, in place of way `w` (the ways before it move back one).
#[inline]
fn to_front(set: &[Cell<(u64, u32, u32)>; WAYS], w: usize, entry: (u64, u32, u32)) {
    for k in (1..=w).rev() {
        set[k].set(set[k - 1].get());
    }
    set[0].set(entry);
}

/// Captures the stack of the allocation call `caller` made and returns its site id.
#[inline]
pub fn current_site(t: &ThreadState, caller: unwind::Caller) -> u32 {
    let hi = stack_hi(t, caller.sp);
    if hi == 0 {
        return intern(&[], unwind::hash_frames(&[]));
    }
    if !crate::config::walk_cache() {
        return reference_site(hi);
    }
    // SAFETY: this thread is inside the agent (busy), so nothing else uses its walk cache now.
    let walk = unsafe { &mut *t.walk.get() };
    let (n, hash) = unwind::walk_cached(caller, hi, in_agent, walk);
    t.sites
        .get(hash, n)
        .unwrap_or_else(|| new_site(t, walk, hash, n))
}

/// A stack this thread has not seen lately: found in the stack table by its hash and frame count, or
/// copied out of the walk cache and interned.
#[cold]
#[inline(never)]
fn new_site(t: &ThreadState, walk: &unwind::WalkCache, hash: u64, n: usize) -> u32 {
    let id = stacks::lookup(stacks::key(hash, n)).unwrap_or_else(|| {
        let mut frames = [core::mem::MaybeUninit::uninit(); unwind::MAX_FRAMES];
        let n = walk.emit(&mut frames);
        intern(unwind::written(&frames, n), hash)
    });
    t.sites.put(hash, n, id);
    id
}

/// The site by the reference walk (`LEAKSCOPE_UNWIND_REFERENCE=1`): from this frame, every step anew.
#[inline(never)]
fn reference_site(hi: usize) -> u32 {
    let mut frames = [core::mem::MaybeUninit::uninit(); unwind::MAX_FRAMES];
    let (n, hash) = unwind::capture(hi, &mut frames, in_agent);
    intern(unwind::written(&frames, n), hash)
}

fn intern(frames: &[usize], hash: u64) -> u32 {
    stacks::intern(frames, hash).unwrap_or(u32::MAX)
}

/// Site of the blocks whose stacks were not sampled (a sentinel stack: one frame at address 1).
static UNSAMPLED: AtomicU32 = AtomicU32::new(u32::MAX);

pub fn unsampled_site() -> u32 {
    let id = UNSAMPLED.load(Ordering::Relaxed);
    if id != u32::MAX {
        return id;
    }
    let id = stacks::intern(&[1], unwind::hash_frames(&[1])).unwrap_or(u32::MAX);
    UNSAMPLED.store(id, Ordering::Relaxed);
    id
}

/// Is this the sentinel site of unsampled blocks?
pub fn is_unsampled(site: u32) -> bool {
    site != u32::MAX && site == UNSAMPLED.load(Ordering::Relaxed)
}

/// What a block of `size` counts for in its site: (size, 1), or its estimate weight when sampling.
#[inline]
pub fn weight(size: usize) -> (u64, u64) {
    match crate::config::sample_rate() {
        0 => (size as u64, 1),
        rate => crate::sampling::weight(size, rate),
    }
}

/// The site of a block of `size` bytes that `caller` is allocating, for thread `t` (inside the agent): its
/// stack, or the unsampled site. Called before the allocation, so that no frame of the walk ever holds the
/// block's address (a copy a callee pushes deep in the stack would outlive the scrub).
#[inline]
pub fn site_for(t: &ThreadState, size: usize, caller: unwind::Caller) -> u32 {
    let rate = crate::config::sample_rate();
    // Light mode tracks only the blocks its countdown already chose.
    if rate == 0
        || crate::light::on()
        || crate::sampling::always(size)
        || t.sampler.take(size, rate)
    {
        current_site(t, caller)
    } else {
        unsampled_site()
    }
}

/// Records the block `p` of `size` bytes (`HEADER << shift` bytes into its allocation) at `site`, which
/// the program just received, for thread `t` (inside the agent).
#[inline]
pub fn record_alloc(t: &ThreadState, p: usize, size: usize, shift: u32, site: u32) {
    if let Some(s) = counted_site(site) {
        stacks::on_alloc(s, weight(size), t.counter_stripe());
    }
    let block = crate::live::Block::new(p, size, site, TICK.load(Ordering::Relaxed));
    crate::live::adopt(&block, shift);
}

/// Takes a block that is going away out of its site's counts (thread `t`, inside the agent).
#[inline]
pub fn forget(t: &ThreadState, b: &crate::live::Block) {
    forget_in(b, t.counter_stripe());
}

fn forget_in(b: &crate::live::Block, stripe: usize) {
    if let Some(s) = counted_site(b.site()) {
        stacks::on_free(s, weight(b.size()), stripe);
    }
}

/// The site whose counters a block at `site` counts in (none for the unsampled sentinel or no site).
#[inline]
fn counted_site(site: u32) -> Option<u32> {
    Some(site).filter(|&s| s != u32::MAX && !is_unsampled(s))
}

/// Asks for the counter line [`record_alloc`] will update for a block at `site` (for thread `t`): called
/// once the site is known, before the allocation, so that the line arrives meanwhile. A thread without a
/// stripe of its own picks a shared one only then; for it this is a wasted hint.
#[inline]
pub fn prefetch_counters(t: &ThreadState, site: u32) {
    if let Some(s) = counted_site(site) {
        stacks::prefetch(s, t.stripe);
    }
}

/// Forgets a tracked block being freed (or moved) by thread `t`; None if `p` is not one.
#[inline]
pub fn record_free(t: &ThreadState, p: *mut c_void) -> Option<crate::live::Held> {
    let h = crate::live::release(p as usize)?;
    forget(t, &h.block);
    Some(h)
}

/// [`record_free`] for a free made while this thread is already inside the agent (libc's cleanup, a signal
/// handler): it may have interrupted an update of the thread's own stripe, so it counts in the shared one.
pub fn record_free_nested(p: *mut c_void) -> Option<crate::live::Held> {
    let h = crate::live::release(p as usize)?;
    stacks::use_shared_stripes();
    forget_in(&h.block, stacks::shared_stripe());
    Some(h)
}
