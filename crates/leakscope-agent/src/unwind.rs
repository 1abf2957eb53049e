//! Stack capture: return addresses only, by DWARF CFI with a per-address rule cache.
//!
//! Most code is built without frame pointers, so each step needs the CFI row for its address. Evaluating CFI
//! is slow (hundreds of ns), but a program has few distinct return addresses, and on x86-64 almost every row
//! reduces to "CFA = RSP or RBP + k; RA at CFA-8; RBP saved at CFA+j or untouched". That reduced rule is
//! computed once per address (gimli, on a miss) and cached in a global direct-mapped table of packed words,
//! so a step costs a hash, two loads and a bounds check. Every memory read is bounded by the current
//! thread's stack, so a stale or wrong rule yields a short stack, never a fault.

use crate::modules::{self, Slice};
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU64, Ordering};
use gimli::{CfaRule, EhFrame, RegisterRule, UnwindContext, UnwindSection, X86_64};

pub const MAX_FRAMES: usize = 128;

/// Output buffer of a walk; only the first `n` (the returned count) entries are written.
pub type Frames = [MaybeUninit<usize>; MAX_FRAMES];

/// The written part of a walk's buffer.
pub fn written(frames: &Frames, n: usize) -> &[usize] {
    // SAFETY: walk initialised frames[..n]; MaybeUninit<usize> has usize's layout.
    unsafe { core::slice::from_raw_parts(frames.as_ptr().cast::<usize>(), n.min(MAX_FRAMES)) }
}

/// The registers an x86-64 unwind step needs.
#[derive(Clone, Copy, Debug)]
pub struct Regs {
    pub pc: usize,
    pub sp: usize,
    pub bp: usize,
}

/// A reduced CFI rule, packed into 64 bits (0 = "cannot unwind here").
/// bit 0 valid · bit 1 CFA from RBP · bit 2 RBP saved · bits 8..32 CFA offset (i24) ·
/// bits 32..48 RA offset from CFA (i16) · bits 48..64 RBP slot offset from CFA (i16).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Rule(u64);

impl Rule {
    const INVALID: Rule = Rule(0);

    fn new(cfa_rbp: bool, cfa_off: i64, ra_off: i64, rbp_off: Option<i64>) -> Rule {
        let fits = |v: i64, bits: u32| v >= -(1 << (bits - 1)) && v < (1 << (bits - 1));
        if !fits(cfa_off, 24) || !fits(ra_off, 16) || !rbp_off.is_none_or(|o| fits(o, 16)) {
            return Rule::INVALID;
        }
        let mut w = 1u64 | (cfa_rbp as u64) << 1 | (rbp_off.is_some() as u64) << 2;
        w |= ((cfa_off as u64) & 0xff_ffff) << 8;
        w |= ((ra_off as u64) & 0xffff) << 32;
        w |= ((rbp_off.unwrap_or(0) as u64) & 0xffff) << 48;
        Rule(w)
    }

    fn valid(self) -> bool {
        self.0 & 1 != 0
    }
    fn cfa_rbp(self) -> bool {
        self.0 & 2 != 0
    }
    fn rbp_saved(self) -> bool {
        self.0 & 4 != 0
    }
    fn cfa_off(self) -> isize {
        (((self.0 >> 8) as i32) << 8 >> 8) as isize
    }
    fn ra_off(self) -> isize {
        ((self.0 >> 32) as i16) as isize
    }
    fn rbp_off(self) -> isize {
        ((self.0 >> 48) as i16) as isize
    }
}

const CACHE_BITS: u32 = 16;
const CACHE_SIZE: usize = 1 << CACHE_BITS;

/// Direct-mapped cache of (address, rule) pairs, both words in one 16-byte entry so one cache line serves
/// the lookup. A racing writer can pair a key with another address's rule for a moment; the check bits
/// (from the address, kept in the otherwise unused bits 3..8 of the rule) make that vanishingly rare, and
/// bounded reads make it harmless.
#[repr(C, align(16))]
struct CacheEntry {
    key: AtomicU64,
    rule: AtomicU64,
}

static CACHE: [CacheEntry; CACHE_SIZE] = [const {
    CacheEntry {
        key: AtomicU64::new(0),
        rule: AtomicU64::new(0),
    }
}; CACHE_SIZE];

