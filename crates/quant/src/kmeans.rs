//! Lloyd's k-means with k-means++-style seeding, deterministic for a seed. Assignment runs on
//! rayon (pure computation); centroid updates are sequential sums in row order, so the result
//! does not depend on the number of threads.

use rayon::prelude::*;

use crate::{check_sample, l2sq, QuantError, SplitMix64};

/// `k` centroids (`k * dims` values) of the rows of `data`, after at most `iters` Lloyd
/// iterations. With fewer distinct rows than `k`, some centroids repeat.
pub fn kmeans(
    data: &[f32],
    dims: usize,
    k: usize,
    iters: usize,
    seed: u64,
) -> Result<Vec<f32>, QuantError> {
    let n = check_sample(data, dims)?;
    if k == 0 {
        return Err(QuantError::BadParameters("k-means needs k >= 1"));
    }
    let row = |i: usize| &data[i * dims..(i + 1) * dims];
    let mut rng = SplitMix64::new(seed);
    // Seeding: first centre uniform, then each next one with probability ~ squared distance
    // to the nearest chosen centre (k-means++), which avoids the empty clusters plain random
    // seeding gives on clustered data.
    let mut centroids = Vec::with_capacity(k * dims);
    centroids.extend_from_slice(row(rng.below(n)));
    let mut nearest: Vec<f32> = (0..n)
        .into_par_iter()
        .map(|i| l2sq(row(i), &centroids[..dims]))
        .collect();
    while centroids.len() < k * dims {
        let total: f64 = nearest.iter().map(|&d| f64::from(d)).sum();
        let pick = if total > 0.0 {
            let mut target = rng.open01() * total;
            let mut chosen = n - 1;
            for (i, &d) in nearest.iter().enumerate() {
                target -= f64::from(d);
                if target <= 0.0 {
                    chosen = i;
                    break;
                }
            }
            chosen
        } else {
            rng.below(n)
        };
        let start = centroids.len();
        centroids.extend_from_slice(row(pick));
        let c = centroids[start..start + dims].to_vec();
        nearest
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, d)| *d = d.min(l2sq(row(i), &c)));
    }
    let mut assign = vec![0usize; n];
    for _ in 0..iters {
        let new: Vec<usize> = (0..n)
            .into_par_iter()
            .map(|i| nearest_centroid(row(i), &centroids, dims).0)
            .collect();
        let changed = new != assign;
        assign = new;
        let mut sums = vec![0f64; k * dims];
        let mut counts = vec![0usize; k];
        for (i, &c) in assign.iter().enumerate() {
            counts[c] += 1;
            for (s, &x) in sums[c * dims..(c + 1) * dims].iter_mut().zip(row(i)) {
                *s += f64::from(x);
            }
        }
        for c in 0..k {
            if counts[c] == 0 {
                // An empty cluster takes the row farthest from its centroid.
                let far = (0..n)
                    .max_by(|&a, &b| {
                        let da = l2sq(row(a), &centroids[assign[a] * dims..(assign[a] + 1) * dims]);
                        let db = l2sq(row(b), &centroids[assign[b] * dims..(assign[b] + 1) * dims]);
                        da.total_cmp(&db).then(b.cmp(&a))
                    })
                    .unwrap_or(0);
                centroids[c * dims..(c + 1) * dims].copy_from_slice(row(far));
                continue;
            }
            for (dst, &s) in centroids[c * dims..(c + 1) * dims]
                .iter_mut()
                .zip(&sums[c * dims..(c + 1) * dims])
            {
                *dst = (s / counts[c] as f64) as f32;
            }
        }
        if !changed {
            break;
        }
    }
    Ok(centroids)
}

/// Index and squared distance of the centroid nearest to `v` (ties: lowest index).
pub(crate) fn nearest_centroid(v: &[f32], centroids: &[f32], dims: usize) -> (usize, f32) {
    let mut best = (0, f32::INFINITY);
    if dims <= 8 {
        // PQ subvectors (4 dimensions by default): an inlined loop; the SIMD kernel's call and
        // dispatch cost more than the arithmetic at this width (PQ8 training and coding spend
        // nearly all their time here).
        for (c, cent) in centroids.chunks_exact(dims).enumerate() {
            let d: f32 = v.iter().zip(cent).map(|(a, b)| (a - b) * (a - b)).sum();
            if d < best.1 {
                best = (c, d);
            }
        }
        return best;
    }
    for (c, cent) in centroids.chunks_exact(dims).enumerate() {
        let d = l2sq(v, cent);
        if d < best.1 {
            best = (c, d);
        }
    }
    best
}
