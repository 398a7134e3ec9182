//! [`MemoryGraph`]: a dense in-memory graph store for index builds and tests.
//!
//! Ids are dense `u32` row numbers in insertion order. Vectors live in one
//! contiguous array (`f32` or `f16`); neighbour lists live in flat arrays with
//! fixed capacity: `2 * m` slots per element on level 0, and `m` slots per
//! upper level in a second array. Deleted elements keep their slot (ids are
//! never reused), so a caller can map ids to its own rows.

mod arr;
mod lists;
mod parallel;
mod precision;
mod shared;
mod store_impl;

pub use lists::Slot;
pub use parallel::{
    batch_size, Backlinks, BatchPlan, Known, KnownDistances, Measured, KNOWN_MIN_DIMS,
    SERIAL_PREFIX,
};
pub use precision::{f16_navigation_scale, F16_NAVIGATION_DIMS};
pub use shared::{GraphHeader, SharedLayout, VectorMirror};

use arr::Arr;

/// Neighbour-slot verdicts of the selection heuristic (cached per slot).
pub(crate) const SLOT_UNKNOWN: u8 = 0;
pub(crate) const SLOT_PRUNED: u8 = 1;
pub(crate) const SLOT_CLOSER: u8 = 2;

use crate::store::EntryPoint;
use crate::{Candidate, HnswParams, InsertOutcome, Level, RandomSource, RepairStats, MAX_LEVEL};
use half::f16;
use std::fmt;

/// Distance function of a [`MemoryGraph`] (pgvector's operator classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Squared Euclidean distance (ordering as `<->`).
    L2,
    /// Negative inner product (`<#>`).
    InnerProduct,
    /// Cosine distance `1 - cos` (`<=>`): vectors are normalised on the way
    /// in (a zero vector stays zero, at distance 1 from everything).
    Cosine,
    /// Manhattan distance (`<+>`).
    L1,
}

/// How a [`MemoryGraph`] stores vector elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementType {
    F32,
    F16,
}

impl ElementType {
    /// Bytes per vector component.
    pub const fn bytes(self) -> usize {
        match self {
            ElementType::F32 => 4,
            ElementType::F16 => 2,
        }
    }
}

/// A query prepared by [`MemoryGraph::prepare_query`] (converted to the
/// element type, normalised for cosine).
#[derive(Clone, Debug, PartialEq)]
pub enum MemoryQuery {
    F32(Vec<f32>),
    F16(Vec<f16>),
}

/// A borrowed stored vector.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum VectorRef<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
}

/// Errors of [`MemoryGraph`].
#[derive(Clone, Debug, PartialEq)]
pub enum MemoryError {
    /// An id that is not in the graph.
    UnknownId(u64),
    DimensionMismatch {
        expected: usize,
        got: usize,
    },
    /// A NaN or infinite vector element.
    NonFinite,
    /// A neighbour list longer than the level's capacity.
    TooManyNeighbors {
        level: Level,
        len: usize,
        max: usize,
    },
    /// A level above [`MAX_LEVEL`](crate::MAX_LEVEL).
    LevelTooHigh(Level),
    /// A query prepared for another element type.
    QueryMismatch,
    /// Parameters whose `m` differs from the graph's.
    ParamsMismatch {
        graph_m: usize,
        params_m: usize,
    },
    /// An entry point whose level is not the element's level.
    EntryLevelMismatch {
        id: u32,
        level: Level,
    },
    /// More than `u32::MAX - 1` elements.
    Full,
    /// A shared-region operation on a graph that owns its arrays.
    NotShared,
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemoryError::UnknownId(id) => write!(f, "unknown element id {id}"),
            MemoryError::DimensionMismatch { expected, got } => {
                write!(f, "expected {expected} dimensions, not {got}")
            }
            MemoryError::NonFinite => write!(f, "vector contains NaN or infinity"),
            MemoryError::TooManyNeighbors { level, len, max } => {
                write!(
                    f,
                    "{len} neighbours on level {level}, at most {max} allowed"
                )
            }
            MemoryError::LevelTooHigh(l) => write!(f, "level {l} above the maximum {MAX_LEVEL}"),
            MemoryError::QueryMismatch => write!(f, "query prepared for another element type"),
            MemoryError::ParamsMismatch { graph_m, params_m } => {
                write!(f, "graph has m = {graph_m}, parameters have m = {params_m}")
            }
            MemoryError::EntryLevelMismatch { id, level } => {
                write!(f, "element {id} does not have level {level}")
            }
            MemoryError::Full => write!(f, "graph is full"),
            MemoryError::NotShared => write!(f, "graph is not in a shared region"),
        }
    }
}

