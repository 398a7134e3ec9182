//! Behaviour of insert, search and repair on small synthetic graphs: exact
//! duplicates, every metric against brute force, entry-point handling,
//! compare-and-set retries.

use ruvec_hnsw::{
    insert, random_level, repair_graph, search, Candidate, ElementType, EntryPoint, GraphRead,
    GraphWrite, HnswParams, InsertOutcome, Level, MemoryError, MemoryGraph, MemoryQuery, Merge,
    Metric, SplitMix64, Visit,
};

fn random_data(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..n * dim).map(|_| rng.next_f32() * 2.0 - 1.0).collect()
}

/// 10 identical vectors among random ones: a query equal to them gets all 10
/// in its top 10, for each metric where "equal" means "nearest" and for both
/// element types.
#[test]
fn identical_vectors_all_found() {
    let dim = 24;
    for metric in [Metric::L2, Metric::Cosine, Metric::L1] {
        for etype in [ElementType::F32, ElementType::F16] {
            let params = HnswParams::new(16, 64);
            let mut g = MemoryGraph::new(dim, metric, etype, 16);
            let mut rng = SplitMix64::new(99);
            let dup: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.37).sin()).collect();
            let others = random_data(2000, dim, 5);
            let mut dup_ids = Vec::new();
            // Interleave: duplicates arrive at different times.
            for (i, row) in others.chunks_exact(dim).enumerate() {
                if i % 200 == 17 {
                    dup_ids.push(g.insert(&dup, &mut rng, &params).unwrap());
                }
                g.insert(row, &mut rng, &params).unwrap();
            }
            assert_eq!(dup_ids.len(), 10);
            let top = g.search(&dup, 10, 40).unwrap();
            let mut got: Vec<u32> = top.iter().map(|c| c.id).collect();
            got.sort_unstable();
            assert_eq!(got, dup_ids, "{metric:?} {etype:?}");
        }
    }
}

/// Each metric: recall@10 against brute force over the graph's own
/// distances, on random data.
#[test]
fn every_metric_matches_brute_force() {
    let (n, dim) = (3000, 16);
    let data = random_data(n, dim, 21);
    let queries = random_data(50, dim, 22);
    for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1] {
        let g = MemoryGraph::build(
            dim,
            metric,
            ElementType::F32,
            &HnswParams::new(16, 64),
            &data,
            3,
        )
        .unwrap();
        let mut store = &g;
        let mut hits = 0;
        for q in queries.chunks_exact(dim) {
            let pq = g.prepare_query(q).unwrap();
            let mut all: Vec<Candidate<u32>> = (0..n as u32)
                .map(|i| Candidate::new(i, store.distance(&pq, i).unwrap()))
                .collect();
            all.sort();
            let tenth = all[9].distance;
            let got = search(&mut store, &pq, 10, 64).unwrap();
            assert!(got.windows(2).all(|w| w[0] <= w[1]));
            hits += got.iter().filter(|c| c.distance <= tenth).count();
        }
        let recall = hits as f64 / 500.0;
        eprintln!("{metric:?}: recall@10 {recall:.3}");
        // Inner product on unnormalised data is the hard case for HNSW.
        let min = if metric == Metric::InnerProduct {
            0.85
        } else {
            0.95
        };
        assert!(recall >= min, "{metric:?}: {recall}");
    }
}

#[test]
fn first_insert_sets_entry_point_and_higher_levels_move_it() {
    let params = HnswParams::new(4, 16);
    let mut g = MemoryGraph::new(2, Metric::L2, ElementType::F32, 4);
    assert!(g.entry().is_none());
    let a = insert(&mut g, &[0.0, 0.0][..], 1, &params).unwrap();
    assert_eq!(
        g.entry(),
        Some(EntryPoint {
            id: a.id(),
            level: 1
        })
    );
    let b = insert(&mut g, &[1.0, 0.0][..], 0, &params).unwrap();
    assert_eq!(g.entry().unwrap().id, a.id());
    let c = insert(&mut g, &[0.0, 1.0][..], 3, &params).unwrap();
    assert_eq!(
        g.entry(),
        Some(EntryPoint {
            id: c.id(),
            level: 3
        })
    );
    // Links are symmetric in a tiny graph, and levels above the old entry
    // point start empty.
    assert_eq!(g.neighbor_slice(b.id(), 0).unwrap().len(), 2);
    assert_eq!(g.neighbor_slice(c.id(), 1).unwrap(), &[a.id()]);
    assert!(g.neighbor_slice(c.id(), 2).unwrap().is_empty());
    // Levels are clamped to params.max_level.
    let p2 = HnswParams {
        max_level: 2,
        ..params
    };
    let d = insert(&mut g, &[5.0, 5.0][..], 200, &p2).unwrap();
    assert_eq!(g.level_of(d.id()), Some(2));
}

