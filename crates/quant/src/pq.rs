//! Product quantization: a vector is cut into `m` subvectors (as even as the dimension allows),
//! each replaced by the index of its nearest centroid among 256 (8-bit codes) or 16 (4-bit
//! codes, two per byte, low nibble first). A query builds one table per subvector with its
//! distance to every centroid; a code's distance is then `m` table lookups and adds
//! (asymmetric distance computation, ADC). With 16 centroids a table is 16 entries: the shape
//! fast-scan kernels keep in one SIMD register (the quantized u8 tables of
//! [`PqTable::quantized`]).
//!
//! What is product-quantized is the residual of the vector against the nearest of up to 256
//! coarse centroids ([`crate::coarse`]); a code is `[sub-codes][centroid byte][f32 term]`. With
//! `r̂` the decoded residual of a vector coded against centroid `c`:
//! `‖q − c − r̂‖² = ‖q − c‖² − 2⟨q, r̂⟩ + (2⟨c, r̂⟩ + ‖r̂‖²)` — one distance per centroid per query,
//! inner-product tables over the residual codebooks, and the bracket stored in the code;
//! `−⟨q, c + r̂⟩ = −⟨q, c⟩ − ⟨q, r̂⟩` likewise.

use rayon::prelude::*;

use crate::bytes::{Reader, Writer};
use crate::coarse::Coarse;
use crate::kmeans::{kmeans, nearest_centroid};
use crate::{check_sample, check_vector, dot, l2sq, Metric, QuantError};

/// Start of each of the `m` subvectors of a `dims`-vector (m + 1 entries, last = dims): as
/// even as the dimension allows. Derived, not stored: training and reading agree on it.
fn subvector_bounds(dims: usize, m: usize) -> Vec<usize> {
    (0..=m).map(|j| j * dims / m).collect()
}

/// Bits per subvector code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PqBits {
    Eight,
    Four,
}

