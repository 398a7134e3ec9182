//! The storage traits every algorithm in this crate is written against.

use crate::Level;
use std::fmt::Debug;
use std::hash::Hash;

/// The top of the graph: where every search starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EntryPoint<Id> {
    pub id: Id,
    pub level: Level,
}

/// What a search learns about an element when it first reaches it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Visit {
    /// Distance from the query to the element (smaller is closer).
    pub distance: f32,
    /// The element's top level.
    pub level: Level,
    /// True when the element must not be returned as a result (its heap
    /// tuples are dead); it is still traversed as a waypoint.
    pub deleted: bool,
}

/// A set of visited element ids, created by [`GraphRead::new_visited`].
///
/// A store whose ids are dense integers can use a bitmap ([`DenseVisited`]);
/// any store can use the hash set [`HashVisited`].
///
/// [`DenseVisited`]: crate::DenseVisited
/// [`HashVisited`]: crate::HashVisited
pub trait VisitedSet<Id> {
    /// Adds `id`; returns true when it was not in the set yet.
    fn insert(&mut self, id: Id) -> bool;
    /// Whether `id` is in the set.
    fn contains(&self, id: Id) -> bool;
    /// Empties the set, keeping its allocation.
    fn clear(&mut self);
    /// How many ids are in the set.
    fn len(&self) -> usize;
    /// No id is in the set.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Read access to a graph: all that searches and scans need.
///
/// Methods take `&mut self` so that a page store can keep pins, a small
/// vector cache and counters; they must not hold a buffer *lock* from one
/// call to the next (the algorithms call [`check_interrupts`] between calls).
///
/// [`check_interrupts`]: GraphRead::check_interrupts
pub trait GraphRead {
    /// Opaque element id (the page store packs block, offset and a tuple
    /// version into a `u64`; [`MemoryGraph`](crate::MemoryGraph) uses dense
    /// `u32` row numbers). Ordering is only used to break distance ties
    /// deterministically.
    type Id: Copy + Eq + Ord + Hash + Debug;
    /// A prepared query (e.g. a normalised, type-converted copy of the search
    /// vector); only the store interprets it.
    type Query;
    /// The store's error (I/O, corrupted tuple, query cancelled, ...).
    type Error;
    /// The visited-set implementation searches use with this store.
    type Visited: VisitedSet<Self::Id>;

    /// The current entry point, or `None` for an empty graph.
    fn entry_point(&mut self) -> Result<Option<EntryPoint<Self::Id>>, Self::Error>;

    /// The element's top level.
    fn level(&mut self, id: Self::Id) -> Result<Level, Self::Error>;

    /// Whether the element is deleted (not to be returned; still a waypoint).
    fn is_deleted(&mut self, id: Self::Id) -> Result<bool, Self::Error>;

    /// Replaces the contents of `out` with the element's neighbours at
    /// `level` (empty when the element has no such level). Unused slots are
    /// not reported.
    fn neighbors(
        &mut self,
        id: Self::Id,
        level: Level,
        out: &mut Vec<Self::Id>,
    ) -> Result<(), Self::Error>;

    /// Distance from `query` to the element.
    fn distance(&mut self, query: &Self::Query, id: Self::Id) -> Result<f32, Self::Error>;

    /// Distance between two elements (used by the neighbour heuristic and by
    /// back-link and repair updates). The algorithms call it in runs with
    /// the same `a`, so a one-entry cache of `a`'s vector pays off.
    fn distance_between(&mut self, a: Self::Id, b: Self::Id) -> Result<f32, Self::Error>;

    /// Everything a search needs about a newly reached element. The default
    /// makes three calls; a page store should override it to read the
    /// element tuple once.
    fn visit(&mut self, query: &Self::Query, id: Self::Id) -> Result<Visit, Self::Error> {
        Ok(Visit {
            distance: self.distance(query, id)?,
            level: self.level(id)?,
            deleted: self.is_deleted(id)?,
        })
    }

