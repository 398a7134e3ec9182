//! Nanoseconds per distance for ruvec-distance's dispatched (SIMD) kernels
//! and its scalar reference loops, at typical embedding dimensions.
//!
//! Run: `cargo bench -p ruvec-benches --bench distance`
//! Results: `target/criterion/<type>_<metric>/<impl>/<dim>/new/estimates.json`.
//!
//! Groups are `f32_<metric>` and `f16_<metric>` for metric in l2_squared,
//! dot, cosine, l1; implementations are `simd` (the public function, as the
//! extension calls it) and `scalar` (`ruvec_distance::scalar`). For f16 L2 and
//! dot there is also `simsimd_raw`, simsimd's own dispatched f16 kernel, which
//! on CPUs with AVX-512-FP16 accumulates in f16 and is therefore not used by
//! ruvec: it shows what the f32-accumulating replacement costs. `f32_cosine_2mb`
//! compares operands on and off cache-line boundaries (`AlignedF32`).

use criterion::{BenchmarkId, Criterion};
use half::f16;
use ruvec_distance as rd;
use std::hint::black_box;
use std::time::Duration;

const DIMS: [usize; 4] = [128, 384, 768, 1536];

/// Deterministic values in [-1, 1) (64-bit LCG), no RNG dependency.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn bench_kernel<T, R>(
    c: &mut Criterion,
    group: &str,
    name: &str,
    make: impl Fn(&[f32]) -> Vec<T>,
    kernel: impl Fn(&[T], &[T]) -> R,
) {
    let mut g = c.benchmark_group(group);
    for dim in DIMS {
        let a = make(&values(dim, 1));
        let b = make(&values(dim, 2));
        g.bench_with_input(BenchmarkId::new(name, dim), &dim, |bench, _| {
            bench.iter(|| kernel(black_box(&a), black_box(&b)))
        });
    }
    g.finish();
}

fn bench_f32(c: &mut Criterion) {
    let id = |v: &[f32]| v.to_vec();
    bench_kernel(c, "f32_l2_squared", "simd", id, rd::l2_squared_f32);
    bench_kernel(
        c,
        "f32_l2_squared",
        "scalar",
        id,
        rd::scalar::l2_squared_f32,
    );
    bench_kernel(c, "f32_dot", "simd", id, rd::dot_f32);
    bench_kernel(c, "f32_dot", "scalar", id, rd::scalar::dot_f32);
    bench_kernel(c, "f32_cosine", "simd", id, rd::cosine_distance_f32);
    bench_kernel(
        c,
        "f32_cosine",
        "scalar",
        id,
        rd::scalar::cosine_distance_f32,
    );
    bench_kernel(c, "f32_l1", "simd", id, rd::l1_f32);
    bench_kernel(c, "f32_l1", "scalar", id, rd::scalar::l1_f32);
}

fn to_f16(v: &[f32]) -> Vec<f16> {
    v.iter().copied().map(f16::from_f32).collect()
}

fn as_simsimd(x: &[f16]) -> &[simsimd::f16] {
    // SAFETY: both types are `#[repr(transparent)]` wrappers around `u16`.
    unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<simsimd::f16>(), x.len()) }
}

fn bench_f16(c: &mut Criterion) {
    use simsimd::SpatialSimilarity;
    bench_kernel(c, "f16_l2_squared", "simd", to_f16, rd::l2_squared_f16);
    bench_kernel(
        c,
        "f16_l2_squared",
        "scalar",
        to_f16,
        rd::scalar::l2_squared_f16,
    );
    bench_kernel(c, "f16_l2_squared", "simsimd_raw", to_f16, |a, b| {
        simsimd::f16::l2sq(as_simsimd(a), as_simsimd(b))
    });
    bench_kernel(c, "f16_dot", "simd", to_f16, rd::dot_f16);
    bench_kernel(c, "f16_dot", "scalar", to_f16, rd::scalar::dot_f16);
    bench_kernel(c, "f16_dot", "simsimd_raw", to_f16, |a, b| {
        <simsimd::f16 as SpatialSimilarity>::dot(as_simsimd(a), as_simsimd(b))
    });
    bench_kernel(c, "f16_cosine", "simd", to_f16, rd::cosine_distance_f16);
    bench_kernel(
        c,
        "f16_cosine",
        "scalar",
        to_f16,
        rd::scalar::cosine_distance_f16,
    );
    bench_kernel(c, "f16_l1", "simd", to_f16, rd::l1_f16);
    bench_kernel(c, "f16_l1", "scalar", to_f16, rd::scalar::l1_f16);
}

/// Operand alignment: cosine distances from one 1,024-d query to 500 stored vectors (2 MB,
/// about a core's L2, the size of bge-m3's code cache) in a scattered order, with both
/// operands starting on a cache line (`aligned`, as ruvec's query copy and code cache keep
/// them) or 16 bytes past one (`offset16`, where malloc puts large blocks). Reported per
/// distance (the group's throughput is one element per call).
fn bench_alignment(c: &mut Criterion) {
    const DIM: usize = 1024;
    const N: usize = 500;
    let mut g = c.benchmark_group("f32_cosine_2mb");
    g.throughput(criterion::Throughput::Elements(N as u64));
    for (name, offset) in [("aligned", 0usize), ("offset16", 16)] {
        // 64 spare floats: room to start the vectors at `offset` bytes past a line
        let mut data = vec![0f32; N * DIM + 64];
        let mut query = vec![0f32; DIM + 64];
        let start = |v: &[f32]| ((64 - v.as_ptr() as usize % 64) % 64 + offset) / 4;
        let (ds, qs) = (start(&data), start(&query));
        data[ds..ds + N * DIM].copy_from_slice(&values(N * DIM, 3));
        query[qs..qs + DIM].copy_from_slice(&values(DIM, 4));
        let (data, query) = (&data[ds..ds + N * DIM], &query[qs..qs + DIM]);
        // a fixed permutation (7919 is coprime to 500) jumping 419 vectors at a time: each
        // vector is a cold start for the hardware prefetcher, as the copies a search reaches are
        let order: Vec<usize> = (0..N).map(|i| i * 7919 % N).collect();
        g.bench_function(name, |bench| {
            bench.iter(|| {
                let mut acc = 0.0;
                for &i in &order {
                    acc += rd::cosine_distance_f32(black_box(query), &data[i * DIM..(i + 1) * DIM]);
                }
                acc
            })
        });
    }
    g.finish();
}

fn main() {
    eprintln!("simd_backend: {}", rd::simd_backend());
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench_f32(&mut c);
    bench_f16(&mut c);
    bench_alignment(&mut c);
    c.final_summary();
}
