//! A resumable, ordered scan (pgvector 0.8's iterative index scan).
//!
//! The first call searches level 0 with `ef_search` candidates, exactly like
//! [`search`](crate::search). Nothing visited is thrown away: nodes that were
//! visited but not expanded form the *frontier*, and every visited live node
//! waits in a *pending* heap until it is returned. When the caller wants more
//! than the first batch holds, the next batch continues the search from the
//! `ef_search` nearest frontier nodes, with the same visited set, until the
//! graph is exhausted or `max_scan_tuples` nodes have been visited (then the
//! pending nodes are returned in order without further expansion).
//!
//! Ordering: after each batch the scan knows a radius below which it has
//! searched with enough look-ahead; pending nodes are returned in ascending
//! order up to that radius and the rest stay buffered for later batches. In
//! [`ScanMode::Relaxed`] the radius is the batch's `ef`-th distance (what a
//! plain search trusts). A node found only in a later batch can still be
//! closer than one already returned ("late"): relaxed mode returns it at once,
//! slightly out of order; [`ScanMode::Strict`] must skip it so that
//! distances never decrease, so it buffers more: its radius is the distance
//! of the batch's `ceil(ef / 2)`-th result, and from the second batch on it
//! only becomes valid after one more batch has searched beyond it (the first
//! batch, a complete best-first search, is trusted whole, so an unfiltered
//! `LIMIT k <= ef_search` costs exactly a plain search). The first `ef`
//! results of any scan come from the first batch alone and equal
//! [`search`](crate::search)'s.

use crate::search::{descend, layer_search, query_beam, Found, Spill, Target};
use crate::store::{GraphRead, VisitedSet};
use crate::{Candidate, Ticker};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// Iterative scan mode (pgvector's `hnsw.iterative_scan`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanMode {
    /// Only the first batch: at most `ef_search` results.
    Off,
    /// Keep searching; never return a distance below one already returned.
    Strict,
    /// Keep searching; late finds are returned out of order.
    Relaxed,
}

/// Scan parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanParams {
    /// Candidates per batch (`ef_search`).
    pub ef_search: usize,
    /// Stop expanding once this many level-0 nodes were visited (checked
    /// during batches after the first; the first batch always completes).
    pub max_scan_tuples: u64,
    pub mode: ScanMode,
}

impl Default for ScanParams {
    /// pgvector's defaults: `ef_search = 40`, `max_scan_tuples = 20000`,
    /// iterative scan off.
    fn default() -> Self {
        ScanParams {
            ef_search: 40,
            max_scan_tuples: 20_000,
            mode: ScanMode::Off,
        }
    }
}

/// Counters of a scan, e.g. for `EXPLAIN ANALYZE`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Level-0 nodes visited (distance computed).
    pub tuples: u64,
    /// Search batches run (the first one included).
    pub batches: u64,
    /// Results returned.
    pub returned: u64,
    /// Late results skipped in strict mode.
    pub dropped: u64,
}

/// A resumable scan over a graph. The store is passed to every
/// [`next`](Scan::next) call, so a page store can be a short-lived object
/// holding locks only for the duration of one call.
///
/// Ids kept between calls may go stale if the store frees and reuses element
/// slots in between (VACUUM): a page store must detect that (e.g. with a
/// tuple version packed into the id) and report such ids as deleted with no
/// neighbours.
pub struct Scan<S: GraphRead + ?Sized> {
    query: S::Query,
    params: ScanParams,
    started: bool,
    visited: Option<S::Visited>,
    spill: Spill<S::Id>,
    /// Pending nodes up to this distance may be returned.
    radius: f32,
    /// No further expansion: return what is pending, in order.
    drained: bool,
    /// Largest distance returned so far.
    last: f32,
    /// Strict mode: the look-ahead horizon of the last batch, vouched for
    /// once the next batch is done.
    horizon: f32,
    ticker: Ticker,
    stats: ScanStats,
}

impl<S: GraphRead + ?Sized> Scan<S> {
    pub fn new(query: S::Query, params: ScanParams) -> Self {
        Scan {
            query,
            params,
            started: false,
            visited: None,
            spill: Spill {
                frontier: BinaryHeap::new(),
                pending: BinaryHeap::new(),
                new_frontier: Vec::new(),
                new_pending: Vec::new(),
                tuples: 0,
                max_tuples: params.max_scan_tuples,
            },
            radius: f32::NEG_INFINITY,
            drained: false,
            last: f32::NEG_INFINITY,
            horizon: f32::NEG_INFINITY,
            ticker: Ticker::default(),
            stats: ScanStats::default(),
        }
    }

    pub fn query(&self) -> &S::Query {
        &self.query
    }

    pub fn params(&self) -> &ScanParams {
        &self.params
    }

    pub fn stats(&self) -> ScanStats {
        ScanStats {
            tuples: self.spill.tuples,
            ..self.stats
        }
    }

    /// Approximate bytes held by the frontier and pending heaps (not the
    /// visited set), so the caller can enforce a memory limit with
    /// [`stop_expanding`](Scan::stop_expanding).
    pub fn heap_bytes(&self) -> usize {
        (self.spill.frontier.capacity()
            + self.spill.pending.capacity()
            + self.spill.new_frontier.capacity()
            + self.spill.new_pending.capacity())
            * std::mem::size_of::<Found<S::Id>>()
    }

    /// Stops searching further: the remaining pending nodes are returned in
    /// order (what pgvector does when `max_scan_tuples` or its memory limit
    /// is reached).
    pub fn stop_expanding(&mut self) {
        self.drained = true;
        self.spill.absorb_pending(f32::INFINITY);
    }

