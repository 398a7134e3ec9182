//! Rows whose stored vectors are byte-identical share one element in a build, as they do when
//! inserted one by one (`merge_duplicate` in store.rs) and as in pgvector: up to
//! [`HEAPTIDS`] heap TIDs per element, a further copy starts a new element. Real corpora have
//! such rows (the same passage stored twice, empty texts embedded alike), and each costs a
//! whole element otherwise (1.6 kB at 384-d) plus a graph node that crowds out neighbours.

use std::collections::HashMap;

use pgrx::pg_sys::ItemPointerData;
use ruvec_hnsw::FxBuildHasher;

use super::format::HEAPTIDS;

/// The heap TIDs of a build's rows, grouped by element after [`merge`].
#[derive(Default)]
pub struct HeapTids {
    tids: Vec<ItemPointerData>,
    /// End of each element's TIDs in `tids`; empty while every element has one TID.
    ends: Vec<u32>,
}

impl HeapTids {
    /// Append the TID of the next row (before [`merge`], one element per row).
    pub fn push(&mut self, tid: ItemPointerData) {
        debug_assert!(self.ends.is_empty(), "rows added after merging");
        self.tids.push(tid);
    }

    /// Rows seen.
    pub fn rows(&self) -> usize {
        self.tids.len()
    }

    /// Elements (rows once duplicates are merged).
    pub fn elements(&self) -> usize {
        if self.ends.is_empty() {
            self.tids.len()
        } else {
            self.ends.len()
        }
    }

    /// The heap TIDs of element `i`.
    pub fn of(&self, i: usize) -> &[ItemPointerData] {
        if self.ends.is_empty() {
            return &self.tids[i..i + 1];
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.tids[start..self.ends[i] as usize]
    }
}

/// Merge rows with byte-identical `vectors` (`vb` bytes each; `rows` holds the same rows as
/// `dims` f32 values each) into shared elements, keeping the order of first occurrence.
/// Returns the element count; `vectors`, `rows` and `tids` then describe elements.
pub fn merge(
    vectors: &mut Vec<u8>,
    rows: &mut Vec<f32>,
    tids: &mut HeapTids,
    vb: usize,
    dims: usize,
) -> usize {
    let n = tids.rows();
    if vb == 0 || n < 2 || !tids.ends.is_empty() {
        return tids.elements();
    }
    // Element of each row, and the first row of each element.
    let mut element_of = Vec::with_capacity(n);
    let mut first_row: Vec<u32> = Vec::new();
    let mut count: Vec<u8> = Vec::new();
    {
        let mut seen: HashMap<&[u8], u32, FxBuildHasher> =
            HashMap::with_capacity_and_hasher(n, FxBuildHasher::default());
        for (r, v) in vectors.chunks_exact(vb).enumerate() {
            let e = match seen.get(v) {
                Some(&e) if usize::from(count[e as usize]) < HEAPTIDS => {
                    count[e as usize] += 1;
                    e
                }
                _ => {
                    // New, or its element is full: later copies join this one.
                    let e = first_row.len() as u32;
                    seen.insert(v, e);
                    first_row.push(r as u32);
                    count.push(1);
                    e
                }
            };
            element_of.push(e);
        }
    }
    let elements = first_row.len();
    if elements == n {
        return n;
    }
    // TIDs grouped by element (a counting sort, rows in order within an element).
    let mut ends = Vec::with_capacity(elements);
    let mut at = 0u32;
    for &c in &count {
        at += u32::from(c);
        ends.push(at);
    }
    let mut next: Vec<u32> = core::iter::once(0)
        .chain(ends[..elements - 1].iter().copied())
        .collect();
    let mut grouped = vec![ItemPointerData::default(); n];
    for (r, &e) in element_of.iter().enumerate() {
        grouped[next[e as usize] as usize] = tids.tids[r];
        next[e as usize] += 1;
    }
    // Elements' vectors: the first row of each, moved forward in place (first rows ascend).
    for (e, &r) in first_row.iter().enumerate() {
        let r = r as usize;
        vectors.copy_within(r * vb..(r + 1) * vb, e * vb);
        rows.copy_within(r * dims..(r + 1) * dims, e * dims);
    }
    vectors.truncate(elements * vb);
    rows.truncate(elements * dims);
    tids.tids = grouped;
    tids.ends = ends;
    elements
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tid(n: u16) -> ItemPointerData {
        let mut t = ItemPointerData::default();
        t.ip_posid = n;
        t
    }

    #[test]
    fn identical_rows_share_elements_of_at_most_heaptids() {
        // Rows: a, b, a, c, then 12 more copies of a: a's first element takes 10 TIDs, the
        // 11th copy starts a second element that takes the rest.
        let pattern: Vec<u8> = [0u8, 1, 0, 2].into_iter().chain([0u8; 12]).collect();
        let mut vectors: Vec<u8> = pattern.iter().flat_map(|&p| [p, p + 10]).collect();
        let mut rows: Vec<f32> = pattern.iter().map(|&p| f32::from(p)).collect();
        let mut tids = HeapTids::default();
        for r in 0..pattern.len() {
            tids.push(tid(r as u16 + 1));
        }
        let n = merge(&mut vectors, &mut rows, &mut tids, 2, 1);
        assert_eq!(n, 4);
        assert_eq!(tids.elements(), 4);
        assert_eq!(tids.rows(), 16);
        assert_eq!(vectors, vec![0, 10, 1, 11, 2, 12, 0, 10]);
        assert_eq!(rows, vec![0.0, 1.0, 2.0, 0.0]);
        let posids = |i: usize| tids.of(i).iter().map(|t| t.ip_posid).collect::<Vec<_>>();
        assert_eq!(posids(0), vec![1, 3, 5, 6, 7, 8, 9, 10, 11, 12]);
        assert_eq!(posids(1), vec![2]);
        assert_eq!(posids(2), vec![4]);
        assert_eq!(posids(3), vec![13, 14, 15, 16]);
    }

    #[test]
    fn distinct_rows_are_left_alone() {
        let mut vectors = vec![1u8, 2, 3];
        let mut rows = vec![1.0f32, 2.0, 3.0];
        let mut tids = HeapTids::default();
        for r in 1..=3 {
            tids.push(tid(r));
        }
        assert_eq!(merge(&mut vectors, &mut rows, &mut tids, 1, 1), 3);
        assert_eq!(vectors, vec![1, 2, 3]);
        assert_eq!(tids.of(2)[0].ip_posid, 3);
    }
}
