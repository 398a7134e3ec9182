//! Multi-threaded in-memory build (pure computation: safe to run on helper threads inside a
//! Postgres backend, since nothing here calls into Postgres).
//!
//! Elements are inserted in batches. For every element of a batch, the expensive part of an
//! insert — the graph search for its neighbours — runs in parallel against the graph as it was
//! before the batch (`&MemoryGraph` is a read-only store); the elements are then added with
//! their lists, and the back-links are computed in parallel too, grouped by the neighbour that
//! receives them (one heuristic selection per neighbour and level). Elements of one batch
//! do not see each other during their searches, so batches are kept small relative to the graph
//! (about 2% of it) and the first elements are inserted one by one; recall matches a serial
//! build (see tests/recall.rs).

use rayon::prelude::*;

use super::lists::Slot;
use super::{MemoryError, MemoryGraph, MemoryQuery, SLOT_CLOSER, SLOT_PRUNED, SLOT_UNKNOWN};
use crate::insert::find_neighbors;
use crate::search::Target;
use crate::store::{EntryPoint, GraphRead, GraphWrite, Visit};
use crate::visited::DenseVisited;
use crate::{Candidate, HnswParams, Level, RandomSource, Ticker};

/// Below this many elements every insert is serial.
pub const SERIAL_PREFIX: usize = 2_000;

/// How many elements the next batch inserts, for a graph of `len` elements:
/// one at a time below [`SERIAL_PREFIX`], then about 2% of the graph.
pub fn batch_size(len: usize) -> usize {
    if len < SERIAL_PREFIX {
        1
    } else {
        (len / 50).clamp(16, 4096)
    }
}

/// One element's planned neighbour lists per level `0..=level`: `(id, distance, verdict)`,
/// the verdict the selection heuristic reached for each (cached with the list, see
/// memory/lists.rs).
pub type BatchPlan = Vec<Vec<Slot>>;

/// Back-link work of a batch: each `(neighbour, level)` with the new elements
/// offered to its list.
pub type Backlinks = Vec<((u32, Level), Vec<Candidate<u32>>)>;

/// Fewest dimensions at which a build keeps its searches' distances for the back-links
/// ([`KnownDistances`]). Keeping them costs a sort of the ~600 distances of each row's search;
/// a distance saved costs a vector read. Measured in memory (2 threads): 200k x 768 builds
/// faster (median 28.5 vs 31.7 s over five runs each), 100k x 384 and 100k x 128 slower
/// (9.6 vs 9.0 s, 8.7 vs 7.2 s). 512 is untested between them.
pub const KNOWN_MIN_DIMS: usize = 512;

/// A distance a search measured: from the new element to element `id`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Measured {
    pub id: u32,
    pub distance: f32,
}

/// What a new element's search measured, for its back-links: its distance to each element
/// the search visited, sorted by id (see [`KnownDistances`]); empty below [`KNOWN_MIN_DIMS`].
pub type Known = Vec<Measured>;

/// The [`Known`] distances of a batch's new elements (element `first + i` has `per[i]`),
/// looked up by the back-links before measuring a distance again.
///
/// Why: a back-link into a full list runs the selection heuristic between the new element
/// and the list's members, and each of those distances reads a member's vector from memory
/// (355 of a 768-d build's 1,128 distances per row, about a third of the vectors it reads).
/// But the new element's own search expanded most of its neighbours and so measured their
/// list members already. A looked-up distance is the very value a new measurement would give
/// (same vectors, same kernel; every kernel is symmetric), so the graph does not change;
/// a distance that is not there (an entry cut off by a cap, another element of the same
/// batch) is measured as before.
#[derive(Clone, Copy, Debug, Default)]
pub struct KnownDistances<'a> {
    first: u32,
    per: &'a [&'a [Measured]],
}

impl<'a> KnownDistances<'a> {
    /// Distances of elements `first..first + per.len()`.
    pub fn new(first: u32, per: &'a [&'a [Measured]]) -> Self {
        KnownDistances { first, per }
    }

    /// The distance between `a` and `b` if the search of one of them measured it.
    #[inline]
    pub fn get(&self, a: u32, b: u32) -> Option<f32> {
        self.one_way(a, b).or_else(|| self.one_way(b, a))
    }

    #[inline]
    fn one_way(&self, new: u32, other: u32) -> Option<f32> {
        let list = self.per.get(new.checked_sub(self.first)? as usize)?;
        let at = list.binary_search_by_key(&other, |m| m.id).ok()?;
        Some(list[at].distance)
    }
}

/// A read-only view of a graph that keeps every distance a search measures (when `record`).
struct Recorder<'g> {
    g: &'g MemoryGraph,
    record: bool,
    seen: Vec<Measured>,
}

