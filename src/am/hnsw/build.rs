//! `ambuild` / `ambuildempty`.
//!
//! The heap scan collects the vectors; the graph is then built in memory (crates/hnsw
//! `MemoryGraph`) — in dynamic shared memory with Postgres parallel workers when the planner
//! grants some ([`super::parallel`]), else in this backend — and written page by page without
//! WAL, logged once with `log_newpage_range`. When the graph would outgrow `maintenance_work_mem`, what exists is written out (with a NOTICE) and the
//! remaining rows are inserted into the on-disk graph, as `aminsert` would. `bit` indexes are
//! always built on disk (the in-memory graph holds float vectors only).

use core::ffi::c_void;

use pgrx::{pg_sys, PgSqlErrorCode};
use rayon::prelude::*;
use ruvec_hnsw::{
    batch_size, f16_navigation_scale, random_level, ElementType, HnswParams, Level, MemoryGraph,
    SharedLayout, SplitMix64, VectorMirror, F16_NAVIGATION_DIMS, SERIAL_PREFIX,
};

use super::codec::{native_f32, Storage, Tier};
use super::duplicates::{self, HeapTids};
use super::format::*;
use super::insert::insert_value;
use super::parallel::Team;
use super::store::{encode_element, encode_neighbors, InsertValue, PageGraph};
use super::tiering::{check_storage, train_tier, write_codebook};
use super::value::storage_bytes;
use super::{options, PROC_METRIC};
use crate::error::raise_with;
use crate::storage::{write_init_fork_page, BuildWriter, PageMut};

/// `pg_stat_progress_create_index` columns (commands/progress.h).
const PROGRESS_CREATE_IDX_SUBPHASE: i32 = 10;
const PROGRESS_CREATE_IDX_TUPLES_TOTAL: i32 = 11;
const PROGRESS_CREATE_IDX_TUPLES_DONE: i32 = 12;
const PHASE_LOAD: i64 = 2;
const PHASE_GRAPH: i64 = 3;
const PHASE_WRITE: i64 = 4;

/// What an index is: element type, metric, dimensions, graph parameters.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub kind: ElemKind,
    pub metric: Metric,
    pub dims: usize,
    pub m: u16,
    pub ef_construction: u16,
    /// The tier the index asks for (`storage` option, else the column's precision).
    pub storage: Storage,
    pub pq_subvectors: usize,
}

impl Spec {
    pub fn params(&self) -> HnswParams {
        let mut p = HnswParams::new(self.m as usize, self.ef_construction as usize);
        p.max_level = max_level(self.m);
        p
    }
}

/// The spec of an index being created, from its opclass, column typmod and options.
///
/// # Safety
/// `index` must be an open ruhnsw index relation.
pub unsafe fn spec_of(index: pg_sys::Relation) -> Spec {
    // SAFETY: support function 2 of every ruhnsw opclass is a constant-returning C function of
    // ours taking one ignored argument; attribute 0 exists (single-column index).
    unsafe {
        let proc_ = pg_sys::index_getprocid(index, 1, PROC_METRIC);
        let code = pg_sys::OidFunctionCall1Coll(proc_, pg_sys::InvalidOid, pg_sys::Datum::from(0))
            .value() as i32;
        let (Some(kind), Some(metric)) = (
            ElemKind::from_u8((code >> 8) as u8),
            Metric::from_u8(code as u8),
        ) else {
            raise_with(
                PgSqlErrorCode::ERRCODE_INVALID_OBJECT_DEFINITION,
                "ruhnsw operator class has an invalid support function 2".into(),
                None,
                None,
            )
        };
        let attr = (*(*index).rd_att).attrs.as_ptr();
        let typmod = (*attr).atttypmod;
        if typmod < 1 {
            raise_with(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                "column does not have dimensions".into(),
                None,
                Some("Declare the column with its dimensions, e.g. vector(384), to index it with ruhnsw.".into()),
            );
        }
        let dims = typmod as usize;
        let (o, asked) = options::get(index);
        let storage = asked.unwrap_or(Storage::native(kind));
        check_storage(kind, metric, dims, storage, o.pq_subvectors);
        if o.ef_construction < 2 * o.m {
            raise_with(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                "ef_construction must be greater than or equal to 2 * m".into(),
                Some(format!(
                    "m = {}, ef_construction = {}.",
                    o.m, o.ef_construction
                )),
                None,
            );
        }
        Spec {
            kind,
            metric,
            dims,
            m: o.m as u16,
            ef_construction: o.ef_construction as u16,
            storage,
            pq_subvectors: o.pq_subvectors as usize,
        }
    }
}