impl std::error::Error for MemoryError {}

/// A dense in-memory HNSW graph store. See the module documentation.
#[derive(Clone, Debug)]
pub struct MemoryGraph {
    dim: usize,
    metric: Metric,
    etype: ElementType,
    m: usize,
    data_f32: Arr<f32>,
    data_f16: Arr<f16>,
    levels: Arr<Level>,
    deleted: Arr<bool>,
    deleted_count: usize,
    /// Level-0 lists: `2 * m` slots per element.
    l0: Arr<u32>,
    l0_len: Arr<u16>,
    /// Per neighbour slot: its distance to the list's owner, and the neighbour heuristic's
    /// cached verdict for it (see `SLOT_*`), so a back-link into a full list re-examines only
    /// what the new candidate can change (pgvector's "closer" caching).
    l0_dist: Arr<f32>,
    l0_flag: Arr<u8>,
    /// First upper-level group of each element (group `g` = slots
    /// `g * m .. (g + 1) * m`); an element of level `L` owns `L` groups.
    upper_start: Arr<u32>,
    upper: Arr<u32>,
    upper_len: Arr<u16>,
    upper_dist: Arr<f32>,
    upper_flag: Arr<u8>,
    entry: Option<EntryPoint<u32>>,
}

impl MemoryGraph {
    /// An empty graph of `dim`-dimensional vectors with lists sized for `m`
    /// (clamped to `1..=100`).
    pub fn new(dim: usize, metric: Metric, etype: ElementType, m: usize) -> Self {
        MemoryGraph {
            dim,
            metric,
            etype,
            m: m.clamp(1, crate::MAX_M),
            data_f32: Arr::default(),
            data_f16: Arr::default(),
            levels: Arr::default(),
            deleted: Arr::default(),
            deleted_count: 0,
            l0: Arr::default(),
            l0_len: Arr::default(),
            l0_dist: Arr::default(),
            l0_flag: Arr::default(),
            upper_start: Arr::default(),
            upper: Arr::default(),
            upper_len: Arr::default(),
            upper_dist: Arr::default(),
            upper_flag: Arr::default(),
            entry: None,
        }
    }

    /// Builds a graph from `data` (`n * dim` values, row-major), inserting
    /// rows in order with levels drawn from `SplitMix64(seed)`: the same
    /// inputs always give the same graph.
    pub fn build(
        dim: usize,
        metric: Metric,
        etype: ElementType,
        params: &HnswParams,
        data: &[f32],
        seed: u64,
    ) -> Result<Self, MemoryError> {
        let mut g = MemoryGraph::new(dim, metric, etype, params.m);
        if dim == 0 || !data.len().is_multiple_of(dim) {
            return Err(MemoryError::DimensionMismatch {
                expected: dim,
                got: data.len(),
            });
        }
        let n = data.len() / dim;
        g.reserve(n);
        let mut rng = crate::SplitMix64::new(seed);
        for row in data.chunks_exact(dim) {
            g.insert(row, &mut rng, params)?;
        }
        Ok(g)
    }

    /// Reserves room for `additional` more elements.
    pub fn reserve(&mut self, additional: usize) {
        match self.etype {
            ElementType::F32 => self.data_f32.reserve(additional * self.dim),
            ElementType::F16 => self.data_f16.reserve(additional * self.dim),
        }
        self.levels.reserve(additional);
        self.deleted.reserve(additional);
        self.l0.reserve(additional * 2 * self.m);
        self.l0_len.reserve(additional);
        self.l0_dist.reserve(additional * 2 * self.m);
        self.l0_flag.reserve(additional * 2 * self.m);
        self.upper_start.reserve(additional);
        match self.etype {
            ElementType::F32 => self.data_f32.advise_huge(),
            ElementType::F16 => self.data_f16.advise_huge(),
        }
        self.l0.advise_huge();
    }

