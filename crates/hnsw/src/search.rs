//! Layer search (Algorithm 2), greedy descent and k-NN search (Algorithm 5).

use crate::store::{EntryPoint, GraphRead, Visit, VisitedSet};
use crate::{Candidate, Level, Ticker};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// Candidates kept on each level above the one a scan starts on (see [`descend`]).
///
/// Measured with the in-memory graph on the benchmark driver's Gaussian-cluster sets,
/// recall@10 at ef_search 40 (builds with [`BUILD_BEAM`]): 1M x 128 in 1,000 clusters
/// 0.77 with a greedy descent, 0.95 with 4, 0.96 with 8; 200k x 768 in 200 clusters
/// 0.88 / 0.94 / 0.95. Each upper level's search reads a few dozen more elements than a
/// greedy step; level 0 reads hundreds.
pub(crate) const QUERY_BEAM: usize = 8;

/// The upper-level beam of a scan with `ef_search` candidates: [`QUERY_BEAM`] from
/// ef_search 40 on, a fifth of ef_search below (at least 1). A beam of 8 costs about as many
/// distances on level 1 as a search with ef_search 16 spends on level 0 (sift5k: 1.40x
/// pgvector's QPS at ef 16, 1.87x before the beams), and small ef_search values are chosen
/// for speed.
pub(crate) fn query_beam(ef_search: usize) -> usize {
    (ef_search / 5).clamp(1, QUERY_BEAM)
}

/// Candidates kept on each level above a new element's own top level while an insert or a
/// build searches for its neighbours (see [`descend`]). A new element whose descent ended in
/// the wrong cluster gets neighbours only there, and is then hard to reach from its own.
/// Measured as for [`QUERY_BEAM`] (queries with a beam of 8): recall@10 at ef_search 40 on
/// 1M x 128 0.91 with a greedy descent, 0.96 with 4; 100k x 128 0.96 / 0.98 / 0.97 with
/// 1 / 4 / 8 (and 8 cost 15% more build time there, 4 nothing measurable).
pub(crate) const BUILD_BEAM: usize = 4;

/// An element reached by a search: id, distance to the target, and whether
/// it is deleted (traversed, never returned). Ordered like [`Candidate`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Found<Id> {
    pub id: Id,
    pub distance: f32,
    pub deleted: bool,
}

impl<Id: Copy> Found<Id> {
    #[inline]
    pub fn candidate(&self) -> Candidate<Id> {
        Candidate::new(self.id, self.distance)
    }
}

impl<Id: Ord> Eq for Found<Id> {}
impl<Id: Ord> PartialOrd for Found<Id> {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<Id: Ord> Ord for Found<Id> {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then_with(|| self.id.cmp(&other.id))
    }
}

/// What distances are measured to: a prepared query, or an element already in
/// the graph (repair of an existing element).
pub(crate) enum Target<'a, S: GraphRead + ?Sized> {
    Query(&'a S::Query),
    Element(S::Id),
}

impl<S: GraphRead + ?Sized> Target<'_, S> {
    #[inline]
    pub(crate) fn visit(&self, store: &mut S, id: S::Id) -> Result<Visit, S::Error> {
        match self {
            Target::Query(q) => store.visit(q, id),
            Target::Element(x) => Ok(Visit {
                distance: store.distance_between(*x, id)?,
                level: store.level(id)?,
                deleted: store.is_deleted(id)?,
            }),
        }
    }

    /// Visits of all `ids`, appended to `out` in order: one batched store
    /// call for a query target, one at a time for an element target.
    #[inline]
    pub(crate) fn visit_many(
        &self,
        store: &mut S,
        ids: &[S::Id],
        out: &mut Vec<Visit>,
    ) -> Result<(), S::Error> {
        match self {
            Target::Query(q) => store.visit_many(q, ids, out),
            Target::Element(_) => {
                for &id in ids {
                    out.push(self.visit(store, id)?);
                }
                Ok(())
            }
        }
    }

    #[inline]
    pub(crate) fn found(
        &self,
        store: &mut S,
        id: S::Id,
        ticker: &mut Ticker,
    ) -> Result<Found<S::Id>, S::Error> {
        let v = self.visit(store, id)?;
        ticker.tick(store)?;
        Ok(Found {
            id,
            distance: v.distance,
            deleted: v.deleted,
        })
    }
}

/// State an iterative scan keeps across layer searches: every visited node
/// that was not expanded goes to `frontier`, every visited live node to
/// `pending`, and the number of visited nodes is counted against a budget.
pub(crate) struct Spill<Id> {
    pub frontier: BinaryHeap<Reverse<Found<Id>>>,
    pub pending: BinaryHeap<Reverse<Found<Id>>>,
    /// What the running batch adds to `frontier` / `pending`, moved there
    /// by [`absorb`](Spill::absorb) when the batch ends: a batch visits
    /// hundreds of nodes, and appending to a Vec then heapifying once is
    /// much cheaper than a heap push per node.
    pub new_frontier: Vec<Reverse<Found<Id>>>,
    pub new_pending: Vec<Reverse<Found<Id>>>,
    pub tuples: u64,
    pub max_tuples: u64,
}

