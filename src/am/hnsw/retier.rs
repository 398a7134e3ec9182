//! `storage = 'auto'`: access heat written by scans ([`touch`]) and the moves between rungs
//! ([`retier`], run by `ruvec.retier(index)` and by VACUUM).
//!
//! A move is one Generic WAL record over (at most) three pages, locked in ascending block
//! order: the element's page (its AutoPrefix gets the new upgrade pointer and rung), the page
//! of its old upgrade tuple (removed), and the page that takes the new upgrade tuple (the
//! element's own page when it has room, else the fullest page that has room, else a new page
//! appended first in a record of its own). Free space is tracked per retier ([`Room`], filled
//! by the walk that plans the moves); demotions run first, so the space they free is reused by
//! the promotions of the same run and the index does not grow while vectors change tiers. So after a crash, on a standby or after replay an element either
//! still owns its old upgrade or owns its new one, never a dangling or a leaked tuple.
//!
//! Locks: a retier holds the `RETIER_LOCK` page lock (one retier per index at a time; VACUUM
//! skips its retier when one is running) and the `UPDATE_LOCK` in Share mode like an insert,
//! so inserts and scans run concurrently while VACUUM's graph repair, which frees elements,
//! waits. Upgrade codes are made from the table rows (any version: the indexed value of a TID
//! never changes), read before any page is locked.

use std::collections::{BTreeSet, HashMap};

use pgrx::{pg_sys, PgSqlErrorCode};

use super::auto::{decayed, now_secs, Rung};
use super::codec::Storage;
use super::format::*;
use super::rerank::{fetch_values, Column};
use super::store::{corrupted, walk_data_pages, PageGraph};
use super::visit::{upgrade_code, upgrade_pointer};
use super::{RETIER_LOCK, UPDATE_LOCK};
use crate::error::raise_with;
use crate::gucs;
use crate::storage::{Locked, Mode, WalRecord};

/// Record that a scan returned element `id`: its heat decays to `now` and gains one. A hint
/// (see `AutoPrefix`): written under a share lock without WAL; nothing on other elements.
///
/// # Safety
/// `rel` must be an open ruhnsw index with `storage = 'auto'`; `id` one of its elements.
pub unsafe fn touch(rel: pg_sys::Relation, id: u64, now: u32, half_life: u32) {
    let tid = Tid::from_id(id);
    // SAFETY: element ids name existing blocks of this index.
    let buf = unsafe { Locked::read(rel, tid.block(), Mode::Share) };
    let Some(bytes) = buf.page().item(tid.off) else {
        return;
    };
    let Some(h) = read_struct::<ElementHeader>(bytes) else {
        return;
    };
    if h.kind != KIND_ELEMENT || h.tier != Storage::Auto as u8 {
        return; // freed (and maybe reused) since the scan saw it
    }
    let Some(p) = bytes.get(HEAT_AT..).and_then(read_struct::<AutoPrefix>) else {
        return;
    };
    let heat = decayed(p.heat, p.stamp, now, half_life) + 1.0;
    let mut hint = [0u8; 8];
    hint[..4].copy_from_slice(&heat.to_ne_bytes());
    hint[4..].copy_from_slice(&now.to_ne_bytes());
    buf.set_hint(tid.off, HEAT_AT, &hint);
}

/// What a retier did, and where the live elements are afterwards.
#[derive(Default, Debug)]
pub struct RetierStats {
    pub promoted: u64,
    pub demoted: u64,
    /// Live elements per rung (Rung as index) after the retier.
    pub rungs: [u64; 4],
}

/// One planned move of an element between rungs.
struct Move {
    id: u64,
    from: Option<(Tid, Rung)>,
    to: Rung,
    /// A heap row of the element (the upgrade code is made from its value).
    row: Tid,
    /// Not marked deleted (counted in `RetierStats::rungs`).
    live: bool,
}

/// Moves handled per batch (table rows read for a batch, then applied).
const BATCH: usize = 512;

