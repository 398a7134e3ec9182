//! Property tests on random small graphs: searches and scans never return a
//! deleted element, never panic (also on scrambled neighbour lists and on a
//! store that fails), and repair leaves no link to a deleted element.

use proptest::prelude::*;
use ruvec_hnsw::{
    insert, repair_graph, search, DenseVisited, ElementType, EntryPoint, GraphRead, GraphWrite,
    HnswParams, Level, MemoryError, MemoryGraph, MemoryQuery, Metric, Scan, ScanMode, ScanParams,
    SplitMix64, Visit,
};
use std::collections::HashSet;

#[derive(Debug, Clone)]
struct Case {
    dim: usize,
    m: usize,
    metric: Metric,
    etype: ElementType,
    rows: Vec<Vec<f32>>,
    deleted: Vec<bool>,
    /// (element, level, raw neighbour picks) written over the built graph.
    scramble: Vec<(usize, u8, Vec<usize>)>,
    query: Vec<f32>,
    seed: u64,
}

fn metric() -> impl Strategy<Value = Metric> {
    prop_oneof![
        Just(Metric::L2),
        Just(Metric::InnerProduct),
        Just(Metric::Cosine),
        Just(Metric::L1)
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..5, 2usize..6, metric(), any::<bool>(), 1usize..60).prop_flat_map(
        |(dim, m, metric, f16, n)| {
            // Small integers make exact duplicates and ties common.
            let row = prop::collection::vec((-3i8..4).prop_map(f32::from), dim);
            (
                prop::collection::vec(row.clone(), n),
                prop::collection::vec(any::<bool>(), n),
                prop::collection::vec(
                    (0..n, 0u8..3, prop::collection::vec(0..n + 3, 0..2 * m + 1)),
                    0..4,
                ),
                row,
                any::<u64>(),
            )
                .prop_map(move |(rows, deleted, scramble, query, seed)| Case {
                    dim,
                    m,
                    metric,
                    etype: if f16 {
                        ElementType::F16
                    } else {
                        ElementType::F32
                    },
                    rows,
                    deleted,
                    scramble,
                    query,
                    seed,
                })
        },
    )
}

fn build(c: &Case, scramble: bool) -> MemoryGraph {
    let params = HnswParams::new(c.m, 2 * c.m);
    let mut g = MemoryGraph::new(c.dim, c.metric, c.etype, c.m);
    let mut rng = SplitMix64::new(c.seed);
    for r in &c.rows {
        g.insert(r, &mut rng, &params).unwrap();
    }
    if scramble {
        let n = g.len();
        for (id, level, picks) in &c.scramble {
            let top = g.level_of(*id as u32).unwrap();
            let level = (*level).min(top);
            let cap = params.max_neighbors(level);
            // Any existing ids: self links, duplicates, lower-level elements.
            let list: Vec<u32> = picks
                .iter()
                .filter(|&&p| p < n)
                .map(|&p| p as u32)
                .take(cap)
                .collect();
            g.set_neighbors(*id as u32, level, &list).unwrap();
        }
    }
    for (i, &d) in c.deleted.iter().enumerate() {
        if d {
            g.delete(i as u32).unwrap();
        }
    }
    g
}

fn check_results(g: &MemoryGraph, ids: &[(u32, f32)], sorted: bool) -> Result<(), TestCaseError> {
    let mut seen = HashSet::new();
    for &(id, _) in ids {
        prop_assert!(!g.deleted(id), "deleted {} returned", id);
        prop_assert!(seen.insert(id), "{} returned twice", id);
    }
    if sorted {
        for w in ids.windows(2) {
            prop_assert!(w[0].1.total_cmp(&w[1].1).is_le(), "out of order {:?}", w);
        }
    }
    Ok(())
}

