//! A graph in caller-provided memory (what a Postgres parallel build puts in
//! shared memory) builds exactly the graph an ordinary one does through the
//! batch steps, readers made from its header see it (also through a private
//! copy of its vectors), and it refuses to grow past its layout.

use ruvec_hnsw::{
    batch_size, random_level, ElementType, HnswParams, KnownDistances, Measured, MemoryError,
    MemoryGraph, Metric, RandomSource, SharedLayout, SplitMix64, VectorMirror, KNOWN_MIN_DIMS,
};

fn data(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..n * dim)
        .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
        .collect()
}

/// Random levels for `n` rows (as a build draws them) and the upper-level lists they need.
fn levels(n: usize, params: &HnswParams, seed: u64) -> (Vec<u8>, usize) {
    let mut rng = SplitMix64::new(seed);
    let levels: Vec<u8> = (0..n)
        .map(|_| random_level(&mut rng, params.ml(), params.max_level).min(params.level_cap()))
        .collect();
    let groups = levels.iter().map(|&l| usize::from(l)).sum();
    (levels, groups)
}

/// The batch loop of a parallel build, run serially: plan, add, back-links. With `region`
/// (the layout and base `g` lives in), the back-links are planned and written through a
/// second view of the region, as each process of a Postgres parallel build does, and they
/// measure every distance again instead of looking up what the searches measured: the two
/// ways must give the same graph (a looked-up distance is the value a measurement gives).
fn build_in_batches(
    g: &mut MemoryGraph,
    rows: &[f32],
    levels: &[u8],
    params: &HnswParams,
    region: Option<(&SharedLayout, *mut u8)>,
) {
    let dim = g.dim();
    let n = rows.len() / dim;
    let mut done = 0;
    while done < n {
        let end = (done + batch_size(g.len())).min(n);
        let batch = &rows[done * dim..end * dim];
        if end - done == 1 || g.entry().is_none() {
            for (row, &l) in batch.chunks_exact(dim).zip(&levels[done..end]) {
                g.insert_row(row, l, params).unwrap();
            }
        } else {
            let (plans, known): (Vec<_>, Vec<_>) = batch
                .chunks_exact(dim)
                .zip(&levels[done..end])
                .map(|(row, &l)| g.plan_insert(row, l, params).unwrap())
                .unzip();
            let per: Vec<&[Measured]> = known.iter().map(|k| k.as_slice()).collect();
            let known = KnownDistances::new(g.len() as u32, &per);
            let work = g
                .add_planned(batch, &levels[done..end], plans, params)
                .unwrap();
            if let Some((layout, base)) = region {
                // SAFETY: the region holds `g`, which is not used while this view lives; each
                // (neighbour, level) occurs once in `work`, and a back-link reads only its
                // own list (what write_list_shared requires).
                unsafe {
                    let view = MemoryGraph::from_raw_parts(layout, base, &g.header());
                    for ((nb, lc), new) in &work {
                        let none = KnownDistances::default();
                        if let Some(list) =
                            view.plan_backlink(*nb, *lc, new, params, &none).unwrap()
                        {
                            view.write_list_shared(*nb, *lc, &list).unwrap();
                        }
                    }
                }
            } else {
                let lists: Vec<_> = work
                    .iter()
                    .map(|((nb, lc), new)| g.plan_backlink(*nb, *lc, new, params, &known).unwrap())
                    .collect();
                for (((nb, lc), _), list) in work.iter().zip(lists) {
                    if let Some(list) = list {
                        g.write_list(*nb, *lc, &list).unwrap();
                    }
                }
            }
        }
        done = end;
    }
}

