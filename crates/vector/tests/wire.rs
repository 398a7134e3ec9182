//! Binary send/receive: byte layout and pgvector's validation order.

mod common;

use common::assert_err0;
use half::f16;
use ruvec_vector::wire::*;
use ruvec_vector::SqlState::*;

fn dense_buf(dim: i16, unused: i16, elems: &[u32]) -> Vec<u8> {
    let mut b = dim.to_be_bytes().to_vec();
    b.extend_from_slice(&unused.to_be_bytes());
    for e in elems {
        b.extend_from_slice(&e.to_be_bytes());
    }
    b
}

fn sparse_buf(dim: i32, nnz: i32, unused: i32, idx: &[i32], vals: &[f32]) -> Vec<u8> {
    let mut b = Vec::new();
    for x in [dim, nnz, unused].iter().chain(idx) {
        b.extend_from_slice(&x.to_be_bytes());
    }
    for v in vals {
        b.extend_from_slice(&v.to_bits().to_be_bytes());
    }
    b
}

#[test]
fn vector_layout_matches_pgvector() {
    // vector_send('[1,2]') = \x000200003f80000040000000
    assert_eq!(
        send_vector(&[1.0, 2.0]),
        [0, 2, 0, 0, 0x3f, 0x80, 0, 0, 0x40, 0, 0, 0]
    );
    assert_eq!(
        recv_vector(&send_vector(&[1.0, -0.0])).unwrap()[1].to_bits(),
        0x8000_0000
    );
}

#[test]
fn halfvec_layout() {
    let v = [f16::from_f32(1.0), f16::from_f32(-2.0)];
    assert_eq!(send_halfvec(&v), [0, 2, 0, 0, 0x3c, 0x00, 0xc0, 0x00]);
    assert_eq!(recv_halfvec(&send_halfvec(&v)).unwrap(), v);
}

#[test]
fn sparsevec_layout() {
    let b = send_sparsevec(5, &[0, 2], &[1.5, 2.0]);
    assert_eq!(b, sparse_buf(5, 2, 0, &[0, 2], &[1.5, 2.0]));
    let s = recv_sparsevec(&b).unwrap();
    assert_eq!(
        (s.dim, s.indices, s.values),
        (5, vec![0, 2], vec![1.5, 2.0])
    );
}

#[test]
fn vector_recv_errors() {
    let one = 1f32.to_bits();
    assert_err0(
        recv_vector(&dense_buf(0, 0, &[])),
        DataException,
        "vector must have at least 1 dimension",
    );
    assert_err0(
        recv_vector(&dense_buf(-1, 0, &[])),
        DataException,
        "vector must have at least 1 dimension",
    );
    assert_err0(
        recv_vector(&dense_buf(16001, 0, &[])),
        ProgramLimitExceeded,
        "vector cannot have more than 16000 dimensions",
    );
    assert_err0(
        recv_vector(&dense_buf(1, 1, &[one])),
        DataException,
        "expected unused to be 0, not 1",
    );
    assert_err0(
        recv_vector(&dense_buf(1, -1, &[one])),
        DataException,
        "expected unused to be 0, not -1",
    );
    assert_err0(
        recv_vector(&dense_buf(2, 0, &[one, 0x7fc0_0000])),
        InvalidParameterValue,
        "NaN not allowed in vector",
    );
    assert_err0(
        recv_vector(&dense_buf(1, 0, &[0xff80_0000])),
        InvalidParameterValue,
        "infinite value not allowed in vector",
    );
    // element errors are raised as elements are read, before running short
    assert_err0(
        recv_vector(&dense_buf(3, 0, &[0x7f80_0000])),
        InvalidParameterValue,
        "infinite value not allowed in vector",
    );
    assert_err0(
        recv_vector(&dense_buf(2, 0, &[one])),
        InvalidBinaryRepresentation,
        "insufficient data left in message",
    );
    assert_err0(
        recv_vector(&[0]),
        InvalidBinaryRepresentation,
        "insufficient data left in message",
    );
    assert_err0(
        recv_vector(&[]),
        InvalidBinaryRepresentation,
        "insufficient data left in message",
    );
    let mut long = dense_buf(1, 0, &[one]);
    long.push(0);
    assert_err0(
        recv_vector(&long),
        InvalidBinaryRepresentation,
        "incorrect binary data format",
    );
}

