//! Binary codes with a learned centre and a random orthogonal rotation (after RaBitQ).
//!
//! Plain sign bits fail on data that is non-negative in every dimension (SIFT): every vector
//! gets the same code. Subtracting the sample mean centres the data; a random rotation then
//! spreads each vector's energy evenly over the dimensions so that the signs carry about the
//! same information everywhere. A code is `d` sign bits of `y = R (v - c)` plus two floats:
//! `‖v - c‖` and `⟨b̄, ŷ⟩` where `b̄ = sign(y)/√d` and `ŷ = y/‖y‖`. For a query the inner product
//! `⟨ŷ, x⟩` with any rotated vector `x` is estimated as `⟨b̄, x⟩ / ⟨b̄, ŷ⟩` (RaBitQ's estimator),
//! and distances follow from it.

use crate::bytes::{Reader, Writer};
use crate::{check_sample, check_vector, dot, Metric, QuantError, SplitMix64};

#[derive(Clone, Debug, PartialEq)]
pub struct Rbq {
    dims: usize,
    centre: Vec<f32>,
    /// Row-major `dims × dims` orthogonal matrix.
    rotation: Vec<f32>,
}

/// A prepared query: rotated (and, for L2, centred) vector and its norm, plus `⟨c, q⟩` for
/// inner product. The rotated values are also kept as 4-bit integers in bit planes
/// (`x_i ≈ lo + delta · u_i`, plane j holding bit j of every `u_i`), so that the sum of the
/// values where a code has a 1 bit is four AND + popcount passes over the code's words
/// (RaBitQ's query quantization; the rounding error is far below the code's own).
#[derive(Clone, Debug)]
pub struct RbqQuery {
    metric: Metric,
    norm: f32,
    centre_dot: f32,
    planes: [Vec<u64>; 4],
    lo: f32,
    delta: f32,
    sum: f32,
}

/// The code's sign bits as little-endian u64 words (the last one zero-padded).
#[inline]
fn word(bits: &[u8], w: usize) -> u64 {
    let at = w * 8;
    if at + 8 <= bits.len() {
        u64::from_le_bytes(bits[at..at + 8].try_into().expect("8 bytes"))
    } else {
        let mut b = [0u8; 8];
        b[..bits.len() - at].copy_from_slice(&bits[at..]);
        u64::from_le_bytes(b)
    }
}

impl Rbq {
    /// Learn the centre from `sample` and draw the rotation from `seed`.
    pub fn train(sample: &[f32], dims: usize, seed: u64) -> Result<Rbq, QuantError> {
        let n = check_sample(sample, dims)?;
        let mut centre = vec![0f64; dims];
        for row in sample.chunks_exact(dims) {
            for (c, &x) in centre.iter_mut().zip(row) {
                *c += f64::from(x);
            }
        }
        let centre = centre.iter().map(|&c| (c / n as f64) as f32).collect();
        Ok(Rbq {
            dims,
            centre,
            rotation: random_rotation(dims, seed),
        })
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Bytes per code: the sign bits plus two f32 factors.
    pub fn code_bytes(&self) -> usize {
        self.dims.div_ceil(8) + 8
    }

    fn rotate(&self, v: &[f32]) -> Vec<f32> {
        self.rotation
            .chunks_exact(self.dims)
            .map(|r| dot(r, v))
            .collect()
    }

    pub fn encode(&self, v: &[f32]) -> Result<Vec<u8>, QuantError> {
        check_vector(v, self.dims)?;
        let centred: Vec<f32> = v.iter().zip(&self.centre).map(|(x, c)| x - c).collect();
        let y = self.rotate(&centred);
        let norm = dot(&y, &y).sqrt();
        let l1: f32 = y.iter().map(|x| x.abs()).sum();
        // ⟨b̄, ŷ⟩ = ‖y‖₁ / (√d ‖y‖); 1 for a vector at the centre (any value works there).
        let factor = if norm > 0.0 {
            l1 / ((self.dims as f32).sqrt() * norm)
        } else {
            1.0
        };
        let mut out = vec![0u8; self.code_bytes()];
        for (i, &x) in y.iter().enumerate() {
            if x > 0.0 {
                out[i / 8] |= 1 << (i % 8);
            }
        }
        let at = self.dims.div_ceil(8);
        out[at..at + 4].copy_from_slice(&norm.to_le_bytes());
        out[at + 4..at + 8].copy_from_slice(&factor.to_le_bytes());
        Ok(out)
    }

    /// `dims`, the centre, then the rotation row by row.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(self.dims as u32)
            .f32s(&self.centre)
            .f32s(&self.rotation);
        w.0
    }

    pub fn from_bytes(b: &[u8]) -> Result<Rbq, QuantError> {
        let mut r = Reader::new(b);
        let dims = r.count()?;
        let centre = r.f32s(dims)?;
        let rotation = r.f32s(dims * dims)?;
        r.end()?;
        Ok(Rbq {
            dims,
            centre,
            rotation,
        })
    }