/// Move every element of an auto index to the rung its decayed heat calls for (deleted
/// elements to archive). None when `wait` is false and another retier holds the lock.
///
/// # Safety
/// `index` must be an open ruhnsw index with `storage = 'auto'`, `heap` its open table.
pub unsafe fn retier(
    index: pg_sys::Relation,
    heap: pg_sys::Relation,
    wait: bool,
) -> Option<RetierStats> {
    // SAFETY: heavyweight page locks on the open index (tags, not buffers); released below,
    // or by the transaction's abort when an ERROR escapes.
    unsafe {
        let excl = pg_sys::ExclusiveLock as pg_sys::LOCKMODE;
        if wait {
            pg_sys::LockPage(index, RETIER_LOCK, excl);
        } else if !pg_sys::ConditionalLockPage(index, RETIER_LOCK, excl) {
            return None;
        }
        pg_sys::LockPage(index, UPDATE_LOCK, pg_sys::ShareLock as pg_sys::LOCKMODE);
        let mut graph = PageGraph::open(index);
        let half_life = gucs::ACCESS_HALF_LIFE.get().max(1) as u32;
        let now = now_secs();
        let mut stats = RetierStats::default();
        let mut room = Room::default();
        let mut moves = plan(index, &mut room, |h, p, current| {
            let target = if h.deleted != 0 || h.ntids == 0 {
                Rung::Archive
            } else {
                let r = Rung::for_heat(decayed(p.heat, p.stamp, now, half_life));
                // hot means "this row's exact value": only for one-row elements (see apply)
                if r == Rung::Hot && h.ntids > 1 {
                    Rung::Warm
                } else {
                    r
                }
            };
            if h.deleted == 0 {
                stats.rungs[current as usize] += 1;
            }
            target
        });
        // Smallest targets first: demotions free the space promotions then take.
        moves.sort_by_key(|m| (m.to, m.id));
        for batch in moves.chunks(BATCH) {
            pgrx::check_for_interrupts!();
            let codes = upgrade_codes(&graph, heap, index, batch);
            for (mv, code) in batch.iter().zip(codes) {
                if mv.to != Rung::Archive && code.is_none() {
                    continue; // its row is gone: VACUUM will delete the element
                }
                if apply(&mut graph, &mut room, mv, code.as_deref()) {
                    let from = mv.from.map_or(Rung::Archive, |(_, r)| r);
                    if mv.to > from {
                        stats.promoted += 1;
                    } else {
                        stats.demoted += 1;
                    }
                    if mv.live {
                        stats.rungs[from as usize] -= 1;
                        stats.rungs[mv.to as usize] += 1;
                    }
                }
            }
        }
        // Backends keep copies of archive-rung elements' codes (codecache.rs): after a
        // promotion they must read the element's page again to find its upgrade.
        if stats.promoted > 0 {
            graph.bump_epoch();
        }
        pg_sys::UnlockPage(index, UPDATE_LOCK, pg_sys::ShareLock as pg_sys::LOCKMODE);
        pg_sys::UnlockPage(index, RETIER_LOCK, excl);
        // The moves' records belong to no transaction id, so no commit record flushes them:
        // flush here, so that a retier that returned is durable (and on its way to standbys).
        if stats.promoted + stats.demoted > 0 && crate::storage::relation_needs_wal(index) {
            pg_sys::XLogFlush(pg_sys::GetXLogInsertRecPtr());
        }
        Some(stats)
    }
}

/// Move the upgrades of deleted elements to archive (VACUUM, before it frees them; the
/// caller holds the update lock Exclusive, so nothing else moves them meanwhile).
///
/// # Safety
/// `graph` is an open auto index.
pub unsafe fn drop_deleted_upgrades(graph: &mut PageGraph) {
    // SAFETY: forwarded.
    let mut room = Room::default();
    let moves = unsafe {
        plan(graph.rel(), &mut room, |h, _, current| {
            if h.deleted != 0 {
                Rung::Archive
            } else {
                current
            }
        })
    };
    for mv in &moves {
        apply(graph, &mut room, mv, None);
    }
}

/// Free space of the index's data pages as a retier last saw it (a hint: every placement is
/// re-checked under the page's exclusive lock).
#[derive(Default)]
struct Room {
    by_blk: HashMap<pg_sys::BlockNumber, usize>,
    by_free: BTreeSet<(usize, pg_sys::BlockNumber)>,
}

impl Room {
    fn set(&mut self, blk: pg_sys::BlockNumber, free: usize) {
        if let Some(old) = self.by_blk.insert(blk, free) {
            self.by_free.remove(&(old, blk));
        }
        self.by_free.insert((free, blk));
    }

