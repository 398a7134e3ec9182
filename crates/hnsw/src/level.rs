//! Level generation from a caller-provided, seeded random source.

use crate::Level;

/// A source of uniformly distributed 64-bit words. The caller seeds it, so a
/// build is deterministic for a given seed and insertion order.
pub trait RandomSource {
    fn next_u64(&mut self) -> u64;

    /// A uniform value in `(0, 1]` (never 0, so `ln` is finite).
    fn next_open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, passes BigCrush; good
/// enough for level draws and test data.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// Uniform in `[0, n)` (`n > 0`; returns 0 for `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform `f32` in `[0, 1)`.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
    }
}

impl RandomSource for SplitMix64 {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl<R: RandomSource + ?Sized> RandomSource for &mut R {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        (**self).next_u64()
    }
}

/// Draws an element level: `floor(-ln(U) * ml)` with `U` uniform in `(0, 1]`
/// and `ml = 1 / ln(m)`, capped at `max_level` (and at
/// [`MAX_LEVEL`](crate::MAX_LEVEL)). A non-finite or negative `ml` gives 0.
pub fn random_level<R: RandomSource + ?Sized>(rng: &mut R, ml: f64, max_level: Level) -> Level {
    let cap = max_level.min(crate::MAX_LEVEL);
    let u = rng.next_open01();
    let l = -u.ln() * ml;
    if l.is_nan() || l < 0.0 {
        return 0;
    }
    let l = l.floor();
    if l >= f64::from(cap) {
        cap
    } else {
        l as Level
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HnswParams;

    #[test]
    fn deterministic() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut c = SplitMix64::new(43);
        assert_ne!(SplitMix64::new(42).next_u64(), c.next_u64());
    }

    #[test]
    fn open_interval() {
        struct Fixed(u64);
        impl RandomSource for Fixed {
            fn next_u64(&mut self) -> u64 {
                self.0
            }
        }
        assert!(Fixed(0).next_open01() > 0.0);
        assert_eq!(Fixed(u64::MAX).next_open01(), 1.0);
        // U = 1 gives level 0; the smallest U gives a large level, capped.
        assert_eq!(random_level(&mut Fixed(u64::MAX), 1.0, 16), 0);
        assert_eq!(random_level(&mut Fixed(0), 1.0, 16), 16);
        assert_eq!(random_level(&mut Fixed(0), 1.0, 200), crate::MAX_LEVEL);
        assert_eq!(random_level(&mut Fixed(0), f64::NAN, 16), 0);
        assert_eq!(random_level(&mut Fixed(0), -1.0, 16), 0);
    }

    /// P(level >= l) = m^-l: check the histogram against the geometric law.
    #[test]
    fn level_distribution_is_geometric() {
        let p = HnswParams::new(16, 64);
        let mut rng = SplitMix64::new(7);
        let n = 400_000u32;
        let mut counts = [0u32; 17];
        for _ in 0..n {
            counts[random_level(&mut rng, p.ml(), 16) as usize] += 1;
        }
        for (l, &expected_frac) in [1.0, 1.0 / 16.0, 1.0 / 256.0, 1.0 / 4096.0]
            .iter()
            .enumerate()
        {
            let at_least: u32 = counts[l..].iter().sum();
            let expected = f64::from(n) * expected_frac;
            let sd = (expected * (1.0 - expected_frac)).sqrt().max(1.0);
            let diff = (f64::from(at_least) - expected).abs();
            assert!(
                diff <= 5.0 * sd,
                "level >= {l}: {at_least} vs {expected:.1}"
            );
        }
        // Exactly level 0 with probability 1 - 1/m.
        let frac0 = f64::from(counts[0]) / f64::from(n);
        assert!((frac0 - 15.0 / 16.0).abs() < 0.002, "{frac0}");
    }

    #[test]
    fn cap_holds() {
        let mut rng = SplitMix64::new(1);
        for _ in 0..100_000 {
            assert!(random_level(&mut rng, 1.0 / 2f64.ln(), 3) <= 3);
        }
    }

    #[test]
    fn below_is_in_range() {
        let mut rng = SplitMix64::new(9);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            seen[rng.below(7) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(rng.below(0), 0);
        let f = rng.next_f32();
        assert!((0.0..1.0).contains(&f));
    }
}