fn meta_tuple(spec: &Spec) -> MetaTuple {
    MetaTuple {
        magic: MAGIC,
        version: FORMAT_VERSION,
        dims: spec.dims as u32,
        m: spec.m,
        ef_construction: spec.ef_construction,
        elem_kind: spec.kind as u8,
        metric: spec.metric as u8,
        entry_level: 0,
        storage: Storage::native(spec.kind) as u8,
        entry_blk: pg_sys::InvalidBlockNumber,
        entry_off: 0,
        _pad2: 0,
        insert_blk: pg_sys::InvalidBlockNumber,
        first_data_blk: pg_sys::InvalidBlockNumber,
        free_hint_blk: pg_sys::InvalidBlockNumber,
        codebook_blk: pg_sys::InvalidBlockNumber,
        codebook_len: 0,
        build_stamp: new_build_stamp(),
        epoch: 0,
    }
}

fn write_meta(page: &mut PageMut<'_>, meta: &MetaTuple) {
    page.init(PageOpaque::new(PAGE_META));
    page.add_item(struct_bytes(meta))
        .expect("meta tuple fits an empty page");
}

struct BuildState {
    index: pg_sys::Relation,
    spec: Spec,
    params: HnswParams,
    /// In-memory phase: the graph, the rows waiting to be inserted into it (f32), and our copy
    /// of each element's stored bytes and heap TID.
    graph: Option<MemoryGraph>,
    pending: Vec<f32>,
    vectors: Vec<u8>,
    tids: HeapTids,
    rng: SplitMix64,
    budget: usize,
    /// A parallel build's workers and shared graph (replaces `graph` once built).
    team: Option<Team>,
    heap: pg_sys::Relation,
    /// On-disk phase (after the memory budget ran out, or for bit indexes).
    disk: Option<PageGraph>,
    indexed: f64,
}

impl BuildState {
    fn bytes_per_element(&self) -> usize {
        let vb = self.spec.kind.vector_bytes(self.spec.dims);
        let m = self.spec.m as usize;
        // our copy + the pending f32 row + the graph's copy (f32 or f16); level-0 list (2m
        // slots) and upper lists (m slots per level, 1/2 level on average for m >= 2), each
        // slot an id, a distance and a verdict byte; level, flags, list lengths, heap TID.
        vb * 2 + 4 * self.spec.dims + (2 * m + m / 2) * 9 + 32
    }

