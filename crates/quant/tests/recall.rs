//! Recall@10 of ranking by each quantizer's estimated distance on the shared fixtures, without
//! rerank (reported) and with an exact rerank of a small candidate list (asserted ≥ 0.95), plus
//! the reason the binary codes are rotated: plain sign bits collapse on SIFT.

use ruvec_quant::{Metric, Pq, PqBits, Rbq, Sq8};
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    if let Ok(p) = std::env::var("RUVEC_DATA") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

fn fvecs(rel: &str) -> (usize, Vec<f32>) {
    let path = data_dir().join(rel);
    let b = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let d = i32::from_le_bytes(b[..4].try_into().unwrap()) as usize;
    let v = b
        .chunks_exact(4 * (d + 1))
        .flat_map(|r| {
            r[4..]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        })
        .collect();
    (d, v)
}

fn normalise(v: &mut [f32], d: usize) {
    for r in v.chunks_exact_mut(d) {
        let n = r.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n > 0.0 {
            r.iter_mut().for_each(|x| *x /= n);
        }
    }
}

fn exact(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        Metric::L2 => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum(),
        Metric::InnerProduct => -a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>(),
    }
}

/// Tie-aware recall@10 of `got` against exact distances.
fn recall(metric: Metric, base: &[f32], d: usize, q: &[f32], got: &[usize]) -> f64 {
    let mut all: Vec<f32> = base.chunks_exact(d).map(|r| exact(metric, q, r)).collect();
    let mut sorted = all.clone();
    sorted.sort_by(f32::total_cmp);
    let kth = sorted[9];
    let hits = got
        .iter()
        .take(10)
        .filter(|&&i| all[i] <= kth + 1e-6 * kth.abs().max(1.0))
        .count();
    all.clear();
    hits as f64 / 10.0
}

/// Mean recall@10 over the queries of ranking by `estimate`, then (if `rerank > 0`) re-ranking
/// the best `rerank` by exact distance.
fn eval(
    metric: Metric,
    base: &[f32],
    d: usize,
    queries: &[f32],
    rerank: usize,
    estimate: &dyn Fn(&[f32]) -> Vec<f32>,
) -> f64 {
    let nq = queries.len() / d;
    let mut total = 0.0;
    for q in queries.chunks_exact(d) {
        let est = estimate(q);
        let mut order: Vec<usize> = (0..est.len()).collect();
        order.sort_by(|&a, &b| est[a].total_cmp(&est[b]).then(a.cmp(&b)));
        let top: Vec<usize> = if rerank > 0 {
            let mut c: Vec<usize> = order[..rerank].to_vec();
            c.sort_by(|&a, &b| {
                exact(metric, q, &base[a * d..(a + 1) * d]).total_cmp(&exact(
                    metric,
                    q,
                    &base[b * d..(b + 1) * d],
                ))
            });
            c
        } else {
            order
        };
        total += recall(metric, base, d, q, &top[..10]);
    }
    total / nq as f64
}

struct Fixture {
    name: &'static str,
    d: usize,
    base: Vec<f32>,
    queries: Vec<f32>,
    metric: Metric,
}

fn fixture(name: &'static str) -> Fixture {
    match name {
        "sift5k" | "bigann10k" => {
            let (d, base) = fvecs(&format!("vectors/{name}/base.fvecs"));
            let (_, mut queries) = fvecs(&format!("vectors/{name}/query.fvecs"));
            queries.truncate(100 * d);
            Fixture {
                name,
                d,
                base,
                queries,
                metric: Metric::L2,
            }
        }
        _ => {
            let (d, mut base) = fvecs("vectors/bge-m3/paragraph.fvecs");
            let (_, mut queries) = fvecs("vectors/bge-m3/sentence.fvecs");
            queries.truncate(100 * d);
            normalise(&mut base, d);
            normalise(&mut queries, d);
            Fixture {
                name: "bge-m3",
                d,
                base,
                queries,
                metric: Metric::InnerProduct,
            }
        }
    }
}