#[inline]
fn slot(addr: usize) -> usize {
    (addr ^ (addr >> CACHE_BITS)) & (CACHE_SIZE - 1)
}

#[inline]
fn check_bits(addr: usize) -> u64 {
    ((addr as u64 >> 20 ^ addr as u64 >> 40) & 0x1f) << 3
}

/// Cached rule for `addr`. `is_return` = addr is a return address (look up addr-1, inside the call).
#[inline]
fn rule_for(addr: usize, is_return: bool) -> Rule {
    // Return addresses and interrupted pcs of one address need different rows: tag the key's top bit.
    let key = addr | (is_return as usize) << 63;
    let e = &CACHE[slot(addr)];
    let k = e.key.load(Ordering::Acquire);
    let w = e.rule.load(Ordering::Relaxed);
    if k == key as u64 && w & 0xf8 == check_bits(addr) {
        return Rule(w & !0xf8);
    }
    let r = compute_rule(if is_return { addr - 1 } else { addr });
    e.rule.store(r.0 | check_bits(addr), Ordering::Relaxed);
    e.key.store(key as u64, Ordering::Release);
    r
}

#[cold]
fn compute_rule(pc: usize) -> Rule {
    let mut list = modules::current();
    if list.find(pc).is_none() {
        list = modules::refresh();
    }
    let Some(info) = list.find(pc).and_then(|m| m.unwind.as_ref()) else {
        return Rule::INVALID;
    };
    let mut ctx: UnwindContext<usize> = UnwindContext::new();
    let Ok(table) = info.hdr.table().ok_or(()) else {
        return Rule::INVALID;
    };
    let row = table.unwind_info_for_address(
        &info.eh_frame,
        &info.bases,
        &mut ctx,
        pc as u64,
        EhFrame::<Slice>::cie_from_offset,
    );
    let Ok(row) = row else { return Rule::INVALID };
    let (cfa_rbp, cfa_off) = match *row.cfa() {
        CfaRule::RegisterAndOffset { register, offset } if register == X86_64::RSP => {
            (false, offset)
        }
        CfaRule::RegisterAndOffset { register, offset } if register == X86_64::RBP => {
            (true, offset)
        }
        _ => return Rule::INVALID,
    };
    let ra_off = match row.register(X86_64::RA) {
        RegisterRule::Offset(o) => o,
        _ => return Rule::INVALID,
    };
    let rbp_off = match row.register(X86_64::RBP) {
        RegisterRule::Offset(o) => Some(o),
        RegisterRule::Undefined | RegisterRule::SameValue => None,
        _ => return Rule::INVALID,
    };
    Rule::new(cfa_rbp, cfa_off, ra_off, rbp_off)
}

/// Reads a word at `addr` if [addr, addr+8) lies within [lo, hi).
#[inline]
fn read_bounded(addr: isize, lo: usize, hi: usize) -> Option<usize> {
    let a = addr as usize;
    if addr < 0 || a < lo || a.checked_add(8)? > hi {
        return None;
    }
    // SAFETY: [a, a+8) is within the live part of this thread's stack.
    Some(unsafe { (a as *const usize).read() })
}

/// Rules a thread looked up last, in front of the global [`CACHE`]: a walk needs the rule of one or two
/// return addresses per allocation, and their lines in the 1 MiB global table are evicted by the program's
/// own data between two allocations (that load was an eighth of the walk's time on a C++ workload).
/// Direct-mapped by return address, (address, rule) side by side so that a lookup reads one cache line;
/// only this thread reads or writes it.
struct RuleFront {
    entries: [(usize, Rule); FRONT_SIZE],
}

const FRONT_BITS: u32 = 7;
const FRONT_SIZE: usize = 1 << FRONT_BITS;

impl RuleFront {
    const fn new() -> Self {
        RuleFront {
            entries: [(0, Rule::INVALID); FRONT_SIZE],
        }
    }

    /// The rule for the return address `ra`.
    #[inline]
    fn get(&mut self, ra: usize) -> Rule {
        let i = ((ra as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - FRONT_BITS)) as usize;
        let e = &mut self.entries[i];
        if e.0 == ra {
            return e.1;
        }
        *e = (ra, rule_for(ra, true));
        e.1
    }
}

