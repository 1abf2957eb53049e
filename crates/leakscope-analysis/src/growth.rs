//! Growth verdicts: is an allocation site's live heap growing without bound, saturating (a bounded working
//! set that filled up, such as an LRU cache), or stable?
//!
//! Input: the site's live bytes at each snapshot (binned to at most [`MAX_POINTS`] points by averaging, so a
//! week-long trace costs the same as a minute). Two robust tools do the work:
//!
//! - the **Theil–Sen** slope (median of the pairwise slopes), which a start-up burst or a few outliers do
//!   not move, gives the rate in bytes/s;
//! - the **Mann–Kendall** test (with the correction for ties) says whether a rise is a trend or noise.
//!
//! A leak is growth that is *still going on*. A site is **growing** when
//!
//! 1. the whole series rose: Mann–Kendall one-sided p < [`ALPHA`] ([`SHORT_ALPHA`] for a series that
//!    never falls, which lets 5 snapshots of a steady leak count), a positive Theil–Sen slope, at least 3
//!    rises between snapshots, and the rise is a trend rather than a wandering level: its [`efficiency`]
//!    (net change over the path travelled) is at least [`CLEAN`], or at least [`MIN_EFFICIENCY`] with a
//!    rise over the run of at least 5% of the live bytes (a working set whose members are replaced slowly
//!    wanders like a random walk, with an efficiency near 1/3 and a small relative change); and
//! 2. the rise goes on in the **tail** (the last third, at least 8 points): the tail's net rise (mean of its
//!    last quarter minus mean of its first) is at least a third of what the whole series' rate predicts for
//!    that time, and either more than 3 standard deviations of the snapshot-to-snapshot noise (robust, from
//!    the first differences, so a staircase of rare leaked blocks has none) or significant on its own
//!    (Mann–Kendall p < [`TAIL_ALPHA`]); and it is a trend of its own: almost monotone (efficiency at least
//!    [`CLEAN`]), or a rise of at least 5% of the live bytes in both the tail and the window of as many
//!    points before it (each Mann–Kendall p < 0.05, the tail's slope at least a third of the window's): a
//!    cache that filled up and then wanders around its bound may wander up in one window, rarely in two in
//!    a row. A cache that filled up and stayed flat fails here.
//!
//! A site that is not growing and whose tail does not still rise (point 2), but whose tail level is well above its level at the first snapshot (by more than 4 robust
//! deviations of the tail's values and 10% of the level) filled up during the run: **saturating**; so is a
//! site that holds a working set of at least [`MIN_SET`] blocks whose members keep being replaced (it
//! allocated at least as many blocks during the tail as it holds) at a bounded level — a cache that filled
//! before the first snapshot. Anything else — flat, noisy around a level, shrinking, transient buffers — is
//! **stable**.
//!
//! Confidence: for growing, 1 − p of the whole series' trend test, scaled down when the tail rose by less
//! than two thirds of the expected amount; for saturating and stable, how little the tail (of the bytes or,
//! for saturating, of the block count) or the whole series looks like rising (min(1, 2p)), scaled by the rise's size over the noise (saturating)
//! and, for short series, by the number of points (n/10).

/// Series longer than this are averaged into this many bins.
pub const MAX_POINTS: usize = 90;
/// One-sided significance level of the growing test.
pub const ALPHA: f64 = 0.005;
/// One-sided significance level of the growing test for a series that never falls.
pub const SHORT_ALPHA: f64 = 0.05;
/// One-sided significance level of the tail's own trend test, when its rise is within 3 deviations of the
/// snapshot-to-snapshot noise (that noise is also the randomness of the leak's own steps).
pub const TAIL_ALPHA: f64 = 0.01;
/// Seconds in a day, for the projection.
const DAY: f64 = 86_400.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Growing,
    Saturating,
    Stable,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Self::Growing => "growing",
            Self::Saturating => "saturating",
            Self::Stable => "stable",
        }
    }
}

