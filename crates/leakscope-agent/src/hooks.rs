//! The interposed allocation functions. Each forwards to glibc (or the program's own allocator), then
//! records what happened.
//!
//! A tracked block lives [`HEADER`] bytes (or its alignment) into a slightly larger allocation, its header
//! in front of it (see [`crate::live`]). Rules that keep the program's behaviour intact: the call succeeds
//! or fails as the real one would, with errno as the allocator left it; bookkeeping never fails the call
//! (a block that cannot be tracked is allocated untracked); a call made while this thread is already inside
//! the agent passes straight through, untracked; and every function that takes a block back (`free`,
//! `realloc`, `malloc_usable_size`) recognises tracked blocks in every state of the agent.

use crate::live::{self, Held, HEADER};
use crate::real;
use crate::state::{active, record_alloc, record_free, record_free_nested, Busy, ThreadState};
use crate::unwind::Caller;
use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicBool, Ordering};

/// Assembly run when an allocation function returns to the program (keeping RAX): it zeroes the 1 KiB of
/// stack below the stack pointer and every other caller-saved general register (and XMM0). The agent's bookkeeping leaves
/// copies of the block's address in the frames and registers it used (glibc's own copies are of its chunk,
/// 16 bytes before the block, and harmless); a later, deeper call chain with uninitialised locals (deep
/// recursion, a stack overflow) would keep the stack copies inside the live stack, and a register the
/// program does not touch again would still hold one when a thread is stopped for the scan: either way a
/// lost block would look reachable. Memcheck knows such words are undefined and ignores them. The frames
/// that see the address are shallow (the stack walk runs before the allocation): copies were found down
/// to 720 bytes below the caller's stack pointer (realloc, posix_memalign), none deeper.
/// Expects `{scrub}` to name [`SCRUB`], already known to be non-zero.
macro_rules! scrub_asm {
    () => {
        // Stores in an unrolled loop of fixed length (`rep stosq` costs ~50 cycles to start, a sixth of
        // the agent's time in a tight malloc/free loop; a loop that stops at a computed end mispredicts
        // its exit), 32 bytes at a time where AVX2 is usable (the 16-byte loop was 4% of a C++ program's
        // run). The stubs run this at a stack pointer 8 or 16 bytes off a 32-byte boundary, and stores
        // across cache lines cost double: the loop starts at the boundary below (in the red zone, where
        // no signal frame goes), and one unaligned store clears the top few bytes it then leaves.
        concat!(
            "sub rsp, 1024\n",
            "mov rdi, rsp\n",
            "cmp byte ptr [rip + {scrub}], 2\n",
            "jne 5f\n",
            "vpxor xmm0, xmm0, xmm0\n",
            "vmovdqu [rsp + 992], ymm0\n",
            "and rdi, -32\n",
            "mov ecx, 8\n",
            "6:\n",
            "vmovdqa [rdi], ymm0\n",
            "vmovdqa [rdi + 32], ymm0\n",
            "vmovdqa [rdi + 64], ymm0\n",
            "vmovdqa [rdi + 96], ymm0\n",
            "sub rdi, -128\n",
            "dec ecx\n",
            "jnz 6b\n",
            // Upper halves left dirty would slow the program's SSE code.
            "vzeroupper\n",
            "jmp 8f\n",
            "5:\n",
            "pxor xmm0, xmm0\n",
            "movups [rsp + 1008], xmm0\n",
            "and rdi, -16\n",
            "mov ecx, 16\n",
            "7:\n",
            "movaps [rdi], xmm0\n",
            "movaps [rdi + 16], xmm0\n",
            "movaps [rdi + 32], xmm0\n",
            "movaps [rdi + 48], xmm0\n",
            "add rdi, 64\n",
            "dec ecx\n",
            "jnz 7b\n",
            "8:\n",
            "add rsp, 1024\n",
            "xor ecx, ecx\n",
            "xor edx, edx\n",
            "xor esi, esi\n",
            "xor edi, edi\n",
            "xor r8d, r8d\n",
            "xor r9d, r9d\n",
            "xor r10d, r10d\n",
            "xor r11d, r11d\n",
        )
    };
}
pub(crate) use scrub_asm;

/// How allocation functions scrub on return (see [`scrub_asm`]): 0 not at all (sampled mode's default),
/// 1 with 16-byte stores, 2 with AVX2's 32-byte stores.
pub static SCRUB: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(1);

