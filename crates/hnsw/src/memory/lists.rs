//! Neighbour lists with their distances and cached heuristic verdicts, and the incremental
//! back-link update that uses them.
//!
//! Each slot keeps the neighbour's distance to the list's owner and whether the selection
//! heuristic found it *closer* (nearer to the owner than to every nearer selected neighbour)
//! or *pruned* when the list was last selected. Adding a back-link to a full list then needs
//! no distance to the owner at all, and the heuristic only re-checks what the new candidate
//! can change: the new candidate against the selected ones, and — only once something changed
//! — the others against what was added. A list with any unknown slot (written through the
//! generic `set_neighbors`, or appended to while it had room) is selected in full once.
//! pgvector caches its "closer" flags the same way.

use super::parallel::KnownDistances;
use super::{MemoryError, MemoryGraph, SLOT_CLOSER, SLOT_PRUNED, SLOT_UNKNOWN};
use crate::store::GraphRead;
use crate::{Candidate, HnswParams, Level};

/// A list slot: neighbour id, its distance to the owner, heuristic verdict.
pub type Slot = (u32, f32, u8);

fn slot_order(a: &Slot, b: &Slot) -> std::cmp::Ordering {
    a.1.total_cmp(&b.1).then(a.0.cmp(&b.0))
}

/// Location of one neighbour list in the flat arrays (see `MemoryGraph::list_at`).
struct ListAt {
    zero: bool,
    start: usize,
    cap: usize,
    len: usize,
    counter: usize,
}

/// Where a slot at `distance` / `id` goes in a sorted list.
fn sorted_position(list: &[Slot], distance: f32, id: u32) -> usize {
    list.partition_point(|s| slot_order(s, &(id, distance, 0)).is_lt())
}

impl MemoryGraph {
    /// Where `id`'s list at `level` lives: `None` above the element's level, else whether it
    /// is a level-0 list, its first slot and capacity, its length, and the index of its length
    /// counter (in `l0_len` or `upper_len`).
    fn list_at(&self, id: u32, level: Level) -> Result<Option<ListAt>, MemoryError> {
        let i = id as usize;
        let top = *self
            .levels
            .get(i)
            .ok_or(MemoryError::UnknownId(u64::from(id)))?;
        if level > top {
            return Ok(None);
        }
        Ok(Some(if level == 0 {
            let cap = 2 * self.m;
            ListAt {
                zero: true,
                start: i * cap,
                cap,
                len: usize::from(self.l0_len[i]).min(cap),
                counter: i,
            }
        } else {
            let g = self.upper_start[i] as usize + usize::from(level) - 1;
            ListAt {
                zero: false,
                start: g * self.m,
                cap: self.m,
                len: usize::from(self.upper_len[g]).min(self.m),
                counter: g,
            }
        }))
    }

    /// The slots of `id`'s list at `level` (empty above its level).
    pub fn list_slots(&self, id: u32, level: Level) -> Result<Vec<Slot>, MemoryError> {
        let Some(at) = self.list_at(id, level)? else {
            return Ok(Vec::new());
        };
        let (ids, dist, flag) = if at.zero {
            (&self.l0[..], &self.l0_dist[..], &self.l0_flag[..])
        } else {
            (&self.upper[..], &self.upper_dist[..], &self.upper_flag[..])
        };
        Ok((at.start..at.start + at.len)
            .map(|k| (ids[k], dist[k], flag[k]))
            .collect())
    }

    /// Overwrite `id`'s list at `level` (ids must exist; at most the level's capacity). Lists
    /// are kept sorted by (distance, id), which the back-link update relies on.
    pub fn write_list(
        &mut self,
        id: u32,
        level: Level,
        entries: &[Slot],
    ) -> Result<(), MemoryError> {
        let (entries, at) = self.checked_list(id, level, entries)?;
        let (ids, dist, flag, lens) = if at.zero {
            (
                &mut self.l0[..],
                &mut self.l0_dist[..],
                &mut self.l0_flag[..],
                &mut self.l0_len[..],
            )
        } else {
            (
                &mut self.upper[..],
                &mut self.upper_dist[..],
                &mut self.upper_flag[..],
                &mut self.upper_len[..],
            )
        };
        let r = at.start..at.start + at.cap;
        fill_list(
            &mut ids[r.clone()],
            &mut dist[r.clone()],
            &mut flag[r],
            &mut lens[at.counter],
            &entries,
        );
        Ok(())
    }

