//! Value logic of ruvec's pgvector-compatible SQL types, free of any
//! PostgreSQL dependency:
//!
//! * `vector` — `Vec<f32>`, up to 16,000 dimensions;
//! * `halfvec` — `Vec<half::f16>`, up to 16,000 dimensions;
//! * `sparsevec` — [`SparseVec`], up to 10⁹ dimensions and 16,000
//!   non-zero entries.
//!
//! Text input/output ([`text`], with PostgreSQL's `float4` formatting in
//! [`float_text`]), binary send/receive ([`wire`]), limits and type
//! modifiers ([`limits`]) and operators, casts and aggregate state
//! ([`ops`]) follow pgvector 0.8 exactly, including which error is raised,
//! with which SQLSTATE and message ([`error`]). The pgrx glue turns a
//! [`VecError`] into a PostgreSQL `ERROR`.
//!
//! Behaviour was checked differentially against pgvector 0.8.6 built for
//! PostgreSQL 15 (text input/output, binary receive, operators, casts and
//! aggregates). Points the glue should know:
//!
//! * NaN / infinite elements are `22000` (data_exception) in every path,
//!   as in pgvector.
//! * Receive functions check the type modifier at pgvector's point
//!   (`recv_*_typmod`); short input is `22P03 insufficient data left in
//!   message` (PostgreSQL itself uses `08P01`), trailing bytes are
//!   `22P03 incorrect binary data format`.
//! * Aggregate state: an empty slice is accepted as the initial `'{0}'`;
//!   pgvector's "`<fn>`: expected state array" checks on the SQL array are
//!   the glue's job. `combine` follows pgvector's fix for empty partial
//!   states (0.8.7): `combine('{0}', '{0}')` is `{0}`, not an error.
//!   pgvector's `sum` aggregates use `add_f32` / `add_f16` as the
//!   transition function.
//! * Text input whitespace is C `isspace` (pgvector on PostgreSQL < 17).

mod cparse;
mod shortest;

pub mod error;
pub mod float_text;
pub mod limits;
pub mod ops;
pub mod text;
pub mod wire;

pub use error::{Result, SqlState, VecError};
pub use text::SparseVec;