/// Sets [`SCRUB`]: whether to scrub, and with AVX2 if the CPU has it and the kernel saves its registers.
pub fn set_scrub(on: bool) {
    let mode = match on {
        false => 0,
        true if avx2_usable() => 2,
        true => 1,
    };
    SCRUB.store(mode, core::sync::atomic::Ordering::Relaxed);
}

fn avx2_usable() -> bool {
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    // CPUID.1:ECX bit 27 = OSXSAVE (XGETBV usable), bit 28 = AVX; CPUID.7.0:EBX bit 5 = AVX2.
    let (basic, ext) = (__cpuid(1), __cpuid_count(7, 0));
    if basic.ecx & (3 << 27) != 3 << 27 || ext.ebx & (1 << 5) == 0 {
        return false;
    }
    let xcr0: u32;
    // SAFETY: XGETBV with ECX = 0 reads XCR0; OSXSAVE says it is enabled.
    unsafe {
        core::arch::asm!("xgetbv", in("ecx") 0, out("eax") xcr0, out("edx") _, options(nomem, nostack))
    };
    xcr0 & 6 == 6 // the kernel saves XMM and YMM state
}

/// Exports an allocation function as a stub that passes the caller's stack pointer and RBP at entry (in
/// the next two argument registers, named here) on to `$body`, calls it, and scrubs the stack the call
/// used. The stack walk then starts at the program's frame instead of stepping out of the agent's own
/// frames, which cost a third of the walk.
macro_rules! entry_stub {
    ($name:ident ($($arg:ident: $ty:ty),*) -> $ret:ty, $body:ident, $sp:literal, $bp:literal) => {
        entry_stub!($name($($arg: $ty),*) -> $ret, $body, $sp, $bp, "",);
    };
    // With `$prelude`, assembly run first (its operands follow): it may return on its own.
    ($name:ident ($($arg:ident: $ty:ty),*) -> $ret:ty, $body:ident, $sp:literal, $bp:literal,
     $prelude:expr, $($operands:tt)*) => {
        #[unsafe(naked)]
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> $ret {
            core::arch::naked_asm!(
                ".cfi_startproc",
                $prelude,
                concat!("mov ", $sp, ", rsp"),
                concat!("mov ", $bp, ", rbp"),
                "sub rsp, 8",
                ".cfi_adjust_cfa_offset 8",
                "call {body}",
                "cmp byte ptr [rip + {scrub}], 0",
                "je 2f",
                scrub_asm!(),
                "2:",
                "add rsp, 8",
                ".cfi_adjust_cfa_offset -8",
                "ret",
                ".cfi_endproc",
                body = sym $body,
                scrub = sym SCRUB,
                $($operands)*
            )
        }
    };
}

// `malloc`, `calloc` and `realloc` go first through light sampled mode's fast path ([`crate::light::due`]
// inlined): a request below `FAST_BELOW` (0 outside light mode) whose bytes the countdown absorbs jumps
// straight to glibc.

/// The fast path's countdown, for a request of `$size` bytes (a register), with two scratch registers:
/// `sub; jbe` keeps the countdown only if it stays above zero (a 0 left by the key's probe means a
/// thread's first call, which draws its countdown in the body), then jumps to glibc's `$libc`.
macro_rules! countdown_asm {
    ($size:literal, $slot:literal, $left:literal, $libc:literal) => {
        concat!(
            "mov ",
            $slot,
            ", qword ptr [rip + {slot}]\n",
            "mov ",
            $left,
            ", qword ptr fs:[",
            $slot,
            "]\n",
            "sub ",
            $left,
            ", ",
            $size,
            "\n",
            "jbe 3f\n",
            "mov qword ptr fs:[",
            $slot,
            "], ",
            $left,
            "\n",
            "jmp qword ptr [rip + {",
            $libc,
            "}@GOTPCREL]\n",
        )
    };
}

