//! Test helpers: TEXMEX readers, fixtures, tie-aware recall.
#![allow(dead_code)]

use ruvec_hnsw::{Candidate, ElementType, HnswParams, MemoryGraph, Metric, SplitMix64};
use std::path::PathBuf;
use std::time::Instant;

/// `../shared/data` next to the workspace (override with `RUVEC_DATA`).
pub fn data_dir() -> PathBuf {
    if let Ok(p) = std::env::var("RUVEC_DATA") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

fn read_records(path: &PathBuf) -> (usize, Vec<[u8; 4]>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.len() >= 4, "{}: empty", path.display());
    let dim = i32::from_le_bytes(bytes[..4].try_into().unwrap());
    assert!(dim > 0, "{}: bad dimension {dim}", path.display());
    let dim = dim as usize;
    let rec = 4 * (dim + 1);
    assert_eq!(bytes.len() % rec, 0, "{}: truncated", path.display());
    let mut out = Vec::with_capacity(bytes.len() / rec * dim);
    for r in bytes.chunks_exact(rec) {
        let d = i32::from_le_bytes(r[..4].try_into().unwrap());
        assert_eq!(d as usize, dim, "{}: ragged records", path.display());
        out.extend(
            r[4..]
                .chunks_exact(4)
                .map(|c| <[u8; 4]>::try_from(c).unwrap()),
        );
    }
    (dim, out)
}

/// Reads an `.fvecs` file: `(dim, row-major values)`.
pub fn read_fvecs(path: &PathBuf) -> (usize, Vec<f32>) {
    let (dim, words) = read_records(path);
    (dim, words.into_iter().map(f32::from_le_bytes).collect())
}

/// Reads an `.ivecs` file: `(dim, row-major values)`.
pub fn read_ivecs(path: &PathBuf) -> (usize, Vec<i32>) {
    let (dim, words) = read_records(path);
    (dim, words.into_iter().map(i32::from_le_bytes).collect())
}

/// Whether the ground-truth values are distances (smaller is better) or
/// similarities.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Truth {
    SquaredL2,
    CosineSimilarity,
}

pub struct Dataset {
    pub name: &'static str,
    pub dim: usize,
    pub base: Vec<f32>,
    pub queries: Vec<f32>,
    pub gt_k: usize,
    pub gt_ids: Vec<i32>,
    pub gt_vals: Vec<f32>,
    pub truth: Truth,
    pub metric: Metric,
}

impl Dataset {
    pub fn load(name: &'static str) -> Dataset {
        let dir = data_dir().join("vectors").join(name);
        let (base_f, query_f, gt, vals, truth, metric) = match name {
            "bge-m3" => (
                "paragraph.fvecs",
                "sentence.fvecs",
                "groundtruth_cosine_top100.ivecs",
                "groundtruth_cosine_top100_sim.fvecs",
                Truth::CosineSimilarity,
                Metric::Cosine,
            ),
            _ => (
                "base.fvecs",
                "query.fvecs",
                "groundtruth_l2_top100.ivecs",
                "groundtruth_l2_top100_dist.fvecs",
                Truth::SquaredL2,
                Metric::L2,
            ),
        };
        let (dim, base) = read_fvecs(&dir.join(base_f));
        let (qdim, queries) = read_fvecs(&dir.join(query_f));
        assert_eq!(dim, qdim);
        let (gt_k, gt_ids) = read_ivecs(&dir.join(gt));
        let (vk, gt_vals) = read_fvecs(&dir.join(vals));
        assert_eq!(gt_k, vk);
        let ds = Dataset {
            name,
            dim,
            base,
            queries,
            gt_k,
            gt_ids,
            gt_vals,
            truth,
            metric,
        };
        assert_eq!(ds.gt_ids.len(), ds.nq() * gt_k);
        ds
    }

    pub fn n(&self) -> usize {
        self.base.len() / self.dim
    }

    pub fn nq(&self) -> usize {
        self.queries.len() / self.dim
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.base[i * self.dim..(i + 1) * self.dim]
    }

    pub fn query(&self, i: usize) -> &[f32] {
        &self.queries[i * self.dim..(i + 1) * self.dim]
    }