    /// Number of elements, deleted ones included (ids are `0..len`).
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Number of elements not marked deleted.
    pub fn live_len(&self) -> usize {
        self.len() - self.deleted_count
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    pub fn element_type(&self) -> ElementType {
        self.etype
    }

    pub fn m(&self) -> usize {
        self.m
    }

    pub fn entry(&self) -> Option<EntryPoint<u32>> {
        self.entry
    }

    /// An element's level, `None` for an unknown id.
    pub fn level_of(&self, id: u32) -> Option<Level> {
        self.levels.get(id as usize).copied()
    }

    /// Whether the element is marked deleted (`false` for an unknown id).
    pub fn deleted(&self, id: u32) -> bool {
        self.deleted.get(id as usize).copied().unwrap_or(false)
    }

    /// The stored vector (normalised for cosine).
    pub fn vector(&self, id: u32) -> Option<VectorRef<'_>> {
        let i = id as usize;
        if i >= self.len() {
            return None;
        }
        let r = i * self.dim..(i + 1) * self.dim;
        Some(match self.etype {
            ElementType::F32 => VectorRef::F32(&self.data_f32[r]),
            ElementType::F16 => VectorRef::F16(&self.data_f16[r]),
        })
    }

    /// The stored vector widened to `f32`.
    pub fn vector_f32(&self, id: u32) -> Option<Vec<f32>> {
        Some(match self.vector(id)? {
            VectorRef::F32(v) => v.to_vec(),
            VectorRef::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
        })
    }

    /// The element's neighbours at `level` (empty above its level), `None`
    /// for an unknown id. This and [`vector`](Self::vector),
    /// [`level_of`](Self::level_of) are what a page writer serialises.
    pub fn neighbor_slice(&self, id: u32, level: Level) -> Option<&[u32]> {
        let i = id as usize;
        let top = *self.levels.get(i)?;
        if level > top {
            return Some(&[]);
        }
        if level == 0 {
            let cap = 2 * self.m;
            let len = usize::from(self.l0_len[i]).min(cap);
            return Some(&self.l0[i * cap..i * cap + len]);
        }
        let g = self.upper_start[i] as usize + usize::from(level) - 1;
        let len = usize::from(self.upper_len[g]).min(self.m);
        Some(&self.upper[g * self.m..g * self.m + len])
    }

    /// Converts a search vector into a query for this graph (element type,
    /// cosine normalisation); checks its dimension and finiteness.
    pub fn prepare_query(&self, v: &[f32]) -> Result<MemoryQuery, MemoryError> {
        let v = self.normalized(v)?;
        Ok(match self.etype {
            ElementType::F32 => MemoryQuery::F32(v),
            ElementType::F16 => MemoryQuery::F16(v.iter().map(|&x| f16::from_f32(x)).collect()),
        })
    }

    fn normalized(&self, v: &[f32]) -> Result<Vec<f32>, MemoryError> {
        if v.len() != self.dim {
            return Err(MemoryError::DimensionMismatch {
                expected: self.dim,
                got: v.len(),
            });
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(MemoryError::NonFinite);
        }
        let mut v = v.to_vec();
        if self.metric == Metric::Cosine {
            let norm = v
                .iter()
                .map(|&x| f64::from(x) * f64::from(x))
                .sum::<f64>()
                .sqrt();
            if norm > 0.0 {
                for x in &mut v {
                    *x = (f64::from(*x) / norm) as f32;
                }
            }
        }
        Ok(v)
    }

