//! Graph repair after deletes (the graph half of VACUUM).
//!
//! Protocol: elements whose rows died are first marked (or otherwise reported
//! by `deleting` / [`GraphRead::is_deleted`]); searches keep traversing them.
//! Repair then rewrites every live neighbour list that mentions a deleted
//! element and moves the entry point off deleted elements. Afterwards no live
//! element links to a deleted one and the store may reclaim them.

use crate::insert::{add_backlink, CAS_RETRIES};
use crate::search::{descend, layer_search, Target, BUILD_BEAM};
use crate::select::select_with;
use crate::store::{EntryPoint, GraphRead, GraphWrite, VisitedSet};
use crate::visited::HashVisited;
use crate::{Candidate, HnswParams, Level, Ticker};

/// What a repair did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RepairStats {
    /// Live elements examined.
    pub examined: u64,
    /// Neighbour lists rewritten.
    pub lists_repaired: u64,
    /// Lists that needed a graph search because the local candidates were
    /// too few.
    pub searches: u64,
    /// Whether the entry point was replaced (or cleared).
    pub entry_point_replaced: bool,
}

impl std::ops::AddAssign for RepairStats {
    fn add_assign(&mut self, o: Self) {
        self.examined += o.examined;
        self.lists_repaired += o.lists_repaired;
        self.searches += o.searches;
        self.entry_point_replaced |= o.entry_point_replaced;
    }
}

#[inline]
fn dead<S: GraphRead + ?Sized>(
    store: &mut S,
    deleting: &impl Fn(S::Id) -> bool,
    id: S::Id,
) -> Result<bool, S::Error> {
    Ok(deleting(id) || store.is_deleted(id)?)
}

/// Repairs one live element: each of its neighbour lists that contains a
/// deleted element (by `deleting` or [`GraphRead::is_deleted`]) or a self
/// link, and its level-0 list if not full, is recomputed
/// from the candidates "remaining live neighbours + live neighbours of the
/// deleted neighbours" (going one hop further through deleted elements, and
/// finally searching the graph from the entry point, while there are fewer
/// candidates than the list holds), with the heuristic of
/// [`select_neighbors`](crate::select_neighbors). The list is written by
/// compare-and-set, and each newly chosen neighbour gets a back-link.
/// Other lists are left alone, and a recomputed list equal to the old one is
/// not written. A deleted `id` is skipped.
pub fn repair_element<S: GraphWrite + ?Sized>(
    store: &mut S,
    id: S::Id,
    deleting: &impl Fn(S::Id) -> bool,
    params: &HnswParams,
) -> Result<RepairStats, S::Error> {
    let mut stats = RepairStats::default();
    if dead(store, deleting, id)? {
        return Ok(stats);
    }
    stats.examined = 1;
    let mut ticker = Ticker::default();
    let level = store.level(id)?.min(params.level_cap());
    let mut cur = Vec::new();
    for lc in 0..=level {
        for _ in 0..CAS_RETRIES {
            store.neighbors(id, lc, &mut cur)?;
            // Like pgvector, an underfull level-0 list is repaired too: an
            // insert that found only deleted neighbours leaves one behind.
            let mut needs = lc == 0 && cur.len() < params.max_neighbors(0);
            for &n in &cur {
                if needs {
                    break;
                }
                needs = n == id || dead(store, deleting, n)?;
            }
            if !needs {
                break;
            }
            let (sel, searched) =
                repaired_list(store, id, lc, &cur, deleting, params, &mut ticker)?;
            stats.searches += u64::from(searched);
            let ids: Vec<S::Id> = sel.iter().map(|c| c.id).collect();
            if ids == cur {
                break;
            }
            if !store.update_neighbors(id, lc, &cur, &ids)? {
                continue;
            }
            stats.lists_repaired += 1;
            for c in &sel {
                if !cur.contains(&c.id) {
                    add_backlink(store, c.id, id, c.distance, lc, params, &mut ticker)?;
                }
            }
            break;
        }
    }
    Ok(stats)
}

/// A recomputed list, and whether a graph search was needed for it.
type Repaired<Id> = (Vec<Candidate<Id>>, bool);