    fn free(&self, blk: pg_sys::BlockNumber) -> usize {
        self.by_blk.get(&blk).copied().unwrap_or(0)
    }

    /// The page with the least free space that still fits `need` bytes (fills pages up
    /// before starting on emptier ones).
    fn best_fit(&self, need: usize) -> Option<pg_sys::BlockNumber> {
        self.by_free.range((need, 0)..).next().map(|&(_, b)| b)
    }
}

/// Walk every element of the index (share locks, one page at a time) and list the ones whose
/// rung `target(header, prefix, current rung)` differs from the current one.
unsafe fn plan(
    rel: pg_sys::Relation,
    room: &mut Room,
    mut target: impl FnMut(&ElementHeader, &AutoPrefix, Rung) -> Rung,
) -> Vec<Move> {
    let mut moves = Vec::new();
    // SAFETY: forwarded.
    unsafe {
        walk_data_pages(rel, |blk, page| {
            room.set(blk, page.free_space());
            for off in 1..=page.max_offset() {
                let Some(bytes) = page.item(off) else {
                    continue;
                };
                let Some(h) = read_struct::<ElementHeader>(bytes) else {
                    continue;
                };
                if h.kind != KIND_ELEMENT || h.tier != Storage::Auto as u8 {
                    continue;
                }
                let Some(p) = bytes.get(HEAT_AT..).and_then(read_struct::<AutoPrefix>) else {
                    continue;
                };
                let from = upgrade_pointer(bytes);
                let current = from.map_or(Rung::Archive, |(_, r)| r);
                let to = target(&h, &p, current);
                if to != current {
                    moves.push(Move {
                        id: Tid::new(blk, off).to_id(),
                        from,
                        to,
                        row: h.live_tids().first().copied().unwrap_or(Tid::INVALID),
                        live: h.deleted == 0,
                    });
                }
            }
        });
    }
    moves
}

/// The upgrade code each move needs (None for moves to archive, and for rows that are gone).
unsafe fn upgrade_codes(
    graph: &PageGraph,
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    batch: &[Move],
) -> Vec<Option<Vec<u8>>> {
    let mut codes: Vec<Option<Vec<u8>>> = vec![None; batch.len()];
    let want: Vec<usize> = (0..batch.len())
        .filter(|&i| batch[i].to != Rung::Archive && batch[i].row.is_valid())
        .collect();
    if want.is_empty() {
        return codes;
    }
    let rows: Vec<Tid> = want.iter().map(|&i| batch[i].row).collect();
    let meta = graph.meta;
    let col = Column {
        kind: meta.kind,
        metric: meta.metric,
        dims: meta.dims,
    };
    let tier = graph.tier.clone();
    // SAFETY: open relations; SnapshotAny is a static snapshot PostgreSQL provides.
    unsafe {
        fetch_values(
            heap,
            index,
            &raw mut pg_sys::SnapshotAnyData,
            col,
            &rows,
            |j, v| {
                let i = want[j];
                codes[i] = Some(tier.upgrade_code(batch[i].to, v));
            },
        );
    }
    codes
}