/// One unwind step: the frame it found and the stack slots its result depends on.
#[derive(Clone, Copy)]
struct Step {
    cfa: usize,
    ra: usize,
    /// RBP after the step.
    bp: usize,
    ra_slot: usize,
    /// Where RBP was restored from (0: unchanged).
    bp_slot: usize,
    /// The step computed its CFA from RBP.
    used_bp: bool,
    emit: bool,
}

impl Step {
    const EMPTY: Step = Step {
        cfa: 0,
        ra: 0,
        bp: 0,
        ra_slot: 0,
        bp_slot: 0,
        used_bp: false,
        emit: false,
    };
}

/// Steps kept per thread: enough for MAX_FRAMES frames plus skipped agent frames.
pub const CACHE_STEPS: usize = MAX_FRAMES + 32;

/// The previous walk of this thread, outermost step first, with running hashes and frame counts.
///
/// Unwinding is a deterministic function of the registers at a step and of the stack slots each later step
/// reads. So when a new walk reaches a step with the same CFA, return address and RBP as a cached one, and
/// every slot the cached outer steps read still holds the value they read, the rest of the walk would repeat
/// the cached one exactly. Those checks are independent loads (the addresses are known), unlike a walk, whose
/// every step depends on the previous one: this is what makes deep stacks cheap.
pub struct WalkCache {
    n: usize,
    cfa: [usize; CACHE_STEPS],
    ra: [usize; CACHE_STEPS],
    bp: [usize; CACHE_STEPS],
    ra_slot: [usize; CACHE_STEPS],
    /// 0 when the step left RBP unchanged.
    bp_slot: [usize; CACHE_STEPS],
    used_bp: [bool; CACHE_STEPS],
    emit: [bool; CACHE_STEPS],
    /// Does the rest of the walk, outward of step i, read the RBP value step i left? Only then must a new
    /// walk's RBP match for its outer part to repeat: code without frame pointers keeps arbitrary values in
    /// RBP, so requiring it always would defeat the cache.
    bp_matters: [bool; CACHE_STEPS],
    /// Whether the step that ended the cached walk read RBP.
    end_used_bp: bool,
    /// Hash of the emitted return addresses from the outermost step through step i.
    hash: [u64; CACHE_STEPS],
    /// Number of emitted return addresses from the outermost step through step i.
    count: [u16; CACHE_STEPS],
    /// Lowest slot address read by steps 0..=i (they all lie above the stack pointer of step i).
    low_slot: [usize; CACHE_STEPS],
    /// The (slot, value) pairs a repeat of steps 0..=i depends on, in step order: `checks[..checked[i]]`.
    /// Each step's return-address slot, and its saved-RBP slot only where RBP matters further out (code
    /// without frame pointers saves RBP in most frames but no outer step reads it).
    checks: [(usize, usize); 2 * CACHE_STEPS],
    checked: [u16; CACHE_STEPS],
    /// The new walk's steps before they are spliced in (here rather than on the stack: 9 KiB of stack per
    /// allocation would crowd threads with small stacks).
    fresh: [Step; CACHE_STEPS],
    front: RuleFront,
}

impl WalkCache {
    pub const fn new() -> Self {
        WalkCache {
            n: 0,
            cfa: [0; CACHE_STEPS],
            ra: [0; CACHE_STEPS],
            bp: [0; CACHE_STEPS],
            ra_slot: [0; CACHE_STEPS],
            bp_slot: [0; CACHE_STEPS],
            used_bp: [true; CACHE_STEPS],
            emit: [false; CACHE_STEPS],
            bp_matters: [true; CACHE_STEPS],
            end_used_bp: true,
            hash: [0; CACHE_STEPS],
            count: [0; CACHE_STEPS],
            low_slot: [usize::MAX; CACHE_STEPS],
            checks: [(0, 0); 2 * CACHE_STEPS],
            checked: [0; CACHE_STEPS],
            fresh: [Step::EMPTY; CACHE_STEPS],
            front: RuleFront::new(),
        }
    }

