//! The resumable ordered scan: filtered iterative scans, ordering, budget,
//! exhaustion, agreement with plain search.

mod common;

use common::Dataset;
use ruvec_hnsw::{
    search, Candidate, ElementType, GraphRead, HnswParams, MemoryGraph, Metric, Scan, ScanMode,
    ScanParams, SplitMix64,
};
use std::collections::HashSet;

fn random_graph(n: usize, dim: usize, seed: u64) -> (MemoryGraph, Vec<f32>) {
    let mut rng = SplitMix64::new(seed);
    let data: Vec<f32> = (0..n * dim).map(|_| rng.next_f32()).collect();
    let g = MemoryGraph::build(
        dim,
        Metric::L2,
        ElementType::F32,
        &HnswParams::new(8, 32),
        &data,
        seed,
    )
    .unwrap();
    (g, data)
}

fn params(mode: ScanMode) -> ScanParams {
    ScanParams {
        ef_search: 40,
        max_scan_tuples: u64::MAX,
        mode,
    }
}

/// Pulls from a scan until `want` results pass `accept`; returns them and
/// everything pulled.
fn pull_filtered(
    g: &MemoryGraph,
    q: &[f32],
    p: ScanParams,
    want: usize,
    accept: &dyn Fn(u32) -> bool,
) -> (Vec<Candidate<u32>>, Vec<Candidate<u32>>) {
    let mut store = g;
    let mut scan: Scan<&MemoryGraph> = Scan::new(g.prepare_query(q).unwrap(), p);
    let (mut ok, mut all) = (Vec::new(), Vec::new());
    while ok.len() < want {
        match scan.next(&mut store).unwrap() {
            Some(c) => {
                all.push(c);
                if accept(c.id) {
                    ok.push(c);
                }
            }
            None => break,
        }
    }
    (ok, all)
}

/// The spec's scenario on real data: a filter accepting 5% of the ids; pull
/// until 10 accepted results. Strict mode must deliver 10, in non-decreasing
/// distance order, and they should be (nearly) the true filtered top 10.
#[test]
fn filtered_iterative_scan_bigann10k() {
    let ds = Dataset::load("bigann10k");
    let (g, _) = ds.build(ElementType::F32, &HnswParams::new(16, 64), 7);
    // Accept ~5% of ids, scattered (a hash, not a range).
    let accept = |id: u32| (id.wrapping_mul(2_654_435_761) >> 16).is_multiple_of(20);
    let accepted = (0..g.len() as u32).filter(|&i| accept(i)).count();
    assert!((400..=600).contains(&accepted), "{accepted}");
    for mode in [ScanMode::Strict, ScanMode::Relaxed] {
        let mut hits = 0;
        for q in 0..ds.nq() {
            let (ok, all) = pull_filtered(&g, ds.query(q), params(mode), 10, &accept);
            assert_eq!(
                ok.len(),
                10,
                "query {q} {mode:?}: only {} accepted",
                ok.len()
            );
            let ids: HashSet<u32> = all.iter().map(|c| c.id).collect();
            assert_eq!(ids.len(), all.len(), "duplicate results");
            if mode == ScanMode::Strict {
                for w in all.windows(2) {
                    assert!(w[0].distance <= w[1].distance, "query {q}: {:?}", w);
                }
            }
            // True filtered top 10 by brute force.
            let mut exact: Vec<f64> = (0..ds.n())
                .filter(|&i| accept(i as u32))
                .map(|i| {
                    ds.query(q)
                        .iter()
                        .zip(ds.row(i))
                        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                        .sum()
                })
                .collect();
            exact.sort_by(f64::total_cmp);
            hits += ok
                .iter()
                .filter(|c| f64::from(c.distance) <= exact[9])
                .count();
        }
        let recall = hits as f64 / (10 * ds.nq()) as f64;
        eprintln!("filtered (5%) {mode:?} scan recall@10 = {recall:.4}");
        assert!(recall >= 0.95, "{mode:?} filtered recall {recall}");
    }
}

