//! `WITH (m = 16, ef_construction = 64)`: index reloptions, validated by PostgreSQL's reloptions
//! machinery (out-of-range values raise 22023 with the valid range in the detail).

use core::ffi::c_int;
use core::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicU32, Ordering};

use pgrx::pg_sys;

pub const DEFAULT_M: i32 = 16;
pub const MIN_M: i32 = 2;
pub const MAX_M: i32 = 100;
pub const DEFAULT_EF_CONSTRUCTION: i32 = 64;
pub const MIN_EF_CONSTRUCTION: i32 = 4;
pub const MAX_EF_CONSTRUCTION: i32 = 1000;

/// The parsed options as PostgreSQL stores them in `rd_options` (a varlena).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Options {
    vl_len_: i32,
    pub m: i32,
    pub ef_construction: i32,
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

/// The index's options, defaults when it has none.
///
/// # Safety
/// `index` must be an open relation of this access method.
pub unsafe fn get(index: pg_sys::Relation) -> Options {
    // SAFETY: rd_options is either NULL or what amoptions built for this index.
    unsafe {
        let p = (*index).rd_options as *const Options;
        if p.is_null() {
            Options {
                vl_len_: 0,
                m: DEFAULT_M,
                ef_construction: DEFAULT_EF_CONSTRUCTION,
            }
        } else {
            *p
        }
    }
}
