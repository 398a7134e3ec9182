//! `WITH (m = 16, ef_construction = 64, storage = 'pq8', pq_subvectors = 32, rerank = 100)`:
//! index reloptions, validated by PostgreSQL's reloptions machinery (out-of-range values raise
//! 22023 with the valid range in the detail; an unknown storage name raises 22023 listing the
//! valid ones).

use core::ffi::c_int;
use core::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicU32, Ordering};

use pgrx::pg_sys;

use super::codec::Storage;

pub const DEFAULT_M: i32 = 16;
pub const MIN_M: i32 = 2;
pub const MAX_M: i32 = 100;
pub const DEFAULT_EF_CONSTRUCTION: i32 = 64;
pub const MIN_EF_CONSTRUCTION: i32 = 4;
pub const MAX_EF_CONSTRUCTION: i32 = 1000;
/// 0 = dims / 4 (4 dimensions per subvector).
pub const MAX_PQ_SUBVECTORS: i32 = 4096;
/// 0 = the storage tier's default (codec::Storage::default_rerank).
pub const MAX_RERANK: i32 = 1000;

/// The parsed options as PostgreSQL stores them in `rd_options` (a varlena).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Options {
    vl_len_: i32,
    pub m: i32,
    pub ef_construction: i32,
    /// Offset of the storage name from the start of this struct, 0 when not set.
    storage_offset: i32,
    pub pq_subvectors: i32,
    pub rerank: i32,
}

static KIND: AtomicU32 = AtomicU32::new(0);

/// Register the `ruhnsw` reloption kind and its options; once per backend, from `_PG_init`.
pub fn init() {
    // SAFETY: plain catalogue-free registrations into reloptions.c's static tables, done once
    // at library load in each backend (before any amoptions call can happen).
    unsafe {
        let kind = pg_sys::add_reloption_kind();
        KIND.store(kind, Ordering::Relaxed);
        pg_sys::add_int_reloption(
            kind,
            c"m".as_ptr(),
            c"Max number of connections per element and layer (layer 0 gets 2m)".as_ptr(),
            DEFAULT_M,
            MIN_M,
            MAX_M,
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
        pg_sys::add_int_reloption(
            kind,
            c"ef_construction".as_ptr(),
            c"Size of the dynamic candidate list while building the graph".as_ptr(),
            DEFAULT_EF_CONSTRUCTION,
            MIN_EF_CONSTRUCTION,
            MAX_EF_CONSTRUCTION,
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
        pg_sys::add_string_reloption(
            kind,
            c"storage".as_ptr(),
            c"Precision the index stores vectors at: f32, f16, int8, pq8, pq4 or binary".as_ptr(),
            core::ptr::null(),
            Some(validate_storage),
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
        pg_sys::add_int_reloption(
            kind,
            c"pq_subvectors".as_ptr(),
            c"Subvectors of a product-quantized (pq8, pq4) index; 0 means dimensions / 4".as_ptr(),
            0,
            0,
            MAX_PQ_SUBVECTORS,
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
        // Read at scan time, so changing it needs no rebuild.
        pg_sys::add_int_reloption(
            kind,
            c"rerank".as_ptr(),
            c"Candidates re-scored with exact distances by scans of a quantized index; 0 means the storage tier's default".as_ptr(),
            0,
            0,
            MAX_RERANK,
            pg_sys::ShareUpdateExclusiveLock as pg_sys::LOCKMODE,
        );
    }
}

/// Reloption validator of `storage`: an unknown name is an error at CREATE INDEX / ALTER.
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn validate_storage(value: *const core::ffi::c_char) {
    if value.is_null() {
        return;
    }
    // SAFETY: reloptions passes a NUL-terminated string.
    let name = unsafe { core::ffi::CStr::from_ptr(value) }.to_string_lossy();
    if Storage::parse(&name).is_none() {
        let valid: Vec<&str> = Storage::NAMES.iter().map(|(n, _)| *n).collect();
        crate::error::raise_with(
            pgrx::PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("invalid value for ruhnsw option \"storage\": \"{name}\""),
            Some(format!("Valid values are {}.", valid.join(", "))),
            None,
        );
    }
}

/// `amoptions`: parse (and with `validate`, check) the reloptions array.
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amoptions(
    reloptions: pg_sys::Datum,
    validate: bool,
) -> *mut pg_sys::bytea {
    let table = [
        pg_sys::relopt_parse_elt {
            optname: c"m".as_ptr(),
            opttype: pg_sys::relopt_type::RELOPT_TYPE_INT,
            offset: offset_of!(Options, m) as c_int,
        },
        pg_sys::relopt_parse_elt {
            optname: c"ef_construction".as_ptr(),
            opttype: pg_sys::relopt_type::RELOPT_TYPE_INT,
            offset: offset_of!(Options, ef_construction) as c_int,
        },
        pg_sys::relopt_parse_elt {
            optname: c"storage".as_ptr(),
            opttype: pg_sys::relopt_type::RELOPT_TYPE_STRING,
            offset: offset_of!(Options, storage_offset) as c_int,
        },
        pg_sys::relopt_parse_elt {
            optname: c"pq_subvectors".as_ptr(),
            opttype: pg_sys::relopt_type::RELOPT_TYPE_INT,
            offset: offset_of!(Options, pq_subvectors) as c_int,
        },
        pg_sys::relopt_parse_elt {
            optname: c"rerank".as_ptr(),
            opttype: pg_sys::relopt_type::RELOPT_TYPE_INT,
            offset: offset_of!(Options, rerank) as c_int,
        },
    ];
    // SAFETY: the table describes `Options` exactly; build_reloptions palloc's the result.
    unsafe {
        pg_sys::build_reloptions(
            reloptions,
            validate,
            KIND.load(Ordering::Relaxed),
            size_of::<Options>(),
            table.as_ptr(),
            table.len() as c_int,
        ) as *mut pg_sys::bytea
    }
}

/// The index's options, defaults when it has none, and the storage tier it asks for (None:
/// the column type's own precision).
///
/// # Safety
/// `index` must be an open relation of this access method.
pub unsafe fn get(index: pg_sys::Relation) -> (Options, Option<Storage>) {
    // SAFETY: rd_options is either NULL or what amoptions built for this index: the struct
    // followed by the storage string at `storage_offset` (NUL-terminated, validated).
    unsafe {
        let p = (*index).rd_options as *const Options;
        if p.is_null() {
            let o = Options {
                vl_len_: 0,
                m: DEFAULT_M,
                ef_construction: DEFAULT_EF_CONSTRUCTION,
                storage_offset: 0,
                pq_subvectors: 0,
                rerank: 0,
            };
            return (o, None);
        }
        let o = *p;
        let storage = (o.storage_offset > 0)
            .then(|| {
                let s = (p as *const core::ffi::c_char).add(o.storage_offset as usize);
                Storage::parse(&core::ffi::CStr::from_ptr(s).to_string_lossy())
            })
            .flatten();
        (o, storage)
    }
}
