//! Recall@10 on the shared fixtures (tier 5): build with m = 16,
//! ef_construction = 64, search with ef_search = 40; then delete a random 20%,
//! repair, reinsert the deleted rows, and search again against the ground
//! truth of the full set.

mod common;

use common::{sample, search_all, Dataset};
use ruvec_hnsw::{ElementType, GraphRead, HnswParams, MemoryGraph, SplitMix64};

const K: usize = 10;
const EF_SEARCH: usize = 40;
const MIN_RECALL: f64 = 0.95;
const SEED: u64 = 0x5eed_2016;

/// No live element may link to a deleted one after repair, and the entry
/// point must be live.
fn assert_no_links_to_deleted(g: &MemoryGraph) {
    let ep = g.entry().expect("entry point");
    assert!(!g.deleted(ep.id), "entry point {ep:?} is deleted");
    for id in 0..g.len() as u32 {
        if g.deleted(id) {
            continue;
        }
        for l in 0..=g.level_of(id).unwrap() {
            for &n in g.neighbor_slice(id, l).unwrap() {
                assert!(!g.deleted(n), "{id} -> deleted {n} on level {l}");
            }
        }
    }
}

fn run(name: &'static str, etype: ElementType) {
    let ds = Dataset::load(name);
    let params = HnswParams::new(16, 64);
    let (mut g, build_s) = ds.build(etype, &params, SEED);
    let (res, search_s) = search_all(&ds, &g, K, EF_SEARCH, &|id| id as usize);
    let recall = ds.recall(&res, K);
    eprintln!(
        "{name} {etype:?}: n={} nq={} build {build_s:.2}s, search {:.3} ms/query, recall@10 = {recall:.4}",
        ds.n(),
        ds.nq(),
        search_s * 1e3 / ds.nq() as f64
    );
    assert!(
        recall >= MIN_RECALL,
        "{name}: recall {recall} < {MIN_RECALL}"
    );

    // Delete 20%, repair, reinsert.
    let n = ds.n();
    let gone = sample(n, n / 5, SEED ^ 1);
    for &r in &gone {
        g.delete(r as u32).unwrap();
    }
    let t = std::time::Instant::now();
    let stats = g.repair(&params).unwrap();
    let repair_s = t.elapsed().as_secs_f64();
    assert_no_links_to_deleted(&g);
    // Recall among the surviving rows must not rot.
    let gone_set: std::collections::HashSet<usize> = gone.iter().copied().collect();
    let (res, _) = search_all(&ds, &g, K, EF_SEARCH, &|id| id as usize);
    let recall_live = ds.recall_among(&res, K, &|r| !gone_set.contains(&r));
    eprintln!(
        "{name} {etype:?}: after 20% delete + repair, recall@10 among live rows = {recall_live:.4}"
    );
    assert!(
        recall_live >= MIN_RECALL,
        "{name}: live recall {recall_live} < {MIN_RECALL}"
    );
    let mut rng = SplitMix64::new(SEED ^ 2);
    for &r in &gone {
        g.insert(ds.row(r), &mut rng, &params).unwrap();
    }
    assert_eq!(g.live_len(), n);
    let row_of = |id: u32| -> usize {
        let id = id as usize;
        if id < n {
            id
        } else {
            gone[id - n]
        }
    };
    let (res, _) = search_all(&ds, &g, K, EF_SEARCH, &row_of);
    let recall2 = ds.recall(&res, K);
    eprintln!(
        "{name} {etype:?}: after 20% delete + repair ({repair_s:.2}s, {stats:?}) + reinsert: \
         recall@10 = {recall2:.4}"
    );
    assert!(
        recall2 >= MIN_RECALL,
        "{name}: recall after delete {recall2} < {MIN_RECALL}"
    );
    // Deleted ids never come back.
    let mut gr = &g;
    for q in 0..ds.nq().min(50) {
        let query = g.prepare_query(ds.query(q)).unwrap();
        for c in ruvec_hnsw::search(&mut gr, &query, 40, 100).unwrap() {
            assert!(!gr.is_deleted(c.id).unwrap());
        }
    }
}

#[test]
fn sift5k_l2() {
    run("sift5k", ElementType::F32);
}

#[test]
fn bigann10k_l2() {
    run("bigann10k", ElementType::F32);
}

#[test]
fn bge_m3_cosine() {
    run("bge-m3", ElementType::F32);
}

#[test]
fn bge_m3_cosine_f16() {
    run("bge-m3", ElementType::F16);
}

#[test]
fn sift5k_l2_f16() {
    run("sift5k", ElementType::F16);
}

/// The batch-parallel build (2 threads) reaches the same recall as the serial one.
fn run_parallel(name: &'static str) {
    let ds = Dataset::load(name);
    let params = HnswParams::new(16, 64);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let mut g = MemoryGraph::new(ds.dim, ds.metric, ElementType::F32, 16);
    let mut rng = SplitMix64::new(SEED);
    let t = std::time::Instant::now();
    let mut batches = 0usize;
    g.insert_parallel::<_, ruvec_hnsw::MemoryError>(&ds.base, &mut rng, &params, &pool, |_| {
        batches += 1;
        Ok(())
    })
    .unwrap();
    let build_s = t.elapsed().as_secs_f64();
    assert_eq!(g.len(), ds.n());
    let (res, _) = search_all(&ds, &g, K, EF_SEARCH, &|id| id as usize);
    let recall = ds.recall(&res, K);
    eprintln!("{name} parallel: build {build_s:.2}s in {batches} batches, recall@10 = {recall:.4}");
    assert!(
        recall >= MIN_RECALL,
        "{name} parallel: recall {recall} < {MIN_RECALL}"
    );
}

#[test]
fn bigann10k_l2_parallel_build() {
    run_parallel("bigann10k");
}

#[test]
fn bge_m3_cosine_parallel_build() {
    run_parallel("bge-m3");
}
