//! How old each site's live blocks are: a histogram of birth ticks per site, computed by walking the live
//! blocks (in the snapshot thread, or in the exit report), never on the allocation path.
//!
//! A block's birth tick is the snapshot tick current when it was allocated, kept modulo 2^20 in its
//! header; it is unwrapped against the current tick (blocks older than 2^20 ticks alias to younger
//! ones). Buckets are `width` ticks wide, `width` the smallest power of two that covers ticks 0..=now in at
//! most [`BUCKETS`] buckets, so the record stays small however long the program has run.

use crate::live::{self, BIRTH_MASK};
use crate::state::{self, TICK};
use crate::writer;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use leakscope_trace::{Ages, AgesTrigger, Record, SiteAges};

const BUCKETS: usize = 32;

/// Smallest power of two `w` with `now < BUCKETS * w`.
fn width_for(now: u64) -> u64 {
    let mut w = 1u64;
    while now >= BUCKETS as u64 * w {
        w *= 2;
    }
    w
}

/// Full birth tick of a block whose entry holds `birth` (mod 2^20), given the current tick.
fn unwrap_birth(now: u32, birth: u32) -> u64 {
    let age = now.wrapping_sub(birth) & BIRTH_MASK;
    u64::from(now.wrapping_sub(age))
}

/// Writes one Ages record for every site that has live `blocks` (a list taken with the world stopped).
pub fn emit(trigger: AgesTrigger, blocks: &[live::Block]) {
    emit_with(trigger, |f| blocks.iter().for_each(f));
}

/// Writes a periodic Ages record from the snapshot thread, while the program runs.
pub fn emit_periodic() {
    emit_with(AgesTrigger::Periodic, |f| live::for_each_running(f));
}

fn emit_with(trigger: AgesTrigger, each: impl FnOnce(&mut dyn FnMut(&live::Block))) {
    let now = TICK.load(Ordering::Relaxed);
    let width = width_for(now.into());
    // site id → index in `hist` (u32::MAX: none yet).
    let mut slot_of: Vec<u32> = Vec::new();
    let mut hist: Vec<(u32, [(u64, u64); BUCKETS])> = Vec::new();
    each(&mut |b| {
        if b.site() == u32::MAX || state::is_unsampled(b.site()) {
            return;
        }
        let id = b.site() as usize;
        if slot_of.len() <= id {
            slot_of.resize(id + 1, u32::MAX);
        }
        if slot_of[id] == u32::MAX {
            slot_of[id] = hist.len() as u32;
            hist.push((b.site(), [(0, 0); BUCKETS]));
        }
        let bucket = (unwrap_birth(now, b.birth()) / width).min(BUCKETS as u64 - 1) as usize;
        let cell = &mut hist[slot_of[id] as usize].1[bucket];
        cell.0 += b.size() as u64;
        cell.1 += 1;
    });
    drop(slot_of);
    let sites: Vec<SiteAges> = hist
        .into_iter()
        .map(|(stack, h)| SiteAges {
            stack,
            buckets: h
                .iter()
                .enumerate()
                .filter(|(_, c)| c.1 > 0)
                .map(|(i, &(bytes, blocks))| (i as u32, bytes, blocks))
                .collect(),
        })
        .collect();
    // Checks and the exit always write theirs (`leakscope check` waits for it); periodic ones only when
    // there is something to say.
    if sites.is_empty() && trigger == AgesTrigger::Periodic {
        return;
    }
    writer::define_sites(sites.iter().map(|s| s.stack));
    writer::emit(&Record::Ages(Ages {
        trigger,
        time_ns: crate::uptime_ns(),
        tick: now.into(),
        width,
        sites,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_and_unwrapping() {
        assert_eq!(width_for(0), 1);
        assert_eq!(width_for(31), 1);
        assert_eq!(width_for(32), 2);
        assert_eq!(width_for(1000), 32);
        assert_eq!(unwrap_birth(5, 5), 5);
        assert_eq!(unwrap_birth(5, 0), 0);
        // Born at tick 2^20 - 3 (stored mod 2^20), now 2^20 + 4.
        assert_eq!(
            unwrap_birth((1 << 20) + 4, ((1 << 20) - 3) & BIRTH_MASK),
            (1 << 20) - 3
        );
    }
}