/// The verdict on one series and the numbers behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Growth {
    pub verdict: Verdict,
    /// Current growth rate (Theil–Sen slope of the tail), bytes per second.
    pub bytes_per_sec: f64,
    /// 0..1.
    pub confidence: f64,
    /// Growing sites: the live bytes after 24 more hours at the current rate.
    pub projected_24h: Option<f64>,
    /// Points the verdict was made from.
    pub points: usize,
}

impl Growth {
    /// Too few points for any verdict: stable, with no confidence.
    pub fn unknown(points: usize) -> Growth {
        Growth {
            verdict: Verdict::Stable,
            bytes_per_sec: 0.0,
            confidence: 0.0,
            projected_24h: None,
            points,
        }
    }
}

/// What else is known of the site over the tail of the series.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Turnover {
    /// Median live blocks over the tail.
    pub live_blocks: f64,
    /// Blocks the site allocated during the tail.
    pub allocs: f64,
    /// Mann–Kendall p-value of an upward trend in the tail's live block count (0 when unknown): a bounded
    /// number of blocks whose sizes vary is still a bounded working set.
    pub blocks_p_up: f64,
}

impl Turnover {
    /// A working set whose members keep being replaced: at least [`MIN_SET`] blocks, and at least as many
    /// allocated during the tail as are live.
    fn replaced(&self) -> bool {
        self.live_blocks >= MIN_SET && self.allocs >= self.live_blocks
    }
}

/// Live blocks a site must hold for its turnover to make it a working set (fewer: transient buffers).
pub const MIN_SET: f64 = 8.0;