    /// Insert the pending rows into the in-memory graph: with Postgres parallel workers when
    /// the planner grants some (see [`super::parallel`]), else serially in this backend.
    fn build_graph(&mut self) {
        let bytes_per_element = self.bytes_per_element();
        let budget = self.budget;
        let Some(graph) = self.graph.as_mut() else {
            return;
        };
        if self.pending.is_empty() {
            return;
        }
        // SAFETY: progress reporting from the backend.
        unsafe { pg_sys::pgstat_progress_update_param(PROGRESS_CREATE_IDX_SUBPHASE, PHASE_GRAPH) };
        let mut pending = std::mem::take(&mut self.pending);
        let dims = self.spec.dims;
        if graph.is_empty() {
            let vb = self.spec.kind.vector_bytes(dims);
            duplicates::merge(&mut self.vectors, &mut pending, &mut self.tids, vb, dims);
            // An f32 graph of many dimensions is navigated on f16 copies while it is built
            // (precision.rs in crates/hnsw: 20% faster at 768-d, the pages still get the exact
            // vectors). Not below F16_NAVIGATION_DIMS: see there.
            let scale = (graph.element_type() == ElementType::F32 && dims >= F16_NAVIGATION_DIMS)
                .then(|| f16_navigation_scale(&pending, dims))
                .flatten();
            if let Some(scale) = scale {
                pgrx::debug1!("ruhnsw build: navigating on f16 copies scaled by {scale}");
                pending.iter_mut().for_each(|x| *x *= scale);
                *graph = MemoryGraph::new(dims, graph.metric(), ElementType::F16, graph.m());
            }
        }
        let n = pending.len() / dims;
        let params = self.params;
        // Levels for all rows up front: the shared graph is sized from them.
        let levels: Vec<Level> = (0..n)
            .map(|_| {
                random_level(&mut self.rng, params.ml(), params.max_level).min(params.level_cap())
            })
            .collect();
        let progress = |done: usize| {
            pgrx::check_for_interrupts!();
            // SAFETY: as above.
            unsafe {
                pg_sys::pgstat_progress_update_param(PROGRESS_CREATE_IDX_TUPLES_DONE, done as i64)
            };
        };
        // SAFETY: inside ambuild, heap and index open.
        let workers = if n >= 2 * SERIAL_PREFIX {
            unsafe { parallel_workers(self.heap, self.index) }
        } else {
            0
        };
        let team = if workers > 0 {
            let groups = levels.iter().map(|&l| usize::from(l)).sum();
            SharedLayout::new(
                dims,
                graph.metric(),
                graph.element_type(),
                graph.m(),
                n,
                groups,
            )
            .and_then(|layout| {
                // Private copies of the vectors (one per process) when maintenance_work_mem
                // has room for them next to what the build already holds; they change speed,
                // never the graph.
                let held = n.saturating_mul(bytes_per_element);
                let mirrors = VectorMirror::bytes(&layout).saturating_mul(workers as usize + 1);
                let mirror = held.saturating_add(mirrors) <= budget;
                // SAFETY: inside ambuild (active snapshot and parallel mode checked by
                // parallel_workers).
                unsafe { Team::start(layout, params, workers, mirror) }
            })
        } else {
            None
        };
        let Some(mut team) = team else {
            // Room for every row at once, in huge pages where the kernel allows (see
            // VectorMirror for why that matters).
            graph.reserve(n);
            for (i, (row, &level)) in pending.chunks_exact(dims).zip(&levels).enumerate() {
                graph
                    .insert_row(row, level, &params)
                    .unwrap_or_else(|e| graph_error(e));
                if i % 256 == 255 {
                    progress(i + 1);
                }
            }
            return;
        };
        pgrx::debug1!(
            "ruhnsw build: {} parallel workers launched, private vector copies: {}",
            team.launched,
            team.mirrored()
        );
        let mut done = 0;
        while done < n {
            let end = (done + batch_size(team.graph.len())).min(n);
            let rows = &pending[done * dims..end * dims];
            if end - done == 1 || team.graph.entry().is_none() {
                for (row, &level) in rows.chunks_exact(dims).zip(&levels[done..end]) {
                    team.graph
                        .insert_row(row, level, &params)
                        .unwrap_or_else(|e| graph_error(e));
                }
            } else {
                team.insert_batch(rows, &levels[done..end], &params);
            }
            done = end;
            progress(done);
        }
        team.finish_workers();
        // The graph lives in the team's shared memory until the pages are written.
        self.graph = None;
        self.team = Some(team);
    }

