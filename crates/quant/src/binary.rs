//! Binary codes with learned centres and a random orthogonal rotation (after RaBitQ).
//!
//! Plain sign bits fail on data that is non-negative in every dimension (SIFT): every vector
//! gets the same code. Subtracting a centre first centres the data; a random rotation then
//! spreads each vector's energy evenly over the dimensions so that the signs carry about the
//! same information everywhere. The centre is the nearest of up to 256 k-means centroids
//! ([`crate::coarse`]: on clustered data one global centre leaves the bits to tell clusters
//! apart instead of neighbours). A code is `d` sign bits of `y = R (v − c_k)`, three floats
//! `‖v − c_k‖`, `⟨b̄, ŷ⟩` (`b̄ = sign(y)/√d`, `ŷ = y/‖y‖`) and `√d ⟨b̄, R c_k⟩`, and the byte `k`.
//! For a query the inner product `⟨ŷ, x⟩` with a rotated vector `x` is estimated as
//! `⟨b̄, x⟩ / ⟨b̄, ŷ⟩` (RaBitQ's estimator), with `x = R (q − c_k)` for L2 and `x = R q` for inner
//! product; `⟨b̄, R(q − c_k)⟩ = ⟨b̄, R q⟩ − ⟨b̄, R c_k⟩` needs only `R q`'s bit planes per query,
//! the second term being stored in the code.

use std::cell::RefCell;

use crate::bytes::{Reader, Writer};
use crate::coarse::Coarse;
use crate::{check_sample, check_vector, dot, Metric, QuantError, SplitMix64};

#[derive(Clone, Debug, PartialEq)]
pub struct Rbq {
    dims: usize,
    coarse: Coarse,
    /// Row-major `dims × dims` orthogonal matrix.
    rotation: Vec<f32>,
    /// `R c_k` for every coarse centroid, derived (not serialised).
    rotated_centres: Vec<f32>,
}

/// Bits per value of the quantized query.
const QBITS: usize = 8;

/// A rotated query vector as 8-bit integers in bit planes (`x_i ≈ lo + delta · u_i`, plane j
/// holding bit j of every `u_i`), so that the sum of the values where a code has a 1 bit is
/// eight AND + popcount passes over the code's words (RaBitQ's query quantization; its rounding
/// error is far below the code's own).
#[derive(Clone, Debug)]
struct Planes {
    planes: [Vec<u64>; QBITS],
    lo: f32,
    delta: f32,
    sum: f32,
}

impl Planes {
    fn new(x: &[f32]) -> Planes {
        let lo = x.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let top = ((1u32 << QBITS) - 1) as f32;
        let delta = if hi > lo { (hi - lo) / top } else { 1.0 };
        let words = x.len().div_ceil(64);
        let mut planes: [Vec<u64>; QBITS] = core::array::from_fn(|_| vec![0u64; words]);
        for (i, &v) in x.iter().enumerate() {
            let u = ((v - lo) / delta).round().clamp(0.0, top) as u32;
            for (j, plane) in planes.iter_mut().enumerate() {
                if u >> j & 1 == 1 {
                    plane[i / 64] |= 1 << (i % 64);
                }
            }
        }
        Planes {
            planes,
            lo,
            delta,
            sum: x.iter().sum(),
        }
    }

    /// `Σ ±x_i` (+ where the code's bit is 1) = `2 Σ_{bit=1} x_i − Σ x_i`.
    #[inline]
    fn signed_sum(&self, bits: &[u8]) -> f32 {
        let (mut ones, mut weighted) = (0u32, 0u32);
        for w in 0..self.planes[0].len() {
            let b = word(bits, w);
            ones += b.count_ones();
            for (j, plane) in self.planes.iter().enumerate() {
                weighted += (b & plane[w]).count_ones() << j;
            }
        }
        2.0 * (self.lo * ones as f32 + self.delta * weighted as f32) - self.sum
    }
}

/// A prepared query: `R q` and its bit planes, and per coarse centroid (computed when a code of
/// that centroid is first met) `‖q − c_k‖²` (L2) or `⟨c_k, q⟩` (inner product).
#[derive(Clone, Debug)]
pub struct RbqQuery {
    metric: Metric,
    rotated: Vec<f32>,
    planes: Planes,
    /// Per centroid, NaN until needed.
    per_centre: RefCell<Vec<f32>>,
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
    /// Learn the coarse centres from `sample` and draw the rotation from `seed`.
    pub fn train(sample: &[f32], dims: usize, seed: u64) -> Result<Rbq, QuantError> {
        check_sample(sample, dims)?;
        let coarse = Coarse::train(sample, dims, seed)?;
        Ok(Rbq::assemble(coarse, random_rotation(dims, seed)))
    }