/// Classifies a series of (seconds, live bytes) points in time order. `now` is the site's live bytes at the
/// end (the base of the 24 h projection).
pub fn classify(t: &[f64], y: &[f64], now: f64, turnover: Turnover) -> Growth {
    let n = t.len().min(y.len());
    let (t, y) = (&t[..n], &y[..n]);
    if n < 5 || t[n - 1] <= t[0] {
        return Growth::unknown(n);
    }
    let few = (n as f64 / 10.0).min(1.0);
    let flat = |p: f64| (2.0 * p).min(1.0);
    let span = t[n - 1] - t[0];
    // The whole series: did it rise, as a trend rather than a wandering level?
    let slope_all = theil_sen(t, y);
    let p_all = mann_kendall_up(y);
    let eff = efficiency(y);
    let steps_up = y.windows(2).filter(|w| w[1] > w[0]).count();
    let level_end = y[n - 1].abs().max(1.0);
    // A series that only ever rises is a trend at a looser level: 5 rising points are the most a short
    // run can show (p = 0.014).
    let monotone = y.windows(2).all(|w| w[1] >= w[0]);
    let alpha = if monotone { SHORT_ALPHA } else { ALPHA };
    let rose = p_all < alpha
        && slope_all > 0.0
        && steps_up >= 3
        && (eff >= CLEAN || (eff >= MIN_EFFICIENCY && slope_all * span >= 0.05 * level_end));
    // The tail: is the rise still going on?
    let even = evenly_spaced(t);
    let tail_len = tail_of(t, even).min(n);
    let (tt, ty) = (&t[n - tail_len..], &y[n - tail_len..]);
    let tail_span = tt[tail_len - 1] - tt[0];
    let ends = (tail_len / 3).max(1);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    // For a straight line this is the rise over the whole tail (the ends' centres are 2/3 of it apart).
    let tail_rise = (mean(&ty[tail_len - ends..]) - mean(&ty[..ends])) * (tail_len - 1) as f64
        / (tail_len - ends) as f64;
    let expected = slope_all * tail_span;
    let step_noise = diff_noise(ty);
    let p_tail = mann_kendall_up(ty);
    // A tail that rises almost monotonically is growth of its own. Any other must rise by 5% of the live
    // bytes, and so must the window before it, at a comparable rate: a cache that filled up and then
    // wanders around its bound may wander up in one window, rarely in two in a row.
    // The window before the tail: as many points, or as long in time when they are not evenly spaced.
    let before = &t[..n - tail_len];
    let mid_len = if before.is_empty() || even {
        tail_len.min(before.len())
    } else {
        last_span(before, t[n - 1] - t[n - tail_len]).min(before.len())
    };
    let (mt, my) = (
        &t[n - tail_len - mid_len..n - tail_len],
        &y[n - tail_len - mid_len..n - tail_len],
    );
    let slope_tail = theil_sen(tt, ty);
    let slope_mid = if mid_len >= 4 { theil_sen(mt, my) } else { 0.0 };
    let own_trend = efficiency(ty) >= CLEAN
        || (tail_rise >= 0.05 * ty[tail_len - 1].abs()
            && mid_len >= 4
            && mann_kendall_up(my) < 0.1
            && p_tail < 0.05
            && slope_mid > 0.0
            && slope_tail >= 0.33 * slope_mid);
    let still = expected > 0.0
        && tail_rise >= 0.33 * expected
        && (tail_rise > 3.0 * step_noise || p_tail < TAIL_ALPHA)
        && own_trend;
    if rose && still {
        // The current rate: that of the second half of the run (in time).
        let h = if even {
            n / 2
        } else {
            n - last_span(t, span / 2.0).max(2)
        };
        let slope_half = theil_sen(&t[h..], &y[h..]);
        let rate = if slope_half > 0.0 {
            slope_half
        } else {
            slope_all
        };
        return Growth {
            verdict: Verdict::Growing,
            bytes_per_sec: rate,
            confidence: ((1.0 - p_all) * (tail_rise / (0.66 * expected)).min(1.0)).clamp(0.0, 1.0),
            projected_24h: Some(now.max(0.0) + rate * DAY),
            points: n,
        };
    }
    let level = median(ty.to_vec());
    let spread = 1.4826 * median(ty.iter().map(|v| (v - level).abs()).collect());
    let rise = level - y[0];
    // Rising until the end is not saturating, even when it is too short or noisy to call growing.
    let filled = rise > 4.0 * spread && rise > 0.1 * level.abs() && rise > 0.0 && !still;
    if filled || (turnover.replaced() && level > 0.0 && !still) {
        let size = if filled && spread > 0.0 {
            (rise / (8.0 * spread)).min(1.0)
        } else {
            1.0
        };
        return Growth {
            verdict: Verdict::Saturating,
            bytes_per_sec: slope_tail,
            confidence: flat(p_tail).max(flat(turnover.blocks_p_up)) * size * few,
            projected_24h: None,
            points: n,
        };
    }
    Growth {
        verdict: Verdict::Stable,
        bytes_per_sec: slope_tail,
        confidence: flat(p_all).min(flat(p_tail)) * few,
        projected_24h: None,
        points: n,
    }
}

/// Points in the tail of a series at times `t`: its last third, at least 8 (about half of a short series).
/// By time when the points are not evenly spaced (a fine start, then the interval).
pub fn tail_len(t: &[f64]) -> usize {
    tail_of(t, evenly_spaced(t))
}

/// [`tail_len`], told whether `t` is [`evenly_spaced`].
fn tail_of(t: &[f64], even: bool) -> usize {
    let n = t.len();
    if n < 9 {
        n / 2 + 1
    } else if even {
        (n / 3).max(8)
    } else {
        last_span(t, (t[n - 1] - t[0]) / 3.0).max(8)
    }
}

/// Whether the points are about evenly spaced in time: the last third of the time holds about a third of
/// them.
fn evenly_spaced(t: &[f64]) -> bool {
    let n = t.len();
    if n < 2 {
        return true;
    }
    let by_time = last_span(t, (t[n - 1] - t[0]) / 3.0) as f64;
    (0.75..=1.34).contains(&(by_time / (n as f64 / 3.0)))
}

/// Points of `t` (increasing) in the last `span` of time before its end.
fn last_span(t: &[f64], span: f64) -> usize {
    let end = t[t.len() - 1];
    t.len() - t.partition_point(|&x| x < end - span)
}

