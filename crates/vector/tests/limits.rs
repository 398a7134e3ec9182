//! Type modifiers, dimension and element checks, error values.

mod common;

use common::assert_err0;
use ruvec_vector::error::{SqlState, VecError};
use ruvec_vector::limits::*;
use ruvec_vector::SqlState::*;

#[test]
fn sqlstate_codes() {
    assert_eq!(InvalidTextRepresentation.code(), "22P02");
    assert_eq!(InvalidBinaryRepresentation.code(), "22P03");
    assert_eq!(DataException.code(), "22000");
    assert_eq!(InvalidParameterValue.code(), "22023");
    assert_eq!(ProgramLimitExceeded.code(), "54000");
    assert_eq!(NumericValueOutOfRange.code(), "22003");
}

#[test]
fn error_constructors_and_display() {
    let e = VecError::dim_mismatch(2, 1);
    assert_eq!(
        (e.state, e.message.as_str()),
        (
            SqlState::DataException,
            "different vector dimensions 2 and 1"
        )
    );
    let e = VecError::dim_mismatch_kind(Kind::Sparsevec, 3, 4);
    assert_eq!(e.message, "different sparsevec dimensions 3 and 4");
    let e = VecError::expected_dims(2, 3);
    assert_eq!(
        (e.state, e.message.as_str()),
        (SqlState::DataException, "expected 2 dimensions, not 3")
    );
    assert_eq!(e.to_string(), "expected 2 dimensions, not 3");
    let e = VecError::new(DataException, "m")
        .with_detail("d")
        .with_hint("h");
    assert_eq!(e.to_string(), "m (DETAIL: d) (HINT: h)");
    let boxed: Box<dyn std::error::Error> = Box::new(e);
    assert!(boxed.to_string().starts_with('m'));
}

#[test]
fn typmods() {
    assert_eq!(typmod_in(Kind::Vector, &[3]), Ok(3));
    assert_eq!(typmod_in(Kind::Vector, &[16000]), Ok(16000));
    assert_eq!(
        typmod_in(Kind::Sparsevec, &[1_000_000_000]),
        Ok(1_000_000_000)
    );
    assert_err0(
        typmod_in(Kind::Vector, &[3, 2]),
        InvalidParameterValue,
        "invalid type modifier",
    );
    assert_err0(
        typmod_in(Kind::Vector, &[]),
        InvalidParameterValue,
        "invalid type modifier",
    );
    assert_err0(
        typmod_in(Kind::Vector, &[0]),
        InvalidParameterValue,
        "dimensions for type vector must be at least 1",
    );
    assert_err0(
        typmod_in(Kind::Halfvec, &[-5]),
        InvalidParameterValue,
        "dimensions for type halfvec must be at least 1",
    );
    assert_err0(
        typmod_in(Kind::Vector, &[16001]),
        InvalidParameterValue,
        "dimensions for type vector cannot exceed 16000",
    );
    assert_err0(
        typmod_in(Kind::Halfvec, &[16001]),
        InvalidParameterValue,
        "dimensions for type halfvec cannot exceed 16000",
    );
    assert_err0(
        typmod_in(Kind::Sparsevec, &[1_000_000_001]),
        InvalidParameterValue,
        "dimensions for type sparsevec cannot exceed 1000000000",
    );
    assert_eq!(check_typmod(-1, 7), Ok(()));
    assert_eq!(check_typmod(3, 3), Ok(()));
    assert_err0(
        check_typmod(2, 3),
        DataException,
        "expected 2 dimensions, not 3",
    );
}

#[test]
fn dims_and_elements() {
    assert_eq!(check_dim(Kind::Vector, 1), Ok(()));
    assert_eq!(check_dim(Kind::Vector, 16000), Ok(()));
    assert_err0(
        check_dim(Kind::Vector, 0),
        DataException,
        "vector must have at least 1 dimension",
    );
    assert_err0(
        check_dim(Kind::Vector, 16001),
        ProgramLimitExceeded,
        "vector cannot have more than 16000 dimensions",
    );
    assert_err0(
        check_dim(Kind::Halfvec, 16001),
        ProgramLimitExceeded,
        "halfvec cannot have more than 16000 dimensions",
    );
    assert_eq!(check_dim(Kind::Sparsevec, 1_000_000_000), Ok(()));
    assert_err0(
        check_dim(Kind::Sparsevec, 1_000_000_001),
        ProgramLimitExceeded,
        "sparsevec cannot have more than 1000000000 dimensions",
    );
    assert_err0(
        check_dim_i64(Kind::Sparsevec, -3),
        DataException,
        "sparsevec must have at least 1 dimension",
    );
    assert_eq!(check_element(Kind::Vector, 1.5), Ok(()));
    assert_eq!(check_element(Kind::Vector, -0.0), Ok(()));
    assert_err0(
        check_element(Kind::Vector, f32::NAN),
        InvalidParameterValue,
        "NaN not allowed in vector",
    );
    assert_err0(
        check_element(Kind::Halfvec, f32::INFINITY),
        InvalidParameterValue,
        "infinite value not allowed in halfvec",
    );
    assert_err0(
        check_element(Kind::Sparsevec, f32::NEG_INFINITY),
        InvalidParameterValue,
        "infinite value not allowed in sparsevec",
    );
    assert_eq!(check_nnz(0, 1), Ok(()));
    assert_err0(
        check_nnz(-1, 5),
        DataException,
        "sparsevec cannot have negative number of elements",
    );
    assert_err0(
        check_nnz(16001, 20000),
        ProgramLimitExceeded,
        "sparsevec cannot have more than 16000 non-zero elements",
    );
    assert_err0(
        check_nnz(3, 2),
        ProgramLimitExceeded,
        "sparsevec cannot have more elements than dimensions",
    );
    assert_eq!(Kind::Sparsevec.max_dim(), SPARSEVEC_MAX_DIM);
    assert_eq!(
        (VECTOR_MAX_DIM, HALFVEC_MAX_DIM, SPARSEVEC_MAX_NNZ),
        (16000, 16000, 16000)
    );
}