impl<Id: Ord + Copy> Spill<Id> {
    #[inline]
    fn budget_left(&self) -> bool {
        self.tuples < self.max_tuples
    }

    /// Moves the batches' unexpanded finds into the frontier heap (O(n) heapify); done only
    /// when a further batch needs them, which a `LIMIT k <= ef_search` query never does.
    pub fn absorb_frontier(&mut self) {
        merge(&mut self.frontier, &mut self.new_frontier);
    }

    /// Moves the live finds at distance `<= radius` into the pending heap and keeps the rest
    /// unordered in `new_pending` until the radius reaches them (or `f32::INFINITY` absorbs
    /// everything): the scan only emits pending nodes within the radius, so only those need
    /// ordering, usually about `ef_search` of the several hundred a batch finds.
    pub fn absorb_pending(&mut self, radius: f32) {
        if radius == f32::INFINITY {
            merge(&mut self.pending, &mut self.new_pending);
            return;
        }
        let Spill {
            pending,
            new_pending,
            ..
        } = self;
        new_pending.retain(|r| {
            if r.0.distance.total_cmp(&radius) == Ordering::Greater {
                true
            } else {
                pending.push(*r);
                false
            }
        });
    }

    /// No node is left to expand.
    pub fn frontier_is_empty(&self) -> bool {
        self.frontier.is_empty() && self.new_frontier.is_empty()
    }
}

fn merge<T: Ord>(heap: &mut BinaryHeap<T>, new: &mut Vec<T>) {
    if new.is_empty() {
        return;
    }
    let mut add = BinaryHeap::from(std::mem::take(new));
    if heap.is_empty() {
        *heap = add;
    } else {
        heap.append(&mut add);
    }
}

/// Layer-search results (ascending) and whether the budget stopped it.
pub(crate) type LayerOut<Id> = (Vec<Found<Id>>, bool);

/// The core of Algorithm 2. `entries` must already be in `visited`. Returns
/// the (up to) `ef` nearest elements reached, ascending, and whether the
/// search stopped early because the spill budget ran out.
#[allow(clippy::too_many_arguments)]
pub(crate) fn layer_search<S: GraphRead + ?Sized>(
    store: &mut S,
    target: &Target<'_, S>,
    entries: &[Found<S::Id>],
    ef: usize,
    level: Level,
    visited: &mut S::Visited,
    ticker: &mut Ticker,
    mut spill: Option<&mut Spill<S::Id>>,
) -> Result<LayerOut<S::Id>, S::Error> {
    let ef = ef.max(1);
    // C: candidates to expand (min-heap); W: the ef nearest (max-heap).
    let mut c: BinaryHeap<Reverse<Found<S::Id>>> = BinaryHeap::with_capacity(ef * 2);
    let mut w: BinaryHeap<Found<S::Id>> = BinaryHeap::with_capacity(ef + 1);
    for e in entries {
        c.push(Reverse(*e));
        w.push(*e);
        if w.len() > ef {
            // More entries than ef: the farthest stays in C only, and leaves
            // through the stop condition (into the frontier, if any).
            w.pop();
        }
    }
    // Room for a level-0 list at m <= 32 up front (grown by doubling, each search would
    // reallocate these three times).
    let mut neighbors = Vec::with_capacity(64);
    let mut fresh = Vec::with_capacity(64);
    let mut visits = Vec::with_capacity(64);
    let mut stopped = false;
    while let Some(Reverse(cur)) = c.pop() {
        let worst = match w.peek() {
            Some(f) => f.distance,
            None => f32::INFINITY,
        };
        if w.len() >= ef && cur.distance.total_cmp(&worst) == Ordering::Greater {
            // Every remaining candidate is farther than W's worst.
            if let Some(s) = spill.as_deref_mut() {
                s.new_frontier.push(Reverse(cur));
            }
            break;
        }
        if let Some(s) = spill.as_deref_mut() {
            if !s.budget_left() {
                stopped = true;
                s.new_frontier.push(Reverse(cur));
                break;
            }
        }
        if let Some(Reverse(next)) = c.peek() {
            // Most often expanded next (unless cur's neighbours bring a nearer one).
            store.prefetch_neighbors(next.id, level);
        }
        store.neighbors(cur.id, level, &mut neighbors)?;
        fresh.clear();
        fresh.extend(neighbors.iter().copied().filter(|&nb| visited.insert(nb)));
        visits.clear();
        target.visit_many(store, &fresh, &mut visits)?;
        for (&nb, &v) in fresh.iter().zip(visits.iter()) {
            ticker.tick(store)?;
            // Robust to inconsistent data: an element listed on a level it
            // does not have is ignored there.
            if v.level < level {
                continue;
            }
            let f = Found {
                id: nb,
                distance: v.distance,
                deleted: v.deleted,
            };
            if let Some(s) = spill.as_deref_mut() {
                s.tuples += 1;
                if !f.deleted {
                    s.new_pending.push(Reverse(f));
                }
            }
            let worst = match w.peek() {
                Some(x) => x.distance,
                None => f32::INFINITY,
            };
            if w.len() < ef || f.distance.total_cmp(&worst) == Ordering::Less {
                c.push(Reverse(f));
                w.push(f);
                if w.len() > ef {
                    // The evicted element may not have been expanded yet; it
                    // is still in C if so, and leaves through C below.
                    w.pop();
                }
            } else if let Some(s) = spill.as_deref_mut() {
                s.new_frontier.push(Reverse(f));
            }
        }
    }
    if let Some(s) = spill {
        // Unexpanded candidates stay reachable for the next batch.
        s.new_frontier.extend(c);
    }
    let mut out = w.into_vec();
    out.sort_unstable();
    Ok((out, stopped))
}

