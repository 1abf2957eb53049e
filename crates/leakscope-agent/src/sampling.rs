//! Sampled recording (`--sample-rate BYTES`): Poisson sampling by bytes, as tcmalloc, jemalloc and
//! heapprofd do.
//!
//! Each thread counts down an exponentially distributed number of bytes (mean R); the allocation that
//! crosses zero is sampled — its stack is captured — and the countdown restarts. A block of size s is thus
//! sampled with probability p(s) = 1 − e^(−s/R), and weighting each sampled block by 1/p(s) gives unbiased
//! estimates of bytes and blocks per site. Blocks of 64 KiB or more are always recorded, with weight 1.
//! Every block, sampled or not, is scanned (in light mode, [`crate::light`], the unsampled ones are found
//! in glibc's heap); only stacks are sampled.

use core::cell::Cell;
use core::sync::atomic::{AtomicU64, Ordering};

/// Natural logarithm for x > 0 (relative error below 1e-9 over the doubles we use).
pub fn ln(x: f64) -> f64 {
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let m = f64::from_bits((bits & ((1 << 52) - 1)) | (1023 << 52)); // mantissa in [1, 2)
                                                                     // ln(m) = 2 atanh(t), t = (m-1)/(m+1) in [0, 1/3)
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let mut term = t;
    let mut sum = 0.0;
    for k in 0..12 {
        sum += term / (2 * k + 1) as f64;
        term *= t2;
    }
    exp as f64 * core::f64::consts::LN_2 + 2.0 * sum
}

/// e^x for x ≤ 0 (what sampling needs), by halving and a Taylor series.
pub fn exp_neg(x: f64) -> f64 {
    if x < -700.0 {
        return 0.0;
    }
    // e^x = (e^(x/2^k))^(2^k) with |x/2^k| < 1/16
    let mut k = 0;
    let mut y = x;
    while y < -0.0625 {
        y *= 0.5;
        k += 1;
    }
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 1..14 {
        term *= y / n as f64;
        sum += term;
    }
    for _ in 0..k {
        sum *= sum;
    }
    sum
}

/// Probability that a block of `size` bytes is sampled at mean rate `rate`.
pub fn probability(size: usize, rate: u64) -> f64 {
    1.0 - exp_neg(-(size.max(1) as f64) / rate as f64)
}

/// Whether a block of `size` bytes is always recorded, outside the countdown: 64 KiB or more (less if the
/// program lowered glibc's mmap threshold, see [`crate::light::ALWAYS`]).
#[inline]
pub fn always(size: usize) -> bool {
    size >= crate::light::ALWAYS.load(core::sync::atomic::Ordering::Relaxed)
}

/// Estimated (bytes, blocks) that one sampled block of `size` stands for. Blocks that are [`always`]
/// recorded stand for themselves.
pub fn weight(size: usize, rate: u64) -> (u64, u64) {
    if always(size) {
        return (size as u64, 1);
    }
    let p = probability(size, rate);
    ((size as f64 / p + 0.5) as u64, (1.0 / p + 0.5) as u64)
}

/// A thread's countdown and random state.
pub struct Sampler {
    left: Cell<i64>,
    rng: Cell<u64>,
}

impl Sampler {
    pub const fn new() -> Self {
        Sampler {
            left: Cell::new(0),
            rng: Cell::new(0),
        }
    }

    /// Counts `size` bytes down; true if this allocation is sampled.
    #[inline]
    pub fn take(&self, size: usize, rate: u64) -> bool {
        let left = self.left.get() - size as i64;
        if left > 0 {
            self.left.set(left);
            return false;
        }
        let gap = self.next_gap(rate);
        self.left.set(gap);
        true
    }

    /// An exponentially distributed gap with mean `rate` bytes.
    pub fn next_gap(&self, rate: u64) -> i64 {
        let mut x = self.rng.get();
        if x == 0 {
            // Seed per thread: the state's address and the clock differ between threads and runs.
            x = (self as *const Sampler as u64)
                ^ crate::world::monotonic_ns()
                ^ 0x9E37_79B9_7F4A_7C15;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        exponential(x.wrapping_mul(0x2545_F491_4F6C_DD1D), rate)
    }
}

/// An exponentially distributed gap with mean `rate` bytes, from 64 random bits.
fn exponential(bits: u64, rate: u64) -> i64 {
    let u = ((bits >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    (-ln(u) * rate as f64) as i64 + 1
}

/// State of [`shared_gap`]'s generator (splitmix64: a counter, mixed).
static SHARED: AtomicU64 = AtomicU64::new(0);

/// [`Sampler::next_gap`] from one generator for the whole process, so that a thread needs no state of its
/// own to count down: light mode draws a gap once per sample and once per thread, and building a
/// thread's state (344 KB, most of it written) on its first call cost a program of short-lived threads a
/// fifth of its time. One locked add per sample (every 512 KiB) is nothing.
pub fn shared_gap(rate: u64) -> i64 {
    const STEP: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut x = SHARED.fetch_add(STEP, Ordering::Relaxed);
    if x == 0 {
        // Seed once per process (the clock differs between runs); racing seeds are as good.
        x = crate::world::monotonic_ns() | 1;
        SHARED.store(x.wrapping_add(STEP), Ordering::Relaxed);
    }
    let mut z = x.wrapping_add(STEP);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    exponential(z ^ (z >> 31), rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn math_matches_std() {
        for &x in &[1e-12, 0.001, 0.5, 1.0, 1.5, 2.0, 10.0, 12345.678, 1e18] {
            assert!(
                (ln(x) - x.ln()).abs() < 1e-9 * x.ln().abs().max(1.0),
                "ln({x})"
            );
        }
        for &x in &[0.0, -1e-6, -0.1, -1.0, -5.0, -30.0, -300.0] {
            let rel = (exp_neg(x) - x.exp()).abs() / x.exp();
            assert!(rel < 1e-9, "exp({x}): {} vs {}", exp_neg(x), x.exp());
        }
    }

    #[test]
    fn gaps_have_the_right_mean_and_estimates_are_unbiased() {
        let s = Sampler::new();
        let rate = 4096;
        let n = 200_000;
        let mean = (0..n).map(|_| s.next_gap(rate) as f64).sum::<f64>() / n as f64;
        assert!(
            (mean - rate as f64).abs() < rate as f64 * 0.02,
            "mean gap {mean}"
        );
        // 64-byte blocks: the weighted count of the sampled ones estimates how many there were.
        let (mut est, total) = (0u64, 400_000u64);
        for _ in 0..total {
            if s.take(64, rate) {
                est += weight(64, rate).0;
            }
        }
        let truth = total * 64;
        let err = (est as f64 - truth as f64).abs() / truth as f64;
        assert!(err < 0.05, "estimate {est} vs {truth}");
    }

    #[test]
    fn shared_gaps_are_exponential() {
        let (rate, n) = (4096u64, 200_000);
        let gaps: Vec<f64> = (0..n).map(|_| shared_gap(rate) as f64).collect();
        let mean = gaps.iter().sum::<f64>() / n as f64;
        let var = gaps.iter().map(|g| (g - mean) * (g - mean)).sum::<f64>() / n as f64;
        // Exponential: the standard deviation equals the mean.
        assert!(
            (mean - rate as f64).abs() < rate as f64 * 0.02,
            "mean {mean}"
        );
        assert!(
            (var.sqrt() - mean).abs() < mean * 0.03,
            "sd {} vs mean {mean}",
            var.sqrt()
        );
    }
}
