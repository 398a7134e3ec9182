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
        let mut acc = 0.0f32;
        for (((&q, &c), &l), &s) in query.iter().zip(code).zip(&self.lo).zip(&self.step) {
            let x = l + f32::from(c) * s;
            acc += match metric {
                Metric::L2 => (q - x) * (q - x),
                Metric::InnerProduct => q * x,
            };
        }
        match metric {
            Metric::L2 => acc,
            Metric::InnerProduct => -acc,
        }
    }
}
