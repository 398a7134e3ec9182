//! Shared helpers for the integration tests (included with `mod common;`).
#![allow(dead_code)]

use ruvec_vector::{SqlState, VecError};

/// Assert that `r` failed with exactly this SQLSTATE, message and detail.
#[track_caller]
pub fn assert_err<T: std::fmt::Debug>(
    r: Result<T, VecError>,
    state: SqlState,
    message: &str,
    detail: Option<&str>,
) {
    match r {
        Ok(v) => panic!("expected error {message:?}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.message, message);
            assert_eq!(e.state, state, "state for {message:?}");
            assert_eq!(e.detail.as_deref(), detail, "detail for {message:?}");
            assert_eq!(e.hint, None);
        }
    }
}

/// Shorthand for an error without detail.
#[track_caller]
pub fn assert_err0<T: std::fmt::Debug>(r: Result<T, VecError>, state: SqlState, message: &str) {
    assert_err(r, state, message, None)
}