#[test]
fn typmod_is_checked_between_dim_and_unused() {
    let b = dense_buf(2, 5, &[0, 0]);
    assert_err0(
        recv_vector_typmod(&b, 3),
        DataException,
        "expected 3 dimensions, not 2",
    );
    assert_err0(
        recv_vector_typmod(&b, 2),
        DataException,
        "expected unused to be 0, not 5",
    );
    assert_eq!(
        recv_vector_typmod(&dense_buf(2, 0, &[0, 0]), 2).unwrap(),
        vec![0.0, 0.0]
    );
    assert_err0(
        recv_halfvec_typmod(&send_halfvec(&[f16::ONE]), 2),
        DataException,
        "expected 2 dimensions, not 1",
    );
    let s = send_sparsevec(4, &[1], &[1.0]);
    assert_err0(
        recv_sparsevec_typmod(&s, 5),
        DataException,
        "expected 5 dimensions, not 4",
    );
    assert!(recv_sparsevec_typmod(&s, 4).is_ok());
}

#[test]
fn halfvec_recv_errors() {
    let mut b = vec![0, 2, 0, 0, 0x3c, 0x00, 0x7e, 0x00];
    assert_err0(
        recv_halfvec(&b),
        InvalidParameterValue,
        "NaN not allowed in halfvec",
    );
    b[6] = 0xfc;
    assert_err0(
        recv_halfvec(&b),
        InvalidParameterValue,
        "infinite value not allowed in halfvec",
    );
    assert_err0(
        recv_halfvec(&[0x3e, 0x81, 0, 0]),
        ProgramLimitExceeded,
        "halfvec cannot have more than 16000 dimensions",
    );
    assert_err0(
        recv_halfvec(&[0, 0, 0, 0]),
        DataException,
        "halfvec must have at least 1 dimension",
    );
    assert_err0(
        recv_halfvec(&[0, 1, 0, 0, 0x3c]),
        InvalidBinaryRepresentation,
        "insufficient data left in message",
    );
}

#[test]
fn sparsevec_recv_errors() {
    let e = |b: Vec<u8>, st, m: &str| assert_err0(recv_sparsevec(&b), st, m);
    e(
        sparse_buf(0, 0, 0, &[], &[]),
        DataException,
        "sparsevec must have at least 1 dimension",
    );
    e(
        sparse_buf(1_000_000_001, 0, 0, &[], &[]),
        ProgramLimitExceeded,
        "sparsevec cannot have more than 1000000000 dimensions",
    );
    e(
        sparse_buf(5, -1, 0, &[], &[]),
        DataException,
        "sparsevec cannot have negative number of elements",
    );
    e(
        sparse_buf(20000, 16001, 0, &[], &[]),
        ProgramLimitExceeded,
        "sparsevec cannot have more than 16000 non-zero elements",
    );
    e(
        sparse_buf(2, 3, 0, &[], &[]),
        ProgramLimitExceeded,
        "sparsevec cannot have more elements than dimensions",
    );
    e(
        sparse_buf(5, 1, 7, &[0], &[1.0]),
        DataException,
        "expected unused to be 0, not 7",
    );
    e(
        sparse_buf(5, 1, 0, &[5], &[1.0]),
        DataException,
        "sparsevec index out of bounds",
    );
    e(
        sparse_buf(5, 1, 0, &[-1], &[1.0]),
        DataException,
        "sparsevec index out of bounds",
    );
    e(
        sparse_buf(5, 2, 0, &[3, 1], &[1.0, 1.0]),
        DataException,
        "sparsevec indices must be in ascending order",
    );
    e(
        sparse_buf(5, 2, 0, &[1, 1], &[1.0, 1.0]),
        DataException,
        "sparsevec indices must not contain duplicates",
    );
    e(
        sparse_buf(5, 1, 0, &[1], &[0.0]),
        DataException,
        "binary representation of sparsevec cannot contain zero values",
    );
    e(
        sparse_buf(5, 1, 0, &[1], &[-0.0]),
        DataException,
        "binary representation of sparsevec cannot contain zero values",
    );
    e(
        sparse_buf(5, 1, 0, &[1], &[f32::NAN]),
        InvalidParameterValue,
        "NaN not allowed in sparsevec",
    );
    e(
        sparse_buf(5, 1, 0, &[1], &[f32::INFINITY]),
        InvalidParameterValue,
        "infinite value not allowed in sparsevec",
    );
    e(
        sparse_buf(5, 2, 0, &[1, 2], &[1.0]),
        InvalidBinaryRepresentation,
        "insufficient data left in message",
    );
    let mut long = sparse_buf(5, 1, 0, &[1], &[1.0]);
    long.extend_from_slice(&[0, 0]);
    e(
        long,
        InvalidBinaryRepresentation,
        "incorrect binary data format",
    );
    // empty sparse vector is fine
    assert_eq!(
        recv_sparsevec(&sparse_buf(3, 0, 0, &[], &[])).unwrap().dim,
        3
    );
}
