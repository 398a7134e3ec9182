//! The `ruvec.*` SQL API (declared in sql/install/api.sql).

use pgrx::prelude::*;

#[pg_extern(sql = false)]
fn ruvec_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pg_extern(sql = false)]
fn ruvec_simd_backend() -> &'static str {
    ruvec_distance::simd_backend()
}
