//! Neighbour selection: the heuristic of Algorithm 4, keeping pruned
//! connections to fill the list (as pgvector does).

use crate::store::GraphRead;
use crate::{Candidate, Ticker};

/// Chooses up to `lm` neighbours for a base element (or query) from
/// `candidates`, whose distances are to that base.
///
/// Candidates are taken nearest first; one is *closer* when it is nearer to
/// the base than to every neighbour selected so far (`dist(e, r) > dist(e,
/// base)` for all selected `r`), and only closer candidates are selected.
/// If fewer than `lm` qualify, the rest of the list is filled with the
/// pruned candidates, nearest first (pgvector's "keep pruned connections";
/// it keeps level-0 lists full, which matters for recall after deletes).
///
/// The result is the selection in the order it was made: closer candidates by
/// ascending distance, then kept pruned ones. Duplicate ids are collapsed. With
/// `candidates.len() <= lm` everything is returned (sorted) without computing
/// any distance. Ties are broken by id, so the result is deterministic.
pub fn select_neighbors<S: GraphRead + ?Sized>(
    store: &mut S,
    candidates: &[Candidate<S::Id>],
    lm: usize,
) -> Result<Vec<Candidate<S::Id>>, S::Error> {
    let mut ticker = Ticker::default();
    select_with(store, candidates.to_vec(), lm, &mut ticker)
}

/// [`select_neighbors`] taking ownership of the candidate buffer.
pub(crate) fn select_with<S: GraphRead + ?Sized>(
    store: &mut S,
    w: Vec<Candidate<S::Id>>,
    lm: usize,
    ticker: &mut Ticker,
) -> Result<Vec<Candidate<S::Id>>, S::Error> {
    Ok(select_counted(store, w, lm, ticker)?.0)
}

/// The selected neighbours and how many of them are closer (see [`select_counted`]).
pub(crate) type Selection<Id> = (Vec<Candidate<Id>>, Option<usize>);

/// [`select_with`], also returning how many of the selected were found *closer* (they come
/// first; the rest are kept pruned ones), or `None` when everything was passed through
/// without running the heuristic (`lm` or fewer candidates). An in-memory build caches
/// these verdicts with the new element's lists, so its first back-link into a full list
/// does not have to select the whole list again (memory/lists.rs).
pub(crate) fn select_counted<S: GraphRead + ?Sized>(
    store: &mut S,
    mut w: Vec<Candidate<S::Id>>,
    lm: usize,
    ticker: &mut Ticker,
) -> Result<Selection<S::Id>, S::Error> {
    w.sort_unstable();
    w.dedup_by_key(|c| c.id);
    if w.len() <= lm {
        return Ok((w, None));
    }
    let mut r: Vec<Candidate<S::Id>> = Vec::with_capacity(lm);
    let mut pruned: Vec<Candidate<S::Id>> = Vec::new();
    for e in &w {
        if r.len() >= lm {
            break;
        }
        let mut closer = true;
        for s in &r {
            let d = store.distance_between(e.id, s.id)?;
            ticker.tick(store)?;
            // `<=` (and NaN) means "not closer": an exact duplicate of a
            // selected neighbour is pruned first.
            if d.partial_cmp(&e.distance) != Some(std::cmp::Ordering::Greater) {
                closer = false;
                break;
            }
        }
        if closer {
            r.push(*e);
        } else {
            pruned.push(*e);
        }
    }
    let closer = r.len();
    r.extend(pruned.into_iter().take(lm - closer));
    Ok((r, Some(closer)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ElementType, MemoryGraph, Metric};

    /// A graph holding points on a line, no edges: enough for distances.
    fn line(xs: &[f32]) -> MemoryGraph {
        let mut g = MemoryGraph::new(1, Metric::L2, ElementType::F32, 4);
        for &x in xs {
            g.push_unlinked(&[x], 0).unwrap();
        }
        g
    }

    fn cands(g: &MemoryGraph, base: f32) -> Vec<Candidate<u32>> {
        (0..g.len() as u32)
            .map(|i| {
                let x = g.vector_f32(i).unwrap()[0];
                Candidate::new(i, (x - base) * (x - base))
            })
            .collect()
    }

    #[test]
    fn heuristic_prefers_diverse_directions() {
        // Base at 0. Points at 1, 1.1, 1.2 (one cluster to the right) and -2.
        // The heuristic takes 1, prunes 1.1 and 1.2 (closer to 1 than to 0)
        // and takes -2 (closer to 0 than to 1), even though -2 is farther.
        let mut g = line(&[1.0, 1.1, 1.2, -2.0]);
        let c = cands(&g, 0.0);
        let sel = select_neighbors(&mut g, &c, 2).unwrap();
        let ids: Vec<u32> = sel.iter().map(|c| c.id).collect();
        assert_eq!(ids, [0, 3]);
        // Plain nearest-2 would have been [0, 1].
    }

    #[test]
    fn keeps_pruned_to_fill() {
        let mut g = line(&[1.0, 1.1, 1.2, -2.0]);
        let c = cands(&g, 0.0);
        let sel = select_neighbors(&mut g, &c, 3).unwrap();
        let ids: Vec<u32> = sel.iter().map(|c| c.id).collect();
        // Closer ones first (0, 3), then the nearest pruned (1).
        assert_eq!(ids, [0, 3, 1]);
    }

    #[test]
    fn small_lists_pass_through_sorted_and_deduped() {
        let mut g = line(&[3.0, 1.0, 2.0]);
        let mut c = cands(&g, 0.0);
        c.push(c[1]);
        let sel = select_neighbors(&mut g, &c, 8).unwrap();
        let ids: Vec<u32> = sel.iter().map(|c| c.id).collect();
        assert_eq!(ids, [1, 2, 0]);
    }

    #[test]
    fn duplicates_are_pruned_but_kept_when_room() {
        // Three identical points and one far away, base at 0.
        let mut g = line(&[1.0, 1.0, 1.0, 5.0]);
        let c = cands(&g, 0.0);
        let sel = select_neighbors(&mut g, &c, 2).unwrap();
        let ids: Vec<u32> = sel.iter().map(|c| c.id).collect();
        // 0 is closer; 1 and 2 duplicate it (distance 0 <= 1): pruned;
        // 3 is 4 from point 0 but 25 from the base: pruned too. Fill: 1.
        assert_eq!(ids, [0, 1]);
        let all = select_neighbors(&mut g, &c, 4).unwrap();
        assert_eq!(all.len(), 4);
    }

    #[test]
    fn never_exceeds_lm_and_is_subset() {
        let xs: Vec<f32> = (0..40).map(|i| ((i * 37) % 41) as f32 - 20.0).collect();
        let mut g = line(&xs);
        let c = cands(&g, 0.5);
        for lm in 1..12 {
            let sel = select_neighbors(&mut g, &c, lm).unwrap();
            assert_eq!(sel.len(), lm);
            for s in &sel {
                assert!(c.contains(s));
            }
            // The nearest candidate is always selected first.
            assert_eq!(sel[0], *c.iter().min().unwrap());
        }
    }
}