entry_stub!(malloc(_size: usize) -> *mut c_void, malloc_body, "rsi", "rdx",
    concat!(
        "cmp rdi, qword ptr [rip + {fast_below}]\n",
        "jae 3f\n",
        countdown_asm!("rdi", "rax", "rcx", "libc_malloc"),
        "3:",
    ),
    fast_below = sym crate::light::FAST_BELOW,
    slot = sym crate::light::SLOT_OFFSET,
    libc_malloc = sym real::__libc_malloc,
);
// n * size, with overflow left to the body (ENOMEM).
entry_stub!(calloc(_n: usize, _size: usize) -> *mut c_void, calloc_body, "rdx", "rcx",
    concat!(
        "mov rax, rdi\n",
        "mul rsi\n",
        "jc 3f\n",
        "cmp rax, qword ptr [rip + {fast_below}]\n",
        "jae 3f\n",
        countdown_asm!("rax", "rdx", "rcx", "libc_calloc"),
        "3:",
    ),
    fast_below = sym crate::light::FAST_BELOW,
    slot = sym crate::light::SLOT_OFFSET,
    libc_calloc = sym real::__libc_calloc,
);
// Only a block of glibc's own (no mark) resized to a non-zero size: null and 0 mean malloc and free. The
// size limit is tested first, so that outside light mode the block's header is not read here.
entry_stub!(realloc(_p: *mut c_void, _size: usize) -> *mut c_void, realloc_body, "rdx", "rcx",
    concat!(
        "cmp rsi, qword ptr [rip + {fast_below}]\n",
        "jae 3f\n",
        "test rdi, rdi\n",
        "je 3f\n",
        "test rsi, rsi\n",
        "je 3f\n",
        "cmp byte ptr [rdi - 1], {mark}\n",
        "je 3f\n",
        countdown_asm!("rsi", "rax", "rcx", "libc_realloc"),
        "3:",
    ),
    fast_below = sym crate::light::FAST_BELOW,
    slot = sym crate::light::SLOT_OFFSET,
    mark = const crate::light::MARK_BYTE,
    libc_realloc = sym real::__libc_realloc,
);
entry_stub!(reallocarray(_p: *mut c_void, _n: usize, _size: usize) -> *mut c_void, reallocarray_body, "rcx", "r8");
entry_stub!(memalign(_align: usize, _size: usize) -> *mut c_void, memalign_body, "rdx", "rcx");
entry_stub!(aligned_alloc(_align: usize, _size: usize) -> *mut c_void, aligned_alloc_body, "rdx", "rcx");
entry_stub!(posix_memalign(_out: *mut *mut c_void, _align: usize, _size: usize) -> c_int, posix_memalign_body, "rcx", "r8");
entry_stub!(valloc(_size: usize) -> *mut c_void, valloc_body, "rsi", "rdx");
entry_stub!(pvalloc(_size: usize) -> *mut c_void, pvalloc_body, "rsi", "rdx");

/// Clears the bytes [from, size) of the block `p` the program just received in the allocation `raw`.
/// Bytes the program never writes then hold zero instead of whatever the memory held before (old pointers,
/// malloc's free-list links), which a scan that reads every word would take for pointers — Memcheck knows
/// such bytes are undefined and skips them. A correct program never reads them, so nothing it computes
/// changes. Chunks glibc mmapped for this request are fresh zero pages and are left alone (touching them
/// would cost time and resident memory).
#[inline]
fn clear_fresh(raw: usize, p: usize, from: usize, size: usize) {
    if from >= size || !crate::config::precise() {
        return;
    }
    // SAFETY: p is a block of at least `size` bytes the program has not seen yet, inside the allocation
    // raw; for glibc, the word before raw is the chunk's size field (bit 1: mmapped). Small blocks are
    // never mmapped (glibc's threshold starts at 128 KiB), and reading that word would cost a cache miss.
    unsafe {
        if size >= 16 << 10 {
            let fresh_pages = if real::custom() {
                size > 1 << 20 // large blocks of other allocators are usually fresh pages too
            } else {
                *(raw as *const usize).sub(1) & 2 != 0
            };
            if fresh_pages {
                return;
            }
        }
        core::ptr::write_bytes((p + from) as *mut u8, 0, size - from);
    }
}

/// Runs the bookkeeping `f` for a call that already happened, preserving errno.
#[inline]
fn book<R>(f: impl FnOnce() -> R) -> R {
    let e = real::errno();
    let r = f();
    real::set_errno(e);
    r
}

/// Bytes asked for beyond the end of every block. glibc's next chunk header begins 8 bytes before the end
/// of a chunk's usable space, and glibc's own state (the arena's top pointer, its bins, in libc's data,
/// which the scan reads as roots) points at chunk headers; without this margin such a pointer could land
/// inside or at the start of the block before it, and a lost block would look possibly lost or reachable.
/// Memcheck's blocks come from its own allocator and never meet glibc's pointers.
const TAIL: usize = 8;

