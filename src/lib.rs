//! ruvec: retrieval for RAG and AI agents inside PostgreSQL.
//!
//! This crate is the Postgres glue only (DESIGN.md §2): SQL types, access methods, the SQL API
//! and GUCs. Algorithms live in the pure crates under `crates/`.
//!
//! The SQL surface is declared by hand in `sql/install/*.sql` and stitched into the install
//! script here, in dependency order; Rust entry points use `#[pg_extern(sql = false)]`.

::pgrx::pg_module_magic!(name, version);

mod am;
mod api;
mod error;
mod gucs;
mod storage;
mod types;

pgrx::extension_sql_file!("../sql/install/vector.sql", name = "vector_type", bootstrap);
pgrx::extension_sql_file!(
    "../sql/install/halfvec.sql",
    name = "halfvec_type",
    requires = ["vector_type"]
);
pgrx::extension_sql_file!(
    "../sql/install/sparsevec.sql",
    name = "sparsevec_type",
    requires = ["halfvec_type"]
);
pgrx::extension_sql_file!(
    "../sql/install/bit.sql",
    name = "bit_ops",
    requires = ["sparsevec_type"]
);
pgrx::extension_sql_file!(
    "../sql/install/casts.sql",
    name = "type_casts",
    requires = ["bit_ops"]
);
pgrx::extension_sql_file!(
    "../sql/install/ruhnsw.sql",
    name = "ruhnsw",
    requires = ["type_casts"]
);
pgrx::extension_sql_file!("../sql/install/api.sql", name = "api", finalize);

/// Library load: GUCs and the index reloptions must exist before any SQL uses them.
#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::init();
    am::hnsw::init();
}

#[cfg(any(test, feature = "pg_test"))]
mod backend_tests;

/// This module is required by `cargo pgrx test` invocations.
/// It must be visible at the root of your extension crate.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
