//! Insertion (Algorithm 1) and back-link maintenance.

use crate::search::{descend, layer_search, Found, Target, BUILD_BEAM};
use crate::select::{select_counted, select_with};
use crate::store::{EntryPoint, GraphRead, GraphWrite, Merge, VisitedSet};
use crate::{Candidate, HnswParams, Level, Ticker};

/// How often a back-link update is retried when a concurrent writer changed
/// the neighbour list between our read and our compare-and-set. After that
/// the back-link is dropped, as pgvector does when it loses the race: the new
/// element stays reachable through its other neighbours.
pub(crate) const CAS_RETRIES: usize = 4;

/// What [`insert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertOutcome<Id> {
    /// A new element was added.
    Inserted(Id),
    /// The value was attached to an existing, identical element
    /// ([`GraphWrite::merge_duplicate`]).
    Merged(Id),
}

impl<Id: Copy> InsertOutcome<Id> {
    /// The element now holding the value.
    pub fn id(&self) -> Id {
        match *self {
            InsertOutcome::Inserted(id) | InsertOutcome::Merged(id) => id,
        }
    }
}

/// Inserts `value` as an element of `level` (draw it with
/// [`random_level`](crate::random_level); it is clamped to
/// `params.max_level`).
///
/// Steps: greedy descent from the entry point to `level + 1`; on each level
/// from `min(level, entry level)` down to 0 a search with `ef_construction`,
/// then the heuristic picks the element's neighbours (deleted elements are
/// traversed but never picked: a page store is about to free them; if only
/// deleted elements are around, the element gets no neighbours there and
/// [`repair_element`](crate::repair_element) connects it later, since it
/// repairs underfull level-0 lists); duplicates are offered to
/// [`GraphWrite::merge_duplicate`]; the element is added with all its lists;
/// each new neighbour gets a back-link (pruned by the heuristic when full,
/// written by compare-and-set); finally the entry point moves up if `level`
/// is above it.
///
/// Locking (page store): hold the index's update lock shared, or exclusive
/// when `level` is above the current entry point's level (as pgvector does),
/// so that two inserts cannot both replace the entry point.
pub fn insert<S: GraphWrite + ?Sized>(
    store: &mut S,
    value: &S::Value,
    level: Level,
    params: &HnswParams,
) -> Result<InsertOutcome<S::Id>, S::Error> {
    let level = level.min(params.level_cap());
    let query = store.query_for_value(value)?;
    let target = Target::<S>::Query(&query);
    let mut ticker = Ticker::default();

    let Some(ep) = store.entry_point()? else {
        let lists = vec![Vec::new(); usize::from(level) + 1];
        let id = store.add_element(value, level, &lists)?;
        store.set_entry_point(Some(EntryPoint { id, level }))?;
        return Ok(InsertOutcome::Inserted(id));
    };

    let found = find_neighbors(store, &target, ep, level, params, None, &mut ticker)?;

    for c in &found.nearest {
        match store.merge_duplicate(c.id, value)? {
            Merge::NotDuplicate => break,
            Merge::Full => continue,
            Merge::Merged => return Ok(InsertOutcome::Merged(c.id)),
        }
    }

    let ids: Vec<Vec<S::Id>> = found
        .lists
        .iter()
        .map(|l| l.iter().map(|c| c.id).collect())
        .collect();
    let id = store.add_element(value, level, &ids)?;

    for (lc, list) in found.lists.iter().enumerate() {
        for c in list {
            add_backlink(
                store,
                c.id,
                id,
                c.distance,
                lc as Level,
                params,
                &mut ticker,
            )?;
        }
    }

    if level > ep.level {
        store.set_entry_point(Some(EntryPoint { id, level }))?;
    }
    Ok(InsertOutcome::Inserted(id))
}

/// The neighbours an element should get, per level.
pub(crate) struct Neighbors<Id> {
    /// `lists[l]` for `l` in `0..=level` (empty above the entry level).
    pub lists: Vec<Vec<Candidate<Id>>>,
    /// Per list, how many of its first entries the heuristic found closer (the rest are
    /// kept pruned ones); `None` where it did not run (see `select_counted`).
    pub closer: Vec<Option<usize>>,
    /// The live level-0 search results, nearest first (duplicate check).
    pub nearest: Vec<Candidate<Id>>,
}