fn scan_all(g: &MemoryGraph, q: &MemoryQuery, mode: ScanMode, ef: usize) -> Vec<(u32, f32)> {
    let mut store = g;
    let p = ScanParams {
        ef_search: ef,
        max_scan_tuples: 1000,
        mode,
    };
    let mut scan: Scan<&MemoryGraph> = Scan::new(q.clone(), p);
    let mut out = Vec::new();
    while let Some(c) = scan.next(&mut store).unwrap() {
        out.push((c.id, c.distance));
        assert!(
            out.len() <= g.len(),
            "scan returned more than the graph holds"
        );
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn search_and_scan_never_return_deleted(c in case(), scramble in any::<bool>(), ef in 1usize..20) {
        let g = build(&c, scramble);
        let q = g.prepare_query(&c.query).unwrap();
        let mut store = &g;
        let r: Vec<(u32, f32)> = search(&mut store, &q, 10, ef)
            .unwrap()
            .iter()
            .map(|c| (c.id, c.distance))
            .collect();
        prop_assert!(r.len() <= 10);
        check_results(&g, &r, true)?;
        check_results(&g, &scan_all(&g, &q, ScanMode::Strict, ef), true)?;
        check_results(&g, &scan_all(&g, &q, ScanMode::Relaxed, ef), false)?;
        check_results(&g, &scan_all(&g, &q, ScanMode::Off, ef), true)?;
        // Unscrambled, with everything live, a search with ef >= n finds the
        // exact nearest element.
        if !scramble && c.deleted.iter().all(|d| !d) && ef >= g.len() {
            let best = (0..g.len() as u32)
                .map(|i| store.distance(&q, i).unwrap())
                .min_by(f32::total_cmp)
                .unwrap();
            prop_assert_eq!(r[0].1, best);
        }
    }

    #[test]
    fn repair_removes_every_link_to_deleted(c in case(), scramble in any::<bool>()) {
        let mut g = build(&c, scramble);
        let params = HnswParams::new(c.m, 2 * c.m);
        g.repair(&params).unwrap();
        let live: Vec<u32> = (0..g.len() as u32).filter(|&i| !g.deleted(i)).collect();
        match g.entry() {
            Some(ep) => prop_assert!(!g.deleted(ep.id)),
            None => prop_assert!(live.is_empty()),
        }
        for &id in &live {
            for l in 0..=g.level_of(id).unwrap() {
                for &n in g.neighbor_slice(id, l).unwrap() {
                    prop_assert!(!g.deleted(n), "{} -> deleted {} on level {}", id, n, l);
                    prop_assert!(n != id, "self link on {}", id);
                }
            }
        }
        // Reinsert the deleted rows: searches stay clean.
        let mut rng = SplitMix64::new(c.seed ^ 1);
        for (i, r) in c.rows.iter().enumerate() {
            if c.deleted[i] {
                g.insert(r, &mut rng, &params).unwrap();
            }
        }
        let q = g.prepare_query(&c.query).unwrap();
        let mut store = &g;
        let r: Vec<(u32, f32)> = search(&mut store, &q, 10, 10)
            .unwrap()
            .iter()
            .map(|c| (c.id, c.distance))
            .collect();
        check_results(&g, &r, true)?;
        if !c.rows.is_empty() && !scramble {
            prop_assert!(!r.is_empty());
        }
    }

    /// A store that fails after `budget` calls: every algorithm returns the
    /// error (or finishes first); none panics.
    #[test]
    fn store_errors_propagate(c in case(), budget in 0usize..400) {
        let g = build(&c, false);
        let params = HnswParams::new(c.m, 2 * c.m);
        let q = g.prepare_query(&c.query).unwrap();
        let mut f = Faulty { g, budget };
        let _ = search(&mut f, &q, 5, 8);
        f.budget = budget;
        let mut scan: Scan<Faulty> = Scan::new(q.clone(), ScanParams { ef_search: 4, max_scan_tuples: 100, mode: ScanMode::Strict });
        for _ in 0..100 {
            match scan.next(&mut f) {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        f.budget = budget;
        let _ = insert(&mut f, &c.query[..], 1, &params);
        f.budget = budget;
        let ids: Vec<u32> = (0..f.g.len() as u32).collect();
        let res = repair_graph(&mut f, &ids, &|_| false, &params);
        if let Err(e) = res {
            prop_assert_eq!(e, MemoryError::Full);
        }
    }
}

/// Fails every call with `MemoryError::Full` once `budget` calls are spent.
struct Faulty {
    g: MemoryGraph,
    budget: usize,
}

impl Faulty {
    fn spend(&mut self) -> Result<(), MemoryError> {
        if self.budget == 0 {
            return Err(MemoryError::Full);
        }
        self.budget -= 1;
        Ok(())
    }
}

impl GraphRead for Faulty {
    type Id = u32;
    type Query = MemoryQuery;
    type Error = MemoryError;
    type Visited = DenseVisited;
    fn entry_point(&mut self) -> Result<Option<EntryPoint<u32>>, MemoryError> {
        self.spend()?;
        self.g.entry_point()
    }
    fn level(&mut self, id: u32) -> Result<Level, MemoryError> {
        self.spend()?;
        self.g.level(id)
    }
    fn is_deleted(&mut self, id: u32) -> Result<bool, MemoryError> {
        self.spend()?;
        self.g.is_deleted(id)
    }
    fn neighbors(&mut self, id: u32, l: Level, out: &mut Vec<u32>) -> Result<(), MemoryError> {
        self.spend()?;
        self.g.neighbors(id, l, out)
    }
    fn distance(&mut self, q: &MemoryQuery, id: u32) -> Result<f32, MemoryError> {
        self.spend()?;
        self.g.distance(q, id)
    }
    fn distance_between(&mut self, a: u32, b: u32) -> Result<f32, MemoryError> {
        self.spend()?;
        self.g.distance_between(a, b)
    }
    fn visit(&mut self, q: &MemoryQuery, id: u32) -> Result<Visit, MemoryError> {
        self.spend()?;
        self.g.visit(q, id)
    }
    fn new_visited(&self) -> DenseVisited {
        self.g.new_visited()
    }
    fn check_interrupts(&mut self) -> Result<(), MemoryError> {
        self.spend()
    }
}

impl GraphWrite for Faulty {
    type Value = [f32];
    fn query_for_value(&mut self, v: &[f32]) -> Result<MemoryQuery, MemoryError> {
        self.spend()?;
        self.g.query_for_value(v)
    }
    fn add_element(&mut self, v: &[f32], l: Level, n: &[Vec<u32>]) -> Result<u32, MemoryError> {
        self.spend()?;
        self.g.add_element(v, l, n)
    }
    fn set_neighbors(&mut self, id: u32, l: Level, n: &[u32]) -> Result<(), MemoryError> {
        self.spend()?;
        self.g.set_neighbors(id, l, n)
    }
    fn set_entry_point(&mut self, e: Option<EntryPoint<u32>>) -> Result<(), MemoryError> {
        self.spend()?;
        self.g.set_entry_point(e)
    }
    fn mark_deleted(&mut self, id: u32) -> Result<(), MemoryError> {
        self.spend()?;
        self.g.mark_deleted(id)
    }
}
