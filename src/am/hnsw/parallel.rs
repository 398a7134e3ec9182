//! Parallel graph construction with Postgres parallel workers.
//!
//! The leader collects the rows (heap scan, see [`super::build`]), then creates a parallel
//! context whose dynamic shared memory holds the graph ([`ruvec_hnsw::SharedLayout`]) and a
//! few work areas. The graph grows in batches (crates/hnsw `batch_size`): for each batch
//!
//! 1. PLAN (all processes): every row's neighbour lists are searched in the graph as it is —
//!    read-only, rows handed out through an atomic counter, results into fixed-size slots;
//! 2. the leader alone adds the batch's elements with those lists (`add_planned`);
//! 3. BACKLINK (all processes): each affected neighbour's new list is chosen and written by
//!    the process that took it (`write_list_shared`). A back-link item reads and writes only
//!    its own neighbour's list (and reads vectors, which no phase changes), and every list
//!    is one item, so the processes' writes never meet and nobody reads what another writes.
//!    (The leader used to write all lists after the phase: 6% of a 1M x 128 build's graph
//!    time, with the workers waiting and each list a cache miss on the leader.)
//!
//! Phases are separated by a barrier (generation counter + condition variable in the shared
//! segment), so nobody reads the graph while the leader adds elements, and everything written
//! in a phase is seen by all after its closing barrier. Workers see the graph through the
//! [`ruvec_hnsw::GraphHeader`] the leader publishes before each phase.
//! The workers do pure computation on shared memory: they open no relations.
//!
//! Errors: a worker's ERROR reaches the leader through the parallel context's error queue at
//! its next CHECK_FOR_INTERRUPTS (barrier waits sleep on a condition variable, which checks
//! interrupts), and transaction abort then terminates the other workers and frees the
//! segment. The result does not depend on the number of workers: every row's plan and every
//! back-link is computed the same way whoever computes it, the leader adds the elements in a
//! fixed order, and a back-link's result depends only on its own list.

use core::ffi::c_void;
use core::sync::atomic::{AtomicU32, Ordering};

use pgrx::{pg_sys, PgSqlErrorCode};
use ruvec_hnsw::{
    batch_size, BatchPlan, Candidate, GraphHeader, HnswParams, Known, KnownDistances, Level,
    Measured, MemoryError, MemoryGraph, SharedLayout, VectorMirror, KNOWN_MIN_DIMS,
};

use crate::error::raise_with;

const KEY_SHARED: u64 = 0x5255_4857_0000_0001;
const KEY_GRAPH: u64 = 0x5255_4857_0000_0002;
const KEY_WORK: u64 = 0x5255_4857_0000_0003;

const PHASE_PLAN: u32 = 1;
const PHASE_BACKLINK: u32 = 2;
const PHASE_DONE: u32 = 3;

/// Largest batch (crates/hnsw's batch_size never exceeds it).
const BATCH_CAP: usize = 4096;
/// Back-link items and offered candidates per BACKLINK round.
const ITEM_CAP: usize = 16_384;
const POOL_CAP: usize = 65_536;
/// Distances kept per row of a batch for its back-links (`ruvec_hnsw::KnownDistances`): the
/// nearest this many of those its search measured. A search with ef_construction 64 measures
/// about 600; one that measured more keeps its nearest, which are the likeliest members of
/// its neighbours' lists. A distance not kept is measured again, with the same result.
const KNOWN_CAP: usize = 1024;

/// The control block at the start of the segment.
#[repr(C)]
struct Shared {
    cv: pg_sys::ConditionVariable,
    arrived: AtomicU32,
    generation: AtomicU32,
    participants: AtomicU32,
    phase: AtomicU32,
    next: AtomicU32,
    count: AtomicU32,
    /// Written by the leader before the barrier that starts a phase (the barrier's atomics
    /// order it before every reader's accesses).
    header: GraphHeader,
    layout: SharedLayout,
    params: HnswParams,
    /// Every process searches its own copy of the vectors ([`VectorMirror`]): decided by the
    /// leader from maintenance_work_mem.
    mirror: bool,
    /// Rows in the current batch: its elements are the graph's last `batch` (BACKLINK).
    batch: AtomicU32,
}