    /// Write the in-memory graph to pages and continue on disk.
    unsafe fn spill(&mut self) {
        self.build_graph();
        // SAFETY: forwarded from the build.
        unsafe { flush(self) };
        // SAFETY: the meta page now exists.
        self.disk = Some(unsafe { PageGraph::open(self.index) });
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn build_callback(
    _index: pg_sys::Relation,
    tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    _alive: bool,
    state: *mut c_void,
) {
    // SAFETY: `state` is the BuildState passed to table_index_build_scan; values/isnull have
    // one entry (single-column index).
    unsafe {
        let st = &mut *(state as *mut BuildState);
        pgrx::check_for_interrupts!();
        if *isnull {
            return;
        }
        let Some(bytes) = storage_bytes(st.spec.kind, st.spec.metric, st.spec.dims, *values) else {
            return;
        };
        if let Some(disk) = st.disk.as_mut() {
            insert_value(
                disk,
                InsertValue {
                    vector: disk.tier.encode(&bytes),
                    native: bytes,
                    heaptid: Tid::from_item_pointer(&*tid),
                },
                &st.params,
            );
        } else {
            st.pending.extend(native_f32(st.spec.kind, &bytes));
            st.vectors.extend_from_slice(&bytes);
            st.tids.push(*tid);
            if st.tids.rows() * st.bytes_per_element() > st.budget {
                pgrx::ereport!(
                    NOTICE,
                    PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
                    format!(
                        "ruhnsw graph no longer fits into maintenance_work_mem after {} tuples",
                        st.tids.rows()
                    ),
                    "Building will take significantly more time: the rest is inserted into the on-disk graph. Increase maintenance_work_mem to speed up builds."
                );
                st.spill();
            }
        }
        st.indexed += 1.0;
        if (st.indexed as u64).is_multiple_of(1000) {
            pg_sys::pgstat_progress_update_param(
                PROGRESS_CREATE_IDX_TUPLES_DONE,
                st.indexed as i64,
            );
        }
    }
}

/// Write the meta page and the in-memory graph (if any) as the index's first pages.
///
/// # Safety
/// Called once per build, with the index empty.
unsafe fn flush(st: &mut BuildState) {
    // SAFETY: the index is being built by us.
    unsafe {
        pg_sys::pgstat_progress_update_param(PROGRESS_CREATE_IDX_SUBPHASE, PHASE_WRITE);
        let mut meta = meta_tuple(&st.spec);
        let mut w = BuildWriter::new(st.index);
        let meta_blk = w.append(|p| write_meta(p, &meta));
        debug_assert_eq!(meta_blk, META_BLKNO);
        let tier = train_tier(&st.spec, &st.vectors, st.tids.elements());
        meta.storage = tier.storage as u8;
        if tier.storage.trained() {
            write_codebook(&mut w, &mut meta, &tier);
        }
        let mut team = st.team.take();
        let graph = match team.as_mut() {
            Some(t) => Some(&mut t.graph),
            None => st.graph.as_mut(),
        };
        if let Some(graph) = graph {
            if !graph.is_empty() {
                // HNSW pruning can leave an element without in-links; give it one before the
                // graph goes to disk (ruvec.index_check verifies every element is reachable).
                let ids: Vec<u32> = (0..graph.len() as u32).collect();
                let _ = ruvec_hnsw::reconnect_unreachable(graph, &ids, &st.params, 4);
                write_graph(
                    &mut w,
                    &mut meta,
                    &st.spec,
                    &tier,
                    graph,
                    &st.vectors,
                    &st.tids,
                );
            }
        }
        w.rewrite(META_BLKNO, |p| write_meta(p, &meta));
        st.graph = None;
        drop(team); // ends the parallel context and frees its shared memory
        st.vectors = Vec::new();
        st.tids = HeapTids::default();
        w.finish();
    }
}

/// Lay the graph out on pages: for each element, its neighbour tuple then its element tuple,
/// filling pages in order. Pass 1 assigns every element its TID (ids are needed before any
/// neighbour list can be written); pass 2 writes, checking each offset matches.
fn write_graph(
    w: &mut BuildWriter,
    meta: &mut MetaTuple,
    spec: &Spec,
    tier: &Tier,
    graph: &MemoryGraph,
    vectors: &[u8],
    heap: &HeapTids,
) {
    let n = graph.len();
    let vb = spec.kind.vector_bytes(spec.dims);
    let esize = element_tuple_size(tier.code_bytes());
    let first = w.next_block();
    // Every row's code up front, on rayon threads (pure computation: a 768-d binary code is a
    // 768 x 768 rotation; errors are raised here, in the backend's own thread). A tier that
    // stores the value as it is uses our copy of the rows directly (a 200k x 768 build copied
    // 600 MB twice for nothing).
    let cb = tier.code_bytes();
    let codes: std::borrow::Cow<'_, [u8]> = if tier.encodes_as_is() && cb == vb {
        std::borrow::Cow::Borrowed(vectors)
    } else {
        std::borrow::Cow::Owned(encode_all(tier, vectors, vb, n))
    };
    let level = |i: usize| graph.level_of(i as u32).unwrap_or(0);

    // Pass 1: simulate PageAddItem (line pointer 4 bytes at pd_lower, MAXALIGN'd data below
    // pd_upper) to learn every tuple's (block, offset).
    let empty_upper = pg_sys::BLCKSZ as usize - maxalign(core::mem::size_of::<PageOpaque>());
    let header = core::mem::size_of::<pg_sys::PageHeaderData>();
    let (mut blk, mut lower, mut upper, mut off) = (first, header, empty_upper, 0u16);
    let mut place = |size: usize| -> Tid {
        if lower + 4 > upper.saturating_sub(maxalign(size)) {
            blk += 1;
            lower = header;
            upper = empty_upper;
            off = 0;
        }
        lower += 4;
        upper -= maxalign(size);
        off += 1;
        Tid::new(blk, off)
    };
    let mut nb_tid = Vec::with_capacity(n);
    let mut el_tid = Vec::with_capacity(n);
    for i in 0..n {
        nb_tid.push(place(neighbor_tuple_size(level(i), spec.m)));
        el_tid.push(place(esize));
    }

    // Pass 2: write the pages. Item k is the neighbour tuple (even k) or element tuple (odd k)
    // of element k / 2, in exactly the order pass 1 placed them.
    let tid_of = |k: usize| {
        if k % 2 == 0 {
            nb_tid[k / 2]
        } else {
            el_tid[k / 2]
        }
    };
    let bytes_of = |k: usize| -> Vec<u8> {
        let i = k / 2;
        let l = level(i);
        if k % 2 == 0 {
            let lists: Vec<Vec<u64>> = (0..=l)
                .map(|layer| {
                    let ids = graph.neighbor_slice(i as u32, layer).unwrap_or(&[]);
                    ids.iter().map(|&j| el_tid[j as usize].to_id()).collect()
                })
                .collect();
            encode_neighbors(l, spec.m, &lists)
        } else {
            let heaptids: Vec<Tid> = heap.of(i).iter().map(Tid::from_item_pointer).collect();
            let code = &codes[i * cb..(i + 1) * cb];
            let mut et = encode_element(l, tier.storage, code, &heaptids);
            patch_neighbor_ptr(&mut et, nb_tid[i]);
            et
        }
    };
    let last_blk = el_tid.last().map(|t| t.block()).unwrap_or(first);
    let mut k = 0;
    for page_blk in first..=last_blk {
        w.append(|p| {
            let mut op = PageOpaque::new(PAGE_DATA);
            if page_blk < last_blk {
                op.next = page_blk + 1;
            }
            p.init(op);
            while k < 2 * n && tid_of(k).block() == page_blk {
                assert_eq!(
                    p.add_item(&bytes_of(k)),
                    Some(tid_of(k).off),
                    "ruhnsw build layout"
                );
                k += 1;
            }
        });
    }
    if let Some(ep) = graph.entry() {
        let t = el_tid[ep.id as usize];
        meta.entry_blk = t.block();
        meta.entry_off = t.off;
        meta.entry_level = ep.level;
    }
    meta.first_data_blk = first;
    meta.insert_blk = last_blk;
}

/// Every row's code (`n` rows of `vb` bytes), computed on rayon threads.
fn encode_all(tier: &Tier, vectors: &[u8], vb: usize, n: usize) -> Vec<u8> {
    let cb = tier.code_bytes();
    let coded: Vec<Result<Vec<u8>, ruvec_quant::QuantError>> = vectors
        .par_chunks_exact(vb)
        .map(|v| tier.try_encode(v))
        .collect();
    let mut codes = Vec::with_capacity(n * cb);
    for c in coded {
        match c {
            Ok(c) if c.len() == cb => codes.extend_from_slice(&c),
            Ok(c) => raise_with(
                PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                format!("ruhnsw code of {} bytes, expected {cb}", c.len()),
                None,
                None,
            ),
            Err(e) => raise_with(
                PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
                format!("ruhnsw cannot code a vector: {e}"),
                None,
                None,
            ),
        }
    }
    codes
}

fn patch_neighbor_ptr(element: &mut [u8], ntid: Tid) {
    let mut h: ElementHeader = read_struct(element).expect("element header");
    h.neighbor_blk = ntid.block();
    h.neighbor_off = ntid.off;
    element[..ELEMENT_HEADER].copy_from_slice(struct_bytes(&h));
}

#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn ambuild(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    index_info: *mut pg_sys::IndexInfo,
) -> *mut pg_sys::IndexBuildResult {
    // SAFETY: called by CREATE INDEX / REINDEX with an empty, exclusively locked index.
    unsafe {
        if pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::MAIN_FORKNUM) != 0 {
            raise_with(
                PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                "ruhnsw index to build already contains data".into(),
                None,
                None,
            );
        }
        let spec = spec_of(index);
        let in_memory = spec.kind != ElemKind::Bit;
        let mut st = BuildState {
            index,
            spec,
            params: spec.params(),
            graph: in_memory.then(|| {
                let etype = if spec.kind == ElemKind::F16 {
                    ElementType::F16
                } else {
                    ElementType::F32
                };
                MemoryGraph::new(
                    spec.dims,
                    memory_metric(spec.metric),
                    etype,
                    spec.m as usize,
                )
            }),
            pending: Vec::new(),
            vectors: Vec::new(),
            tids: HeapTids::default(),
            rng: SplitMix64::new(0x5275_7665_6321_u64 ^ spec.dims as u64),
            team: None,
            heap,
            budget: pg_sys::maintenance_work_mem as usize * 1024,
            disk: None,
            indexed: 0.0,
        };
        if !in_memory {
            st.spill();
        }
        pg_sys::pgstat_progress_update_param(PROGRESS_CREATE_IDX_SUBPHASE, PHASE_LOAD);
        let reltuples = pg_sys::table_index_build_scan(
            heap,
            index,
            index_info,
            true,
            true,
            Some(build_callback),
            &mut st as *mut BuildState as *mut c_void,
            core::ptr::null_mut(),
        );
        pg_sys::pgstat_progress_update_param(PROGRESS_CREATE_IDX_TUPLES_TOTAL, st.indexed as i64);
        if st.disk.is_none() {
            st.build_graph();
            flush(&mut st);
        }
        pg_sys::pgstat_progress_update_param(PROGRESS_CREATE_IDX_TUPLES_DONE, st.indexed as i64);
        let mut result = pgrx::PgBox::<pg_sys::IndexBuildResult>::alloc0();
        result.heap_tuples = reltuples;
        result.index_tuples = st.indexed;
        result.into_pg()
    }
}