/// How a block of some alignment sits in its allocation: `HEADER << shift` bytes in, which is at least the
/// header and keeps the block aligned.
#[derive(Clone, Copy)]
struct Place {
    align: usize,
    shift: u32,
}

impl Place {
    /// Blocks with the allocator's own alignment (16 bytes for glibc).
    const PLAIN: Place = Place { align: 0, shift: 0 };

    fn aligned(align: usize) -> Place {
        if align <= HEADER {
            return Place::PLAIN;
        }
        Place {
            align,
            shift: align.trailing_zeros() - HEADER.trailing_zeros(),
        }
    }

    fn offset(self) -> usize {
        HEADER << self.shift
    }

    /// Allocates room for a block of `size` bytes; returns the allocation (null on failure, errno set).
    fn alloc(self, size: usize, zeroed: bool) -> usize {
        let Some(total) = size.checked_add(self.offset() + TAIL) else {
            real::set_errno(libc::ENOMEM);
            return 0;
        };
        let raw = match (self.align, zeroed) {
            (0, false) => real::malloc(total),
            (0, true) => real::calloc(1, total),
            (a, _) => real::memalign(a, total),
        };
        raw as usize
    }

    /// A ripe chunk from this thread's quarantine that fits a block of `size` bytes (see
    /// [`crate::quarantine::Ring::take`]).
    #[inline]
    fn recycled(self, t: &ThreadState, size: usize) -> Option<usize> {
        if self.align != 0 {
            return None;
        }
        let total = size.checked_add(HEADER + TAIL)?;
        t.quarantine
            .take(crate::quarantine::class_for_request(total))
    }

    /// The same request, untracked.
    fn alloc_untracked(self, size: usize, zeroed: bool) -> *mut c_void {
        match (self.align, zeroed) {
            (0, false) => real::malloc(size),
            (0, true) => real::calloc(1, size),
            (a, _) => real::memalign(a, size),
        }
    }
}

/// Allocates and records a block of `size` bytes for thread `t` (inside the agent), called by `caller`.
/// `zeroed`: calloc's memory, already clear.
fn alloc_tracked(
    t: &ThreadState,
    size: usize,
    place: Place,
    zeroed: bool,
    caller: Caller,
) -> *mut c_void {
    let site = t.book(|| crate::state::site_for(t, size, caller));
    crate::state::prefetch_counters(t, site);
    let recycled = place.recycled(t, size);
    let raw = recycled.unwrap_or_else(|| place.alloc(size, zeroed));
    if raw == 0 {
        return core::ptr::null_mut();
    }
    let p = raw + place.offset();
    let tracked = t.book(|| {
        if !live::prepare(p) {
            return false;
        }
        match (zeroed, recycled.is_some()) {
            // SAFETY: p has size bytes in raw, which the program has not seen yet.
            (true, true) => unsafe { core::ptr::write_bytes(p as *mut u8, 0, size) },
            (true, false) => {} // calloc's memory is clear
            (false, _) => clear_fresh(raw, p, 0, size),
        }
        record_alloc(t, p, size, place.shift, site);
        true
    });
    if tracked {
        return p as *mut c_void;
    }
    free_raw(raw);
    place.alloc_untracked(size, zeroed)
}

/// Body of every allocation function but realloc.
#[inline]
fn allocate(size: usize, place: Place, zeroed: bool, caller: Caller) -> *mut c_void {
    if crate::light::on() && !crate::light::due(size) {
        return place.alloc_untracked(size, zeroed);
    }
    allocate_now(size, place, zeroed, caller)
}

/// [`allocate`] once sampling (if on) has chosen this allocation.
fn allocate_now(size: usize, place: Place, zeroed: bool, caller: Caller) -> *mut c_void {
    if !active() {
        return place.alloc_untracked(size, zeroed);
    }
    let Some(b) = Busy::enter() else {
        return place.alloc_untracked(size, zeroed);
    };
    alloc_tracked(b.thread(), size, place, zeroed, caller)
}

unsafe extern "C" fn malloc_body(size: usize, sp: usize, bp: usize) -> *mut c_void {
    allocate(size, Place::PLAIN, false, Caller { sp, bp })
}

unsafe extern "C" fn calloc_body(n: usize, size: usize, sp: usize, bp: usize) -> *mut c_void {
    match n.checked_mul(size) {
        Some(total) => allocate(total, Place::PLAIN, true, Caller { sp, bp }),
        None => {
            real::set_errno(libc::ENOMEM);
            core::ptr::null_mut()
        }
    }
}