/// Apply one move in one WAL record (see the module comment). False when the element changed
/// since it was planned (then nothing is written).
fn apply(graph: &mut PageGraph, room: &mut Room, mv: &Move, code: Option<&[u8]>) -> bool {
    let el = Tid::from_id(mv.id);
    let tuple: Option<Vec<u8>> = code.map(|c| {
        let mut t = struct_bytes(&UpgradeHeader::new(mv.to as u8, el)).to_vec();
        t.extend_from_slice(c);
        t
    });
    let expect_len = graph.upgrade_len(mv.to);
    if tuple
        .as_ref()
        .is_some_and(|t| t.len() != UPGRADE_HEADER + expect_len || t.len() > MAX_ITEM)
    {
        return false;
    }
    let rel = graph.rel();
    for attempt in 0..4 {
        let target = tuple.as_ref().map(|t| {
            // SAFETY: rel is the open index.
            unsafe { room_for(graph, room, el.block(), t.len(), attempt) }
        });
        let mut blocks = vec![el.block()];
        blocks.extend(mv.from.map(|(t, _)| t.block()));
        blocks.extend(target);
        blocks.sort_unstable();
        blocks.dedup();
        // SAFETY: all blocks exist; locked in ascending order inside one record.
        let mut rec = unsafe { WalRecord::start(rel) };
        let slots: Vec<(pg_sys::BlockNumber, usize)> = blocks
            .iter()
            // SAFETY: as above.
            .map(|&b| {
                (
                    b,
                    rec.register(unsafe { Locked::read(rel, b, Mode::Exclusive) }, false),
                )
            })
            .collect();
        let slot =
            |b: pg_sys::BlockNumber| slots.iter().find(|(x, _)| *x == b).expect("registered").1;
        let ei = slot(el.block());
        let Some(old) = rec.page(ei).as_ref().item(el.off).map(<[u8]>::to_vec) else {
            return false;
        };
        // Re-checked under the lock: unchanged since planned, and a hot upgrade (the value of
        // the row it was made from) only for an element with exactly that one row; a
        // concurrent insert cannot add a row meanwhile (merge_duplicate refuses hot elements).
        let still = read_struct::<ElementHeader>(&old).is_some_and(|h| {
            h.kind == KIND_ELEMENT
                && h.tier == Storage::Auto as u8
                && (mv.to != Rung::Hot || (h.ntids == 1 && h.heaptids[0] == mv.row))
        }) && upgrade_pointer(&old) == mv.from;
        if !still {
            return false; // dropping `rec` aborts
        }
        if let Some((otid, orung)) = mv.from {
            let oi = slot(otid.block());
            let ours = rec
                .page(oi)
                .as_ref()
                .item(otid.off)
                .and_then(|b| upgrade_code(b, el, orung, graph.upgrade_len(orung)))
                .is_some();
            if !ours {
                corrupted("an element's upgrade pointer does not lead to its upgrade tuple");
            }
            rec.page(oi).remove_item(otid.off);
        }
        let mut prefix: AutoPrefix = read_struct(&old[HEAT_AT..]).expect("auto element");
        prefix.upgrade_blk = 0;
        prefix.upgrade_off = 0;
        prefix.rung = Rung::Archive as u8;
        if let (Some(t), Some(tb)) = (&tuple, target) {
            let Some(off) = rec.page(slot(tb)).add_item(t) else {
                // the page filled up meanwhile: note it, abort this record and retry
                let free = rec.page(slot(tb)).as_ref().free_space();
                room.set(tb, free);
                continue;
            };
            prefix.upgrade_blk = tb;
            prefix.upgrade_off = off;
            prefix.rung = mv.to as u8;
        }
        let mut new = old.clone();
        new[HEAT_AT..HEAT_AT + AUTO_PREFIX].copy_from_slice(struct_bytes(&prefix));
        if !rec.page(ei).overwrite_item(el.off, &new) {
            corrupted("element tuple changed size");
        }
        for &(b, i) in &slots {
            let free = rec.page(i).as_ref().free_space();
            room.set(b, free);
        }
        rec.finish();
        return true;
    }
    false
}

/// A data page that likely has room for an upgrade tuple of `len` bytes: the element's own
/// page (then a visit reads both under one lock), else the fullest page with room, else (and
/// on the last attempts) a page appended for it.
unsafe fn room_for(
    graph: &mut PageGraph,
    room: &mut Room,
    el_blk: pg_sys::BlockNumber,
    len: usize,
    attempt: usize,
) -> pg_sys::BlockNumber {
    let need = maxalign(len);
    if attempt == 0 && room.free(el_blk) >= need {
        return el_blk;
    }
    if attempt <= 1 {
        if let Some(b) = room.best_fit(need) {
            return b;
        }
    }
    let b = graph.append_empty_page();
    // (an estimate; the record that adds the tuple re-checks)
    room.set(b, MAX_ITEM);
    b
}

/// ERROR unless `index` may be retiered from SQL now.
pub fn require_auto(graph: &PageGraph, name: &str) {
    if graph.tier.auto().is_none() {
        raise_with(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("ruhnsw index \"{name}\" does not use storage = 'auto'"),
            None,
            Some("Only indexes created WITH (storage = 'auto') move vectors between tiers.".into()),
        );
    }
    // SAFETY: reads shared state.
    if unsafe { pg_sys::RecoveryInProgress() } {
        raise_with(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            "cannot retier an index during recovery".into(),
            None,
            Some("Run ruvec.retier() on the primary; standbys replay its changes.".into()),
        );
    }
}