/// The work areas after the control block, one allocation: batch rows (f32) and levels,
/// plan slots, known distances, back-link items / candidate pool. Per-row areas are sized
/// for the largest batch of the build (`batch_size` of its row count).
#[derive(Clone, Copy)]
struct WorkLayout {
    dims: usize,
    /// u32 words per row's plan slot.
    plan_words: usize,
    max_batch: usize,
    rows: usize,
    levels: usize,
    plans: usize,
    known_len: usize,
    known: usize,
    /// Known-distance entries per row: KNOWN_CAP, or 0 below KNOWN_MIN_DIMS (the searches
    /// keep none there).
    known_cap: usize,
    items: usize,
    pool: usize,
    size: usize,
}

impl WorkLayout {
    fn new(dims: usize, params: &HnswParams, capacity: usize) -> WorkLayout {
        let max_batch = batch_size(capacity).min(BATCH_CAP);
        let plan_words: usize = (0..=params.level_cap())
            .map(|l| 1 + 3 * params.max_neighbors(l))
            .sum();
        let mut at = 0usize;
        let mut take = |bytes: usize| {
            let start = (at + 7) & !7;
            at = start + bytes;
            start
        };
        let rows = take(max_batch * dims * 4);
        let levels = take(max_batch);
        let plans = take(max_batch * plan_words * 4);
        let known_cap = if dims >= KNOWN_MIN_DIMS { KNOWN_CAP } else { 0 };
        let known_len = take(max_batch * 4);
        let known = take(max_batch * known_cap * core::mem::size_of::<Measured>());
        let items = take(ITEM_CAP * 4 * 4);
        let pool = take(POOL_CAP * 8);
        WorkLayout {
            dims,
            plan_words,
            max_batch,
            rows,
            levels,
            plans,
            known_len,
            known,
            known_cap,
            items,
            pool,
            size: (at + 7) & !7,
        }
    }
}

/// Raw views of the work areas (the segment outlives every use).
struct Work {
    base: *mut u8,
    l: WorkLayout,
}

impl Work {
    /// # Safety
    /// `off + n` elements of T lie inside the work allocation.
    unsafe fn slice<'a, T>(&self, off: usize, n: usize) -> &'a mut [T] {
        // SAFETY: forwarded; areas are 8-aligned and disjoint; each phase gives every slot one
        // writer (the counter hands each index to one process) and readers read only after the
        // closing barrier.
        unsafe { core::slice::from_raw_parts_mut(self.base.add(off) as *mut T, n) }
    }
    fn row(&self, i: usize) -> &mut [f32] {
        assert!(i < self.l.max_batch);
        // SAFETY: i < max_batch.
        unsafe { self.slice::<f32>(self.l.rows + i * self.l.dims * 4, self.l.dims) }
    }
    fn levels(&self) -> &mut [Level] {
        // SAFETY: max_batch levels.
        unsafe { self.slice::<Level>(self.l.levels, self.l.max_batch) }
    }
    fn plan_slot(&self, i: usize) -> &mut [u32] {
        assert!(i < self.l.max_batch);
        // SAFETY: i < max_batch.
        unsafe { self.slice::<u32>(self.l.plans + i * self.l.plan_words * 4, self.l.plan_words) }
    }
    /// Row `i`'s known distances: pointers to its length word and its `known_cap` entries.
    fn known_slot(&self, i: usize) -> (*mut u32, *mut Measured) {
        assert!(i < self.l.max_batch);
        // SAFETY (offsets): i < max_batch, so both lie inside their areas; Measured is two
        // 4-byte plain values (repr(C), align 4) and the areas are 8-aligned.
        unsafe {
            (
                (self.base.add(self.l.known_len) as *mut u32).add(i),
                self.base
                    .add(self.l.known + i * self.l.known_cap * core::mem::size_of::<Measured>())
                    as *mut Measured,
            )
        }
    }
    /// Write row `i`'s known distances (its nearest `known_cap`, sorted by id).
    fn put_known(&self, i: usize, mut known: Known) {
        let cap = self.l.known_cap;
        if known.len() > cap {
            known.select_nth_unstable_by(cap, |a, b| a.distance.total_cmp(&b.distance));
            known.truncate(cap);
            known.sort_unstable_by_key(|m| m.id);
        }
        let (len, slot) = self.known_slot(i);
        // SAFETY: row i's slot has room for `known_cap` entries; the PLAN phase gives each row
        // one writer and nobody reads the slot before the phase's closing barrier.
        unsafe {
            core::ptr::copy_nonoverlapping(known.as_ptr(), slot, known.len());
            *len = known.len() as u32;
        }
    }
    /// Row `i`'s known distances as written in the PLAN phase (read by every process in
    /// BACKLINK, so through shared references only).
    fn known(&self, i: usize) -> &[Measured] {
        let (len, slot) = self.known_slot(i);
        // SAFETY: written in the PLAN phase (at most `known_cap` entries); nobody writes these
        // areas during BACKLINK.
        unsafe { core::slice::from_raw_parts(slot, (*len as usize).min(self.l.known_cap)) }
    }
    fn item(&self, i: usize) -> &mut [u32] {
        // SAFETY: i < ITEM_CAP; items are [nb, level, pool start, pool len].
        unsafe { self.slice::<u32>(self.l.items + i * 16, 4) }
    }
    fn pool(&self) -> &mut [[u32; 2]] {
        // SAFETY: POOL_CAP pairs (id, distance bits).
        unsafe { self.slice::<[u32; 2]>(self.l.pool, POOL_CAP) }
    }
}

