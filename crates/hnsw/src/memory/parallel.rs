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

use super::{MemoryError, MemoryGraph};
use crate::insert::find_neighbors;
use crate::search::Target;
use crate::select::select_with;
use crate::store::{EntryPoint, GraphRead, GraphWrite};
use crate::{Candidate, HnswParams, Level, RandomSource, Ticker};

/// Below this many elements every insert is serial.
const SERIAL_PREFIX: usize = 2_000;

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
            let batch = if self.len() < SERIAL_PREFIX {
                1
            } else {
                (self.len() / 50).clamp(16, 4096)
            };
            let end = (done + batch).min(n);
            let levels: Vec<Level> = (done..end)
                .map(|_| crate::random_level(rng, params.ml(), params.max_level))
                .collect();
            if end - done == 1 {
                let row = &rows[done * dim..end * dim];
                crate::insert(self, row, levels[0], params)?;
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
        let Some(ep) = self.entry() else {
            // Empty graph: nothing to search; insert serially.
            for (row, &level) in rows.chunks_exact(dim).zip(levels) {
                crate::insert(self, row, level, params)?;
            }
            return Ok(());
        };
        // Parallel: plan every element's neighbour lists against the current graph.
        let snapshot: &MemoryGraph = self;
        let plans: Vec<Result<Vec<Vec<(u32, f32)>>, MemoryError>> = pool.install(|| {
            rows.par_chunks_exact(dim)
                .zip(levels.par_iter())
                .map(|(row, &level)| {
                    let level = level.min(params.level_cap());
                    let q = snapshot.prepare_query(row)?;
                    let mut store = snapshot;
                    let mut ticker = Ticker::default();
                    let found = find_neighbors(
                        &mut store,
                        &Target::Query(&q),
                        ep,
                        level,
                        params,
                        None,
                        &mut ticker,
                    )?;
                    Ok(found
                        .lists
                        .iter()
                        .map(|l| l.iter().map(|c| (c.id, c.distance)).collect())
                        .collect())
                })
                .collect()
        });
        // Serial (cheap): add the elements with their own lists, move the entry point up.
        let mut added: Vec<(u32, Vec<Vec<(u32, f32)>>)> = Vec::with_capacity(levels.len());
        for ((row, &level), plan) in rows.chunks_exact(dim).zip(levels).zip(plans) {
            let plan = plan?;
            let level = level.min(params.level_cap());
            let ids: Vec<Vec<u32>> = plan
                .iter()
                .map(|l| l.iter().map(|&(id, _)| id).collect())
                .collect();
            let id = self.add_element(row, level, &ids)?;
            let current = self.entry_point()?.map(|e| e.level).unwrap_or(0);
            if level > current {
                self.set_entry_point(Some(EntryPoint { id, level }))?;
            }
            added.push((id, plan));
        }
        // Back-links, grouped by the neighbour that receives them: each (neighbour, level)
        // gets one new list chosen from its old list plus all its new candidates. Different
        // neighbours are independent, so the lists are computed in parallel (read-only) and
        // written afterwards.
        let mut incoming: std::collections::HashMap<(u32, Level), Vec<Candidate<u32>>> =
            std::collections::HashMap::new();
        for (id, plan) in &added {
            for (lc, list) in plan.iter().enumerate() {
                for &(nb, d) in list {
                    incoming
                        .entry((nb, lc as Level))
                        .or_default()
                        .push(Candidate::new(*id, d));
                }
            }
        }
        let work: Vec<((u32, Level), Vec<Candidate<u32>>)> = incoming.into_iter().collect();
        let snapshot: &MemoryGraph = self;
        let updates: Vec<Result<Option<(u32, Level, Vec<u32>)>, MemoryError>> =
            pool.install(|| {
                work.into_par_iter()
                    .map(|((nb, lc), new)| {
                        let mut store = snapshot;
                        let mut ticker = Ticker::default();
                        let lm = params.max_neighbors(lc);
                        let mut cur = Vec::new();
                        store.neighbors(nb, lc, &mut cur)?;
                        let mut cands = Vec::with_capacity(cur.len() + new.len());
                        for &c in &cur {
                            cands.push(Candidate::new(c, store.distance_between(nb, c)?));
                        }
                        cands.extend(new.iter().copied().filter(|c| !cur.contains(&c.id)));
                        if cands.len() == cur.len() {
                            return Ok(None);
                        }
                        let chosen = if cands.len() <= lm {
                            cands
                        } else {
                            select_with(&mut store, cands, lm, &mut ticker)?
                        };
                        Ok(Some((nb, lc, chosen.into_iter().map(|c| c.id).collect())))
                    })
                    .collect()
            });
        for u in updates {
            if let Some((nb, lc, list)) = u? {
                self.set_neighbors(nb, lc, &list)?;
            }
        }
        Ok(())
    }
}