/// Robust standard deviation of the noise from one point to the next (1.4826 × MAD of the first differences,
/// over √2): 0 for a staircase, the noise's own deviation for independent noise around a level or a trend.
fn diff_noise(y: &[f64]) -> f64 {
    let d: Vec<f64> = y.windows(2).map(|w| w[1] - w[0]).collect();
    let m = median(d.clone());
    1.4826 * median(d.iter().map(|v| (v - m).abs()).collect()) / std::f64::consts::SQRT_2
}

/// How much of a series' movement goes one way: the net change over the sum of the absolute changes,
/// measured between about 10 evenly spaced points (1 for a staircase that only rises, about 1/3 for a
/// random walk or noise around a level).
pub fn efficiency(y: &[f64]) -> f64 {
    let lag = (y.len() / 10).max(1);
    let picks: Vec<f64> = (0..y.len()).step_by(lag).map(|i| y[i]).collect();
    let path: f64 = picks.windows(2).map(|w| (w[1] - w[0]).abs()).sum();
    let net = picks[picks.len() - 1] - picks[0];
    if path > 0.0 {
        net / path
    } else {
        0.0
    }
}

/// Least [`efficiency`] of a growing tail.
pub const MIN_EFFICIENCY: f64 = 0.6;
/// [`efficiency`] of a tail that rises with little noise: below it, the growth over the whole run must
/// also be at least 5% of the live bytes (a wandering working set moves by less).
pub const CLEAN: f64 = 0.9;

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    // Linear-time selection: Theil–Sen takes the median of thousands of slopes per site.
    let (m, odd) = (v.len() / 2, v.len() % 2 == 1);
    let (below, &mut upper, _) = v.select_nth_unstable_by(m, f64::total_cmp);
    if odd {
        upper
    } else {
        let lower = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    }
}

/// Median of the slopes between every pair of points with distinct times.
pub fn theil_sen(t: &[f64], y: &[f64]) -> f64 {
    let mut slopes = Vec::with_capacity(t.len() * t.len() / 2);
    for i in 0..t.len() {
        for j in i + 1..t.len() {
            let dt = t[j] - t[i];
            if dt > 0.0 {
                slopes.push((y[j] - y[i]) / dt);
            }
        }
    }
    median(slopes)
}