/// `free`: in light sampled mode, a block without the agent's mark goes straight to glibc. The mode is
/// tested first: in full mode, reading the word before the block here is an extra cache miss when the
/// block is cold (churn, 10 M frees, took 3.97 -> 4.24 s in an A/B with that order).
#[unsafe(naked)]
#[no_mangle]
pub unsafe extern "C" fn free(_p: *mut c_void) {
    core::arch::naked_asm!(
        ".cfi_startproc",
        "cmp byte ptr [rip + {light}], 0",
        "je {body}",
        "test rdi, rdi",
        "je 2f",
        "cmp byte ptr [rdi - 1], {mark}",
        "je {body}",
        "jmp qword ptr [rip + {libc_free}@GOTPCREL]",
        "2:",
        "ret",
        ".cfi_endproc",
        light = sym crate::light::LIGHT,
        mark = const crate::light::MARK_BYTE,
        body = sym free_body,
        libc_free = sym real::__libc_free,
    )
}

unsafe extern "C" fn free_body(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    // Frees are recorded even from inside the agent (libc's exit-time cleanup frees program blocks), and
    // tracked blocks are recognised in every state (a block outlives the report that saw it).
    if crate::state::STATE.load(core::sync::atomic::Ordering::Acquire) != crate::state::ACTIVE {
        return free_ending(live::release(p as usize).map_or(p as usize, |h| h.raw));
    }
    let Some(b) = Busy::enter() else {
        return free_ending(book(|| record_free_nested(p)).map_or(p as usize, |h| h.raw));
    };
    let t = b.thread();
    let mut release = [core::ptr::null_mut(); crate::quarantine::OUT_LEN];
    let n = t.book(|| match record_free(t, p) {
        // The program's own block: held back before malloc may reuse its address.
        Some(h) => t
            .quarantine
            .defer(h.raw as *mut c_void, h.block.size(), &mut release),
        None => {
            release[0] = p;
            1
        }
    });
    release[..n].iter().for_each(|&q| real::free(q));
}

/// Set when the process is ending, from the exit report's freeres calls on: frees are still recorded but
/// their memory is not given back. The first large free there made glibc consolidate every fastbin chunk
/// the program's own exit-time frees had left (4% of a C++ program's whole run), for memory nobody will
/// reuse.
pub static ENDING: AtomicBool = AtomicBool::new(false);

/// Gives `raw` back to the allocator unless the process is [`ENDING`].
fn free_ending(raw: usize) {
    if !ENDING.load(Ordering::Relaxed) {
        free_raw(raw);
    }
}

fn free_raw(raw: usize) {
    // SAFETY: raw is the program's block (untracked) or the allocation of a tracked one.
    unsafe { real::free(raw as *mut c_void) }
}

#[no_mangle]
pub unsafe extern "C" fn cfree(p: *mut c_void) {
    free(p)
}

/// C23's sized frees: glibc's versions would free the tracked block's address, not its allocation.
#[no_mangle]
pub unsafe extern "C" fn free_sized(p: *mut c_void, _size: usize) {
    free(p)
}

#[no_mangle]
pub unsafe extern "C" fn free_aligned_sized(p: *mut c_void, _align: usize, _size: usize) {
    free(p)
}

/// The size the program asked for (as Memcheck answers), for tracked blocks.
#[no_mangle]
pub unsafe extern "C" fn malloc_usable_size(p: *mut c_void) -> usize {
    match live::get(p as usize) {
        Some(h) => h.block.size(),
        None => real::usable_size(p),
    }
}

unsafe extern "C" fn realloc_body(
    p: *mut c_void,
    size: usize,
    sp: usize,
    bp: usize,
) -> *mut c_void {
    if p.is_null() {
        return allocate(size, Place::PLAIN, false, Caller { sp, bp });
    }
    if size == 0 {
        free(p); // glibc's realloc(p, 0): frees, returns null
        return core::ptr::null_mut();
    }
    if crate::light::on() {
        return light_realloc(p, size, Caller { sp, bp });
    }
    tracked_realloc(p, size, Caller { sp, bp })
}