/// Searches the graph for the neighbours of a (new or existing) element at
/// `target` of `level`. `skip` (an existing element being repaired) is never
/// selected as its own neighbour.
pub(crate) fn find_neighbors<S: GraphRead + ?Sized>(
    store: &mut S,
    target: &Target<'_, S>,
    ep: EntryPoint<S::Id>,
    level: Level,
    params: &HnswParams,
    skip: Option<S::Id>,
    ticker: &mut Ticker,
) -> Result<Neighbors<S::Id>, S::Error> {
    let top = level.min(ep.level);
    let start = descend(store, target, ep, top, BUILD_BEAM, ticker)?;
    let mut lists = vec![Vec::new(); usize::from(level) + 1];
    let mut closer = vec![None; usize::from(level) + 1];
    let mut nearest = Vec::new();
    // An existing element finds itself: search one more to make up for it.
    let ef = params.ef_construction.max(1) + usize::from(skip.is_some());
    let mut entries: Vec<Found<S::Id>> = start;
    let mut visited = store.new_visited();
    let mut lc = top;
    loop {
        visited.clear();
        for e in &entries {
            visited.insert(e.id);
        }
        let (w, _) = layer_search(store, target, &entries, ef, lc, &mut visited, ticker, None)?;
        // Deleted elements are waypoints only, never chosen: in a page store
        // they are about to be freed by VACUUM (pgvector does the same).
        let cands: Vec<Candidate<S::Id>> = w
            .iter()
            .filter(|f| !f.deleted && Some(f.id) != skip)
            .map(|f| f.candidate())
            .collect();
        if lc == 0 {
            nearest.clone_from(&cands);
        }
        (lists[usize::from(lc)], closer[usize::from(lc)]) =
            select_counted(store, cands, params.max_neighbors(lc), ticker)?;
        entries = w;
        if lc == 0 {
            break;
        }
        lc -= 1;
    }
    Ok(Neighbors {
        lists,
        closer,
        nearest,
    })
}

/// Adds `new` (at distance `d_new` from `n`) to `n`'s neighbour list at
/// `level`: appended while there is room; otherwise a deleted neighbour is
/// replaced, or the heuristic chooses among the old neighbours and `new`, and
/// `new` takes the dropped neighbour's slot (nothing changes if `new` is the
/// one dropped). Written with [`GraphWrite::update_neighbors`] and retried on
/// a concurrent change.
pub(crate) fn add_backlink<S: GraphWrite + ?Sized>(
    store: &mut S,
    n: S::Id,
    new: S::Id,
    d_new: f32,
    level: Level,
    params: &HnswParams,
    ticker: &mut Ticker,
) -> Result<(), S::Error> {
    if n == new {
        return Ok(());
    }
    let lm = params.max_neighbors(level);
    let mut cur = Vec::with_capacity(lm);
    for _ in 0..CAS_RETRIES {
        store.neighbors(n, level, &mut cur)?;
        if cur.contains(&new) {
            return Ok(());
        }
        let Some(next) = backlink_list(store, n, &cur, new, d_new, lm, ticker)? else {
            return Ok(());
        };
        if store.update_neighbors(n, level, &cur, &next)? {
            return Ok(());
        }
    }
    Ok(())
}

/// The new list for [`add_backlink`], or `None` when `new` is not selected.
fn backlink_list<S: GraphRead + ?Sized>(
    store: &mut S,
    n: S::Id,
    cur: &[S::Id],
    new: S::Id,
    d_new: f32,
    lm: usize,
    ticker: &mut Ticker,
) -> Result<Option<Vec<S::Id>>, S::Error> {
    if cur.len() < lm && !cur.contains(&n) {
        let mut next = cur.to_vec();
        next.push(new);
        return Ok(Some(next));
    }
    // Full: a self-link (corrupted data) or a deleted neighbour goes first.
    for (i, &x) in cur.iter().enumerate() {
        if x == n || store.is_deleted(x)? {
            let mut next = cur.to_vec();
            next[i] = new;
            next.retain(|&y| y != n);
            next.truncate(lm);
            return Ok(Some(next));
        }
    }
    let mut cands = Vec::with_capacity(cur.len() + 1);
    for &x in cur {
        cands.push(Candidate::new(x, store.distance_between(n, x)?));
        ticker.tick(store)?;
    }
    cands.push(Candidate::new(new, d_new));
    let sel = select_with(store, cands, lm, ticker)?;
    if !sel.iter().any(|c| c.id == new) {
        return Ok(None);
    }
    // Keep the surviving neighbours in their slots; `new` takes the first
    // dropped slot.
    let mut next = Vec::with_capacity(lm);
    let mut placed = false;
    for &x in cur {
        if sel.iter().any(|c| c.id == x) && !next.contains(&x) {
            next.push(x);
        } else if !placed {
            next.push(new);
            placed = true;
        }
    }
    if !placed {
        next.push(new);
    }
    next.truncate(lm);
    Ok(Some(next))
}