    /// The vector a code stands for, approximately: the centre plus the code's norm along the
    /// un-rotated sign vector (`c + ‖v − c‖ Rᵀ b̄`). Used where two stored vectors are compared
    /// with each other (graph maintenance), never for a query's final order.
    pub fn decode(&self, code: &[u8]) -> Vec<f32> {
        let at = self.dims.div_ceil(8);
        let norm = f32::from_le_bytes(code[at..at + 4].try_into().expect("4 bytes"));
        let unit = norm / (self.dims as f32).sqrt();
        let mut out = self.centre.clone();
        for (i, row) in self.rotation.chunks_exact(self.dims).enumerate() {
            let s = if code[i / 8] >> (i % 8) & 1 == 1 {
                unit
            } else {
                -unit
            };
            for (o, &r) in out.iter_mut().zip(row) {
                *o += s * r;
            }
        }
        out
    }

    pub fn query(&self, metric: Metric, q: &[f32]) -> Result<RbqQuery, QuantError> {
        check_vector(q, self.dims)?;
        let (rotated, centre_dot) = match metric {
            Metric::L2 => {
                let centred: Vec<f32> = q.iter().zip(&self.centre).map(|(x, c)| x - c).collect();
                (self.rotate(&centred), 0.0)
            }
            Metric::InnerProduct => (self.rotate(q), dot(&self.centre, q)),
        };
        let norm = dot(&rotated, &rotated).sqrt();
        let lo = rotated.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = rotated.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let delta = if hi > lo { (hi - lo) / 15.0 } else { 1.0 };
        let words = self.dims.div_ceil(64);
        let mut planes: [Vec<u64>; 4] = core::array::from_fn(|_| vec![0u64; words]);
        for (i, &x) in rotated.iter().enumerate() {
            let u = ((x - lo) / delta).round().clamp(0.0, 15.0) as u32;
            for (j, plane) in planes.iter_mut().enumerate() {
                if u >> j & 1 == 1 {
                    plane[i / 64] |= 1 << (i % 64);
                }
            }
        }
        Ok(RbqQuery {
            metric,
            sum: rotated.iter().sum(),
            norm,
            centre_dot,
            planes,
            lo,
            delta,
        })
    }

    /// Estimated distance from the query to the vector coded `code`.
    pub fn distance(&self, q: &RbqQuery, code: &[u8]) -> f32 {
        let at = self.dims.div_ceil(8);
        let norm = f32::from_le_bytes(code[at..at + 4].try_into().expect("4 bytes"));
        let factor = f32::from_le_bytes(code[at + 4..at + 8].try_into().expect("4 bytes"));
        // ⟨b̄, x⟩ for the rotated query x: signed sum over the bits, / √d. With ones = the sum
        // of x_i where the bit is 1: Σ ±x_i = 2 ones − Σ x_i, and ones ≈ lo · popcount(b) +
        // delta · Σ_j 2^j popcount(b & plane_j).
        let bits = &code[..at];
        let (mut ones, mut weighted) = (0u32, 0u32);
        for w in 0..q.planes[0].len() {
            let b = word(bits, w);
            ones += b.count_ones();
            for (j, plane) in q.planes.iter().enumerate() {
                weighted += (b & plane[w]).count_ones() << j;
            }
        }
        let sum_ones = q.lo * ones as f32 + q.delta * weighted as f32;
        let s = 2.0 * sum_ones - q.sum;
        let est = s / (self.dims as f32).sqrt() / factor; // ≈ ⟨ŷ, x⟩
        match q.metric {
            // ‖o − q‖² = ‖o−c‖² + ‖q−c‖² − 2 ‖o−c‖ ⟨ŷ, R(q−c)⟩
            Metric::L2 => norm * norm + q.norm * q.norm - 2.0 * norm * est,
            // ⟨o, q⟩ = ‖o−c‖ ⟨ŷ, R q⟩ + ⟨c, q⟩
            Metric::InnerProduct => -(norm * est + q.centre_dot),
        }
    }
}

/// A random orthogonal matrix: Gaussian entries, orthonormalised row by row (modified
/// Gram–Schmidt in f64), deterministic for `seed`.
fn random_rotation(d: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    let mut rows: Vec<Vec<f64>> = Vec::with_capacity(d);
    while rows.len() < d {
        let mut v: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
        for r in &rows {
            let p: f64 = v.iter().zip(r).map(|(a, b)| a * b).sum();
            for (x, y) in v.iter_mut().zip(r) {
                *x -= p * y;
            }
        }
        let n: f64 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if n > 1e-6 {
            rows.push(v.into_iter().map(|x| x / n).collect());
        }
    }
    rows.into_iter().flatten().map(|x| x as f32).collect()
}