    fn assemble(coarse: Coarse, rotation: Vec<f32>) -> Rbq {
        let dims = coarse.dims;
        let rotated_centres = coarse
            .centroids
            .chunks_exact(dims)
            .flat_map(|c| {
                rotation
                    .chunks_exact(dims)
                    .map(|r| dot(r, c))
                    .collect::<Vec<_>>()
            })
            .collect();
        Rbq {
            dims,
            coarse,
            rotation,
            rotated_centres,
        }
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    pub fn coarse_centroids(&self) -> usize {
        self.coarse.k()
    }

    fn bits_bytes(&self) -> usize {
        self.dims.div_ceil(8)
    }

    /// Bytes per code: the sign bits, three f32 factors, the coarse centroid's byte.
    pub fn code_bytes(&self) -> usize {
        self.bits_bytes() + 13
    }

    fn rotate(&self, v: &[f32]) -> Vec<f32> {
        self.rotation
            .chunks_exact(self.dims)
            .map(|r| dot(r, v))
            .collect()
    }

    fn rotated_centre(&self, k: usize) -> &[f32] {
        &self.rotated_centres[k * self.dims..(k + 1) * self.dims]
    }

    /// (norm, factor, √d⟨b̄, R c_k⟩, centroid) of a code.
    fn header(&self, code: &[u8]) -> (f32, f32, f32, usize) {
        let at = self.bits_bytes();
        let f =
            |i: usize| f32::from_le_bytes(code[at + i..at + i + 4].try_into().expect("4 bytes"));
        let k = (code[at + 12] as usize).min(self.coarse.k() - 1);
        (f(0), f(4), f(8), k)
    }

    pub fn encode(&self, v: &[f32]) -> Result<Vec<u8>, QuantError> {
        check_vector(v, self.dims)?;
        let (k, centred) = self.coarse.residual(v);
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
        // Σ ±(R c_k)_i over the code's signs.
        let centre_sum: f32 = self
            .rotated_centre(k)
            .iter()
            .zip(&y)
            .map(|(c, &x)| if x > 0.0 { *c } else { -*c })
            .sum();
        let at = self.bits_bytes();
        out[at..at + 4].copy_from_slice(&norm.to_le_bytes());
        out[at + 4..at + 8].copy_from_slice(&factor.to_le_bytes());
        out[at + 8..at + 12].copy_from_slice(&centre_sum.to_le_bytes());
        out[at + 12] = k as u8;
        Ok(out)
    }

    /// `dims`, the rotation row by row, then the coarse centres.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(self.dims as u32).f32s(&self.rotation);
        self.coarse.write(&mut w);
        w.0
    }

    pub fn from_bytes(b: &[u8]) -> Result<Rbq, QuantError> {
        let mut r = Reader::new(b);
        let dims = r.count()?;
        let rotation = r.f32s(dims * dims)?;
        let coarse = Coarse::read(&mut r, dims)?;
        r.end()?;
        Ok(Rbq::assemble(coarse, rotation))
    }

    /// The vector a code stands for, approximately: its centre plus the code's norm along the
    /// un-rotated sign vector (`c_k + ‖v − c_k‖ Rᵀ b̄`).
    pub fn decode(&self, code: &[u8]) -> Vec<f32> {
        let (norm, _, _, k) = self.header(code);
        let unit = norm / (self.dims as f32).sqrt();
        let mut out = self.coarse.centroid(k).to_vec();
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

    /// [`Rbq::decode`] in rotated coordinates, `R c_k + ‖v − c_k‖ b̄`: O(dims) instead of a
    /// matrix product. The rotation is orthogonal, so distances and inner products between two
    /// such vectors equal those between the decoded vectors; only compare them with each other.
    pub fn decode_rotated(&self, code: &[u8]) -> Vec<f32> {
        let (norm, _, _, k) = self.header(code);
        let unit = norm / (self.dims as f32).sqrt();
        self.rotated_centre(k)
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                if code[i / 8] >> (i % 8) & 1 == 1 {
                    c + unit
                } else {
                    c - unit
                }
            })
            .collect()
    }

    pub fn query(&self, metric: Metric, q: &[f32]) -> Result<RbqQuery, QuantError> {
        check_vector(q, self.dims)?;
        let rotated = self.rotate(q);
        Ok(RbqQuery {
            metric,
            planes: Planes::new(&rotated),
            rotated,
            per_centre: RefCell::new(vec![f32::NAN; self.coarse.k()]),
        })
    }

    /// `‖q − c_k‖²` (L2) or `⟨c_k, q⟩` (inner product), computed on first use.
    fn centre_term(&self, q: &RbqQuery, k: usize) -> f32 {
        let mut pc = q.per_centre.borrow_mut();
        if pc[k].is_nan() {
            let c = self.rotated_centre(k);
            pc[k] = match q.metric {
                Metric::L2 => c
                    .iter()
                    .zip(&q.rotated)
                    .map(|(a, b)| (b - a) * (b - a))
                    .sum(),
                Metric::InnerProduct => dot(c, &q.rotated),
            };
        }
        pc[k]
    }

    /// Estimated distance from the query to the vector coded `code`.
    pub fn distance(&self, q: &RbqQuery, code: &[u8]) -> f32 {
        let (norm, factor, centre_sum, k) = self.header(code);
        let signed = q.planes.signed_sum(&code[..self.bits_bytes()]);
        let scale = (self.dims as f32).sqrt() * factor;
        let term = self.centre_term(q, k);
        match q.metric {
            // ‖o − q‖² = ‖o−c‖² + ‖q−c‖² − 2 ‖o−c‖ ⟨ŷ, R(q−c)⟩
            Metric::L2 => {
                let est = (signed - centre_sum) / scale;
                norm * norm + term - 2.0 * norm * est
            }
            // ⟨o, q⟩ = ‖o−c‖ ⟨ŷ, R q⟩ + ⟨c, q⟩
            Metric::InnerProduct => -(norm * signed / scale + term),
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
