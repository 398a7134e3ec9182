//! Visited sets: a hash set with a small fast hasher, and a bitmap for dense
//! integer ids.

use crate::store::VisitedSet;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// The Fx hash (as used in rustc): one rotate, xor and multiply per word.
/// Not DoS resistant, which does not matter for ids the index itself made.
#[derive(Clone, Copy, Debug, Default)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // The multiply leaves the low bits weak; hashbrown picks buckets from
        // the low bits and control bytes from the top 7, so fold the high half
        // down.
        self.hash ^ (self.hash >> 32)
    }
}

/// `BuildHasher` for [`FxHasher`].
pub type FxBuildHasher = BuildHasherDefault<FxHasher>;

/// A visited set for any id type: a `HashSet` with [`FxHasher`].
#[derive(Clone, Debug, Default)]
pub struct HashVisited<Id> {
    set: HashSet<Id, FxBuildHasher>,
}

impl<Id: Hash + Eq> HashVisited<Id> {
    pub fn new() -> Self {
        HashVisited {
            set: HashSet::default(),
        }
    }

    pub fn with_capacity(n: usize) -> Self {
        HashVisited {
            set: HashSet::with_capacity_and_hasher(n, FxBuildHasher::default()),
        }
    }
}

impl<Id: Hash + Eq> VisitedSet<Id> for HashVisited<Id> {
    #[inline]
    fn insert(&mut self, id: Id) -> bool {
        self.set.insert(id)
    }
    #[inline]
    fn contains(&self, id: Id) -> bool {
        self.set.contains(&id)
    }
    fn clear(&mut self) {
        self.set.clear();
    }
    fn len(&self) -> usize {
        self.set.len()
    }
}

/// A bitmap visited set for dense `u32` ids; grows on demand, so an id
/// beyond the initial size is fine.
///
/// A build makes two of these per inserted row (the descent and the layer
/// searches), each sized for the whole graph (125 kB at 1M elements), and
/// clears one per level: zeroing the whole bitmap each time would make every
/// insert cost O(graph size) however few elements its search visits. So the
/// set remembers which words it set and clears only those, and a dropped set
/// goes back to a small per-thread pool that [`new`](Self::new) takes from:
/// after the first rows a build allocates no bitmaps at all.
#[derive(Clone, Debug, Default)]
pub struct DenseVisited {
    bits: Vec<u64>,
    /// Indexes of the words of `bits` that are non-zero.
    touched: Vec<u32>,
}

/// Bitmaps kept for reuse per thread: at most this many...
const POOL_SETS: usize = 4;
/// ...of at most this many words each (16 MB: ids below 2^27), so a backend
/// that built a huge graph does not keep its bitmaps for the rest of its life.
const POOL_MAX_WORDS: usize = 1 << 21;

/// A pooled set's words (all zero) and its empty `touched` list: plain vectors, so
/// the pool's own destruction at thread exit runs no `DenseVisited::drop`.
type Pooled = (Vec<u64>, Vec<u32>);

thread_local! {
    static POOL: std::cell::RefCell<Vec<Pooled>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl DenseVisited {
    /// An empty set sized for ids `0..n` (a pooled one when available).
    pub fn new(n: usize) -> Self {
        let words = n.div_ceil(64);
        let (bits, touched) = POOL
            .try_with(|p| p.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_default();
        let mut set = DenseVisited { bits, touched };
        if set.bits.len() < words {
            set.bits.resize(words, 0);
        }
        set
    }
}

impl Drop for DenseVisited {
    fn drop(&mut self) {
        if self.bits.is_empty() || self.bits.len() > POOL_MAX_WORDS {
            return;
        }
        self.clear();
        let set = (
            std::mem::take(&mut self.bits),
            std::mem::take(&mut self.touched),
        );
        // A thread being torn down has no pool any more: then the set is just freed.
        let _ = POOL.try_with(|p| {
            let mut p = p.borrow_mut();
            if p.len() < POOL_SETS {
                p.push(set);
            }
        });
    }
}

impl VisitedSet<u32> for DenseVisited {
    #[inline]
    fn insert(&mut self, id: u32) -> bool {
        let word = (id >> 6) as usize;
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let mask = 1u64 << (id & 63);
        let w = &mut self.bits[word];
        if *w & mask != 0 {
            return false;
        }
        if *w == 0 {
            self.touched.push(word as u32);
        }
        *w |= mask;
        true
    }
    #[inline]
    fn contains(&self, id: u32) -> bool {
        self.bits
            .get((id >> 6) as usize)
            .is_some_and(|w| w & (1u64 << (id & 63)) != 0)
    }
    fn clear(&mut self) {
        for &w in &self.touched {
            self.bits[w as usize] = 0;
        }
        self.touched.clear();
    }
    fn len(&self) -> usize {
        self.touched
            .iter()
            .map(|&w| self.bits[w as usize].count_ones() as usize)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_hash_agree() {
        let mut d = DenseVisited::new(10);
        let mut h = HashVisited::<u32>::new();
        for id in [3u32, 64, 3, 1000, 0, 64, 4_000_000] {
            assert_eq!(d.insert(id), h.insert(id), "id {id}");
        }
        assert!(d.contains(1000) && h.contains(1000));
        assert!(!d.contains(999) && !h.contains(999));
        assert!(!d.contains(u32::MAX));
        assert_eq!((d.len(), h.len()), (5, 5));
        d.clear();
        h.clear();
        assert!(!d.contains(3) && !h.contains(3));
        assert!(h.is_empty() && d.is_empty());
    }

    #[test]
    fn pooled_sets_come_back_empty() {
        let mut d = DenseVisited::new(1000);
        for id in (0..1000).step_by(7) {
            d.insert(id);
        }
        drop(d);
        for round in 0..3u32 {
            // the pooled bitmap (then this one) is reused, and larger ids grow it
            let mut e = DenseVisited::new(2000 + round as usize * 64);
            assert!((0..2200).all(|id| !e.contains(id)), "round {round}");
            for id in (round..2000 + round * 64).step_by(3) {
                assert!(e.insert(id));
                assert!(!e.insert(id));
            }
            e.clear();
            assert!((0..2200).all(|id| !e.contains(id)), "round {round}");
            e.insert(1999 + round);
        }
    }

    #[test]
    fn fx_spreads_packed_tids() {
        // (block << 16 | offset) ids, like a page store's: buckets must not
        // collide wholesale.
        let mut low = HashSet::new();
        for block in 0..64u64 {
            for off in 1..8u64 {
                let mut h = FxHasher::default();
                h.write_u64((block << 16) | off);
                low.insert(h.finish() & 1023);
            }
        }
        assert!(low.len() > 300, "only {} distinct buckets", low.len());
    }
}
