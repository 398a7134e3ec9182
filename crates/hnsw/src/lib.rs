//! HNSW graph algorithms for ruvec (Malkov & Yashunin, 2016), written against
//! a small storage trait so the same code runs over
//!
//! * [`MemoryGraph`], a dense in-memory store used for index builds and tests,
//! * and (in the extension, `src/storage/`) Postgres buffer pages written with
//!   Generic WAL.
//!
//! # The seam
//!
//! [`GraphRead`] is everything a search needs: the entry point, an element's
//! level, whether it is deleted, its neighbours at a level, and distances
//! (query-to-element and element-to-element). Vectors never cross the trait:
//! the store owns their bytes (f32, f16, later quantized codes) and a prepared
//! [`GraphRead::Query`]. [`GraphWrite`] adds what inserts and VACUUM need.
//! Every method returns `Result<_, Self::Error>`; the algorithms propagate
//! errors and never panic on bad data from the store (ids that do not exist,
//! levels out of range, overlong or self-referencing neighbour lists, NaN
//! distances).
//!
//! # Algorithms
//!
//! * [`random_level`]: `floor(-ln(U) / ln(m))` from a caller-seeded RNG.
//! * [`search_layer`] (Algorithm 2) and [`search`] (Algorithm 5).
//! * [`select_neighbors`]: the heuristic (Algorithm 4) keeping pruned
//!   connections, as pgvector does.
//! * [`insert`] (Algorithm 1) with back-link updates as compare-and-set.
//! * [`Scan`]: a resumable ordered scan (pgvector 0.8 iterative scan) in
//!   strict or relaxed order, with a tuple budget.
//! * [`repair_graph`] / [`repair_element`] / [`replace_entry_point`]: graph
//!   repair after deletes (VACUUM).
//!
//! Distances are `f32`, smaller is better (negative inner product for ip).

mod delete;
mod insert;
mod level;
mod memory;
mod reconnect;
mod scan;
mod search;
mod select;
mod store;
mod visited;

pub use delete::{repair_element, repair_graph, replace_entry_point, RepairStats};
pub use insert::{insert, InsertOutcome};
pub use level::{random_level, RandomSource, SplitMix64};
pub use memory::{
    batch_size, f16_navigation_scale, Backlinks, BatchPlan, ElementType, GraphHeader, Known,
    KnownDistances, Measured, MemoryError, MemoryGraph, MemoryQuery, Metric, SharedLayout, Slot,
    VectorMirror, VectorRef, F16_NAVIGATION_DIMS, KNOWN_MIN_DIMS, SERIAL_PREFIX,
};
pub use reconnect::{reachable, reconnect_unreachable, ReconnectStats};
pub use scan::{Scan, ScanMode, ScanParams, ScanStats};
pub use search::{greedy_descent, search, search_layer, Found};
pub use select::select_neighbors;
pub use store::{EntryPoint, GraphRead, GraphWrite, Merge, Visit, VisitedSet};
pub use visited::{DenseVisited, FxBuildHasher, FxHasher, HashVisited};

use std::cmp::Ordering;

/// An element's level (layer) in the graph; level 0 holds every element.
pub type Level = u8;

/// Hard cap on levels accepted from callers ([`HnswParams::max_level`] is
/// clamped to it). With `m >= 2` a level above 16 has probability below
/// `2^-16` per element.
pub const MAX_LEVEL: Level = 32;

/// How many distance computations happen between two calls of
/// [`GraphRead::check_interrupts`].
pub const INTERRUPT_INTERVAL: u32 = 256;

/// Largest `m` accepted ([`HnswParams::validate`]); pgvector's limit.
pub const MAX_M: usize = 100;

/// Graph parameters shared by build, insert and repair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HnswParams {
    /// Neighbours per element on levels >= 1; level 0 keeps `2 * m`.
    pub m: usize,
    /// Size of the dynamic candidate list while inserting.
    pub ef_construction: usize,
    /// Highest level [`random_level`] may return (at most [`MAX_LEVEL`]).
    pub max_level: Level,
}

