//! [`GraphRead`] / [`GraphWrite`] for [`MemoryGraph`] (and [`GraphRead`] for
//! `&MemoryGraph`, so several threads can search one graph).

use super::{ElementType, MemoryError, MemoryGraph, MemoryQuery, Metric};
use crate::store::{EntryPoint, GraphRead, GraphWrite, Visit};
use crate::visited::DenseVisited;
use crate::Level;
use half::f16;
use ruvec_distance as dist;

#[inline]
fn kernel_f32(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        Metric::L2 => dist::l2_squared_f32(a, b),
        Metric::InnerProduct => -dist::dot_f32(a, b),
        // Both sides are normalised.
        Metric::Cosine => 1.0 - dist::dot_f32(a, b),
        Metric::L1 => dist::l1_f32(a, b),
    }
}

#[inline]
fn kernel_f16(metric: Metric, a: &[f16], b: &[f16]) -> f32 {
    match metric {
        Metric::L2 => dist::l2_squared_f16(a, b),
        Metric::InnerProduct => -dist::dot_f16(a, b),
        Metric::Cosine => 1.0 - dist::dot_f16(a, b),
        Metric::L1 => dist::l1_f16(a, b),
    }
}

impl MemoryGraph {
    #[inline]
    fn index(&self, id: u32) -> Result<usize, MemoryError> {
        let i = id as usize;
        if i < self.levels.len() {
            Ok(i)
        } else {
            Err(MemoryError::UnknownId(u64::from(id)))
        }
    }

    #[inline]
    fn r_level(&self, id: u32) -> Result<Level, MemoryError> {
        Ok(self.levels[self.index(id)?])
    }

    #[inline]
    fn r_deleted(&self, id: u32) -> Result<bool, MemoryError> {
        Ok(self.deleted[self.index(id)?])
    }

    #[inline]
    fn r_neighbors(&self, id: u32, level: Level, out: &mut Vec<u32>) -> Result<(), MemoryError> {
        self.index(id)?;
        out.clear();
        if let Some(s) = self.neighbor_slice(id, level) {
            out.extend_from_slice(s);
        }
        Ok(())
    }

    #[inline]
    fn r_distance(&self, q: &MemoryQuery, id: u32) -> Result<f32, MemoryError> {
        let i = self.index(id)?;
        let r = i * self.dim..(i + 1) * self.dim;
        match (q, self.etype) {
            (MemoryQuery::F32(q), ElementType::F32) if q.len() == self.dim => {
                Ok(kernel_f32(self.metric, q, &self.data_f32[r]))
            }
            (MemoryQuery::F16(q), ElementType::F16) if q.len() == self.dim => {
                Ok(kernel_f16(self.metric, q, &self.data_f16[r]))
            }
            _ => Err(MemoryError::QueryMismatch),
        }
    }

    #[inline]
    fn r_distance_between(&self, a: u32, b: u32) -> Result<f32, MemoryError> {
        let (a, b) = (self.index(a)?, self.index(b)?);
        let (ra, rb) = (
            a * self.dim..(a + 1) * self.dim,
            b * self.dim..(b + 1) * self.dim,
        );
        Ok(match self.etype {
            ElementType::F32 => kernel_f32(self.metric, &self.data_f32[ra], &self.data_f32[rb]),
            ElementType::F16 => kernel_f16(self.metric, &self.data_f16[ra], &self.data_f16[rb]),
        })
    }

    /// The stored vector of element `i` (a valid index) as bytes to prefetch.
    #[inline]
    fn prefetch_vector(&self, i: usize) {
        let r = i * self.dim..(i + 1) * self.dim;
        match self.etype {
            ElementType::F32 => dist::prefetch_slice(&self.data_f32[r]),
            ElementType::F16 => dist::prefetch_slice(&self.data_f16[r]),
        }
    }

    /// Visits in order, each vector's loads started two visits ahead: in a build the graph
    /// is far larger than the CPU caches (200k × 768-d f32 is 600 MB), so most neighbours'
    /// vectors come from memory, and without the hint each distance waits for its vector's
    /// first lines before the hardware streamer catches up.
    fn r_visit_many(
        &self,
        q: &MemoryQuery,
        ids: &[u32],
        out: &mut Vec<Visit>,
    ) -> Result<(), MemoryError> {
        const AHEAD: usize = 2;
        for &id in ids.iter().take(AHEAD) {
            self.prefetch_vector(self.index(id)?);
        }
        for (k, &id) in ids.iter().enumerate() {
            if let Some(&next) = ids.get(k + AHEAD) {
                self.prefetch_vector(self.index(next)?);
            }
            out.push(self.r_visit(q, id)?);
        }
        Ok(())
    }