fn check(f: &Fixture, what: &str, rerank: usize, estimate: &dyn Fn(&[f32]) -> Vec<f32>) {
    let raw = eval(f.metric, &f.base, f.d, &f.queries, 0, estimate);
    let re = eval(f.metric, &f.base, f.d, &f.queries, rerank, estimate);
    eprintln!(
        "{} {what}: recall@10 by codes {raw:.3}, with exact rerank of {rerank}: {re:.3}",
        f.name
    );
    assert!(re >= 0.95, "{} {what}: recall with rerank {re:.3}", f.name);
}

fn all_tiers(name: &'static str) {
    let f = fixture(name);
    let (d, m) = (f.d, f.metric);
    let n = f.base.len() / d;
    let codes = |enc: &dyn Fn(&[f32]) -> Vec<u8>| -> Vec<Vec<u8>> {
        f.base.chunks_exact(d).map(enc).collect()
    };

    let sq = Sq8::train(&f.base, d).unwrap();
    let c = codes(&|v| sq.encode(v).unwrap());
    check(&f, "int8", 20, &|q| {
        c.iter().map(|x| sq.distance(m, q, x)).collect()
    });

    for (bits, rerank) in [(PqBits::Eight, 50), (PqBits::Four, 100)] {
        let pq = Pq::train(&f.base, d, d / 4, bits, 15, 7).unwrap();
        let c = codes(&|v| pq.encode(v).unwrap());
        check(
            &f,
            &format!("pq {bits:?} ({} subvectors)", d / 4),
            rerank,
            &|q| {
                let t = pq.table(m, q).unwrap();
                c.iter().map(|x| t.distance(x)).collect()
            },
        );
    }

    let rb = Rbq::train(&f.base, d, 11).unwrap();
    let c = codes(&|v| rb.encode(v).unwrap());
    check(&f, "binary (centred + rotated)", 200.min(n), &|q| {
        let p = rb.query(m, q).unwrap();
        c.iter().map(|x| rb.distance(&p, x)).collect()
    });
}

#[test]
fn sift5k_every_tier() {
    all_tiers("sift5k");
}

#[test]
fn bigann10k_every_tier() {
    all_tiers("bigann10k");
}

#[test]
fn bge_m3_every_tier() {
    all_tiers("bge-m3");
}

/// Plain sign bits of SIFT's non-negative values are (nearly) all ones: ranking by Hamming
/// distance is close to random. Centring and rotating first is what makes binary codes work.
#[test]
fn plain_sign_bits_collapse_on_sift() {
    let f = fixture("sift5k");
    let d = f.d;
    let signs = |v: &[f32]| -> Vec<bool> { v.iter().map(|&x| x > 0.0).collect() };
    let codes: Vec<Vec<bool>> = f.base.chunks_exact(d).map(signs).collect();
    let plain = eval(f.metric, &f.base, d, &f.queries, 0, &|q| {
        let s = signs(q);
        codes
            .iter()
            .map(|c| c.iter().zip(&s).filter(|(a, b)| a != b).count() as f32)
            .collect()
    });
    let rb = Rbq::train(&f.base, d, 11).unwrap();
    let c: Vec<Vec<u8>> = f
        .base
        .chunks_exact(d)
        .map(|v| rb.encode(v).unwrap())
        .collect();
    let rotated = eval(f.metric, &f.base, d, &f.queries, 0, &|q| {
        let p = rb.query(f.metric, q).unwrap();
        c.iter().map(|x| rb.distance(&p, x)).collect()
    });
    eprintln!("sift5k binary recall@10 without rerank: plain signs {plain:.3}, centred + rotated {rotated:.3}");
    assert!(plain < 0.16, "plain sign bits: {plain:.3}");
    assert!(
        rotated > 2.0 * plain && rotated > 0.3,
        "rotated {rotated:.3} vs plain {plain:.3}"
    );
}