    /// [`visit`](GraphRead::visit) for several elements at once, results in
    /// the order of `ids` (appended to `out`). A search calls it with all
    /// not-yet-visited neighbours of the node it expands, so a page store can
    /// overlap their memory accesses (pin every page and prefetch the
    /// tuples first, then read them), which a one-at-a-time walk cannot.
    fn visit_many(
        &mut self,
        query: &Self::Query,
        ids: &[Self::Id],
        out: &mut Vec<Visit>,
    ) -> Result<(), Self::Error> {
        for &id in ids {
            out.push(self.visit(query, id)?);
        }
        Ok(())
    }

    /// A fresh, empty visited set.
    fn new_visited(&self) -> Self::Visited;

    /// A hint that a search will probably ask for `id`'s neighbours at `level` soon (it is
    /// the next candidate to expand): a page store can start loading them into the CPU's
    /// caches now, while the current candidate's neighbours are measured. Must not fail or
    /// hold anything; no-op by default.
    fn prefetch_neighbors(&mut self, _id: Self::Id, _level: Level) {}

    /// Called every [`INTERRUPT_INTERVAL`](crate::INTERRUPT_INTERVAL)
    /// distance computations (Postgres: `CHECK_FOR_INTERRUPTS()`, which may
    /// `ereport`). No-op by default.
    fn check_interrupts(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The answer of [`GraphWrite::merge_duplicate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// The existing element's value differs: stop looking for duplicates.
    NotDuplicate,
    /// Same value, but the element cannot take another heap TID (full or
    /// being deleted): try the next candidate.
    Full,
    /// The new value was attached to the existing element; nothing else to do.
    Merged,
}

/// Write access: inserts, neighbour updates, entry point, deletes.
pub trait GraphWrite: GraphRead {
    /// What an insert carries (the vector; for the page store also the heap
    /// TID).
    type Value: ?Sized;

    /// The query with which the new element searches for its neighbours.
    fn query_for_value(&mut self, value: &Self::Value) -> Result<Self::Query, Self::Error>;

    /// Stores a new element with its level and its neighbour lists
    /// (`neighbors[l]` for each level `l` in `0..=level`; levels above the
    /// current entry point's are empty). Must be atomic: a reader that finds
    /// the id (through a back-link written afterwards) sees the whole element.
    fn add_element(
        &mut self,
        value: &Self::Value,
        level: Level,
        neighbors: &[Vec<Self::Id>],
    ) -> Result<Self::Id, Self::Error>;

    /// Overwrites the element's neighbour list at `level` (at most
    /// `2 * m` ids on level 0, `m` above).
    fn set_neighbors(
        &mut self,
        id: Self::Id,
        level: Level,
        neighbors: &[Self::Id],
    ) -> Result<(), Self::Error>;

    /// Compare-and-set: if the element's neighbour list at `level` still
    /// equals `expected`, replace it with `new` and return true; otherwise
    /// change nothing and return false (the caller re-reads, recomputes and
    /// retries). A page store implements this under an exclusive lock on the
    /// neighbour page, in one Generic WAL record. The default (read, compare,
    /// write) is correct for single-writer stores.
    fn update_neighbors(
        &mut self,
        id: Self::Id,
        level: Level,
        expected: &[Self::Id],
        new: &[Self::Id],
    ) -> Result<bool, Self::Error> {
        let mut current = Vec::with_capacity(expected.len());
        self.neighbors(id, level, &mut current)?;
        if current != expected {
            return Ok(false);
        }
        self.set_neighbors(id, level, new)?;
        Ok(true)
    }

    /// Sets (or clears) the entry point unconditionally.
    fn set_entry_point(&mut self, entry: Option<EntryPoint<Self::Id>>) -> Result<(), Self::Error>;

    /// Marks the element deleted: searches still traverse it but never return
    /// it; repair removes the links to it; reclaiming its space is the store's
    /// business.
    fn mark_deleted(&mut self, id: Self::Id) -> Result<(), Self::Error>;

    /// Called during [`insert`](crate::insert) for the nearest level-0
    /// candidates, in ascending distance, before a new element is added: a
    /// store that keeps several heap TIDs per element (like pgvector) attaches
    /// `value` to `existing` when their vectors are byte-identical. The
    /// default never merges.
    fn merge_duplicate(
        &mut self,
        existing: Self::Id,
        value: &Self::Value,
    ) -> Result<Merge, Self::Error> {
        let _ = (existing, value);
        Ok(Merge::NotDuplicate)
    }
}