#[test]
fn neighbour_lists_never_exceed_capacity() {
    let params = HnswParams::new(4, 16);
    let data = random_data(800, 3, 8);
    let g = MemoryGraph::build(3, Metric::L2, ElementType::F32, &params, &data, 1).unwrap();
    for id in 0..g.len() as u32 {
        for l in 0..=g.level_of(id).unwrap() {
            let ns = g.neighbor_slice(id, l).unwrap();
            assert!(ns.len() <= params.max_neighbors(l));
            assert!(!ns.contains(&id), "self link");
            let mut s = ns.to_vec();
            s.sort_unstable();
            s.dedup();
            assert_eq!(s.len(), ns.len(), "duplicate link");
            for &n in ns {
                assert!(g.level_of(n).unwrap() >= l);
            }
        }
    }
}

#[test]
fn deleting_the_entry_point_and_everything() {
    let params = HnswParams::new(8, 32);
    let data = random_data(300, 4, 9);
    let mut g = MemoryGraph::build(4, Metric::L2, ElementType::F32, &params, &data, 2).unwrap();
    let ep = g.entry().unwrap();
    g.delete(ep.id).unwrap();
    let st = g.repair(&params).unwrap();
    assert!(st.entry_point_replaced);
    let ep2 = g.entry().unwrap();
    assert_ne!(ep2.id, ep.id);
    assert!(!g.deleted(ep2.id));
    // The new entry point has the highest live level.
    let top = (0..300u32)
        .filter(|&i| !g.deleted(i))
        .map(|i| g.level_of(i).unwrap())
        .max();
    assert_eq!(Some(ep2.level), top);
    let r = g.search(&data[..4], 5, 20).unwrap();
    assert_eq!(r.len(), 5);
    assert!(r.iter().all(|c| c.id != ep.id));

    for id in 0..300 {
        g.delete(id).unwrap();
    }
    g.repair(&params).unwrap();
    assert!(g.entry().is_none());
    assert!(g.search(&data[..4], 5, 20).unwrap().is_empty());
    assert_eq!(g.live_len(), 0);
    // The graph is usable again afterwards.
    let mut rng = SplitMix64::new(1);
    let id = g.insert(&data[4..8], &mut rng, &params).unwrap();
    assert_eq!(g.search(&data[4..8], 1, 10).unwrap()[0].id, id);
}

/// Deleted elements are waypoints: without repair, searches still reach the
/// live elements behind them and never return them.
#[test]
fn deleted_are_waypoints_before_repair() {
    let params = HnswParams::new(8, 32);
    let data = random_data(2000, 8, 10);
    let mut g = MemoryGraph::build(8, Metric::L2, ElementType::F32, &params, &data, 4).unwrap();
    for id in (0..2000).step_by(2) {
        g.delete(id).unwrap();
    }
    for q in data.chunks_exact(8).skip(1).step_by(2).take(100) {
        let r = g.search(q, 10, 40).unwrap();
        assert_eq!(r.len(), 10);
        assert!(r.iter().all(|c| c.id % 2 == 1));
        // The query is itself a live element: found at distance 0.
        assert_eq!(r[0].distance, 0.0);
    }
}

/// A store wrapper whose compare-and-set fails on the first `fail` calls, as
/// if another backend had changed the list in between.
struct Contended {
    g: MemoryGraph,
    fail: usize,
    cas_calls: usize,
}

impl GraphRead for Contended {
    type Id = u32;
    type Query = MemoryQuery;
    type Error = MemoryError;
    type Visited = ruvec_hnsw::DenseVisited;
    fn entry_point(&mut self) -> Result<Option<EntryPoint<u32>>, MemoryError> {
        self.g.entry_point()
    }
    fn level(&mut self, id: u32) -> Result<Level, MemoryError> {
        self.g.level(id)
    }
    fn is_deleted(&mut self, id: u32) -> Result<bool, MemoryError> {
        self.g.is_deleted(id)
    }
    fn neighbors(&mut self, id: u32, l: Level, out: &mut Vec<u32>) -> Result<(), MemoryError> {
        self.g.neighbors(id, l, out)
    }
    fn distance(&mut self, q: &MemoryQuery, id: u32) -> Result<f32, MemoryError> {
        self.g.distance(q, id)
    }
    fn distance_between(&mut self, a: u32, b: u32) -> Result<f32, MemoryError> {
        self.g.distance_between(a, b)
    }
    fn visit(&mut self, q: &MemoryQuery, id: u32) -> Result<Visit, MemoryError> {
        self.g.visit(q, id)
    }
    fn new_visited(&self) -> Self::Visited {
        self.g.new_visited()
    }
}

