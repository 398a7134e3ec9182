//! int8 scalar quantization: each dimension mapped linearly onto 0..=255 over the range seen in
//! a training sample (values outside are clamped).

use crate::bytes::{Reader, Writer};
use crate::{check_sample, check_vector, Metric, QuantError};

#[derive(Clone, Debug, PartialEq)]
pub struct Sq8 {
    dims: usize,
    lo: Vec<f32>,
    /// Step per code value; 0 for a constant dimension.
    step: Vec<f32>,
}

impl Sq8 {
    /// Learn each dimension's range from `sample` (`dims` values per row).
    pub fn train(sample: &[f32], dims: usize) -> Result<Sq8, QuantError> {
        check_sample(sample, dims)?;
        let mut lo = vec![f32::INFINITY; dims];
        let mut hi = vec![f32::NEG_INFINITY; dims];
        for row in sample.chunks_exact(dims) {
            for (d, &x) in row.iter().enumerate() {
                lo[d] = lo[d].min(x);
                hi[d] = hi[d].max(x);
            }
        }
        let step = lo.iter().zip(&hi).map(|(l, h)| (h - l) / 255.0).collect();
        Ok(Sq8 { dims, lo, step })
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Bytes per code.
    pub fn code_bytes(&self) -> usize {
        self.dims
    }

    pub fn encode(&self, v: &[f32]) -> Result<Vec<u8>, QuantError> {
        check_vector(v, self.dims)?;
        Ok(v.iter()
            .zip(self.lo.iter().zip(&self.step))
            .map(|(&x, (&l, &s))| {
                if s > 0.0 {
                    ((x - l) / s).round().clamp(0.0, 255.0) as u8
                } else {
                    0
                }
            })
            .collect())
    }

    /// `dims`, then the per-dimension minima and steps.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(self.dims as u32).f32s(&self.lo).f32s(&self.step);
        w.0
    }

    pub fn from_bytes(b: &[u8]) -> Result<Sq8, QuantError> {
        let mut r = Reader::new(b);
        let dims = r.count()?;
        let lo = r.f32s(dims)?;
        let step = r.f32s(dims)?;
        r.end()?;
        if step.iter().any(|&s| s < 0.0) {
            return Err(QuantError::Malformed);
        }
        Ok(Sq8 { dims, lo, step })
    }

    pub fn decode(&self, code: &[u8]) -> Vec<f32> {
        code.iter()
            .zip(self.lo.iter().zip(&self.step))
            .map(|(&c, (&l, &s))| l + f32::from(c) * s)
            .collect()
    }

    /// Distance from a full-precision query to a code (asymmetric: the code is decoded on the
    /// fly, the query is not quantized).
    pub fn distance(&self, metric: Metric, query: &[f32], code: &[u8]) -> f32 {
        self.distance_prepared(&self.prepare(metric, query), code)
    }

    /// Per-query constants for [`Sq8::distance_prepared`]: for L2 `a = q − lo` (then
    /// `‖q − x‖² = Σ (a − c·step)²`), for inner product `w = q·step` and `Σ q·lo` (then
    /// `⟨q, x⟩ = Σ q·lo + Σ w·c`).
    pub fn prepare(&self, metric: Metric, query: &[f32]) -> Sq8Query {
        match metric {
            Metric::L2 => Sq8Query {
                metric,
                a: query.iter().zip(&self.lo).map(|(q, l)| q - l).collect(),
                bias: 0.0,
            },
            Metric::InnerProduct => Sq8Query {
                metric,
                a: query.iter().zip(&self.step).map(|(q, s)| q * s).collect(),
                bias: query.iter().zip(&self.lo).map(|(q, l)| q * l).sum(),
            },
        }
    }

    /// The distance of a prepared query to a code; fixed-width lanes so the loop vectorises.
    #[inline]
    pub fn distance_prepared(&self, q: &Sq8Query, code: &[u8]) -> f32 {
        const L: usize = 16;
        let n = q.a.len().min(code.len()).min(self.step.len());
        let (a, s, c) = (&q.a[..n], &self.step[..n], &code[..n]);
        let mut acc = [0f32; L];
        let whole = n / L * L;
        match q.metric {
            Metric::L2 => {
                for ((a, s), c) in a[..whole]
                    .chunks_exact(L)
                    .zip(s[..whole].chunks_exact(L))
                    .zip(c[..whole].chunks_exact(L))
                {
                    for i in 0..L {
                        let d = a[i] - f32::from(c[i]) * s[i];
                        acc[i] += d * d;
                    }
                }
                let mut sum: f32 = acc.iter().sum();
                for i in whole..n {
                    let d = a[i] - f32::from(c[i]) * s[i];
                    sum += d * d;
                }
                sum
            }
            Metric::InnerProduct => {
                for (w, c) in a[..whole].chunks_exact(L).zip(c[..whole].chunks_exact(L)) {
                    for i in 0..L {
                        acc[i] += w[i] * f32::from(c[i]);
                    }
                }
                let mut sum: f32 = acc.iter().sum();
                for i in whole..n {
                    sum += a[i] * f32::from(c[i]);
                }
                -(q.bias + sum)
            }
        }
    }
}

/// A query prepared for one [`Sq8`] (see [`Sq8::prepare`]).
#[derive(Clone, Debug)]
pub struct Sq8Query {
    metric: Metric,
    a: Vec<f32>,
    bias: f32,
}