/// The first results of a strict scan are exactly what `search` returns.
#[test]
fn first_batch_matches_search() {
    let (g, data) = random_graph(2000, 16, 3);
    let mut store = &g;
    for qi in 0..50 {
        let q = g.prepare_query(&data[qi * 16..qi * 16 + 16]).unwrap();
        let want = search(&mut store, &q, 10, 40).unwrap();
        for mode in [ScanMode::Off, ScanMode::Strict, ScanMode::Relaxed] {
            let mut scan: Scan<&MemoryGraph> = Scan::new(q.clone(), params(mode));
            let got: Vec<_> = (0..10)
                .map_while(|_| scan.next(&mut store).unwrap())
                .collect();
            assert_eq!(got, want, "{mode:?}");
        }
    }
}

/// Mode `Off` returns at most `ef_search` results, in order.
#[test]
fn off_mode_returns_one_batch() {
    let (g, data) = random_graph(1000, 8, 4);
    let mut store = &g;
    let mut scan: Scan<&MemoryGraph> = Scan::new(
        g.prepare_query(&data[..8]).unwrap(),
        ScanParams {
            mode: ScanMode::Off,
            ..params(ScanMode::Off)
        },
    );
    let mut all = Vec::new();
    while let Some(c) = scan.next(&mut store).unwrap() {
        all.push(c);
    }
    assert_eq!(all.len(), 40);
    assert!(all.windows(2).all(|w| w[0] <= w[1]));
    assert!(scan.next(&mut store).unwrap().is_none());
    assert_eq!(scan.stats().batches, 1);
}

/// With no budget, a relaxed scan returns every live element exactly once
/// and a strict scan returns or drops each exactly once, skipping deleted
/// ones.
#[test]
fn unbounded_scans_exhaust_the_graph() {
    let (mut g, data) = random_graph(1500, 8, 5);
    let mut rng = SplitMix64::new(11);
    let mut dead = HashSet::new();
    for _ in 0..300 {
        let id = rng.below(1500) as u32;
        g.delete(id).unwrap();
        dead.insert(id);
    }
    let live = 1500 - dead.len();
    for mode in [ScanMode::Relaxed, ScanMode::Strict] {
        let mut store = &g;
        let mut scan: Scan<&MemoryGraph> =
            Scan::new(g.prepare_query(&data[8..16]).unwrap(), params(mode));
        let mut seen = HashSet::new();
        let mut last = f32::NEG_INFINITY;
        while let Some(c) = scan.next(&mut store).unwrap() {
            assert!(!dead.contains(&c.id), "deleted {} returned", c.id);
            assert!(seen.insert(c.id), "{} returned twice", c.id);
            if mode == ScanMode::Strict {
                assert!(c.distance >= last);
            }
            last = last.max(c.distance);
        }
        let st = scan.stats();
        assert_eq!(st.returned as usize, seen.len());
        if mode == ScanMode::Relaxed {
            assert_eq!(seen.len(), live, "relaxed scan missed elements");
        } else {
            assert_eq!(seen.len() + st.dropped as usize, live);
        }
        assert!(scan.next(&mut store).unwrap().is_none());
    }
}

/// `max_scan_tuples` stops expansion: the scan ends after visiting about that
/// many nodes (one expansion may overshoot by a neighbour list), and it still
/// returns what it visited, in order.
#[test]
fn budget_is_respected() {
    let (g, data) = random_graph(3000, 8, 6);
    let mut store = &g;
    let p = ScanParams {
        ef_search: 20,
        max_scan_tuples: 300,
        mode: ScanMode::Strict,
    };
    let mut scan: Scan<&MemoryGraph> = Scan::new(g.prepare_query(&data[..8]).unwrap(), p);
    let mut n = 0;
    let mut last = f32::NEG_INFINITY;
    while let Some(c) = scan.next(&mut store).unwrap() {
        assert!(c.distance >= last);
        last = c.distance;
        n += 1;
    }
    let st = scan.stats();
    assert!(st.tuples >= 300 && st.tuples <= 300 + 2 * 8, "{st:?}");
    assert_eq!(
        n as u64 + st.dropped,
        st.tuples,
        "every visited node returned or dropped"
    );
    assert!(st.batches > 1);
}

#[test]
fn empty_graph_scan() {
    let g = MemoryGraph::new(4, Metric::L2, ElementType::F32, 8);
    let mut store = &g;
    let mut scan: Scan<&MemoryGraph> = Scan::new(
        g.prepare_query(&[0.0; 4]).unwrap(),
        params(ScanMode::Strict),
    );
    assert!(scan.next(&mut store).unwrap().is_none());
    assert!(scan.next(&mut store).unwrap().is_none());
    assert!(store.entry_point().unwrap().is_none());
}