impl GraphRead for Recorder<'_> {
    type Id = u32;
    type Query = MemoryQuery;
    type Error = MemoryError;
    type Visited = DenseVisited;

    fn entry_point(&mut self) -> Result<Option<EntryPoint<u32>>, MemoryError> {
        Ok(self.g.entry())
    }
    fn level(&mut self, id: u32) -> Result<Level, MemoryError> {
        let mut g = self.g;
        g.level(id)
    }
    fn is_deleted(&mut self, id: u32) -> Result<bool, MemoryError> {
        let mut g = self.g;
        g.is_deleted(id)
    }
    fn neighbors(&mut self, id: u32, level: Level, out: &mut Vec<u32>) -> Result<(), MemoryError> {
        let mut g = self.g;
        g.neighbors(id, level, out)
    }
    fn distance(&mut self, q: &MemoryQuery, id: u32) -> Result<f32, MemoryError> {
        let mut g = self.g;
        let distance = g.distance(q, id)?;
        if self.record {
            self.seen.push(Measured { id, distance });
        }
        Ok(distance)
    }
    fn distance_between(&mut self, a: u32, b: u32) -> Result<f32, MemoryError> {
        let mut g = self.g;
        g.distance_between(a, b)
    }
    fn visit(&mut self, q: &MemoryQuery, id: u32) -> Result<Visit, MemoryError> {
        let mut g = self.g;
        let v = g.visit(q, id)?;
        if self.record {
            self.seen.push(Measured {
                id,
                distance: v.distance,
            });
        }
        Ok(v)
    }
    fn visit_many(
        &mut self,
        q: &MemoryQuery,
        ids: &[u32],
        out: &mut Vec<Visit>,
    ) -> Result<(), MemoryError> {
        let mut g = self.g;
        let start = out.len();
        g.visit_many(q, ids, out)?;
        if self.record {
            self.seen
                .extend(ids.iter().zip(&out[start..]).map(|(&id, v)| Measured {
                    id,
                    distance: v.distance,
                }));
        }
        Ok(())
    }
    fn new_visited(&self) -> DenseVisited {
        self.g.new_visited()
    }
}

impl MemoryGraph {
    /// Insert `rows` (`dim` values each, row-major) with levels drawn from `rng`, using the
    /// threads of `pool`. `on_batch(done)` is called between batches (for progress and
    /// interrupt checks) and may stop the build by returning an error.
    pub fn insert_parallel<R: RandomSource + ?Sized, E: From<MemoryError>>(
        &mut self,
        rows: &[f32],
        rng: &mut R,
        params: &HnswParams,
        pool: &rayon::ThreadPool,
        mut on_batch: impl FnMut(usize) -> Result<(), E>,
    ) -> Result<(), E> {
        self.check_params(params)?;
        let dim = self.dim();
        if dim == 0 || !rows.len().is_multiple_of(dim) {
            return Err(MemoryError::DimensionMismatch {
                expected: dim,
                got: rows.len(),
            }
            .into());
        }
        let n = rows.len() / dim;
        self.reserve(n);
        let mut done = 0;
        while done < n {
            let end = (done + batch_size(self.len())).min(n);
            let levels: Vec<Level> = (done..end)
                .map(|_| crate::random_level(rng, params.ml(), params.max_level))
                .collect();
            if end - done == 1 || self.entry().is_none() {
                for (row, &level) in rows[done * dim..end * dim].chunks_exact(dim).zip(&levels) {
                    self.insert_row(row, level, params)?;
                }
            } else {
                self.link_batch(&rows[done * dim..end * dim], &levels, params, pool)?;
            }
            done = end;
            on_batch(done)?;
        }
        Ok(())
    }

    fn link_batch(
        &mut self,
        rows: &[f32],
        levels: &[Level],
        params: &HnswParams,
        pool: &rayon::ThreadPool,
    ) -> Result<(), MemoryError> {
        let dim = self.dim();
        let snapshot: &MemoryGraph = self;
        let planned: Vec<Result<(BatchPlan, Known), MemoryError>> = pool.install(|| {
            rows.par_chunks_exact(dim)
                .zip(levels.par_iter())
                .map(|(row, &level)| snapshot.plan_insert(row, level, params))
                .collect()
        });
        let (plans, known): (Vec<BatchPlan>, Vec<Known>) = planned
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
        let first = self.len() as u32;
        let work = self.add_planned(rows, levels, plans, params)?;
        let per: Vec<&[Measured]> = known.iter().map(|k| k.as_slice()).collect();
        let known = KnownDistances::new(first, &per);
        let snapshot: &MemoryGraph = self;
        let updates: Vec<Result<Option<Vec<Slot>>, MemoryError>> = pool.install(|| {
            work.par_iter()
                .map(|((nb, lc), new)| snapshot.plan_backlink(*nb, *lc, new, params, &known))
                .collect()
        });
        for (((nb, lc), _), u) in work.iter().zip(updates) {
            if let Some(list) = u? {
                self.write_list(*nb, *lc, &list)?;
            }
        }
        Ok(())
    }