fn encode_plan(slot: &mut [u32], plan: &BatchPlan, params: &HnswParams) {
    let mut at = 0;
    for l in 0..=params.level_cap() {
        let cap = params.max_neighbors(l);
        let list = plan.get(l as usize).map(|v| v.as_slice()).unwrap_or(&[]);
        let n = list.len().min(cap);
        slot[at] = n as u32;
        for (j, &(id, d, verdict)) in list.iter().take(n).enumerate() {
            slot[at + 1 + 3 * j..at + 4 + 3 * j].copy_from_slice(&[
                id,
                d.to_bits(),
                verdict.into(),
            ]);
        }
        at += 1 + 3 * cap;
    }
}

fn decode_plan(slot: &[u32], level: Level, params: &HnswParams) -> BatchPlan {
    let mut at = 0;
    let mut plan = Vec::with_capacity(level as usize + 1);
    for l in 0..=level.min(params.level_cap()) {
        let cap = params.max_neighbors(l);
        let n = (slot[at] as usize).min(cap);
        plan.push(
            (0..n)
                .map(|j| {
                    let e = &slot[at + 1 + 3 * j..at + 4 + 3 * j];
                    (e[0], f32::from_bits(e[1]), e[2] as u8)
                })
                .collect(),
        );
        at += 1 + 3 * cap;
    }
    plan
}

fn build_error(e: MemoryError) -> ! {
    raise_with(
        PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        format!("ruhnsw parallel build: {e}"),
        None,
        None,
    )
}

/// Wait until every participant has arrived (a reusable barrier).
///
/// # Safety
/// `shared` is the live control block.
unsafe fn barrier_wait(shared: *mut Shared) {
    // SAFETY: forwarded; the condition variable was initialised by the leader.
    unsafe {
        let s = &*shared;
        let generation = s.generation.load(Ordering::Acquire);
        let arrived = s.arrived.fetch_add(1, Ordering::AcqRel) + 1;
        if arrived == s.participants.load(Ordering::Acquire) {
            s.arrived.store(0, Ordering::Relaxed);
            s.generation.fetch_add(1, Ordering::AcqRel);
            pg_sys::ConditionVariableBroadcast(&raw mut (*shared).cv);
            return;
        }
        pg_sys::ConditionVariablePrepareToSleep(&raw mut (*shared).cv);
        while s.generation.load(Ordering::Acquire) == generation {
            // Checks interrupts: a failed worker's ERROR surfaces here in the leader.
            pg_sys::ConditionVariableSleep(&raw mut (*shared).cv, pg_sys::PG_WAIT_EXTENSION);
        }
        pg_sys::ConditionVariableCancelSleep();
    }
}