impl Default for HnswParams {
    /// pgvector's defaults: `m = 16`, `ef_construction = 64`.
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construction: 64,
            max_level: 16,
        }
    }
}

impl HnswParams {
    /// Parameters with the given `m` and `ef_construction` and a max level of 16.
    pub fn new(m: usize, ef_construction: usize) -> Self {
        HnswParams {
            m,
            ef_construction,
            max_level: 16,
        }
    }

    /// Checks the ranges pgvector enforces: `2 <= m <= 100`,
    /// `ef_construction >= 2 * m`, `ef_construction <= 1000`.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.m < 2 || self.m > MAX_M {
            return Err("m must be between 2 and 100");
        }
        if self.ef_construction < 2 * self.m {
            return Err("ef_construction must be greater than or equal to 2 * m");
        }
        if self.ef_construction > 1000 {
            return Err("ef_construction must be at most 1000");
        }
        Ok(())
    }

    /// Neighbour-list capacity at `level`: `2 * m` on level 0, `m` above.
    /// Defensive against a zero `m` (never returns 0).
    #[inline]
    pub fn max_neighbors(&self, level: Level) -> usize {
        let m = self.m.max(1);
        if level == 0 {
            2 * m
        } else {
            m
        }
    }

    /// The level multiplier `1 / ln(m)`.
    #[inline]
    pub fn ml(&self) -> f64 {
        1.0 / (self.m.max(2) as f64).ln()
    }

    /// `max_level` clamped to [`MAX_LEVEL`].
    #[inline]
    pub fn level_cap(&self) -> Level {
        self.max_level.min(MAX_LEVEL)
    }
}

/// An element id with its distance to some target (the query, or the element
/// whose neighbours are being chosen).
///
/// Ordered by distance ([`f32::total_cmp`], so NaN sorts last) and then by id,
/// which makes every algorithm deterministic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate<Id> {
    pub id: Id,
    pub distance: f32,
}

impl<Id> Candidate<Id> {
    #[inline]
    pub fn new(id: Id, distance: f32) -> Self {
        Candidate { id, distance }
    }
}

impl<Id: Ord> Eq for Candidate<Id> {}

impl<Id: Ord> PartialOrd for Candidate<Id> {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<Id: Ord> Ord for Candidate<Id> {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then_with(|| self.id.cmp(&other.id))
    }
}

/// Counts distance computations and calls the store's interrupt hook every
/// [`INTERRUPT_INTERVAL`] of them.
#[derive(Debug, Default)]
pub(crate) struct Ticker {
    since_check: u32,
}

impl Ticker {
    #[inline]
    pub(crate) fn tick<S: GraphRead + ?Sized>(&mut self, store: &mut S) -> Result<(), S::Error> {
        self.since_check += 1;
        if self.since_check >= INTERRUPT_INTERVAL {
            self.since_check = 0;
            store.check_interrupts()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_order_is_total() {
        let mut v = [
            Candidate::new(3u32, f32::NAN),
            Candidate::new(2, 1.0),
            Candidate::new(1, 1.0),
            Candidate::new(0, -0.5),
        ];
        v.sort();
        let ids: Vec<u32> = v.iter().map(|c| c.id).collect();
        assert_eq!(ids, [0, 1, 2, 3]);
    }

    #[test]
    fn params() {
        let p = HnswParams::default();
        assert!(p.validate().is_ok());
        assert_eq!(p.max_neighbors(0), 32);
        assert_eq!(p.max_neighbors(3), 16);
        assert!(HnswParams::new(1, 64).validate().is_err());
        assert!(HnswParams::new(16, 20).validate().is_err());
        let zero = HnswParams::new(0, 0);
        assert_eq!(zero.max_neighbors(1), 1);
        assert!(zero.ml().is_finite());
    }
}