/// Algorithm 2: the `ef` nearest elements to `query` on `level` reachable
/// from `entries`, ascending by distance, deleted elements included (they
/// are waypoints; callers filter). `visited` is used as is (not cleared), so
/// pass a fresh set unless continuing a search.
pub fn search_layer<S: GraphRead + ?Sized>(
    store: &mut S,
    query: &S::Query,
    entries: &[S::Id],
    ef: usize,
    level: Level,
    visited: &mut S::Visited,
) -> Result<Vec<Found<S::Id>>, S::Error> {
    let target = Target::<S>::Query(query);
    let mut ticker = Ticker::default();
    let mut start = Vec::with_capacity(entries.len());
    for &id in entries {
        if visited.insert(id) {
            start.push(target.found(store, id, &mut ticker)?);
        }
    }
    let (w, _) = layer_search(
        store,
        &target,
        &start,
        ef,
        level,
        visited,
        &mut ticker,
        None,
    )?;
    Ok(w)
}

/// Descent from the entry point to `target_level`: on each level above it, a search with
/// `beam` candidates started from the previous level's results. Returns the last upper
/// level's results (ascending, never empty), the entries of `target_level`'s search; just
/// the entry point when it is not above `target_level`.
///
/// With `beam = 1` this is the paper's greedy descent. A wider beam matters on clustered data:
/// in high dimensions the clusters other than the query's are all at about the same distance,
/// so a greedy walk on an upper level has no gradient towards the query's cluster and stops
/// in whichever cluster happens to be a little nearer; the level-0 search then explores that
/// cluster and returns nothing of the right one. A few candidates per upper level find the
/// query's cluster far more often, for a few dozen extra distances (docs/ruhnsw.md).
pub(crate) fn descend<S: GraphRead + ?Sized>(
    store: &mut S,
    target: &Target<'_, S>,
    ep: EntryPoint<S::Id>,
    target_level: Level,
    beam: usize,
    ticker: &mut Ticker,
) -> Result<Vec<Found<S::Id>>, S::Error> {
    let mut entries = vec![target.found(store, ep.id, ticker)?];
    if ep.level <= target_level {
        return Ok(entries);
    }
    let mut visited = store.new_visited();
    let mut lc = ep.level;
    while lc > target_level {
        // A fresh set per level: with more than one candidate, an element passed over on a
        // higher level may still lead somewhere on this one.
        visited.clear();
        for e in &entries {
            visited.insert(e.id);
        }
        let (w, _) = layer_search(
            store,
            target,
            &entries,
            beam.max(1),
            lc,
            &mut visited,
            ticker,
            None,
        )?;
        if !w.is_empty() {
            entries = w;
        }
        lc -= 1;
    }
    Ok(entries)
}

/// Greedy descent from the entry point to `level` (`ef = 1` on each level
/// above it): the usual starting point of a search on `level`. `None` for an
/// empty graph.
pub fn greedy_descent<S: GraphRead + ?Sized>(
    store: &mut S,
    query: &S::Query,
    level: Level,
) -> Result<Option<Candidate<S::Id>>, S::Error> {
    let Some(ep) = store.entry_point()? else {
        return Ok(None);
    };
    let mut ticker = Ticker::default();
    let w = descend(store, &Target::<S>::Query(query), ep, level, 1, &mut ticker)?;
    Ok(w.first().map(|f| f.candidate()))
}

/// k-NN search (Algorithm 5): greedy descent, then a level-0 search with
/// `max(ef, k)` candidates; returns up to `k` live elements, nearest first.
pub fn search<S: GraphRead + ?Sized>(
    store: &mut S,
    query: &S::Query,
    k: usize,
    ef: usize,
) -> Result<Vec<Candidate<S::Id>>, S::Error> {
    let Some(ep) = store.entry_point()? else {
        return Ok(Vec::new());
    };
    if k == 0 {
        return Ok(Vec::new());
    }
    let target = Target::<S>::Query(query);
    let mut ticker = Ticker::default();
    let start = descend(store, &target, ep, 0, query_beam(ef.max(k)), &mut ticker)?;
    let mut visited = store.new_visited();
    for e in &start {
        visited.insert(e.id);
    }
    let (w, _) = layer_search(
        store,
        &target,
        &start,
        ef.max(k),
        0,
        &mut visited,
        &mut ticker,
        None,
    )?;
    Ok(w.into_iter()
        .filter(|f| !f.deleted)
        .take(k)
        .map(|f| f.candidate())
        .collect())
}