    /// Appends an element with no edges (the graph algorithms link it).
    pub(crate) fn push_element(&mut self, v: &[f32], level: Level) -> Result<u32, MemoryError> {
        if level > MAX_LEVEL {
            return Err(MemoryError::LevelTooHigh(level));
        }
        let id = u32::try_from(self.len())
            .ok()
            .filter(|&id| id < u32::MAX)
            .ok_or(MemoryError::Full)?;
        let v = self.normalized(v)?;
        if !self.has_room(level) {
            return Err(MemoryError::Full);
        }
        match self.etype {
            ElementType::F32 => self.data_f32.extend_from_slice(&v),
            ElementType::F16 => self.data_f16.extend(v.iter().map(|&x| f16::from_f32(x))),
        }
        self.levels.push(level);
        self.deleted.push(false);
        self.l0.resize(self.l0.len() + 2 * self.m, u32::MAX);
        self.l0_len.push(0);
        self.l0_dist.resize(self.l0_dist.len() + 2 * self.m, 0.0);
        self.l0_flag
            .resize(self.l0_flag.len() + 2 * self.m, SLOT_UNKNOWN);
        let groups = self.upper_len.len();
        self.upper_start
            .push(u32::try_from(groups).map_err(|_| MemoryError::Full)?);
        self.upper
            .resize(self.upper.len() + usize::from(level) * self.m, u32::MAX);
        self.upper_len.resize(groups + usize::from(level), 0);
        self.upper_dist.resize(self.upper.len(), 0.0);
        self.upper_flag.resize(self.upper.len(), SLOT_UNKNOWN);
        Ok(id)
    }

    /// Whether one more element of `level` fits (a graph in caller-provided
    /// memory has fixed capacity; an ordinary one always has room).
    fn has_room(&self, level: Level) -> bool {
        let data = match self.etype {
            ElementType::F32 => self.data_f32.has_room(self.dim),
            ElementType::F16 => self.data_f16.has_room(self.dim),
        };
        let up = usize::from(level);
        data && self.levels.has_room(1)
            && self.deleted.has_room(1)
            && self.l0.has_room(2 * self.m)
            && self.l0_len.has_room(1)
            && self.l0_dist.has_room(2 * self.m)
            && self.l0_flag.has_room(2 * self.m)
            && self.upper_dist.has_room(up * self.m)
            && self.upper_flag.has_room(up * self.m)
            && self.upper_start.has_room(1)
            && self.upper.has_room(up * self.m)
            && self.upper_len.has_room(up)
    }

    /// Appends an element with no edges and no entry-point update; for tests
    /// that wire graphs by hand with [`GraphWrite`](crate::GraphWrite).
    pub fn push_unlinked(&mut self, v: &[f32], level: Level) -> Result<u32, MemoryError> {
        self.push_element(v, level)
    }

    pub(crate) fn check_params(&self, params: &HnswParams) -> Result<(), MemoryError> {
        if params.m != self.m {
            return Err(MemoryError::ParamsMismatch {
                graph_m: self.m,
                params_m: params.m,
            });
        }
        Ok(())
    }

    /// Inserts a vector with a level drawn from `rng`; returns its id.
    pub fn insert<R: RandomSource + ?Sized>(
        &mut self,
        v: &[f32],
        rng: &mut R,
        params: &HnswParams,
    ) -> Result<u32, MemoryError> {
        self.check_params(params)?;
        let level = crate::random_level(rng, params.ml(), params.max_level);
        match crate::insert(self, v, level, params)? {
            InsertOutcome::Inserted(id) | InsertOutcome::Merged(id) => Ok(id),
        }
    }

    /// The `k` nearest live elements to `v`, searching with `ef`.
    pub fn search(
        &self,
        v: &[f32],
        k: usize,
        ef: usize,
    ) -> Result<Vec<Candidate<u32>>, MemoryError> {
        let q = self.prepare_query(v)?;
        let mut r = self;
        crate::search(&mut r, &q, k, ef)
    }

    /// Marks an element deleted (a waypoint until [`repair`](Self::repair)).
    pub fn delete(&mut self, id: u32) -> Result<(), MemoryError> {
        crate::GraphWrite::mark_deleted(self, id)
    }

    /// Repairs the graph after deletes ([`repair_graph`](crate::repair_graph)
    /// over all ids), then empties the neighbour lists of deleted elements:
    /// they are unreachable afterwards.
    pub fn repair(&mut self, params: &HnswParams) -> Result<RepairStats, MemoryError> {
        self.check_params(params)?;
        let ids: Vec<u32> = (0..self.len() as u32).collect();
        let stats = crate::repair_graph(self, &ids, &|_| false, params)?;
        for i in 0..self.len() {
            if self.deleted[i] {
                self.l0_len[i] = 0;
                let start = self.upper_start[i] as usize;
                for g in start..start + usize::from(self.levels[i]) {
                    self.upper_len[g] = 0;
                }
            }
        }
        Ok(stats)
    }
}