    /// How many of the cached steps 0..upto, from the outermost, a new walk could keep: the largest
    /// `k <= upto` for which every slot that steps 0..k read still holds what they read. Slots of outer
    /// steps lie between this walk's stack pointer and the stack top (checked per step), so each check is
    /// one load, independent of the others.
    #[inline]
    fn valid_prefix(&self, mut upto: usize, lo: usize) -> usize {
        // low_slot only falls with the index: the steps whose slots all lie within this stack.
        while upto > 0 && self.low_slot[upto - 1] < lo {
            upto -= 1;
        }
        if upto == 0 {
            return 0;
        }
        let checks = &self.checks[..self.checked[upto - 1] as usize];
        // SAFETY: every slot of steps 0..upto lies in [low_slot, stack top) of this live stack.
        let holds =
            |&(slot, value): &(usize, usize)| unsafe { (slot as *const usize).read() == value };
        // Usually all hold: test them without a branch per check (an early exit cost deep's ~80-frame walks
        // 50 instructions more), and find the first that does not only when one does not.
        if checks.iter().fold(true, |ok, c| ok & holds(c)) {
            return upto;
        }
        let bad = checks
            .iter()
            .position(|c| !holds(c))
            .unwrap_or(checks.len());
        // The steps whose checks all come before the failing one.
        self.checked[..upto].partition_point(|&end| end as usize <= bad)
    }

    /// Replaces the steps inner to `keep` (exclusive) with the first `k` fresh steps (innermost first).
    /// `end_used_bp` is for a walk replaced whole (keep = 0): whether the step that ended it read RBP.
    /// When the result would not fit, the outermost cached steps are dropped: the innermost frames are the
    /// ones a stack is reported with.
    fn splice(&mut self, mut keep: usize, k: usize, end_used_bp: bool) {
        if keep == 0 {
            self.end_used_bp = end_used_bp;
        }
        if keep + k > CACHE_STEPS {
            let drop = (keep + k - CACHE_STEPS).min(keep);
            // The cache now begins part-way up the stack: nothing is known of what lies beyond it.
            self.end_used_bp = true;
            for i in 0..keep - drop {
                let s = self.step(i + drop);
                self.place(i, s);
            }
            keep -= drop;
        }
        for (i, f) in (keep..CACHE_STEPS).zip((0..k).rev()) {
            let s = self.fresh[f];
            self.place(i, s);
        }
        self.n = (keep + k).min(CACHE_STEPS);
    }

    /// Cached step i as a Step.
    fn step(&self, i: usize) -> Step {
        Step {
            cfa: self.cfa[i],
            ra: self.ra[i],
            bp: self.bp[i],
            ra_slot: self.ra_slot[i],
            bp_slot: self.bp_slot[i],
            used_bp: self.used_bp[i],
            emit: self.emit[i],
        }
    }

    /// Stores step `s` at index i (steps 0..i already in place) with the running values that depend on the
    /// steps outward of it.
    fn place(&mut self, i: usize, s: Step) {
        // Step i's RBP is read further out if step i-1 bases its CFA on it, or leaves RBP alone and
        // something beyond it reads it.
        self.bp_matters[i] = if i == 0 {
            self.end_used_bp
        } else {
            self.used_bp[i - 1] || (self.bp_slot[i - 1] == 0 && self.bp_matters[i - 1])
        };
        self.used_bp[i] = s.used_bp;
        self.cfa[i] = s.cfa;
        self.ra[i] = s.ra;
        self.bp[i] = s.bp;
        self.ra_slot[i] = s.ra_slot;
        self.bp_slot[i] = s.bp_slot;
        self.emit[i] = s.emit;
        let (h, c, low) = if i == 0 {
            (SEED, 0, usize::MAX)
        } else {
            (self.hash[i - 1], self.count[i - 1], self.low_slot[i - 1])
        };
        self.hash[i] = if s.emit { mix(h, s.ra) } else { h };
        self.count[i] = c + s.emit as u16;
        let mine = if s.bp_slot == 0 {
            s.ra_slot
        } else {
            s.ra_slot.min(s.bp_slot)
        };
        self.low_slot[i] = low.min(mine);
        // A saved RBP nothing outward reads cannot change the rest of the walk (nor a later match, which
        // compares RBP only where it matters).
        let mut n = if i == 0 {
            0
        } else {
            self.checked[i - 1] as usize
        };
        self.checks[n] = (s.ra_slot, s.ra);
        n += 1;
        if s.bp_slot != 0 && self.bp_matters[i] {
            self.checks[n] = (s.bp_slot, s.bp);
            n += 1;
        }
        self.checked[i] = n as u16;
    }
}

const SEED: u64 = 0x243F_6A88_85A3_08D3;

#[inline]
fn mix(h: u64, ra: usize) -> u64 {
    (h.rotate_left(5) ^ ra as u64).wrapping_mul(0x517c_c1b7_2722_0a95)
}