/// This process's share of the current phase, reading the graph at `gbase` as the leader
/// published it (through `mirror`'s copy of the vectors if there is one).
///
/// # Safety
/// Between the two barriers of a phase; `gbase` is the graph region of the segment.
unsafe fn run_phase(
    shared: *mut Shared,
    work: &Work,
    gbase: *mut u8,
    mirror: Option<&mut VectorMirror>,
) {
    // SAFETY: the control block is live; the header and layout were written before the phase,
    // and nobody writes the graph during it (read-only views).
    let graph = unsafe {
        let (layout, header) = (&(*shared).layout, &(*shared).header);
        match mirror {
            Some(m) => {
                m.sync(layout, gbase, header);
                MemoryGraph::from_raw_parts_mirrored(layout, gbase, header, m)
            }
            None => MemoryGraph::from_raw_parts(layout, gbase, header),
        }
    };
    let graph = &graph;
    // SAFETY: the control block is live; fields read here are written before the phase.
    let s = unsafe { &*shared };
    let count = s.count.load(Ordering::Acquire) as usize;
    let params = s.params;
    let phase = s.phase.load(Ordering::Acquire);
    // BACKLINK: the batch's elements are the graph's last `batch`, each with the distances its
    // search measured (written in the PLAN phase, read-only now).
    let per: Vec<&[Measured]> = if phase == PHASE_BACKLINK {
        (0..s.batch.load(Ordering::Acquire) as usize)
            .map(|i| work.known(i))
            .collect()
    } else {
        Vec::new()
    };
    let first = (graph.len() - per.len()) as u32;
    let known = KnownDistances::new(first, &per);
    loop {
        let i = s.next.fetch_add(1, Ordering::AcqRel) as usize;
        if i >= count {
            break;
        }
        pgrx::check_for_interrupts!();
        match phase {
            PHASE_PLAN => {
                let level = work.levels()[i];
                let (plan, known) = graph
                    .plan_insert(work.row(i), level, &params)
                    .unwrap_or_else(|e| build_error(e));
                encode_plan(work.plan_slot(i), &plan, &params);
                work.put_known(i, known);
            }
            PHASE_BACKLINK => {
                let it = work.item(i);
                let (nb, lc, start, len) = (it[0], it[1] as Level, it[2] as usize, it[3] as usize);
                let new: Vec<Candidate<u32>> = work.pool()[start..start + len]
                    .iter()
                    .map(|&[id, d]| Candidate::new(id, f32::from_bits(d)))
                    .collect();
                let planned = graph
                    .plan_backlink(nb, lc, &new, &params, &known)
                    .unwrap_or_else(|e| build_error(e));
                if let Some(list) = planned {
                    // SAFETY: this process took item i, the only one for (nb, lc) in this
                    // batch; no process reads or writes another item's list during the
                    // phase (module comment), and this process uses no other view of the
                    // graph's lists until the phase ends.
                    unsafe { graph.write_list_shared(nb, lc, &list) }
                        .unwrap_or_else(|e| build_error(e));
                }
            }
            _ => break,
        }
    }
}

/// Entry point of each parallel worker (looked up by name by the parallel context).
///
/// # Safety
/// Called by Postgres's ParallelWorkerMain with the segment the leader set up.
#[no_mangle]
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn ruhnsw_parallel_build_main(
    _seg: *mut pg_sys::dsm_segment,
    toc: *mut pg_sys::shm_toc,
) {
    // SAFETY: the leader inserted these keys before launching us; the segment stays mapped
    // until we return.
    unsafe {
        let shared = pg_sys::shm_toc_lookup(toc, KEY_SHARED, false) as *mut Shared;
        let gbase = pg_sys::shm_toc_lookup(toc, KEY_GRAPH, false) as *mut u8;
        let wbase = pg_sys::shm_toc_lookup(toc, KEY_WORK, false) as *mut u8;
        let layout = (*shared).layout;
        let work = Work {
            base: wbase,
            l: WorkLayout::new(layout.dim, &(*shared).params, layout.capacity),
        };
        let mut mirror = if (*shared).mirror {
            VectorMirror::new(&layout)
        } else {
            None
        };
        loop {
            barrier_wait(shared);
            if (*shared).phase.load(Ordering::Acquire) == PHASE_DONE {
                break;
            }
            run_phase(shared, &work, gbase, mirror.as_mut());
            barrier_wait(shared);
        }
    }
}