/// realloc in light sampled mode: the countdown decides whether the new block is sampled, as for any new
/// allocation, whatever the old block was.
fn light_realloc(p: *mut c_void, size: usize, caller: Caller) -> *mut c_void {
    // SAFETY: p is a live block of the program (realloc's contract).
    let tracked = unsafe { crate::light::is_tracked(p) };
    match (tracked, crate::light::due(size)) {
        // SAFETY: as above.
        (false, false) => unsafe { real::realloc(p, size) },
        (true, true) => tracked_realloc(p, size, caller),
        (false, true) => {
            // SAFETY: as above; glibc's own block.
            let keep = unsafe { real::usable_size(p) };
            move_block(
                p,
                keep,
                allocate_now(size, Place::PLAIN, false, caller),
                size,
            )
        }
        (true, false) => {
            let keep = live::get(p as usize).map_or(0, |h| h.block.size());
            move_block(p, keep, real::malloc(size), size)
        }
    }
}

/// Copies the first `keep` bytes of `old` (at most `size`) into the new block `new` and frees `old`;
/// if `new` is null (out of memory), `old` stays the program's, as realloc requires.
fn move_block(old: *mut c_void, keep: usize, new: *mut c_void, size: usize) -> *mut c_void {
    if !new.is_null() {
        // SAFETY: both blocks are live, hold at least this many bytes, and do not overlap.
        unsafe {
            core::ptr::copy_nonoverlapping(old.cast::<u8>(), new.cast::<u8>(), keep.min(size))
        };
        // SAFETY: old is the program's block, now replaced.
        unsafe { free(old) };
    }
    new
}

/// realloc of a block the agent may track (every block unless in light mode).
fn tracked_realloc(p: *mut c_void, size: usize, caller: Caller) -> *mut c_void {
    let Some(old) = live::get(p as usize) else {
        // SAFETY: p is the program's live block (realloc's contract).
        return unsafe { real::realloc(p, size) }; // not ours: allocated before the agent started
    };
    let busy = if active() { Busy::enter() } else { None };
    let Some(b) = busy else {
        return realloc_untracked(old, size);
    };
    let t = b.thread();
    // Memcheck's realloc always moves the block, so a pointer left to the old address does not keep the
    // new block reachable. Blocks the quarantine would not hold anyway (all when it is off, and those
    // larger than it holds) may grow in place as glibc's do: moving them made a buffer grown 4 KiB at a
    // time to 16 MiB take 18 s (a copy and fresh pages per step) instead of 0.02 s.
    if old.shift != 0 || crate::quarantine::holds(old.block.size()) {
        return realloc_moving(t, old, size, caller);
    }
    let site = t.book(|| crate::state::site_for(t, size, caller));
    // Unmark the old block first: once glibc frees it another thread may get the same address.
    t.book(|| live::release(p as usize));
    // SAFETY: old.raw is the tracked block's allocation.
    let raw = unsafe { real::realloc(old.raw as *mut c_void, size + HEADER + TAIL) } as usize;
    if raw == 0 {
        t.book(|| live::adopt(&old.block, 0)); // realloc failed: the old block is still the program's
        return core::ptr::null_mut();
    }
    t.book(|| crate::state::forget(t, &old.block));
    let q = raw + HEADER;
    if !t.book(|| live::prepare(q)) {
        return untrack(raw, old.block.size().min(size), size);
    }
    clear_fresh(raw, q, old.block.size(), size); // only the grown part is new
    t.book(|| record_alloc(t, q, size, 0, site));
    q as *mut c_void
}

/// Memcheck's realloc: new block, copy, old one freed into the quarantine.
fn realloc_moving(t: &ThreadState, old: Held, size: usize, caller: Caller) -> *mut c_void {
    let q = alloc_tracked(t, size, Place::PLAIN, false, caller);
    if q.is_null() {
        return q; // realloc failed: the old block is still the program's
    }
    // SAFETY: both blocks are live and at least this long; they do not overlap.
    unsafe {
        core::ptr::copy_nonoverlapping(
            old.block.addr() as *const u8,
            q.cast::<u8>(),
            old.block.size().min(size),
        )
    };
    let mut release = [core::ptr::null_mut(); crate::quarantine::OUT_LEN];
    let n = t.book(|| {
        record_free(t, old.block.addr() as *mut c_void);
        t.quarantine
            .defer(old.raw as *mut c_void, old.block.size(), &mut release)
    });
    release[..n].iter().for_each(|&r| free_raw(r as usize));
    q
}