/// Hash of a stack (innermost first), folded from the outermost frame: the same function the walk cache
/// maintains incrementally.
pub fn hash_frames(frames: &[usize]) -> u64 {
    frames.iter().rev().fold(SEED, |h, &f| mix(h, f)) | 1
}

/// One step of the unwinder from `regs` with `rule`, the rule of `regs.pc`. Where the walk ends:
/// Err(whether that outcome depended on RBP).
#[inline]
fn step(regs: &mut Regs, rule: Rule, lo: usize, hi: usize) -> Result<Step, bool> {
    if !rule.valid() {
        return Err(false);
    }
    let used_bp = rule.cfa_rbp();
    let base = if used_bp { regs.bp } else { regs.sp };
    let cfa = base as isize + rule.cfa_off();
    if cfa as usize <= regs.sp || cfa as usize > hi {
        return Err(used_bp);
    }
    let ra_slot = cfa + rule.ra_off();
    let ra = read_bounded(ra_slot, lo, hi).ok_or(used_bp)?;
    let mut bp_slot = 0;
    if rule.rbp_saved() {
        bp_slot = (cfa + rule.rbp_off()) as usize;
        regs.bp = read_bounded(bp_slot as isize, lo, hi).ok_or(used_bp)?;
    }
    regs.sp = cfa as usize;
    regs.pc = ra;
    if ra < 4096 {
        return Err(used_bp);
    }
    Ok(Step {
        cfa: cfa as usize,
        ra,
        bp: regs.bp,
        ra_slot: ra_slot as usize,
        bp_slot,
        used_bp,
        emit: true,
    })
}

/// Walks the stack from `regs` (whose `pc` is a current instruction, not a return address) up to `stack_hi`,
/// writing return addresses into `out` (innermost first); frames for which `skip(pc)` is true are left out.
/// The reference walk: every step from scratch. Returns the number of frames written and the stack's hash.
pub fn walk(
    mut regs: Regs,
    stack_hi: usize,
    out: &mut Frames,
    skip: impl Fn(usize) -> bool,
) -> (usize, u64) {
    let lo = regs.sp;
    let mut n = 0;
    let mut is_return = false;
    while n < MAX_FRAMES {
        let rule = rule_for(regs.pc, is_return);
        let Ok(s) = step(&mut regs, rule, lo, stack_hi) else {
            break;
        };
        is_return = true;
        if !skip(s.ra) {
            out[n] = MaybeUninit::new(s.ra);
            n += 1;
        }
    }
    (n, hash_frames(written(out, n)))
}

/// Where a function was called from: the stack pointer at its entry (pointing at its return address) and
/// RBP then (callee-saved, so still the caller's).
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    pub sp: usize,
    pub bp: usize,
}

/// The walk of the stack of the function `caller` called (an allocation function, at its entry), into the
/// thread's cache: it reuses the previous walk's outer part once that provably repeats, and leaves the stack
/// in the cache ([`WalkCache::emit`] writes it out). Returns the number of frames `emit` will write and
/// their hash, so that a caller who knows the stack by its hash need not copy it. Frames for which
/// `skip(pc)` is true are left out.
pub fn walk_cached(
    caller: Caller,
    stack_hi: usize,
    skip: impl Fn(usize) -> bool,
    c: &mut WalkCache,
) -> (usize, u64) {
    let lo = caller.sp;
    let mut k = 0;
    // Cached steps are outermost-first, so their CFAs decrease with the index; `j` tracks the innermost
    // cached step whose CFA is not below the current one.
    let mut j = c.n;
    let mut end_used_bp = false;
    // Cached steps 0..valid read slots that still hold their values, so a repeat may keep them; found at
    // the first candidate (usize::MAX until then). Later candidates lie further out, within what it
    // checked: so every check is read at most once per walk (testing each candidate anew made walks
    // quadratic in depth where stacks differ near the outermost frame), and where the outer part changed,
    // the bound rejects the remaining candidates by a branch that predicts well.
    let mut valid = usize::MAX;
    // The first step is known without CFI: at entry, the return address is at the stack pointer.
    let mut regs = Regs {
        pc: 0,
        sp: caller.sp,
        bp: caller.bp,
    };
    let mut first = read_bounded(caller.sp as isize, lo, stack_hi).map(|ra| Step {
        cfa: caller.sp + 8,
        ra,
        bp: caller.bp,
        ra_slot: caller.sp,
        bp_slot: 0,
        used_bp: false,
        emit: true,
    });
    if let Some(s) = first {
        regs.pc = s.ra;
        regs.sp = s.cfa;
    }
    while k < CACHE_STEPS {
        let next = match first.take() {
            Some(s) => Ok(s),
            None if k == 0 => Err(false),
            None => {
                let rule = c.front.get(regs.pc);
                step(&mut regs, rule, lo, stack_hi)
            }
        };
        let mut s = match next {
            Ok(s) => s,
            Err(used_bp) => {
                end_used_bp = used_bp;
                break;
            }
        };
        s.emit = !skip(s.ra);
        while j > 0 && c.cfa[j - 1] < s.cfa {
            j -= 1;
        }
        let m = j.wrapping_sub(1);
        if j > 0
            && m <= valid
            && c.cfa[m] == s.cfa
            && c.ra[m] == s.ra
            && (c.bp[m] == s.bp || !c.bp_matters[m])
            && {
                if valid == usize::MAX {
                    valid = c.valid_prefix(m, lo);
                }
                m <= valid
            }
        {
            c.splice(m + 1, k, false);
            return c.summary();
        }
        c.fresh[k] = s;
        k += 1;
    }
    c.splice(0, k, end_used_bp);
    c.summary()
}