/// The new list of `id` at `lc`, and whether a graph search was needed.
#[allow(clippy::too_many_arguments)]
fn repaired_list<S: GraphRead + ?Sized>(
    store: &mut S,
    id: S::Id,
    lc: Level,
    cur: &[S::Id],
    deleting: &impl Fn(S::Id) -> bool,
    params: &HnswParams,
    ticker: &mut Ticker,
) -> Result<Repaired<S::Id>, S::Error> {
    let lm = params.max_neighbors(lc);
    let mut seen: HashVisited<S::Id> = HashVisited::with_capacity(lm * lm);
    seen.insert(id);
    let mut live = Vec::with_capacity(lm * 2);
    let mut hop = Vec::new();
    for &n in cur {
        if !seen.insert(n) {
            continue;
        }
        if dead(store, deleting, n)? {
            hop.push(n);
        } else {
            live.push(n);
        }
    }
    // Up to two hops through deleted elements; the second only when short.
    let mut buf = Vec::new();
    for depth in 0..2 {
        if hop.is_empty() || (depth > 0 && live.len() >= lm) {
            break;
        }
        let mut next_hop = Vec::new();
        for &d in &hop {
            store.neighbors(d, lc, &mut buf)?;
            for &e in &buf {
                if !seen.insert(e) {
                    continue;
                }
                if dead(store, deleting, e)? {
                    next_hop.push(e);
                } else if store.level(e)? >= lc {
                    live.push(e);
                }
            }
        }
        hop = next_hop;
    }
    let mut cands = Vec::with_capacity(live.len());
    for &e in &live {
        cands.push(Candidate::new(e, store.distance_between(id, e)?));
        ticker.tick(store)?;
    }
    let mut searched = false;
    if cands.len() < lm {
        if let Some(ep) = store.entry_point()? {
            searched = true;
            let target = Target::<S>::Element(id);
            let start = descend(store, &target, ep, lc, BUILD_BEAM, ticker)?;
            let mut visited = store.new_visited();
            for e in &start {
                visited.insert(e.id);
            }
            let ef = params.ef_construction.max(lm) + 1;
            let (w, _) = layer_search(store, &target, &start, ef, lc, &mut visited, ticker, None)?;
            for f in w {
                if !f.deleted && f.id != id && seen.insert(f.id) && !deleting(f.id) {
                    cands.push(f.candidate());
                }
            }
        }
    }
    Ok((select_with(store, cands, lm, ticker)?, searched))
}

/// Moves the entry point off a deleted element: if the current entry point
/// is missing or deleted, it becomes `highest_live` (the live element with the
/// highest level, which the caller found while scanning; `None` when no live
/// element is left, which empties the graph). Returns whether it changed.
/// Page store: hold the update lock exclusively.
pub fn replace_entry_point<S: GraphWrite + ?Sized>(
    store: &mut S,
    deleting: &impl Fn(S::Id) -> bool,
    highest_live: Option<EntryPoint<S::Id>>,
) -> Result<bool, S::Error> {
    let current = store.entry_point()?;
    if let Some(ep) = current {
        if !dead(store, deleting, ep.id)? {
            return Ok(false);
        }
    } else if highest_live.is_none() {
        return Ok(false);
    }
    store.set_entry_point(highest_live)?;
    Ok(true)
}

/// Repairs the whole graph given all element ids: finds the highest live
/// element, repairs it first and makes it the entry point if the current one
/// is deleted, then repairs every other live element. A page store would
/// rather stream its pages through [`repair_element`] and
/// [`replace_entry_point`] than collect all ids.
pub fn repair_graph<S: GraphWrite + ?Sized>(
    store: &mut S,
    ids: &[S::Id],
    deleting: &impl Fn(S::Id) -> bool,
    params: &HnswParams,
) -> Result<RepairStats, S::Error> {
    let mut stats = RepairStats::default();
    let mut highest: Option<EntryPoint<S::Id>> = None;
    for (i, &id) in ids.iter().enumerate() {
        if i % 1024 == 1023 {
            store.check_interrupts()?;
        }
        if dead(store, deleting, id)? {
            continue;
        }
        let level = store.level(id)?;
        if highest.is_none_or(|h| level > h.level) {
            highest = Some(EntryPoint { id, level });
        }
    }
    let ep_dead = match store.entry_point()? {
        Some(ep) => dead(store, deleting, ep.id)?,
        None => true,
    };
    if ep_dead {
        if let Some(h) = highest {
            stats += repair_element(store, h.id, deleting, params)?;
        }
        stats.entry_point_replaced = replace_entry_point(store, deleting, highest)?;
    }
    for &id in ids {
        if ep_dead && highest.is_some_and(|h| h.id == id) {
            continue;
        }
        stats += repair_element(store, id, deleting, params)?;
    }
    Ok(stats)
}
