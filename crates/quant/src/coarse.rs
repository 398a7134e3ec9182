//! Coarse centroids for residual coding (as IVF-PQ and IVF-RaBitQ do): a vector is coded as
//! the nearest of up to 256 k-means centroids (one byte) plus a fine code of its residual.
//!
//! Why: on clustered data (real embeddings, and the benchmark's Gaussian clusters) the offset
//! between clusters dwarfs the differences inside one, so a code of the vector itself spends
//! its resolution on telling clusters apart — measured on 200k × 768 Gaussian clusters, PQ8
//! and binary codes of the raw vectors could not rank points within a cluster (recall@10
//! 0.24 / 0.11 at ef_search 40 with rerank). Coding the residual spends it where the nearest
//! neighbours differ.

use crate::bytes::{Reader, Writer};
use crate::kmeans::{kmeans, nearest_centroid};
use crate::{check_sample, QuantError};

/// Rows per coarse centroid the trainer aims for, and its limits.
const ROWS_PER_CENTROID: usize = 32;
pub const MAX_CENTROIDS: usize = 256;
/// Rows the coarse k-means runs on at most (its cost is rows × centroids × dims per iteration).
const TRAIN_ROWS: usize = 16_384;
const ITERS: usize = 8;

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Coarse {
    pub dims: usize,
    /// `k × dims` values.
    pub centroids: Vec<f32>,
}

impl Coarse {
    pub fn train(sample: &[f32], dims: usize, seed: u64) -> Result<Coarse, QuantError> {
        let n = check_sample(sample, dims)?;
        let k = (n / ROWS_PER_CENTROID).clamp(1, MAX_CENTROIDS);
        let take = n.min(TRAIN_ROWS);
        let sub: Vec<f32> = (0..take)
            .flat_map(|j| {
                let i = j * n / take;
                sample[i * dims..(i + 1) * dims].iter().copied()
            })
            .collect();
        Ok(Coarse {
            dims,
            centroids: kmeans(&sub, dims, k, ITERS, seed ^ 0xC0A5)?,
        })
    }

    pub fn k(&self) -> usize {
        self.centroids.len() / self.dims
    }

    pub fn centroid(&self, i: usize) -> &[f32] {
        &self.centroids[i * self.dims..(i + 1) * self.dims]
    }

    /// The nearest centroid's index.
    pub fn assign(&self, v: &[f32]) -> usize {
        nearest_centroid(v, &self.centroids, self.dims).0
    }

    /// `v` minus its centroid, and the centroid's index.
    pub fn residual(&self, v: &[f32]) -> (usize, Vec<f32>) {
        let k = self.assign(v);
        (
            k,
            v.iter().zip(self.centroid(k)).map(|(x, c)| x - c).collect(),
        )
    }

    pub fn write(&self, w: &mut Writer) {
        w.u32(self.k() as u32).f32s(&self.centroids);
    }

    pub fn read(r: &mut Reader<'_>, dims: usize) -> Result<Coarse, QuantError> {
        let k = r.count()?;
        if k > MAX_CENTROIDS {
            return Err(QuantError::Malformed);
        }
        Ok(Coarse {
            dims,
            centroids: r.f32s(k * dims)?,
        })
    }
}