impl WalkCache {
    /// Writes the cached stack's frames (innermost first, at most MAX_FRAMES) into `out`; returns how many.
    pub fn emit(&self, out: &mut Frames) -> usize {
        let mut n = 0;
        for i in (0..self.n).rev().filter(|&i| self.emit[i]) {
            if n == MAX_FRAMES {
                break;
            }
            out[n] = MaybeUninit::new(self.ra[i]);
            n += 1;
        }
        n
    }

    /// (frames, hash) of what [`WalkCache::emit`] writes.
    fn summary(&self) -> (usize, u64) {
        let n = if self.n == 0 {
            0
        } else {
            self.count[self.n - 1] as usize
        };
        if n <= MAX_FRAMES {
            let h = if self.n == 0 {
                SEED
            } else {
                self.hash[self.n - 1]
            };
            return (n, h | 1);
        }
        self.deep_summary()
    }

    /// Deeper than we keep: the hash must cover exactly the innermost frames `emit` returns.
    #[cold]
    #[inline(never)]
    fn deep_summary(&self) -> (usize, u64) {
        let mut out: Frames = [const { MaybeUninit::uninit() }; MAX_FRAMES];
        let n = self.emit(&mut out);
        (n, hash_frames(written(&out, n)))
    }
}

/// The registers at the caller of this function (its frame stays alive, and is described by CFI, while the
/// walk reads above it; agent frames are dropped by the walk's `skip`).
#[inline(always)]
fn here() -> Regs {
    let (pc, sp, bp): (usize, usize, usize);
    // SAFETY: reads three registers; touches no memory, stack or flags.
    unsafe {
        core::arch::asm!(
            "lea {pc}, [rip]",
            "mov {sp}, rsp",
            "mov {bp}, rbp",
            pc = out(reg) pc, sp = out(reg) sp, bp = out(reg) bp,
            options(nomem, nostack, preserves_flags)
        );
    }
    Regs { pc, sp, bp }
}

/// Walks the stack from here with the reference walk (see [`walk`]). Never inlined, so that the registers
/// it reads belong to a frame that stays alive during the walk.
#[inline(never)]
pub fn capture(stack_hi: usize, out: &mut Frames, skip: impl Fn(usize) -> bool) -> (usize, u64) {
    walk(here(), stack_hi, out, skip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_packing_roundtrips() {
        let r = Rule::new(true, -40000, -8, Some(-16));
        assert!(r.valid() && r.cfa_rbp() && r.rbp_saved());
        assert_eq!((r.cfa_off(), r.ra_off(), r.rbp_off()), (-40000, -8, -16));
        let r = Rule::new(false, 8, -8, None);
        assert!(r.valid() && !r.cfa_rbp() && !r.rbp_saved());
        assert_eq!((r.cfa_off(), r.ra_off()), (8, -8));
        assert_eq!(Rule::new(false, 1 << 30, -8, None), Rule::INVALID);
        assert_eq!(r.0 & 0xf8, 0, "check bits must stay free");
    }
}