impl GraphWrite for Contended {
    type Value = [f32];
    fn query_for_value(&mut self, v: &[f32]) -> Result<MemoryQuery, MemoryError> {
        self.g.query_for_value(v)
    }
    fn add_element(&mut self, v: &[f32], l: Level, n: &[Vec<u32>]) -> Result<u32, MemoryError> {
        self.g.add_element(v, l, n)
    }
    fn set_neighbors(&mut self, id: u32, l: Level, n: &[u32]) -> Result<(), MemoryError> {
        self.g.set_neighbors(id, l, n)
    }
    fn update_neighbors(
        &mut self,
        id: u32,
        l: Level,
        expected: &[u32],
        new: &[u32],
    ) -> Result<bool, MemoryError> {
        self.cas_calls += 1;
        if self.cas_calls <= self.fail {
            return Ok(false);
        }
        self.g.update_neighbors(id, l, expected, new)
    }
    fn set_entry_point(&mut self, e: Option<EntryPoint<u32>>) -> Result<(), MemoryError> {
        self.g.set_entry_point(e)
    }
    fn mark_deleted(&mut self, id: u32) -> Result<(), MemoryError> {
        self.g.mark_deleted(id)
    }
    fn merge_duplicate(&mut self, existing: u32, v: &[f32]) -> Result<Merge, MemoryError> {
        // Merge exact duplicates, like pgvector's extra heap TIDs.
        if self.g.vector_f32(existing).as_deref() == Some(v) {
            Ok(Merge::Merged)
        } else {
            Ok(Merge::NotDuplicate)
        }
    }
}

#[test]
fn backlinks_retry_after_a_lost_race() {
    let params = HnswParams::new(4, 16);
    let mut s = Contended {
        g: MemoryGraph::new(2, Metric::L2, ElementType::F32, 4),
        fail: 0,
        cas_calls: 0,
    };
    let a = insert(&mut s, &[0.0, 0.0][..], 0, &params).unwrap().id();
    s.fail = 3; // fewer than the retry limit
    let b = insert(&mut s, &[1.0, 0.0][..], 0, &params).unwrap().id();
    assert_eq!(
        s.g.neighbor_slice(a, 0).unwrap(),
        &[b],
        "back-link written on retry"
    );
    assert_eq!(s.cas_calls, 4);
    // Losing every race drops the back-link but never fails the insert.
    s.fail = usize::MAX;
    let c = insert(&mut s, &[2.0, 0.0][..], 0, &params).unwrap().id();
    assert!(!s.g.neighbor_slice(a, 0).unwrap().contains(&c));
    assert_eq!(s.g.neighbor_slice(c, 0).unwrap().len(), 2);
}

#[test]
fn duplicates_merge_when_the_store_says_so() {
    let params = HnswParams::new(4, 16);
    let mut s = Contended {
        g: MemoryGraph::new(2, Metric::L2, ElementType::F32, 4),
        fail: 0,
        cas_calls: 0,
    };
    let a = insert(&mut s, &[1.0, 2.0][..], 0, &params).unwrap();
    insert(&mut s, &[3.0, 2.0][..], 0, &params).unwrap();
    let again = insert(&mut s, &[1.0, 2.0][..], 0, &params).unwrap();
    assert_eq!(again, InsertOutcome::Merged(a.id()));
    assert_eq!(s.g.len(), 2);
}

/// Repair through the generic entry point with an external "being deleted"
/// set (no flags in the store), as VACUUM does before marking tuples.
#[test]
fn repair_with_external_deleting_set() {
    let params = HnswParams::new(8, 32);
    let data = random_data(1000, 8, 12);
    let mut g = MemoryGraph::build(8, Metric::L2, ElementType::F32, &params, &data, 5).unwrap();
    let gone: std::collections::HashSet<u32> = (0..1000).filter(|i| i % 5 == 0).collect();
    let ids: Vec<u32> = (0..1000).collect();
    let st = repair_graph(&mut g, &ids, &|id| gone.contains(&id), &params).unwrap();
    assert_eq!(st.examined, 800);
    assert!(st.lists_repaired > 0);
    for id in (0..1000u32).filter(|i| !gone.contains(i)) {
        for l in 0..=g.level_of(id).unwrap() {
            for n in g.neighbor_slice(id, l).unwrap() {
                assert!(!gone.contains(n), "{id} -> {n}");
            }
        }
    }
    assert!(!gone.contains(&g.entry().unwrap().id));
    // A second repair finds nothing to do.
    let st2 = repair_graph(&mut g, &ids, &|id| gone.contains(&id), &params).unwrap();
    assert_eq!(st2.lists_repaired, 0);
}