/// A running parallel build: the parallel context and the graph in its segment.
pub struct Team {
    pcxt: *mut pg_sys::ParallelContext,
    shared: *mut Shared,
    work: Work,
    /// The graph in the segment; the leader is its only writer.
    pub graph: MemoryGraph,
    gbase: *mut u8,
    mirror: Option<VectorMirror>,
    pub launched: i32,
    finished: bool,
}

/// `shm_toc_estimate_chunk` / `_keys` are macros in C.
fn estimate(pcxt: *mut pg_sys::ParallelContext, bytes: usize, keys: usize) {
    // SAFETY: the context is live and its estimator is plain data.
    unsafe {
        let e = &mut (*pcxt).estimator;
        let align = pg_sys::ALIGNOF_BUFFER as usize;
        e.space_for_chunks += (bytes + align - 1) & !(align - 1);
        e.number_of_keys += keys;
    }
}

impl Team {
    /// Start `nworkers` workers with room for a graph of `layout.capacity` elements. With
    /// `mirror`, every process (leader and workers) keeps a private copy of the vectors.
    /// None when no worker could be launched (then the caller builds serially).
    ///
    /// # Safety
    /// Inside ambuild, in a transaction with an active snapshot, not in parallel mode.
    pub unsafe fn start(
        layout: SharedLayout,
        params: HnswParams,
        nworkers: i32,
        mirror: bool,
    ) -> Option<Team> {
        // SAFETY: the standard parallel-context protocol (access/transam/README.parallel).
        unsafe {
            pg_sys::EnterParallelMode();
            let pcxt = pg_sys::CreateParallelContext(
                c"ruvec".as_ptr(),
                c"ruhnsw_parallel_build_main".as_ptr(),
                nworkers,
            );
            let wl = WorkLayout::new(layout.dim, &params, layout.capacity);
            estimate(pcxt, core::mem::size_of::<Shared>(), 1);
            estimate(pcxt, layout.size(), 1);
            estimate(pcxt, wl.size, 1);
            pg_sys::InitializeParallelDSM(pcxt);
            if (*pcxt).seg.is_null() {
                // No dynamic shared memory available: Postgres gives a context without workers.
                pg_sys::DestroyParallelContext(pcxt);
                pg_sys::ExitParallelMode();
                return None;
            }
            let toc = (*pcxt).toc;
            let shared =
                pg_sys::shm_toc_allocate(toc, core::mem::size_of::<Shared>()) as *mut Shared;
            shared.write(Shared {
                cv: core::mem::zeroed(),
                arrived: AtomicU32::new(0),
                generation: AtomicU32::new(0),
                participants: AtomicU32::new(u32::MAX),
                phase: AtomicU32::new(0),
                next: AtomicU32::new(0),
                count: AtomicU32::new(0),
                header: GraphHeader::default(),
                layout,
                params,
                mirror,
                batch: AtomicU32::new(0),
            });
            pg_sys::ConditionVariableInit(&raw mut (*shared).cv);
            let gbase = pg_sys::shm_toc_allocate(toc, layout.size()) as *mut u8;
            let wbase = pg_sys::shm_toc_allocate(toc, wl.size) as *mut u8;
            pg_sys::shm_toc_insert(toc, KEY_SHARED, shared as *mut c_void);
            pg_sys::shm_toc_insert(toc, KEY_GRAPH, gbase as *mut c_void);
            pg_sys::shm_toc_insert(toc, KEY_WORK, wbase as *mut c_void);
            pg_sys::LaunchParallelWorkers(pcxt);
            let launched = (*pcxt).nworkers_launched;
            if launched == 0 {
                pg_sys::WaitForParallelWorkersToFinish(pcxt);
                pg_sys::DestroyParallelContext(pcxt);
                pg_sys::ExitParallelMode();
                return None;
            }
            // Raises an ERROR if a worker failed to start, so the barriers below never wait
            // for someone who will not come.
            pg_sys::WaitForParallelWorkersToAttach(pcxt);
            (*shared)
                .participants
                .store(launched as u32 + 1, Ordering::Release);
            let graph = MemoryGraph::from_raw_parts(&layout, gbase, &GraphHeader::default());
            Some(Team {
                pcxt,
                shared,
                work: Work { base: wbase, l: wl },
                graph,
                gbase,
                mirror: if mirror {
                    VectorMirror::new(&layout)
                } else {
                    None
                },
                launched,
                finished: false,
            })
        }
    }

