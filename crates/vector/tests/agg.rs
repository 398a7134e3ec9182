//! avg/sum aggregate state (pgvector's vector_accum / vector_combine /
//! vector_avg / halfvec_avg regression cases).

mod common;

use common::assert_err0;
use half::f16;
use ruvec_vector::limits::Kind;
use ruvec_vector::ops::*;
use ruvec_vector::text::format_vector;
use ruvec_vector::SqlState::*;

#[test]
fn accumulate_and_average() {
    let mut st = vec![0.0];
    accum(&mut st, &[1., 2., 3.]).unwrap();
    assert_eq!(st, [1., 1., 2., 3.]);
    accum(&mut st, &[3., 5., 7.]).unwrap();
    assert_eq!(st, [2., 4., 7., 10.]);
    assert_eq!(
        format_vector(&avg_from_state(&st).unwrap().unwrap()),
        "[2,3.5,5]"
    );
    assert_eq!(sum_from_state(&st).unwrap().unwrap(), [4., 7., 10.]);
}

#[test]
fn empty_state_is_initial() {
    let mut st = Vec::new();
    accum(&mut st, &[1., 2.]).unwrap();
    assert_eq!(st, [1., 1., 2.]);
    assert_eq!(avg_from_state(&[]).unwrap(), None);
    assert_eq!(avg_from_state(&[0.0]).unwrap(), None);
    assert_eq!(sum_from_state(&[0.0]).unwrap(), None);
    assert_eq!(avg_from_state_f16(&[]).unwrap(), None);
}

#[test]
fn accum_existing_state_shapes() {
    // vector_accum('{0,0,0,0}', '[1,2,3]') = {1,1,2,3}
    let mut st = vec![0., 0., 0., 0.];
    accum(&mut st, &[1., 2., 3.]).unwrap();
    assert_eq!(st, [1., 1., 2., 3.]);
    // vector_accum('{0,0}', '[1,2,3]'): expected 1 dimensions, not 3
    let mut st = vec![0., 0.];
    assert_err0(
        accum(&mut st, &[1., 2., 3.]),
        DataException,
        "expected 1 dimensions, not 3",
    );
    assert_eq!(st, [0., 0.], "state unchanged on error");
    let mut st = vec![1., 1., 2.];
    assert_err0(
        accum(&mut st, &[3.]),
        DataException,
        "expected 2 dimensions, not 1",
    );
}

#[test]
fn accum_overflow() {
    // An f32 addend cannot overflow a finite f64 sum; only a crafted state can.
    let mut st = vec![1., 0., f64::INFINITY];
    assert_err0(
        accum(&mut st, &[1., 1.]),
        NumericValueOutOfRange,
        "value out of range: overflow",
    );
    assert_eq!(st, [1., 0., f64::INFINITY]);
    // f32 overflow is fine in the f64 state: avg of [3e38] and [3e38] is [3e38]
    let mut st = vec![0.0];
    accum(&mut st, &[3e38]).unwrap();
    accum(&mut st, &[3e38]).unwrap();
    assert_eq!(
        format_vector(&avg_from_state(&st).unwrap().unwrap()),
        "[3e+38]"
    );
    assert_err0(
        sum_from_state(&st),
        NumericValueOutOfRange,
        "value out of range: overflow",
    );
}

#[test]
fn avg_errors() {
    // vector_avg('{2,2,4,6}') = [1,2,3]
    assert_eq!(
        avg_from_state(&[2., 2., 4., 6.]).unwrap().unwrap(),
        [1., 2., 3.]
    );
    assert_err0(
        avg_from_state(&[1.]),
        DataException,
        "vector must have at least 1 dimension",
    );
    assert_err0(
        avg_from_state_kind(Kind::Halfvec, &[1.]),
        DataException,
        "halfvec must have at least 1 dimension",
    );
    assert_err0(
        avg_from_state_f16(&[1.]),
        DataException,
        "halfvec must have at least 1 dimension",
    );
    let big: Vec<f64> = (1..=16002).map(f64::from).collect();
    assert_err0(
        avg_from_state(&big),
        ProgramLimitExceeded,
        "vector cannot have more than 16000 dimensions",
    );
    assert_err0(
        avg_from_state_f16(&big),
        ProgramLimitExceeded,
        "halfvec cannot have more than 16000 dimensions",
    );
    assert_err0(
        avg_from_state(&[1., 1e300]),
        InvalidParameterValue,
        "infinite value not allowed in vector",
    );
    assert_err0(
        avg_from_state_kind(Kind::Halfvec, &[1., 1e300]),
        InvalidParameterValue,
        "infinite value not allowed in halfvec",
    );
}

#[test]
fn halfvec_average() {
    assert_eq!(
        avg_from_state_f16(&[2., 65504., 2.]).unwrap().unwrap(),
        [f16::from_f32(32752.), f16::ONE]
    );
    assert_err0(
        avg_from_state_f16(&[1., 70000.]),
        NumericValueOutOfRange,
        "\"70000\" is out of range for type halfvec",
    );
    assert_err0(
        avg_from_state_f16(&[1., 1e300]),
        InvalidParameterValue,
        "infinite value not allowed in halfvec",
    );
}

#[test]
fn combine_states() {
    // vector_combine('{1,2}', '{3,4}') = {4,6}
    let mut a = vec![1., 2.];
    combine(&mut a, &[3., 4.]).unwrap();
    assert_eq!(a, [4., 6.]);
    let mut a = vec![1., 2.];
    assert_err0(
        combine(&mut a, &[3., 4., 5.]),
        DataException,
        "expected 1 dimensions, not 2",
    );
    assert_eq!(a, [1., 2.]);
    let mut a = vec![0.];
    combine(&mut a, &[0.]).unwrap();
    assert_eq!(a, [0.]);
    let mut a = vec![0.];
    combine(&mut a, &[2., 1., 2.]).unwrap();
    assert_eq!(a, [2., 1., 2.]);
    let mut a = vec![2., 1., 2.];
    combine(&mut a, &[3.]).unwrap();
    assert_eq!(a, [5., 1., 2.]);
    let big: Vec<f64> = (1..=16002).map(f64::from).collect();
    let msg = "vector cannot have more than 16000 dimensions";
    assert_err0(combine(&mut vec![0.], &big), ProgramLimitExceeded, msg);
    assert_err0(combine(&mut big.clone(), &[0.]), ProgramLimitExceeded, msg);
    assert_err0(combine(&mut big.clone(), &big), ProgramLimitExceeded, msg);
    let mut a = vec![1., f64::MAX];
    assert_err0(
        combine(&mut a, &[1., f64::MAX]),
        NumericValueOutOfRange,
        "value out of range: overflow",
    );
}
