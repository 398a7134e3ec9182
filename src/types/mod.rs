//! pgvector-compatible SQL types: `vector`, `halfvec`, `sparsevec`, and distance operators on
//! PostgreSQL's own `bit`.
//!
//! Every SQL object is declared by hand in `sql/install/*.sql` (so names and signatures match
//! pgvector's exactly); the functions here are their C entry points, compiled with
//! `#[pg_extern(sql = false)]`. Value logic lives in `crates/vector`, kernels in
//! `crates/distance`; this module only moves bytes between Postgres and those crates.

pub mod datum;

mod arrays;
mod bit;
mod casts;
mod dense;
mod sparsevec;

use pgrx::pg_sys;

/// OID of one of our types by name, resolved in the extension's schema via the search path.
pub(crate) fn type_oid(name: &str) -> pg_sys::Oid {
    pgrx::wrappers::regtypein(name)
}