    /// Whether every process searches its own copy of the vectors.
    pub fn mirrored(&self) -> bool {
        self.mirror.is_some()
    }

    /// Run one phase over `count` items with every process, leader included.
    fn phase(&mut self, phase: u32, count: usize) {
        // SAFETY: the control block is live; workers wait at the barrier while we publish.
        unsafe {
            (*self.shared).header = self.graph.header();
            (*self.shared).phase.store(phase, Ordering::Release);
            (*self.shared).next.store(0, Ordering::Release);
            (*self.shared).count.store(count as u32, Ordering::Release);
            barrier_wait(self.shared);
            run_phase(self.shared, &self.work, self.gbase, self.mirror.as_mut());
            barrier_wait(self.shared);
        }
    }

    /// Insert one batch (`levels.len()` rows) into the shared graph.
    pub fn insert_batch(&mut self, rows: &[f32], levels: &[Level], params: &HnswParams) {
        let dims = self.work.l.dims;
        let n = levels.len();
        assert!(n <= self.work.l.max_batch && rows.len() == n * dims);
        for (i, row) in rows.chunks_exact(dims).enumerate() {
            // Workers are waiting at the barrier while the leader fills the batch.
            self.work.row(i).copy_from_slice(row);
        }
        self.work.levels()[..n].copy_from_slice(levels);
        self.phase(PHASE_PLAN, n);
        let plans: Vec<BatchPlan> = (0..n)
            .map(|i| decode_plan(self.work.plan_slot(i), levels[i], params))
            .collect();
        let backlinks = self
            .graph
            .add_planned(rows, levels, plans, params)
            .unwrap_or_else(|e| build_error(e));
        // SAFETY: the control block is live; workers wait at the barrier.
        unsafe { (*self.shared).batch.store(n as u32, Ordering::Release) };
        // BACKLINK rounds bounded by the item and candidate-pool areas.
        let mut rest = &backlinks[..];
        while !rest.is_empty() {
            let (mut items, mut pooled) = (0, 0);
            while items < rest.len() && items < ITEM_CAP && pooled + rest[items].1.len() <= POOL_CAP
            {
                let ((nb, lc), new) = &rest[items];
                let pool = self.work.pool();
                for (j, c) in new.iter().enumerate() {
                    pool[pooled + j] = [c.id, c.distance.to_bits()];
                }
                self.work.item(items).copy_from_slice(&[
                    *nb,
                    u32::from(*lc),
                    pooled as u32,
                    new.len() as u32,
                ]);
                pooled += new.len();
                items += 1;
            }
            assert!(items > 0, "a back-link item larger than the candidate pool");
            self.phase(PHASE_BACKLINK, items);
            rest = &rest[items..];
        }
    }

    /// Tell the workers to exit and wait for them. The graph stays readable until the Team
    /// is dropped (the segment lives until then).
    pub fn finish_workers(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        // SAFETY: the control block is live; workers wait at the barrier.
        unsafe {
            (*self.shared).phase.store(PHASE_DONE, Ordering::Release);
            barrier_wait(self.shared);
            pg_sys::WaitForParallelWorkersToFinish(self.pcxt);
        }
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // An ERROR is unwinding: transaction abort destroys the context (terminating the
            // workers); waiting for them here could block on a barrier.
            return;
        }
        self.finish_workers();
        // SAFETY: created by Team::start, destroyed once; leaves parallel mode entered there.
        unsafe {
            pg_sys::DestroyParallelContext(self.pcxt);
            pg_sys::ExitParallelMode();
        }
    }
}