#[test]
fn shared_region_builds_the_same_graph() {
    // Enough dimensions for the searches to keep their distances for the back-links.
    let (n, dim) = (3_000, KNOWN_MIN_DIMS);
    let rows = data(n, dim, 7);
    let params = HnswParams::new(8, 32);
    let (levels, groups) = levels(n, &params, 11);

    let mut heap = MemoryGraph::new(dim, Metric::L2, ElementType::F32, params.m);
    build_in_batches(&mut heap, &rows, &levels, &params, None);
    // Only a graph in a shared region can be written through a shared reference.
    let list = heap.list_slots(0, 0).unwrap();
    // SAFETY: nothing else uses `heap` meanwhile.
    let refused = unsafe { heap.write_list_shared(0, 0, &list) };
    assert!(matches!(refused, Err(MemoryError::NotShared)));

    let layout = SharedLayout::new(dim, Metric::L2, ElementType::F32, params.m, n, groups).unwrap();
    let mut region = vec![0u64; layout.size() / 8];
    let base = region.as_mut_ptr() as *mut u8;
    // SAFETY: region is 8-aligned, layout.size() bytes, outlives both graphs, and the
    // writer is dropped before the reader is made.
    let header = unsafe {
        let mut g = MemoryGraph::from_raw_parts(&layout, base, &Default::default());
        build_in_batches(&mut g, &rows, &levels, &params, Some((&layout, base)));
        g.header()
    };
    // SAFETY: as above; only shared access from here on.
    let reader = unsafe { MemoryGraph::from_raw_parts(&layout, base, &header) };

    assert_eq!(reader.len(), n);
    assert_eq!(reader.entry(), heap.entry());
    for id in 0..n as u32 {
        assert_eq!(reader.level_of(id), heap.level_of(id));
        for l in 0..=heap.level_of(id).unwrap() {
            assert_eq!(
                reader.neighbor_slice(id, l),
                heap.neighbor_slice(id, l),
                "id {id} level {l}"
            );
        }
    }
    let q = &rows[5 * dim..6 * dim];
    assert_eq!(
        reader.search(q, 10, 40).unwrap(),
        heap.search(q, 10, 40).unwrap()
    );
}

#[test]
fn shared_region_is_fixed_size() {
    let dim = 4;
    let params = HnswParams::new(4, 16);
    let layout = SharedLayout::new(dim, Metric::L2, ElementType::F16, params.m, 3, 1).unwrap();
    let mut region = vec![0u64; layout.size() / 8];
    // SAFETY: region is 8-aligned, layout.size() bytes, and outlives the graph.
    let mut g = unsafe {
        MemoryGraph::from_raw_parts(&layout, region.as_mut_ptr() as *mut u8, &Default::default())
    };
    for i in 0..3 {
        g.insert_row(&[i as f32; 4], 0, &params).unwrap();
    }
    assert!(matches!(
        g.insert_row(&[9.0; 4], 0, &params),
        Err(MemoryError::Full)
    ));
    assert_eq!(g.len(), 3);
    assert_eq!(g.search(&[2.0; 4], 1, 10).unwrap()[0].id, 2);
}

#[test]
fn mirrored_readers_see_the_same_graph() {
    for etype in [ElementType::F32, ElementType::F16] {
        let (n, dim) = (2_500, 12);
        let rows = data(n, dim, 3);
        let params = HnswParams::new(6, 24);
        let (levels, groups) = levels(n, &params, 5);
        let layout = SharedLayout::new(dim, Metric::L2, etype, params.m, n, groups).unwrap();
        let mut region = vec![0u64; layout.size() / 8];
        let base = region.as_mut_ptr() as *mut u8;
        let mut mirror = VectorMirror::new(&layout).unwrap();
        assert_eq!(
            VectorMirror::bytes(&layout),
            n * dim * if etype == ElementType::F32 { 4 } else { 2 }
        );
        // SAFETY: region is 8-aligned, layout.size() bytes and outlives every graph; the
        // writer does not write while a reader lives (readers are dropped in each step).
        unsafe {
            let mut w = MemoryGraph::from_raw_parts(&layout, base, &Default::default());
            // Grow in three steps, syncing the mirror after each (as the parallel build does
            // before each phase): the mirrored reader matches the region's own reader.
            for part in [
                &rows[..700 * dim],
                &rows[700 * dim..1_900 * dim],
                &rows[1_900 * dim..],
            ] {
                let start = w.len();
                build_in_batches(
                    &mut w,
                    part,
                    &levels[start..start + part.len() / dim],
                    &params,
                    Some((&layout, base)),
                );
                let header = w.header();
                mirror.sync(&layout, base, &header);
                let plain = MemoryGraph::from_raw_parts(&layout, base, &header);
                let mut mirrored =
                    MemoryGraph::from_raw_parts_mirrored(&layout, base, &header, &mirror);
                assert_eq!(mirrored.len(), w.len());
                for id in [0u32, 1, (w.len() - 1) as u32] {
                    assert_eq!(mirrored.vector(id), plain.vector(id));
                }
                for qi in [3usize, 600, w.len() - 2] {
                    let q = &rows[qi * dim..(qi + 1) * dim];
                    assert_eq!(
                        mirrored.search(q, 10, 32).unwrap(),
                        plain.search(q, 10, 32).unwrap()
                    );
                }
                // Read-only: adding through a mirrored view fails instead of writing.
                assert!(mirrored.insert_row(&rows[..dim], 0, &params).is_err());
            }
        }
    }
}