    /// [`write_list`](Self::write_list) through a shared reference, for a graph in a region
    /// several processes share ([`from_raw_parts`](Self::from_raw_parts)): in the parallel
    /// build's back-link phase each process writes the lists it computed, while their slots
    /// are still in its cache, instead of the leader writing them all afterwards while the
    /// workers wait. Fails with `NotShared` for a graph that owns its arrays.
    ///
    /// # Safety
    /// While this runs, no other process or thread reads or writes `id`'s list at `level`,
    /// and this process holds no other reference into the graph's list arrays that is
    /// used meanwhile (a `&mut` view of the same graph in particular).
    pub unsafe fn write_list_shared(
        &self,
        id: u32,
        level: Level,
        entries: &[Slot],
    ) -> Result<(), MemoryError> {
        let (entries, at) = self.checked_list(id, level, entries)?;
        // SAFETY: the list's slots and its length counter lie inside the arrays (list_at),
        // and the caller gives this call exclusive access to them.
        let parts = unsafe {
            if at.zero {
                (
                    self.l0.range_mut(at.start, at.cap),
                    self.l0_dist.range_mut(at.start, at.cap),
                    self.l0_flag.range_mut(at.start, at.cap),
                    self.l0_len.range_mut(at.counter, 1),
                )
            } else {
                (
                    self.upper.range_mut(at.start, at.cap),
                    self.upper_dist.range_mut(at.start, at.cap),
                    self.upper_flag.range_mut(at.start, at.cap),
                    self.upper_len.range_mut(at.counter, 1),
                )
            }
        };
        let (Some(ids), Some(dist), Some(flag), Some(len)) = parts else {
            return Err(MemoryError::NotShared);
        };
        fill_list(ids, dist, flag, &mut len[0], &entries);
        Ok(())
    }