impl PqBits {
    pub fn centroids(self) -> usize {
        match self {
            PqBits::Eight => 256,
            PqBits::Four => 16,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pq {
    dims: usize,
    bits: PqBits,
    /// Start of each subvector (m + 1 entries, last = dims).
    bounds: Vec<usize>,
    /// Per subvector j: `ksub` centroids of its width, concatenated.
    codebooks: Vec<Vec<f32>>,
    coarse: Coarse,
}

/// A query's lookup tables: `m × ksub` entries of `−w⟨q_j, centroid⟩` (w = 2 for L2, 1 for
/// inner product) and the query's distance to every coarse centroid.
#[derive(Clone, Debug, PartialEq)]
pub struct PqTable {
    ksub: usize,
    bits: PqBits,
    metric: Metric,
    values: Vec<f32>,
    coarse: Vec<f32>,
    /// Bytes of the sub-codes (the centroid byte and the term follow).
    sub_bytes: usize,
    /// 4-bit codes: the tables as u8 ([`PqTable::quantized`]) with their scale and bias, what
    /// [`PqTable::distance`] sums (16 bytes per subvector: a 768-d query's tables take 3 kB).
    fast: Option<(Vec<u8>, f32, f32)>,
}

impl Pq {
    /// Train `m` codebooks with k-means on `sample` (`iters` Lloyd iterations each).
    pub fn train(
        sample: &[f32],
        dims: usize,
        m: usize,
        bits: PqBits,
        iters: usize,
        seed: u64,
    ) -> Result<Pq, QuantError> {
        check_sample(sample, dims)?;
        if m == 0 || m > dims {
            return Err(QuantError::BadParameters(
                "the number of subvectors must be between 1 and the dimensions",
            ));
        }
        let bounds = subvector_bounds(dims, m);
        let coarse = Coarse::train(sample, dims, seed)?;
        let residuals: Vec<f32> = sample
            .par_chunks_exact(dims)
            .flat_map_iter(|r| coarse.residual(r).1)
            .collect();
        let codebooks = (0..m)
            .into_par_iter()
            .map(|j| {
                let (a, b) = (bounds[j], bounds[j + 1]);
                let sub: Vec<f32> = residuals
                    .chunks_exact(dims)
                    .flat_map(|r| r[a..b].iter().copied())
                    .collect();
                kmeans(
                    &sub,
                    b - a,
                    bits.centroids(),
                    iters,
                    seed ^ (j as u64).wrapping_mul(0x9E37_79B9),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Pq {
            dims,
            bits,
            bounds,
            codebooks,
            coarse,
        })
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    pub fn subvectors(&self) -> usize {
        self.codebooks.len()
    }

    pub fn bits(&self) -> PqBits {
        self.bits
    }

    fn sub_bytes(&self) -> usize {
        match self.bits {
            PqBits::Eight => self.subvectors(),
            PqBits::Four => self.subvectors().div_ceil(2),
        }
    }

    /// Bytes per code: the sub-codes, the coarse centroid's byte, the f32 term.
    pub fn code_bytes(&self) -> usize {
        self.sub_bytes() + 5
    }

    /// Coarse centroids the residuals are taken against.
    pub fn coarse_centroids(&self) -> usize {
        self.coarse.k()
    }

    /// Bytes of all codebooks (f32 centroids, coarse ones included).
    pub fn codebook_bytes(&self) -> usize {
        self.codebooks.iter().map(|c| c.len() * 4).sum::<usize>() + self.coarse.centroids.len() * 4
    }

    fn width(&self, j: usize) -> usize {
        self.bounds[j + 1] - self.bounds[j]
    }

    pub fn encode(&self, v: &[f32]) -> Result<Vec<u8>, QuantError> {
        check_vector(v, self.dims)?;
        let (k, r) = self.coarse.residual(v);
        let mut out = vec![0u8; self.code_bytes()];
        for j in 0..self.subvectors() {
            let (a, b) = (self.bounds[j], self.bounds[j + 1]);
            let (c, _) = nearest_centroid(&r[a..b], &self.codebooks[j], b - a);
            self.set(&mut out, j, c as u8);
        }
        let sb = self.sub_bytes();
        out[sb] = k as u8;
        let rhat = self.decode_residual(&out);
        let term = 2.0 * dot(self.coarse.centroid(k), &rhat) + dot(&rhat, &rhat);
        out[sb + 1..sb + 5].copy_from_slice(&term.to_le_bytes());
        Ok(out)
    }

    fn set(&self, code: &mut [u8], j: usize, c: u8) {
        match self.bits {
            PqBits::Eight => code[j] = c,
            PqBits::Four => {
                let shift = 4 * (j & 1);
                code[j / 2] = (code[j / 2] & !(0x0f << shift)) | ((c & 0x0f) << shift);
            }
        }
    }

    #[inline]
    fn get(&self, code: &[u8], j: usize) -> usize {
        match self.bits {
            PqBits::Eight => code[j] as usize,
            PqBits::Four => ((code[j / 2] >> (4 * (j & 1))) & 0x0f) as usize,
        }
    }

    /// `dims`, subvectors, bits (8 or 4), then each subvector's centroids.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(self.dims as u32)
            .u32(self.subvectors() as u32)
            .u32(match self.bits {
                PqBits::Eight => 8,
                PqBits::Four => 4,
            });
        for c in &self.codebooks {
            w.f32s(c);
        }
        self.coarse.write(&mut w);
        w.0
    }

    pub fn from_bytes(b: &[u8]) -> Result<Pq, QuantError> {
        let mut r = Reader::new(b);
        let dims = r.count()?;
        let m = r.count()?;
        let bits = match r.u32()? {
            8 => PqBits::Eight,
            4 => PqBits::Four,
            _ => return Err(QuantError::Malformed),
        };
        if m > dims {
            return Err(QuantError::Malformed);
        }
        let bounds = subvector_bounds(dims, m);
        let codebooks = (0..m)
            .map(|j| r.f32s(bits.centroids() * (bounds[j + 1] - bounds[j])))
            .collect::<Result<Vec<_>, _>>()?;
        let coarse = Coarse::read(&mut r, dims)?;
        r.end()?;
        Ok(Pq {
            dims,
            bits,
            bounds,
            codebooks,
            coarse,
        })
    }

    /// The centroids a code stands for, concatenated.
    fn decode_residual(&self, code: &[u8]) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.dims);
        for j in 0..self.subvectors() {
            let w = self.width(j);
            let c = self.get(code, j);
            out.extend_from_slice(&self.codebooks[j][c * w..(c + 1) * w]);
        }
        out
    }

    /// The vector a code stands for: its coarse centroid plus the decoded residual.
    pub fn decode(&self, code: &[u8]) -> Vec<f32> {
        let k = (code[self.sub_bytes()] as usize).min(self.coarse.k() - 1);
        let mut out = self.decode_residual(code);
        for (o, c) in out.iter_mut().zip(self.coarse.centroid(k)) {
            *o += c;
        }
        out
    }

    /// The lookup tables of `query`.
    pub fn table(&self, metric: Metric, query: &[f32]) -> Result<PqTable, QuantError> {
        check_vector(query, self.dims)?;
        let ksub = self.bits.centroids();
        let w = match metric {
            Metric::L2 => 2.0,
            Metric::InnerProduct => 1.0,
        };
        let mut values = Vec::with_capacity(self.subvectors() * ksub);
        for j in 0..self.subvectors() {
            let (a, b) = (self.bounds[j], self.bounds[j + 1]);
            let q = &query[a..b];
            if let &[q0, q1, q2, q3] = q {
                // The default width: one expression per centroid, with no loop-carried sum,
                // so the compiler computes several centroids per instruction (the generic
                // loop below ran one multiply-add at a time: a third of a 1,024-d pq8 query).
                // Same additions in the same order as the loop, so the same values.
                values.extend(
                    self.codebooks[j]
                        .chunks_exact(4)
                        .map(|c| -w * (c[0] * q0 + c[1] * q1 + c[2] * q2 + c[3] * q3)),
                );
                continue;
            }
            for cent in self.codebooks[j].chunks_exact(b - a) {
                // subvectors are narrow (4 by default): an inlined loop beats a kernel call
                let ip: f32 = if b - a <= 8 {
                    q.iter().zip(cent).map(|(x, y)| x * y).sum()
                } else {
                    dot(q, cent)
                };
                values.push(-w * ip);
            }
        }
        let coarse = self
            .coarse
            .centroids
            .chunks_exact(self.dims)
            .map(|c| match metric {
                Metric::L2 => l2sq(query, c),
                Metric::InnerProduct => -dot(query, c),
            })
            .collect();
        let mut t = PqTable {
            ksub,
            bits: self.bits,
            metric,
            values,
            coarse,
            sub_bytes: self.sub_bytes(),
            fast: None,
        };
        if self.bits == PqBits::Four {
            t.fast = Some(t.quantized());
        }
        Ok(t)
    }
}

/// The sum over `m` 4-bit codes (two per byte, low nibble first) of each subvector's
/// 16-entry table in `tables`, as `S`, added in subvector order. One code byte reads two
/// tables (a 32-entry chunk), whose known length lets the compiler drop the bounds checks;
/// an odd last subvector has its own 16 entries.
#[inline]
fn sum_4bit<T: Copy, S: Copy + core::ops::Add<Output = S>>(
    tables: &[T],
    code: &[u8],
    m: usize,
    zero: S,
    to: impl Fn(T) -> S,
) -> S {
    let mut acc = zero;
    for (t, &b) in tables.chunks_exact(32).zip(&code[..m / 2]) {
        acc = acc + to(t[usize::from(b & 0x0f)]);
        acc = acc + to(t[16 + usize::from(b >> 4)]);
    }
    if m % 2 == 1 {
        acc = acc + to(tables[(m - 1) * 16 + usize::from(code[m / 2] & 0x0f)]);
    }
    acc
}

impl PqTable {
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Estimated distance of the vector coded `code`: its coarse centroid's distance plus one
    /// table entry per subvector (plus the code's term, for L2). 4-bit codes sum the u8 tables
    /// (fast-scan style; rounding adds at most half a step per subvector).
    #[inline]
    pub fn distance(&self, code: &[u8]) -> f32 {
        let sb = self.sub_bytes;
        let k = (code[sb] as usize).min(self.coarse.len() - 1);
        let tables = match &self.fast {
            Some((q, scale, bias)) => {
                let sum = sum_4bit(q, code, self.values.len() / 16, 0u32, u32::from);
                bias + scale * sum as f32
            }
            None => self.table_sum(code),
        };
        let mut acc = self.coarse[k] + tables;
        if self.metric == Metric::L2 {
            acc += f32::from_le_bytes(code[sb + 1..sb + 5].try_into().expect("4 bytes"));
        }
        acc
    }

    /// Sum of one table entry per subvector (the part [`PqTable::quantized`] approximates).
    #[inline]
    pub fn table_sum(&self, code: &[u8]) -> f32 {
        let m = self.values.len() / self.ksub;
        match self.bits {
            PqBits::Eight => {
                // Four running sums: one chain of dependent additions would wait ~4 cycles
                // per subvector (256 of them at 1,024-d).
                let mut part = [0.0f32; 4];
                let tables = self.values.chunks_exact(4 * 256);
                let codes = code[..m].chunks_exact(4);
                let (rest_t, rest_c) = (tables.remainder(), codes.remainder());
                for (t, c) in tables.zip(codes) {
                    part[0] += t[usize::from(c[0])];
                    part[1] += t[256 + usize::from(c[1])];
                    part[2] += t[512 + usize::from(c[2])];
                    part[3] += t[768 + usize::from(c[3])];
                }
                for (t, &c) in rest_t.chunks_exact(256).zip(rest_c) {
                    part[0] += t[usize::from(c)];
                }
                (part[0] + part[1]) + (part[2] + part[3])
            }
            PqBits::Four => sum_4bit(&self.values, code, m, 0.0f32, |x| x),
        }
    }

    /// The tables as u8 (fast-scan form): per subvector `value ≈ bias_j + q * scale`, with one
    /// `scale` for all tables so the u8 sums of a code compare like the f32 sums. Returns
    /// `(tables, scale, bias)` where `bias` is the sum of the per-table minima;
    /// `bias + scale * Σ tables[j][code_j]` estimates [`PqTable::table_sum`].
    pub fn quantized(&self) -> (Vec<u8>, f32, f32) {
        let mins: Vec<f32> = self
            .values
            .chunks_exact(self.ksub)
            .map(|t| t.iter().copied().fold(f32::INFINITY, f32::min))
            .collect();
        let span = self
            .values
            .chunks_exact(self.ksub)
            .zip(&mins)
            .map(|(t, &lo)| t.iter().copied().fold(f32::NEG_INFINITY, f32::max) - lo)
            .fold(0.0f32, f32::max);
        let scale = if span > 0.0 { span / 255.0 } else { 1.0 };
        let q = self
            .values
            .chunks_exact(self.ksub)
            .zip(&mins)
            .flat_map(|(t, &lo)| {
                t.iter()
                    // `as u8` saturates (and takes NaN to 0): for these non-negative values
                    // `x + 0.5` truncated is `round(x)` clamped to 0..=255, without the libm
                    // call `round` is on x86-64's baseline (4,096 per 1,024-d query).
                    .map(move |&v| ((v - lo) / scale + 0.5) as u8)
            })
            .collect();
        (q, scale, mins.iter().sum())
    }
}