    /// Whether base row `row` is a correct answer among the top `k` of query
    /// `q`, tie-aware: its exact distance (similarity) is no worse than the
    /// k-th ground-truth value.
    pub fn is_hit(&self, q: usize, row: usize, k: usize) -> bool {
        let kth = f64::from(self.gt_vals[q * self.gt_k + k - 1]);
        let (a, b) = (self.query(q), self.row(row));
        match self.truth {
            Truth::SquaredL2 => {
                let d: f64 = a
                    .iter()
                    .zip(b)
                    .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
                    .sum();
                d <= kth
            }
            Truth::CosineSimilarity => {
                let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
                for (&x, &y) in a.iter().zip(b) {
                    let (x, y) = (f64::from(x), f64::from(y));
                    ab += x * y;
                    aa += x * x;
                    bb += y * y;
                }
                // The ground truth is f64 rounded to f32 (ulp ~6e-8 here); the
                // fixture has no near-ties at rank 10, so 1e-6 is safe.
                ab / (aa * bb).sqrt() >= kth - 1e-6
            }
        }
    }

    /// Exact score of base row `row` for query `q`, smaller is better:
    /// squared L2, or negative cosine similarity (f64).
    pub fn score(&self, q: usize, row: usize) -> f64 {
        let (a, b) = (self.query(q), self.row(row));
        match self.truth {
            Truth::SquaredL2 => a
                .iter()
                .zip(b)
                .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
                .sum(),
            Truth::CosineSimilarity => {
                let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
                for (&x, &y) in a.iter().zip(b) {
                    let (x, y) = (f64::from(x), f64::from(y));
                    ab += x * y;
                    aa += x * x;
                    bb += y * y;
                }
                -ab / (aa * bb).sqrt()
            }
        }
    }

    /// Tie-aware recall@k against a brute-force ground truth restricted to
    /// the rows `allowed` accepts (e.g. the live rows after deletes).
    pub fn recall_among(
        &self,
        results: &[Vec<usize>],
        k: usize,
        allowed: &dyn Fn(usize) -> bool,
    ) -> f64 {
        let mut hits = 0usize;
        for (q, rows) in results.iter().enumerate() {
            let mut all: Vec<f64> = (0..self.n())
                .filter(|&r| allowed(r))
                .map(|r| self.score(q, r))
                .collect();
            all.sort_by(f64::total_cmp);
            let kth = all[k.min(all.len()) - 1] + 1e-9;
            let mut seen = std::collections::HashSet::new();
            for &r in rows.iter().take(k) {
                if seen.insert(r) && allowed(r) && self.score(q, r) <= kth {
                    hits += 1;
                }
            }
        }
        hits as f64 / (k * self.nq()) as f64
    }

    /// Tie-aware recall@k of `results[q]` (base rows per query).
    pub fn recall(&self, results: &[Vec<usize>], k: usize) -> f64 {
        assert_eq!(results.len(), self.nq());
        let mut hits = 0usize;
        for (q, rows) in results.iter().enumerate() {
            let mut seen = std::collections::HashSet::new();
            for &r in rows.iter().take(k) {
                if seen.insert(r) && self.is_hit(q, r, k) {
                    hits += 1;
                }
            }
        }
        hits as f64 / (k * self.nq()) as f64
    }

    /// Builds a graph over all rows; returns it and the build time.
    pub fn build(&self, etype: ElementType, params: &HnswParams, seed: u64) -> (MemoryGraph, f64) {
        let t = Instant::now();
        let g = MemoryGraph::build(self.dim, self.metric, etype, params, &self.base, seed).unwrap();
        (g, t.elapsed().as_secs_f64())
    }
}

/// Searches every query; maps result ids to base rows with `row_of`.
pub fn search_all(
    ds: &Dataset,
    g: &MemoryGraph,
    k: usize,
    ef: usize,
    row_of: &dyn Fn(u32) -> usize,
) -> (Vec<Vec<usize>>, f64) {
    let t = Instant::now();
    let res = (0..ds.nq())
        .map(|q| {
            let r: Vec<Candidate<u32>> = g.search(ds.query(q), k, ef).unwrap();
            r.iter().map(|c| row_of(c.id)).collect()
        })
        .collect();
    (res, t.elapsed().as_secs_f64())
}

/// A deterministic random subset of `0..n` of size `count`, sorted.
pub fn sample(n: usize, count: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed);
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..count.min(n) {
        let j = i + rng.below((n - i) as u64) as usize;
        idx.swap(i, j);
    }
    let mut s = idx[..count.min(n)].to_vec();
    s.sort_unstable();
    s
}