    /// One element through the batch steps (a batch of one): what a serial build does, with
    /// the cached-verdict back-links of [`plan_backlink`](Self::plan_backlink).
    pub fn insert_row(
        &mut self,
        row: &[f32],
        level: Level,
        params: &HnswParams,
    ) -> Result<u32, MemoryError> {
        if self.entry().is_none() {
            return match crate::insert(self, row, level, params)? {
                crate::InsertOutcome::Inserted(id) | crate::InsertOutcome::Merged(id) => Ok(id),
            };
        }
        let (plan, known) = self.plan_insert(row, level, params)?;
        let first = self.len() as u32;
        let work = self.add_planned(row, &[level], vec![plan], params)?;
        let per = [known.as_slice()];
        let known = KnownDistances::new(first, &per);
        for ((nb, lc), new) in &work {
            if let Some(list) = self.plan_backlink(*nb, *lc, new, params, &known)? {
                self.write_list(*nb, *lc, &list)?;
            }
        }
        Ok(self.len() as u32 - 1)
    }

    /// Batch step 1 (read-only, parallel): the neighbour lists `row` would get at `level`,
    /// searching the graph as it is, and the distances its back-links can reuse. Needs a
    /// non-empty graph.
    pub fn plan_insert(
        &self,
        row: &[f32],
        level: Level,
        params: &HnswParams,
    ) -> Result<(BatchPlan, Known), MemoryError> {
        let ep = self.entry().ok_or(MemoryError::UnknownId(0))?;
        let level = level.min(params.level_cap());
        let q = self.prepare_query(row)?;
        let mut ticker = Ticker::default();
        let mut store = Recorder {
            g: self,
            record: self.dim() >= KNOWN_MIN_DIMS,
            seen: Vec::new(),
        };
        let found = find_neighbors(
            &mut store,
            &Target::Query(&q),
            ep,
            level,
            params,
            None,
            &mut ticker,
        )?;
        let plan: BatchPlan = found
            .lists
            .iter()
            .zip(&found.closer)
            .map(|(l, &closer)| {
                l.iter()
                    .enumerate()
                    .map(|(k, c)| {
                        let verdict = match closer {
                            None => SLOT_UNKNOWN,
                            Some(n) if k < n => SLOT_CLOSER,
                            Some(_) => SLOT_PRUNED,
                        };
                        (c.id, c.distance, verdict)
                    })
                    .collect()
            })
            .collect();
        let mut known = store.seen;
        known.sort_unstable_by_key(|m| m.id);
        known.dedup_by_key(|m| m.id);
        Ok((plan, known))
    }

    /// Batch step 2 (serial, cheap): add the batch's elements with their planned lists (in
    /// order: element `i` of the batch gets id `len + i`), move the entry point up, and return
    /// the back-links to compute, grouped by the neighbour that receives them.
    pub fn add_planned(
        &mut self,
        rows: &[f32],
        levels: &[Level],
        plans: Vec<BatchPlan>,
        params: &HnswParams,
    ) -> Result<Backlinks, MemoryError> {
        let dim = self.dim();
        // (neighbour, level, new element, distance) for every back-link, grouped below by a
        // sort (cheaper than a map of per-neighbour Vecs in this serial step).
        let mut incoming: Vec<(u32, Level, u32, f32)> = Vec::new();
        for ((row, &level), plan) in rows.chunks_exact(dim).zip(levels).zip(plans) {
            let level = level.min(params.level_cap());
            if plan.len() > usize::from(level) + 1 {
                return Err(MemoryError::TooManyNeighbors {
                    level,
                    len: plan.len(),
                    max: usize::from(level) + 1,
                });
            }
            let id = self.push_element(row, level)?;
            for (lc, list) in plan.iter().enumerate() {
                self.write_list(id, lc as Level, list)?;
            }
            let current = self.entry_point()?.map(|e| e.level).unwrap_or(0);
            if level > current {
                self.set_entry_point(Some(EntryPoint { id, level }))?;
            }
            for (lc, list) in plan.iter().enumerate() {
                incoming.extend(list.iter().map(|&(nb, d, _)| (nb, lc as Level, id, d)));
            }
        }
        // By neighbour and level, each one's new elements in batch (= id) order: the order
        // they are offered in, so every run builds the same graph.
        incoming.sort_unstable_by_key(|&(nb, lc, id, _)| (nb, lc, id));
        let mut work: Backlinks = Vec::new();
        for (nb, lc, id, d) in incoming {
            match work.last_mut() {
                Some((key, new)) if *key == (nb, lc) => new.push(Candidate::new(id, d)),
                _ => work.push(((nb, lc), vec![Candidate::new(id, d)])),
            }
        }
        Ok(work)
    }
}