#[test]
fn memory_graph_rejects_bad_input() {
    let mut g = MemoryGraph::new(3, Metric::L2, ElementType::F32, 4);
    let p = HnswParams::new(4, 16);
    let mut rng = SplitMix64::new(0);
    assert!(matches!(
        g.insert(&[1.0, 2.0], &mut rng, &p),
        Err(MemoryError::DimensionMismatch { .. })
    ));
    assert_eq!(
        g.insert(&[1.0, f32::NAN, 0.0], &mut rng, &p),
        Err(MemoryError::NonFinite)
    );
    assert!(matches!(
        g.insert(&[1.0, 2.0, 3.0], &mut rng, &HnswParams::new(8, 32)),
        Err(MemoryError::ParamsMismatch { .. })
    ));
    assert!(g.is_empty());
    let id = g.insert(&[1.0, 2.0, 3.0], &mut rng, &p).unwrap();
    assert_eq!(g.set_neighbors(id, 0, &[7]), Err(MemoryError::UnknownId(7)));
    assert!(g.set_neighbors(id, 0, &[id; 9]).is_err());
    assert!(g.neighbors(42, 0, &mut Vec::new()).is_err());
    assert!(g.prepare_query(&[0.0; 4]).is_err());
    let level = random_level(&mut rng, p.ml(), p.max_level);
    assert!(level <= p.max_level);
    // A query of the wrong element type is an error, not a panic.
    assert_eq!(
        g.distance(&MemoryQuery::F16(vec![]), id),
        Err(MemoryError::QueryMismatch)
    );
}

/// Inserting while every existing element is deleted (VACUUM has not run
/// yet): new elements never link to deleted ones (a page store is about to
/// free them), and after repair every new element is reachable.
#[test]
fn inserts_among_deleted_are_connected_by_repair() {
    let params = HnswParams::new(4, 16);
    let data = random_data(400, 4, 13);
    let mut g = MemoryGraph::build(
        4,
        Metric::L2,
        ElementType::F32,
        &params,
        &data[..200 * 4],
        6,
    )
    .unwrap();
    for id in 0..200 {
        g.delete(id).unwrap();
    }
    let mut rng = SplitMix64::new(14);
    let mut fresh = Vec::new();
    for row in data[200 * 4..].chunks_exact(4) {
        fresh.push(g.insert(row, &mut rng, &params).unwrap());
    }
    let links_only_to_fresh = |g: &MemoryGraph| {
        for &id in &fresh {
            for l in 0..=g.level_of(id).unwrap() {
                assert!(g.neighbor_slice(id, l).unwrap().iter().all(|&n| n >= 200));
            }
        }
    };
    links_only_to_fresh(&g);
    g.repair(&params).unwrap();
    links_only_to_fresh(&g);
    assert!(g.entry().unwrap().id >= 200);
    for (i, row) in data[200 * 4..].chunks_exact(4).enumerate() {
        let r = g.search(row, 1, 40).unwrap();
        assert_eq!(r[0].distance, 0.0, "row {i} not found");
        assert!(r[0].id >= 200);
    }
}

/// An element whose only in-link is removed becomes unreachable; reconnecting restores a path
/// to it, and the graph is otherwise unchanged in reachability.
#[test]
fn reconnect_unreachable_restores_reachability() {
    use ruvec_hnsw::{
        reachable, reconnect_unreachable, ElementType, GraphRead, GraphWrite, HnswParams,
        MemoryGraph, Metric, SplitMix64,
    };
    let params = HnswParams::new(4, 16);
    let mut rng = SplitMix64::new(9);
    let mut g = MemoryGraph::new(2, Metric::L2, ElementType::F32, 4);
    for i in 0..200 {
        let v = [(i % 20) as f32, (i / 20) as f32];
        g.insert(&v, &mut rng, &params).unwrap();
    }
    let ids: Vec<u32> = (0..200).collect();
    let seen = reachable(&mut g).unwrap();
    assert_eq!(
        seen.len(),
        200,
        "a fresh small grid graph is fully reachable"
    );
    // Cut every in-link of element 57 on every level.
    let mut out = Vec::new();
    for id in 0..200u32 {
        let top = g.level(id).unwrap();
        for l in 0..=top {
            g.neighbors(id, l, &mut out).unwrap();
            if out.contains(&57) {
                let kept: Vec<u32> = out.iter().copied().filter(|&x| x != 57).collect();
                g.set_neighbors(id, l, &kept).unwrap();
            }
        }
    }
    let ep = g.entry_point().unwrap().unwrap();
    if ep.id != 57 {
        assert!(!reachable(&mut g).unwrap().contains(&57));
        let stats = reconnect_unreachable(&mut g, &ids, &params, 4).unwrap();
        assert!(stats.unreachable >= 1);
        assert_eq!(stats.remaining, 0);
        assert!(reachable(&mut g).unwrap().contains(&57));
    }
}