fn graph_error(e: ruvec_hnsw::MemoryError) -> ! {
    raise_with(
        PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        format!("ruhnsw build: {e}"),
        None,
        None,
    )
}

/// How many parallel workers to ask for: what the planner would give a parallel btree build
/// of this table (max_parallel_maintenance_workers, the table's parallel_workers option, its
/// size against min_parallel_table_scan_size), and none where parallel mode is impossible.
///
/// # Safety
/// Inside ambuild with both relations open.
unsafe fn parallel_workers(heap: pg_sys::Relation, index: pg_sys::Relation) -> i32 {
    // SAFETY: plain catalog/planner calls on open relations.
    unsafe {
        if pg_sys::IsInParallelMode() || !pg_sys::ActiveSnapshotSet() {
            return 0;
        }
        pg_sys::plan_create_index_workers((*heap).rd_id, (*index).rd_id)
    }
}

fn memory_metric(m: Metric) -> ruvec_hnsw::Metric {
    match m {
        Metric::L2 => ruvec_hnsw::Metric::L2,
        Metric::InnerProduct => ruvec_hnsw::Metric::InnerProduct,
        Metric::Cosine => ruvec_hnsw::Metric::Cosine,
        Metric::L1 => ruvec_hnsw::Metric::L1,
        Metric::Hamming | Metric::Jaccard => unreachable!("bit indexes are built on disk"),
    }
}

/// `ambuildempty`: the init fork of an UNLOGGED index is an empty index (just the meta page);
/// crash recovery resets the main fork to it.
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn ambuildempty(index: pg_sys::Relation) {
    // SAFETY: called at CREATE INDEX for unlogged indexes, init fork empty.
    unsafe {
        let meta = meta_tuple(&spec_of(index));
        write_init_fork_page(index, |p| write_meta(p, &meta));
    }
}

#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn ambuildphasename(phase: i64) -> *mut core::ffi::c_char {
    let name: &'static core::ffi::CStr = match phase {
        PHASE_LOAD => c"loading tuples",
        PHASE_GRAPH => c"building graph",
        PHASE_WRITE => c"writing index pages",
        _ => return core::ptr::null_mut(),
    };
    name.as_ptr() as *mut core::ffi::c_char
}