    #[inline]
    fn r_visit(&self, q: &MemoryQuery, id: u32) -> Result<Visit, MemoryError> {
        let distance = self.r_distance(q, id)?;
        let i = id as usize;
        Ok(Visit {
            distance,
            level: self.levels[i],
            deleted: self.deleted[i],
        })
    }
}

macro_rules! impl_read {
    ($t:ty) => {
        impl GraphRead for $t {
            type Id = u32;
            type Query = MemoryQuery;
            type Error = MemoryError;
            type Visited = DenseVisited;

            #[inline]
            fn entry_point(&mut self) -> Result<Option<EntryPoint<u32>>, MemoryError> {
                Ok(self.entry)
            }
            #[inline]
            fn level(&mut self, id: u32) -> Result<Level, MemoryError> {
                self.r_level(id)
            }
            #[inline]
            fn is_deleted(&mut self, id: u32) -> Result<bool, MemoryError> {
                self.r_deleted(id)
            }
            #[inline]
            fn neighbors(
                &mut self,
                id: u32,
                level: Level,
                out: &mut Vec<u32>,
            ) -> Result<(), MemoryError> {
                self.r_neighbors(id, level, out)
            }
            #[inline]
            fn distance(&mut self, q: &MemoryQuery, id: u32) -> Result<f32, MemoryError> {
                self.r_distance(q, id)
            }
            #[inline]
            fn distance_between(&mut self, a: u32, b: u32) -> Result<f32, MemoryError> {
                self.r_distance_between(a, b)
            }
            #[inline]
            fn visit(&mut self, q: &MemoryQuery, id: u32) -> Result<Visit, MemoryError> {
                self.r_visit(q, id)
            }
            fn visit_many(
                &mut self,
                q: &MemoryQuery,
                ids: &[u32],
                out: &mut Vec<Visit>,
            ) -> Result<(), MemoryError> {
                self.r_visit_many(q, ids, out)
            }
            fn new_visited(&self) -> DenseVisited {
                DenseVisited::new(self.len())
            }
        }
    };
}

impl_read!(MemoryGraph);
impl_read!(&MemoryGraph);

impl GraphWrite for MemoryGraph {
    type Value = [f32];

    fn query_for_value(&mut self, value: &[f32]) -> Result<MemoryQuery, MemoryError> {
        self.prepare_query(value)
    }

    fn add_element(
        &mut self,
        value: &[f32],
        level: Level,
        neighbors: &[Vec<u32>],
    ) -> Result<u32, MemoryError> {
        // Validate everything before changing anything.
        if neighbors.len() > usize::from(level) + 1 {
            return Err(MemoryError::TooManyNeighbors {
                level,
                len: neighbors.len(),
                max: usize::from(level) + 1,
            });
        }
        for (l, list) in neighbors.iter().enumerate() {
            let max = if l == 0 { 2 * self.m } else { self.m };
            if list.len() > max {
                return Err(MemoryError::TooManyNeighbors {
                    level: l as Level,
                    len: list.len(),
                    max,
                });
            }
            for &n in list {
                self.index(n)?;
            }
        }
        let id = self.push_element(value, level)?;
        for (l, list) in neighbors.iter().enumerate() {
            self.set_neighbors(id, l as Level, list)?;
        }
        Ok(id)
    }

    fn set_neighbors(
        &mut self,
        id: u32,
        level: Level,
        neighbors: &[u32],
    ) -> Result<(), MemoryError> {
        let i = self.index(id)?;
        let top = self.levels[i];
        if level > top {
            return Err(MemoryError::TooManyNeighbors {
                level,
                len: neighbors.len(),
                max: 0,
            });
        }
        let mut entries = Vec::with_capacity(neighbors.len());
        for &n in neighbors {
            self.index(n)?;
            entries.push((n, self.r_distance_between(id, n)?, super::SLOT_UNKNOWN));
        }
        self.write_list(id, level, &entries)
    }

    fn set_entry_point(&mut self, entry: Option<EntryPoint<u32>>) -> Result<(), MemoryError> {
        if let Some(ep) = entry {
            let i = self.index(ep.id)?;
            if self.levels[i] != ep.level {
                return Err(MemoryError::EntryLevelMismatch {
                    id: ep.id,
                    level: ep.level,
                });
            }
        }
        self.entry = entry;
        Ok(())
    }

    fn mark_deleted(&mut self, id: u32) -> Result<(), MemoryError> {
        let i = self.index(id)?;
        if !self.deleted[i] {
            self.deleted[i] = true;
            self.deleted_count += 1;
        }
        Ok(())
    }
}
