//! The only code that touches Postgres buffers and pages (DESIGN.md §2, §3).
//!
//! Access methods build on three guards from [`buffer`]: `Locked` (pin + content lock, released
//! on drop), `WalRecord` (Generic WAL over up to four pages: all or nothing) and `BuildWriter`
//! (no per-page WAL during CREATE INDEX, one `log_newpage_range` at the end), plus typed page
//! views from [`page`].

pub mod buffer;
pub mod page;

#[allow(unused_imports)]
pub use buffer::{
    prefetch_in_buffer, relation_needs_wal, write_init_fork_page, BuildWriter, Locked, Mode,
    Pinned, WalRecord,
};
#[allow(unused_imports)]
pub use page::{Offset, PageMut, PageRef};