/// One-sided p-value of the Mann–Kendall test for an upward trend (normal approximation with continuity and
/// tie corrections). 0.5 for a series without any trend; near 1 for a falling one.
pub fn mann_kendall_up(y: &[f64]) -> f64 {
    let n = y.len();
    if n < 3 {
        return 0.5;
    }
    let mut s: i64 = 0;
    for i in 0..n {
        for j in i + 1..n {
            s += match y[j].partial_cmp(&y[i]) {
                Some(std::cmp::Ordering::Greater) => 1,
                Some(std::cmp::Ordering::Less) => -1,
                _ => 0,
            };
        }
    }
    let mut sorted = y.to_vec();
    sorted.sort_by(f64::total_cmp);
    let var_term = |k: f64| k * (k - 1.0) * (2.0 * k + 5.0);
    let mut ties = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && sorted[j] == sorted[i] {
            j += 1;
        }
        if j - i > 1 {
            ties += var_term((j - i) as f64);
        }
        i = j;
    }
    let var = (var_term(n as f64) - ties) / 18.0;
    if var <= 0.0 {
        return 0.5;
    }
    let z = match s {
        0 => 0.0,
        s if s > 0 => (s - 1) as f64 / var.sqrt(),
        s => (s + 1) as f64 / var.sqrt(),
    };
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function (Numerical Recipes' Chebyshev fit, relative error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// How a series of snapshots is averaged into at most [`MAX_POINTS`] points: bins of consecutive snapshot
/// indices, each covering an equal span of time (snapshots need not be evenly spaced: the first intervals
/// are recorded ten times finer, checks add their own), empty spans left out.
#[derive(Debug, Clone)]
pub struct Bins {
    len: usize,
    /// First snapshot index of each bin, increasing.
    starts: Vec<usize>,
}

impl Bins {
    /// `len` evenly spaced snapshots.
    pub fn new(len: usize) -> Bins {
        let count = len.min(MAX_POINTS);
        Bins {
            len,
            starts: (0..count).map(|b| (b * len).div_ceil(count)).collect(),
        }
    }

    /// Snapshots taken at `times` (any unit, increasing): one bin each when there are few enough, else
    /// [`MAX_POINTS`] equal spans of time.
    pub fn by_time(times: &[u64]) -> Bins {
        let len = times.len();
        let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
            return Bins::new(0);
        };
        if len <= MAX_POINTS || last <= first {
            return Bins::new(len);
        }
        let width = (last - first) as f64 / MAX_POINTS as f64;
        let span_of = |t: u64| (((t - first) as f64 / width) as usize).min(MAX_POINTS - 1);
        let mut starts = vec![0];
        for i in 1..len {
            if span_of(times[i]) != span_of(times[i - 1]) {
                starts.push(i);
            }
        }
        Bins { len, starts }
    }

    pub fn count(&self) -> usize {
        self.starts.len()
    }

    /// First snapshot index of bin `b` (`len` past the last bin).
    pub fn start(&self, b: usize) -> usize {
        self.starts.get(b).copied().unwrap_or(self.len)
    }

    fn of(&self, index: usize) -> usize {
        self.starts
            .partition_point(|&s| s <= index)
            .saturating_sub(1)
    }

    /// First index of the next bin after the one holding `index`.
    fn end_of(&self, index: usize) -> usize {
        self.start(self.of(index) + 1).min(self.len)
    }

    /// Mean of a per-index series over each bin.
    pub fn mean(&self, values: impl Iterator<Item = f64>) -> Vec<f64> {
        let mut sum = vec![0.0; self.count()];
        let mut n = vec![0usize; self.count()];
        for (i, v) in values.take(self.len).enumerate() {
            let b = self.of(i);
            sum[b] += v;
            n[b] += 1;
        }
        sum.iter()
            .zip(&n)
            .map(|(s, &k)| if k > 0 { s / k as f64 } else { 0.0 })
            .collect()
    }

    /// Mean per bin of a step series given by change points `(index, value)` in index order (value 0 before
    /// the first); cost is points + bins, not indices.
    pub fn mean_steps(&self, points: impl Iterator<Item = (usize, f64)>) -> Vec<f64> {
        let mut acc = vec![0.0; self.count()];
        let mut add = |from: usize, to: usize, v: f64| {
            let mut at = from;
            while at < to {
                let end = self.end_of(at).min(to);
                acc[self.of(at)] += v * (end - at) as f64;
                at = end;
            }
        };
        let (mut pos, mut cur) = (0usize, 0.0);
        for (index, v) in points {
            let index = index.min(self.len);
            add(pos, index, cur);
            pos = index.max(pos);
            cur = v;
        }
        add(pos, self.len, cur);
        for (b, a) in acc.iter_mut().enumerate() {
            let (lo, hi) = (self.start(b), self.start(b + 1).min(self.len));
            if hi > lo {
                *a /= (hi - lo) as f64;
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: deterministic noise for the tests.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
        }
        /// Roughly normal (sum of 12 uniforms).
        fn normal(&mut self) -> f64 {
            (0..12).map(|_| self.next()).sum::<f64>() - 6.0
        }
    }

    fn times(n: usize, dt: f64) -> Vec<f64> {
        (1..=n).map(|i| i as f64 * dt).collect()
    }

    fn verdict(t: &[f64], y: &[f64]) -> Growth {
        classify(t, y, *y.last().unwrap(), Turnover::default())
    }

    #[test]
    fn statistics() {
        assert_eq!(
            theil_sen(&[0.0, 1.0, 2.0, 3.0, 4.0], &[0.0, 2.0, 4.0, 6.0, 100.0]),
            2.0
        );
        assert!(mann_kendall_up(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]) < 0.001);
        assert!(mann_kendall_up(&[8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]) > 0.999);
        assert_eq!(mann_kendall_up(&[5.0; 10]), 0.5);
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 1e-6);
    }

    #[test]
    fn slow_leak_is_growing_and_flat_is_stable() {
        let t = times(30, 0.1);
        let leak: Vec<f64> = t.iter().map(|&s| 300.0 * s).collect();
        let g = verdict(&t, &leak);
        assert_eq!(g.verdict, Verdict::Growing);
        assert!((g.bytes_per_sec - 300.0).abs() < 1.0);
        assert!(g.confidence > 0.99);
        let p = g.projected_24h.unwrap();
        assert!((p - (9000.0 + 300.0 * DAY)).abs() < 1e5);
        let flat = vec![4096.0; 30];
        let g = verdict(&t, &flat);
        assert_eq!(g.verdict, Verdict::Stable);
        assert_eq!(g.confidence, 1.0);
    }

    #[test]
    fn a_leak_in_steps_after_a_startup_burst_is_growing() {
        // 1 MB allocated at start-up, then a 100-byte block every 0.3 s, sampled every 0.1 s.
        let t = times(40, 0.1);
        let y: Vec<f64> = t
            .iter()
            .map(|&s| 1e6 * (s / 0.3).min(1.0) + 100.0 * (s / 0.3).floor())
            .collect();
        assert_eq!(verdict(&t, &y).verdict, Verdict::Growing);
    }

    #[test]
    fn a_cache_that_filled_is_saturating_with_noise_or_not() {
        let t = times(40, 0.1);
        let mut rng = Rng(7);
        for noise in [0.0, 0.01, 0.05] {
            for fill in [0.3, 1.0, 2.0] {
                let y: Vec<f64> = t
                    .iter()
                    .map(|&s| 1e6 * (s / fill).min(1.0) * (1.0 + noise * rng.normal()))
                    .collect();
                let g = verdict(&t, &y);
                assert_eq!(g.verdict, Verdict::Saturating, "noise {noise} fill {fill}");
            }
        }
        // Exponential approach to the bound.
        let y: Vec<f64> = t.iter().map(|&s| 1e6 * (1.0 - (-s / 0.5).exp())).collect();
        assert_eq!(verdict(&t, &y).verdict, Verdict::Saturating);
    }

    #[test]
    fn slow_leak_on_its_own_site_under_noise_elsewhere() {
        // The leak's own series is clean; with a little jitter it still is found.
        let t = times(30, 0.1);
        let mut rng = Rng(3);
        let y: Vec<f64> = t.iter().map(|&s| 300.0 * s + 5.0 * rng.normal()).collect();
        assert_eq!(verdict(&t, &y).verdict, Verdict::Growing);
    }

    /// Working sets that stay around one level must not be called growing, whatever the noise: independent
    /// noise, and the autocorrelated noise of a set whose members are replaced slowly (1%, 5% or 20% of
    /// them between two snapshots).
    #[test]
    fn noisy_steady_working_sets_are_never_growing() {
        let mut rng = Rng(11);
        let mut false_growing = 0;
        let trials = 900;
        for trial in 0..trials {
            let n = 20 + trial % 60;
            let t = times(n, 0.1);
            let y: Vec<f64> = if trial % 4 == 0 {
                (0..n).map(|_| 5e6 + 2e5 * rng.normal()).collect()
            } else {
                let replaced = [10, 50, 200][trial % 3];
                let mut members: Vec<f64> = (0..1000).map(|_| 4096.0 * rng.next()).collect();
                let mut total: f64 = members.iter().sum();
                (0..n)
                    .map(|_| {
                        for _ in 0..replaced {
                            let k = (rng.next() * 1000.0) as usize % 1000;
                            let new = 4096.0 * rng.next();
                            total += new - members[k];
                            members[k] = new;
                        }
                        total
                    })
                    .collect()
            };
            let g = verdict(&t, &y);
            assert_ne!(g.verdict, Verdict::Saturating, "trial {trial}: {g:?} {y:?}");
            if g.verdict == Verdict::Growing {
                false_growing += 1;
            }
        }
        assert!(
            false_growing <= 2,
            "{false_growing} of {trials} called growing"
        );
    }

    /// Slow leaks on a site of their own, about 300 B/s, seen for 3 s every 100 ms: small blocks (32..96
    /// bytes, 5 per second on average, at random times), or rare big ones (100..300 bytes, 1.5 per second),
    /// with sometimes a transient block of the same site alive at the snapshot. Returns how many of 200 runs
    /// were missed.
    fn missed_slow_leaks(n: usize, chance: f64, size: (f64, f64)) -> usize {
        let mut rng = Rng(5);
        let mut missed = 0;
        for trial in 0..200 {
            let t = times(n, 0.1);
            let mut leaked = 0.0;
            let y: Vec<f64> = t
                .iter()
                .map(|_| {
                    if rng.next() < chance {
                        leaked += size.0 + (size.1 - size.0) * rng.next();
                    }
                    let transient = if trial % 2 == 1 && rng.next() < 0.3 {
                        64.0
                    } else {
                        0.0
                    };
                    leaked + transient
                })
                .collect();
            if verdict(&t, &y).verdict != Verdict::Growing {
                missed += 1;
            }
        }
        missed
    }

    #[test]
    fn slow_random_leaks_are_found_in_three_seconds() {
        // Measured: 13 and 2 of 200 missed in 3 s and 5 s (the misses are runs with the transient block).
        let small = missed_slow_leaks(30, 0.5, (32.0, 96.0));
        assert!(small <= 15, "3 s: missed {small} of 200");
        let small = missed_slow_leaks(50, 0.5, (32.0, 96.0));
        assert!(small <= 4, "5 s: missed {small} of 200");
        // Only about 7 leaked blocks in the whole run, 2 or 3 in the tail: found when nothing else moves at
        // the site (measured: 61 of 200 missed, nearly all with the transient block).
        let rare = missed_slow_leaks(50, 0.15, (100.0, 300.0));
        assert!(rare <= 70, "5 s, rare blocks: missed {rare} of 200");
    }

    /// Caches that fill up (in 0.1 to 1.5 s) and then wander around their bound, as their members are
    /// replaced by others of random sizes, are never growing.
    #[test]
    fn filled_caches_that_wander_are_never_growing() {
        let mut rng = Rng(23);
        let mut growing = 0;
        let trials = 300;
        for trial in 0..trials {
            let n = 30 + trial % 50;
            let t = times(n, 0.1);
            let cap = [250usize, 750, 3000][trial % 3];
            let fill_steps = [1usize, 5, 10, 15][trial % 4];
            let replaced = [cap / 50 + 1, cap / 10, cap / 3][trial % 3];
            let mut members: Vec<f64> = Vec::new();
            let y: Vec<f64> = (0..n)
                .map(|i| {
                    if members.len() < cap {
                        let want = (cap * (i + 1) / fill_steps).min(cap);
                        while members.len() < want {
                            members.push(64.0 + 1984.0 * rng.next());
                        }
                    } else {
                        for _ in 0..replaced {
                            let k = (rng.next() * cap as f64) as usize % cap;
                            members[k] = 64.0 + 1984.0 * rng.next();
                        }
                    }
                    members.iter().sum()
                })
                .collect();
            let g = verdict(&t, &y);
            if g.verdict == Verdict::Growing {
                growing += 1;
            }
        }
        assert!(growing <= 1, "{growing} of {trials} called growing");
    }

    #[test]
    fn five_rising_snapshots_are_growing_not_saturating() {
        let t = times(5, 1.0);
        let y = [2000.0, 4300.0, 6600.0, 9000.0, 11200.0];
        let g = verdict(&t, &y);
        assert_eq!(g.verdict, Verdict::Growing, "{g:?}");
        // Still rising but not monotone: not known to be growing, and not saturating either.
        let y = [2000.0, 4300.0, 4200.0, 9000.0, 11200.0];
        assert_eq!(verdict(&t, &y).verdict, Verdict::Stable);
    }

    #[test]
    fn too_short_is_unknown() {
        let g = verdict(&[0.1, 0.2, 0.3], &[1.0, 2.0, 3.0]);
        assert_eq!((g.verdict, g.confidence), (Verdict::Stable, 0.0));
    }

    #[test]
    fn binning_steps_and_means() {
        let b = Bins::new(10);
        assert_eq!(b.count(), 10);
        assert_eq!(
            b.mean_steps([(2, 5.0), (5, 1.0)].into_iter()),
            [0.0, 0.0, 5.0, 5.0, 5.0, 1.0, 1.0, 1.0, 1.0, 1.0]
        );
        let b = Bins::new(900);
        assert_eq!(b.count(), MAX_POINTS);
        let m = b.mean_steps([(0, 1.0), (450, 3.0)].into_iter());
        assert_eq!(m.len(), MAX_POINTS);
        assert_eq!((m[0], m[44], m[45], m[89]), (1.0, 1.0, 3.0, 3.0));
        let means = b.mean((0..900).map(|i| i as f64));
        assert_eq!(means[0], 4.5);
        // Bins straddling a change average it.
        let b = Bins::new(200);
        let m = b.mean_steps([(1, 10.0)].into_iter());
        assert!(m[0] > 0.0 && m[0] < 10.0 && m[1] == 10.0);
    }

    /// The agent's schedule at the default interval: every 100 ms for 10 s, then every second.
    fn fine_start_times(secs: f64) -> Vec<f64> {
        let mut t: Vec<f64> = (1..=100).map(|i| i as f64 * 0.1).collect();
        t.extend((11..=secs as usize).map(|i| i as f64));
        t
    }

    #[test]
    fn a_fine_start_does_not_stretch_the_tail() {
        for secs in [15.0, 30.0, 60.0] {
            let t = fine_start_times(secs);
            // A cache that fills over the first half of the run, then stays at its bound.
            let fill = secs / 2.0;
            let y: Vec<f64> = t.iter().map(|&x| 1e5 * (x / fill).min(1.0)).collect();
            let g = verdict(&t, &y);
            assert_eq!(g.verdict, Verdict::Saturating, "{secs} s: {g:?}");
            // A leak of 300 B/s with ±1% noise under a working set of 20 kB.
            let mut rng = Rng(7);
            let y: Vec<f64> = t
                .iter()
                .map(|&x| 2e4 * (1.0 + 0.02 * (rng.next() - 0.5)) + 300.0 * x)
                .collect();
            let g = verdict(&t, &y);
            assert_eq!(g.verdict, Verdict::Growing, "{secs} s: {g:?}");
            assert!((g.bytes_per_sec / 300.0 - 1.0).abs() < 0.25, "{g:?}");
        }
        assert_eq!(tail_len(&fine_start_times(30.0)), 10); // the last 10 s, not the last third of points
    }

    #[test]
    fn time_bins_even_out_a_fine_start() {
        let ns: Vec<u64> = fine_start_times(190.0)
            .iter()
            .map(|&s| (s * 1e9) as u64)
            .collect();
        let b = Bins::by_time(&ns);
        assert!(b.count() <= MAX_POINTS);
        // 190 s in 90 spans of 2.1 s: the first 10 s (100 snapshots) fill about 5 bins.
        assert!((4..=6).contains(&b.start(6).min(b.of(99) + 1)), "{b:?}");
        let means = b.mean(ns.iter().map(|&n| n as f64 / 1e9));
        assert!(means.windows(2).all(|w| w[1] > w[0]));
        assert!((means[means.len() - 1] - 189.0).abs() < 2.0, "{means:?}");
    }
}