/// realloc of a tracked block outside the agent's watch (nested, or after the final report): the new
/// block stays tracked (so that `free` recognises it) but is not counted anywhere.
fn realloc_untracked(old: Held, size: usize) -> *mut c_void {
    let q = Place::PLAIN.alloc(size, false);
    if q == 0 {
        return core::ptr::null_mut();
    }
    let p = q + HEADER;
    if !live::prepare(p) {
        return untrack(q, old.block.size().min(size), size);
    }
    // SAFETY: both blocks are live and at least this long.
    unsafe {
        core::ptr::copy_nonoverlapping(
            old.block.addr() as *const u8,
            p as *mut u8,
            old.block.size().min(size),
        )
    };
    let block = live::Block::new(p, size, u32::MAX, 0);
    live::adopt(&block, 0);
    record_free_nested(old.block.addr() as *mut c_void);
    free_raw(old.raw);
    p as *mut c_void
}

/// The allocation `raw` holds `keep` bytes of a block at `raw + HEADER` that cannot be tracked: moves them
/// into an untracked block of `size` bytes and frees `raw`.
fn untrack(raw: usize, keep: usize, size: usize) -> *mut c_void {
    let q = real::malloc(size);
    if !q.is_null() {
        // SAFETY: raw + HEADER holds keep bytes; q is a fresh block of size >= keep.
        unsafe {
            core::ptr::copy_nonoverlapping((raw + HEADER) as *const u8, q.cast::<u8>(), keep)
        };
    }
    free_raw(raw);
    q
}

unsafe extern "C" fn reallocarray_body(
    p: *mut c_void,
    n: usize,
    size: usize,
    sp: usize,
    bp: usize,
) -> *mut c_void {
    match n.checked_mul(size) {
        Some(total) => realloc_body(p, total, sp, bp),
        None => {
            real::set_errno(libc::ENOMEM);
            core::ptr::null_mut()
        }
    }
}

unsafe extern "C" fn memalign_body(align: usize, size: usize, sp: usize, bp: usize) -> *mut c_void {
    if !align.is_power_of_two() {
        // glibc rounds a non-power-of-two alignment up to the next power of two.
        return memalign_body(align.checked_next_power_of_two().unwrap_or(0), size, sp, bp);
    }
    allocate(size, Place::aligned(align), false, Caller { sp, bp })
}

unsafe extern "C" fn aligned_alloc_body(
    align: usize,
    size: usize,
    sp: usize,
    bp: usize,
) -> *mut c_void {
    // glibc 2.36: any power of two is accepted; others fail with EINVAL.
    if !align.is_power_of_two() {
        real::set_errno(libc::EINVAL);
        return core::ptr::null_mut();
    }
    allocate(size, Place::aligned(align), false, Caller { sp, bp })
}

unsafe extern "C" fn posix_memalign_body(
    out: *mut *mut c_void,
    align: usize,
    size: usize,
    sp: usize,
    bp: usize,
) -> c_int {
    if !align.is_power_of_two() || align % core::mem::size_of::<*mut c_void>() != 0 {
        return libc::EINVAL;
    }
    let saved = real::errno();
    let p = allocate(size, Place::aligned(align), false, Caller { sp, bp });
    if p.is_null() {
        real::set_errno(saved);
        return libc::ENOMEM;
    }
    *out = p;
    0
}

/// A block of `size` bytes for C++'s plain `operator new`, called by `caller`.
pub fn plain_block(size: usize, caller: Caller) -> *mut c_void {
    allocate(size, Place::PLAIN, false, caller)
}

/// An aligned block for C++'s aligned `operator new` (`align` a power of two).
pub fn aligned_block(size: usize, align: usize, caller: Caller) -> *mut c_void {
    allocate(size, Place::aligned(align), false, caller)
}

const PAGE: usize = 4096;

unsafe extern "C" fn valloc_body(size: usize, sp: usize, bp: usize) -> *mut c_void {
    allocate(size, Place::aligned(PAGE), false, Caller { sp, bp })
}

unsafe extern "C" fn pvalloc_body(size: usize, sp: usize, bp: usize) -> *mut c_void {
    // pvalloc rounds the size up to whole pages (and 0 to one page), as glibc's does; the block is that
    // size (the program may use all of it), as Memcheck reports it.
    let Some(rounded) = size.max(1).checked_next_multiple_of(PAGE) else {
        real::set_errno(libc::ENOMEM);
        return core::ptr::null_mut();
    };
    allocate(rounded, Place::aligned(PAGE), false, Caller { sp, bp })
}
