//! `ruvec.index_stats(regclass)`: what a ruhnsw index holds, as `(stat, value)` rows for
//! monitoring — tier distribution and bytes per tier, codebook size, graph degree per layer,
//! deleted and free elements, pages. `storage = 'auto'` indexes add `auto.<rung>.elements` and
//! `auto.<rung>.upgrade_bytes` (hot / warm / cold / archive) and `auto.heat` (the live
//! elements' access heat summed, decayed to now with `ruvec.access_half_life`).
//!
//! One pass over the index's pages under share locks (AccessShareLock on the index), no heap
//! access; the numbers are a consistent snapshot of each page, not of the whole index.

use std::collections::BTreeMap;

use pgrx::pg_sys;

use super::auto::{decayed, now_secs, Rung};
use super::codec::{tier_of, Storage};
use super::format::*;
use super::store::{read_meta_tuple, read_tids};
use crate::storage::{Locked, Mode};

/// # Safety
/// `index_oid` must name a ruhnsw index (checked by the caller).
pub unsafe fn stats(index_oid: pg_sys::Oid) -> Vec<(String, f64)> {
    let lock = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
    // SAFETY: opened by OID with a lock, closed below; every block below nblocks exists.
    let index = unsafe { pg_sys::index_open(index_oid, lock) };
    let mut out: Vec<(String, f64)> = Vec::new();
    let mut put = |k: &str, v: f64| out.push((k.to_string(), v));
    // SAFETY: index is open.
    let meta = unsafe { read_meta_tuple(index) };
    // SAFETY: index is open, `meta` is its meta tuple.
    let tier = unsafe { tier_of(index, &meta) };
    put("format_version", meta.version as f64);
    put("dimensions", meta.dims as f64);
    put("m", meta.m as f64);
    put("ef_construction", meta.ef_construction as f64);
    put("entry_level", meta.entry_level as f64);
    put(&format!("storage.{}", tier.storage.name()), 1.0);
    put("code_bytes", tier.code_bytes() as f64);
    put("codebook_bytes", meta.codebook_len as f64);

    // SAFETY: the index is open.
    let nblocks =
        unsafe { pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::MAIN_FORKNUM) };
    let (mut data_pages, mut codebook_pages, mut empty_pages) = (0u64, 0u64, 0u64);
    let (mut live, mut deleted, mut free, mut heap_rows) = (0u64, 0u64, 0u64, 0u64);
    let mut tiers: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    let mut neighbor_bytes = 0u64;
    let mut free_space = 0u64;
    // per layer: (lists, sum of degrees, min, max)
    let mut degree: BTreeMap<u8, (u64, u64, u64, u64)> = BTreeMap::new();
    let mut max_level = 0u8;
    // auto: per rung (elements, upgrade tuple bytes), and the heat sum
    let mut rungs = [(0u64, 0u64); 4];
    let mut heat = 0f64;
    let (now, half_life) = (
        now_secs(),
        crate::gucs::ACCESS_HALF_LIFE.get().max(1) as u32,
    );
    for blk in (META_BLKNO + 1)..nblocks {
        pgrx::check_for_interrupts!();
        // SAFETY: blk < nblocks.
        let buf = unsafe { Locked::read(index, blk, Mode::Share) };
        let page = buf.page();
        if page.is_new() {
            empty_pages += 1;
            continue;
        }
        match page.special::<PageOpaque>() {
            Some(o) if o.page_id == PAGE_ID && o.page_type == PAGE_CODEBOOK => {
                codebook_pages += 1;
                continue;
            }
            Some(o) if o.page_id == PAGE_ID && o.page_type == PAGE_DATA => data_pages += 1,
            _ => continue,
        }
        free_space += page.free_space() as u64;
        for off in 1..=page.max_offset() {
            let Some(bytes) = page.item(off) else {
                continue;
            };
            match bytes.first() {
                Some(&KIND_FREE) => free += 1,
                Some(&KIND_ELEMENT) => {
                    let Some(h) = read_struct::<ElementHeader>(bytes) else {
                        continue;
                    };
                    if h.deleted != 0 {
                        deleted += 1;
                        continue;
                    }
                    live += 1;
                    heap_rows += h.live_tids().len() as u64;
                    max_level = max_level.max(h.level);
                    let name = Storage::from_u8(h.tier).map_or("unknown", Storage::name);
                    let t = tiers.entry(name).or_default();
                    t.0 += 1;
                    t.1 += bytes.len().saturating_sub(ELEMENT_HEADER) as u64;
                    if h.tier == Storage::Auto as u8 {
                        if let Some(p) = bytes.get(HEAT_AT..).and_then(read_struct::<AutoPrefix>) {
                            let r = Rung::from_u8(p.rung).unwrap_or(Rung::Archive);
                            rungs[r as usize].0 += 1;
                            heat += decayed(p.heat, p.stamp, now, half_life) as f64;
                        }
                    }
                }
                Some(&KIND_UPGRADE) => {
                    if let Some(h) = read_struct::<UpgradeHeader>(bytes) {
                        let r = Rung::from_u8(h.rung).unwrap_or(Rung::Archive);
                        rungs[r as usize].1 += bytes.len() as u64;
                    }
                }
                Some(&KIND_NEIGHBORS) => {
                    neighbor_bytes += bytes.len() as u64;
                    let Some(h) = read_struct::<NeighborHeader>(bytes) else {
                        continue;
                    };
                    let body = &bytes[NEIGHBOR_HEADER..];
                    for layer in 0..=h.level {
                        let (start, n) = layer_slots(layer, meta.m);
                        let d = read_tids(body, start, n).len() as u64;
                        let e = degree.entry(layer).or_insert((0, 0, u64::MAX, 0));
                        e.0 += 1;
                        e.1 += d;
                        e.2 = e.2.min(d);
                        e.3 = e.3.max(d);
                    }
                }
                _ => {}
            }
        }
    }
    put("pages.data", data_pages as f64);
    put("pages.codebook", codebook_pages as f64);
    put("pages.empty", empty_pages as f64);
    put("free_space_bytes", free_space as f64);
    put("elements.live", live as f64);
    put("elements.deleted", deleted as f64);
    put("elements.free", free as f64);
    put("heap_rows", heap_rows as f64);
    put("levels.max", max_level as f64);
    for (name, (n, b)) in &tiers {
        put(&format!("tier.{name}.elements"), *n as f64);
        put(&format!("tier.{name}.vector_bytes"), *b as f64);
    }
    if tier.storage == Storage::Auto {
        for r in Rung::ALL.iter().rev() {
            let (n, b) = rungs[*r as usize];
            put(&format!("auto.{}.elements", r.name()), n as f64);
            put(&format!("auto.{}.upgrade_bytes", r.name()), b as f64);
        }
        put("auto.heat", heat);
    }
    put("neighbor_bytes", neighbor_bytes as f64);
    for (layer, (lists, sum, min, max)) in &degree {
        put(&format!("degree.layer{layer}.lists"), *lists as f64);
        put(
            &format!("degree.layer{layer}.mean"),
            *sum as f64 / (*lists).max(1) as f64,
        );
        put(&format!("degree.layer{layer}.min"), *min as f64);
        put(&format!("degree.layer{layer}.max"), *max as f64);
    }
    // SAFETY: opened above.
    unsafe { pg_sys::index_close(index, lock) };
    out
}
