//! Index access methods: `ruhnsw` (HNSW graph in pages). `rubm25` comes later.

pub mod hnsw;