    /// The next result: an element and its distance, or `None` when the scan
    /// is over.
    pub fn next(&mut self, store: &mut S) -> Result<Option<Candidate<S::Id>>, S::Error> {
        if !self.started {
            self.start(store)?;
        }
        loop {
            if let Some(&Reverse(top)) = self.spill.pending.peek() {
                if self.drained || top.distance.total_cmp(&self.radius) != Ordering::Greater {
                    self.spill.pending.pop();
                    if top.distance.total_cmp(&self.last) == Ordering::Less {
                        if self.params.mode == ScanMode::Strict {
                            self.stats.dropped += 1;
                            continue;
                        }
                    } else {
                        self.last = top.distance;
                    }
                    self.stats.returned += 1;
                    return Ok(Some(top.candidate()));
                }
            } else if self.drained {
                return Ok(None);
            }
            // Pending is empty or beyond the radius: search more.
            if self.spill.frontier_is_empty()
                || self.params.mode == ScanMode::Off
                || self.spill.tuples >= self.params.max_scan_tuples
            {
                self.stop_expanding();
                continue;
            }
            self.resume(store)?;
        }
    }

    /// First batch: descend the upper levels, then search level 0.
    fn start(&mut self, store: &mut S) -> Result<(), S::Error> {
        self.started = true;
        let Some(ep) = store.entry_point()? else {
            self.drained = true;
            return Ok(());
        };
        let target = Target::<S>::Query(&self.query);
        let beam = query_beam(self.params.ef_search);
        let start = descend(store, &target, ep, 0, beam, &mut self.ticker)?;
        let visited = self.visited.get_or_insert_with(|| store.new_visited());
        for e in &start {
            visited.insert(e.id);
            self.spill.tuples += 1;
            if !e.deleted {
                self.spill.pending.push(Reverse(*e));
            }
        }
        let ef = self.params.ef_search.max(1);
        // With iterative scans off there is one batch and nothing after it: the plain search,
        // without keeping every visited node for a next batch (a few hundred pushes per scan
        // that would be thrown away). Otherwise the first batch adds nearly every element it
        // visits to both spill lists (m = 16: ~350 at ef_search 16 on sift5k, ~580 at 40 on
        // a 384-d set): room for about that up front instead of a dozen reallocations; and
        // it is never cut short by the budget.
        let off = self.params.mode == ScanMode::Off;
        if !off {
            self.spill.new_pending.reserve(ef * 20);
            self.spill.new_frontier.reserve(ef * 20);
            self.spill.max_tuples = u64::MAX;
        }
        let (w, _) = layer_search(
            store,
            &target,
            &start,
            ef,
            0,
            visited,
            &mut self.ticker,
            (!off).then_some(&mut self.spill),
        )?;
        self.stats.batches += 1;
        if off {
            self.spill.tuples = visited.len() as u64;
            self.spill.pending = w
                .iter()
                .filter(|f| !f.deleted)
                .map(|f| Reverse(*f))
                .collect();
            self.drained = true;
            return Ok(());
        }
        self.spill.max_tuples = self.params.max_scan_tuples;
        self.set_radius(&w, ef);
        self.spill.absorb_pending(self.radius);
        Ok(())
    }

    /// A further batch from the `ef_search` nearest frontier nodes.
    fn resume(&mut self, store: &mut S) -> Result<(), S::Error> {
        let ef = self.params.ef_search.max(1);
        self.spill.absorb_frontier();
        let mut entries = Vec::with_capacity(ef);
        while entries.len() < ef {
            match self.spill.frontier.pop() {
                Some(Reverse(f)) => entries.push(f),
                None => break,
            }
        }
        let target = Target::<S>::Query(&self.query);
        let visited = self.visited.get_or_insert_with(|| store.new_visited());
        let (w, stopped) = layer_search(
            store,
            &target,
            &entries,
            ef,
            0,
            visited,
            &mut self.ticker,
            Some(&mut self.spill),
        )?;
        self.stats.batches += 1;
        if stopped {
            self.stop_expanding();
        } else {
            self.set_radius(&w, ef);
            self.spill.absorb_pending(self.radius);
        }
        Ok(())
    }

    /// Updates the emission radius after a batch whose results are `w`.
    ///
    /// A batch vouches for a prefix of its results: those that had the rest
    /// of the batch as look-ahead. Relaxed mode trusts the whole batch (up to
    /// its `ef`-th distance, as a plain search does). Strict mode, which
    /// cannot take back an item once a closer one turns up, trusts only the
    /// nearer half, and for later batches only once the following batch has
    /// searched beyond them too; this roughly halves what strict mode has to
    /// drop, at the cost of some extra search.
    fn set_radius(&mut self, w: &[Found<S::Id>], ef: usize) {
        if w.len() < ef || self.spill.frontier_is_empty() {
            // The batch could not fill up, or nothing is left to expand: the
            // reachable graph is exhausted.
            self.radius = f32::INFINITY;
            return;
        }
        let first = self.stats.batches == 1;
        let certified = if self.params.mode == ScanMode::Strict {
            let h = w[ef.div_ceil(2) - 1].distance;
            if first {
                // The first batch is a complete best-first search: trust all of it, as a plain
                // search (and pgvector) does, so an unfiltered LIMIT k <= ef_search costs no
                // more than a plain search. Later batches keep the half-batch look-ahead.
                self.horizon = h;
                w[w.len() - 1].distance
            } else {
                std::mem::replace(&mut self.horizon, h)
            }
        } else {
            w[w.len() - 1].distance
        };
        if certified.total_cmp(&self.radius) == Ordering::Greater {
            self.radius = certified;
        }
    }
}
