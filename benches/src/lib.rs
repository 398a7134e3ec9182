//! criterion benches live next to this crate