    /// `entries` sorted (a copy only when they are not) and where `id`'s list at `level` is,
    /// after checking that they fit it.
    fn checked_list<'a>(
        &self,
        id: u32,
        level: Level,
        entries: &'a [Slot],
    ) -> Result<(std::borrow::Cow<'a, [Slot]>, ListAt), MemoryError> {
        let entries = if entries.is_sorted_by(|a, b| slot_order(a, b).is_le()) {
            std::borrow::Cow::Borrowed(entries)
        } else {
            let mut v = entries.to_vec();
            v.sort_by(slot_order);
            std::borrow::Cow::Owned(v)
        };
        let n = entries.len();
        let Some(at) = self.list_at(id, level)? else {
            return Err(MemoryError::TooManyNeighbors {
                level,
                len: n,
                max: 0,
            });
        };
        if n > at.cap {
            return Err(MemoryError::TooManyNeighbors {
                level,
                len: n,
                max: at.cap,
            });
        }
        Ok((entries, at))
    }

    /// True when `e` (at distance `de` from the owner) is nearer to the owner than to every
    /// element of `selected`.
    fn is_closer(
        &self,
        e: u32,
        de: f32,
        selected: &[u32],
        known: &KnownDistances<'_>,
    ) -> Result<bool, MemoryError> {
        let mut me = self;
        for &s in selected {
            let d = match known.get(e, s) {
                Some(d) => d,
                None => me.distance_between(e, s)?,
            };
            // `<=` (and NaN) means "not closer", as in select_with.
            if d.partial_cmp(&de) != Some(std::cmp::Ordering::Greater) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Batch step 3 (read-only, parallel): `nb`'s list at level `lc` after offering it the
    /// `new` candidates (in order); `None` when nothing changes. Different neighbours are
    /// independent; step 4 writes the lists with [`write_list`](Self::write_list).
    pub fn plan_backlink(
        &self,
        nb: u32,
        lc: Level,
        new: &[Candidate<u32>],
        params: &HnswParams,
        known: &KnownDistances<'_>,
    ) -> Result<Option<Vec<Slot>>, MemoryError> {
        let lm = params.max_neighbors(lc);
        let mut list = self.list_slots(nb, lc)?;
        list.reserve(1);
        let mut scratch = Scratch::default();
        let mut changed = false;
        for c in new {
            if c.id == nb || list.iter().any(|s| s.0 == c.id) {
                continue;
            }
            if list.len() < lm {
                let at = sorted_position(&list, c.distance, c.id);
                list.insert(at, (c.id, c.distance, SLOT_UNKNOWN));
            } else {
                self.offer_full(
                    &mut list,
                    (c.id, c.distance, SLOT_UNKNOWN),
                    lm,
                    &mut scratch,
                    known,
                )?;
            }
            changed = true;
        }
        Ok(changed.then_some(list))
    }

    /// Offer `cand` to the full list `list` (`lm` slots, sorted by distance): run the selection
    /// heuristic over the list plus the candidate, reusing cached verdicts, and drop the one
    /// element that falls out (possibly the candidate itself).
    fn offer_full(
        &self,
        list: &mut Vec<Slot>,
        cand: Slot,
        lm: usize,
        scratch: &mut Scratch,
        known: &KnownDistances<'_>,
    ) -> Result<(), MemoryError> {
        let verdicts = list.iter().all(|s| s.2 != SLOT_UNKNOWN);
        let new_at = sorted_position(list, cand.1, cand.0);
        list.insert(new_at, cand);
        let w = list;
        let Scratch { selected, added } = scratch;
        selected.clear();
        added.clear();
        let mut removed_any = false;
        // The heuristic keeps the closer ones, then fills with pruned ones nearest first:
        // of the lm + 1 the one dropped is the farthest pruned, or the last one when the
        // first lm are all closer.
        let mut last_pruned = None;
        for k in 0..w.len() {
            if selected.len() >= lm {
                break;
            }
            let (id, d, flag) = w[k];
            let closer = if !verdicts {
                self.is_closer(id, d, selected, known)?
            } else if !added.is_empty() {
                if flag == SLOT_CLOSER {
                    // Was closer among the old selection: only what was added can change that.
                    let c = self.is_closer(id, d, added, known)?;
                    removed_any |= !c;
                    c
                } else if removed_any {
                    // Something selected before is gone: this one may qualify now.
                    let c = self.is_closer(id, d, selected, known)?;
                    if c {
                        added.push(id);
                    }
                    c
                } else {
                    false
                }
            } else if k == new_at {
                let c = self.is_closer(id, d, selected, known)?;
                if c {
                    added.push(id);
                }
                c
            } else {
                flag == SLOT_CLOSER
            };
            // Every slot gets its new verdict; the list stays sorted.
            w[k].2 = if closer { SLOT_CLOSER } else { SLOT_PRUNED };
            if closer {
                selected.push(id);
            } else {
                last_pruned = Some(k);
            }
        }
        w.remove(last_pruned.unwrap_or(w.len() - 1));
        Ok(())
    }
}

/// Writes a sorted list into its slots (at most their number) and sets its length; the
/// slots past it are cleared.
fn fill_list(ids: &mut [u32], dist: &mut [f32], flag: &mut [u8], len: &mut u16, entries: &[Slot]) {
    let n = entries.len();
    for (k, &(nb, d, f)) in entries.iter().enumerate() {
        ids[k] = nb;
        dist[k] = d;
        flag[k] = f;
    }
    ids[n..].fill(u32::MAX);
    flag[n..].fill(SLOT_UNKNOWN);
    *len = n as u16;
}

/// Buffers [`MemoryGraph::offer_full`] reuses across the offers of one back-link item.
#[derive(Default)]
struct Scratch {
    selected: Vec<u32>,
    added: Vec<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ElementType, Metric, SplitMix64};

    /// The verdicts a from-scratch selection over `list` (sorted, lm slots) reaches.
    fn fresh_verdicts(g: &MemoryGraph, list: &[Slot], lm: usize) -> Vec<u8> {
        let mut selected: Vec<u32> = Vec::new();
        let mut out = Vec::new();
        for &(id, d, _) in list {
            if selected.len() >= lm {
                break;
            }
            let closer = g
                .is_closer(id, d, &selected, &KnownDistances::default())
                .unwrap();
            if closer {
                selected.push(id);
            }
            out.push(if closer { SLOT_CLOSER } else { SLOT_PRUNED });
        }
        out
    }

    /// After a batched build, every list whose verdicts are all cached carries exactly the
    /// verdicts a fresh selection over it reaches, and almost every full list has them (the
    /// new elements' lists take theirs from the insert's own selection).
    #[test]
    fn cached_verdicts_match_a_fresh_selection() {
        let (dim, n) = (8, 4_000);
        let mut rng = SplitMix64::new(7);
        let rows: Vec<f32> = (0..n * dim)
            .map(|_| (crate::RandomSource::next_u64(&mut rng) % 1_000) as f32 / 1_000.0)
            .collect();
        let params = HnswParams::new(4, 16);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let mut g = MemoryGraph::new(dim, Metric::L2, ElementType::F32, params.m);
        g.insert_parallel::<_, MemoryError>(&rows, &mut rng, &params, &pool, |_| Ok(()))
            .unwrap();
        let (mut full, mut known) = (0, 0);
        for id in 0..g.len() as u32 {
            for lc in 0..=g.levels[id as usize] {
                let lm = params.max_neighbors(lc);
                let list = g.list_slots(id, lc).unwrap();
                if list.iter().any(|s| s.2 == SLOT_UNKNOWN) {
                    continue;
                }
                let flags: Vec<u8> = list.iter().map(|s| s.2).collect();
                assert_eq!(
                    flags,
                    fresh_verdicts(&g, &list, lm),
                    "element {id} level {lc}"
                );
                known += usize::from(list.len() == lm);
            }
            full += usize::from(g.list_slots(id, 0).unwrap().len() == params.max_neighbors(0));
        }
        assert!(
            known * 10 >= full * 9,
            "{known} of {full} full lists have verdicts"
        );
        // A new element's lists carry the verdicts of its insert's selection from the start.
        let row = &rows[..dim];
        let (plan, _) = g.plan_insert(row, 0, &params).unwrap();
        g.add_planned(row, &[0], vec![plan], &params).unwrap();
        let id = g.len() as u32 - 1;
        let list = g.list_slots(id, 0).unwrap();
        assert_eq!(list.len(), params.max_neighbors(0));
        let flags: Vec<u8> = list.iter().map(|s| s.2).collect();
        assert_eq!(flags, fresh_verdicts(&g, &list, params.max_neighbors(0)));
    }
}
