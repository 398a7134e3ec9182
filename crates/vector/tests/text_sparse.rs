//! `sparsevec` text input and output, following pgvector's regression
//! tests (test/expected/sparsevec.out).

mod common;

use common::{assert_err, assert_err0};
use ruvec_vector::text::{format_sparsevec, parse_sparsevec, SparseVec};
use ruvec_vector::SqlState::*;

fn s(t: &str) -> String {
    let v = parse_sparsevec(t).unwrap();
    format_sparsevec(v.dim, &v.indices, &v.values)
}

fn syn(t: &str) -> String {
    format!("invalid input syntax for type sparsevec: \"{t}\"")
}

#[test]
fn valid_inputs() {
    assert_eq!(s("{1:1.5,3:3.5}/5"), "{1:1.5,3:3.5}/5");
    assert_eq!(s("{1:-2,3:-4}/5"), "{1:-2,3:-4}/5");
    assert_eq!(s("{1:2.,3:4.}/5"), "{1:2,3:4}/5");
    assert_eq!(s(" { 1 : 1.5 ,  3  :  3.5  } / 5 "), "{1:1.5,3:3.5}/5");
    assert_eq!(s("{1:1.23456}/1"), "{1:1.23456}/1");
    assert_eq!(s("{1:1.5e38,2:-1.5e38}/2"), "{1:1.5e+38,2:-1.5e+38}/2");
    assert_eq!(s("{1:1.5e-38,2:-1.5e-38}/2"), "{1:1.5e-38,2:-1.5e-38}/2");
    assert_eq!(s("{}/1"), "{}/1");
    assert_eq!(s("{ }/1"), "{}/1");
    assert_eq!(s("{}/5"), "{}/5");
    assert_eq!(s("{}/1000000000"), "{}/1000000000");
    assert_eq!(s("{}/+7"), "{}/7");
    // zeros are dropped (before duplicate and bounds checks)
    assert_eq!(s("{1:0,2:1,3:0}/3"), "{2:1}/3");
    assert_eq!(s("{1:0,1:1}/2"), "{1:1}/2");
    assert_eq!(s("{9:0,2:-0}/2"), "{}/2");
    // sorted by index
    assert_eq!(s("{2:1,1:1}/2"), "{1:1,2:1}/2");
    assert_eq!(s("{3:3,1:1,2:2}/3"), "{1:1,2:2,3:3}/3");
}

#[test]
fn parsed_representation() {
    let v = parse_sparsevec("{3:2,1:1.5}/5").unwrap();
    assert_eq!(
        v,
        SparseVec {
            dim: 5,
            indices: vec![0, 2],
            values: vec![1.5, 2.0]
        }
    );
}

#[test]
fn value_errors() {
    assert_err0(
        parse_sparsevec("{1:hello,2:1}/2"),
        InvalidTextRepresentation,
        &syn("{1:hello,2:1}/2"),
    );
    assert_err0(
        parse_sparsevec("{1:NaN,2:1}/2"),
        InvalidTextRepresentation,
        "NaN not allowed in sparsevec",
    );
    assert_err0(
        parse_sparsevec("{1:Infinity,2:1}/2"),
        InvalidTextRepresentation,
        "infinite value not allowed in sparsevec",
    );
    assert_err0(
        parse_sparsevec("{1:-Infinity,2:1}/2"),
        InvalidTextRepresentation,
        "infinite value not allowed in sparsevec",
    );
    assert_err0(
        parse_sparsevec("{1:4e38,2:1}/2"),
        NumericValueOutOfRange,
        "\"4e38\" is out of range for type sparsevec",
    );
    assert_err0(
        parse_sparsevec("{1:-4e38,2:1}/2"),
        NumericValueOutOfRange,
        "\"-4e38\" is out of range for type sparsevec",
    );
    // underflow to zero is an error for sparsevec (unlike vector)
    assert_err0(
        parse_sparsevec("{1:1e-46,2:1}/2"),
        NumericValueOutOfRange,
        "\"1e-46\" is out of range for type sparsevec",
    );
    assert_err0(
        parse_sparsevec("{1:-1e-46,2:1}/2"),
        NumericValueOutOfRange,
        "\"-1e-46\" is out of range for type sparsevec",
    );
    assert_eq!(s("{1:0e-99}/1"), "{}/1");
}

#[test]
fn syntax_errors() {
    for t in [
        "{",
        "{ ",
        "{:",
        "{,",
        "{}/",
        "{:}/1",
        "{,}/1",
        "{1,}/1",
        "{:1}/1",
        "{1:}/1",
        "{1a:1}/1",
        "{1:1a}/1",
        "{1:1,}/1",
        "{1:1 2:1}/2",
    ] {
        assert_err0(parse_sparsevec(t), InvalidTextRepresentation, &syn(t));
    }
    for t in ["", "1:1}/1", "[1]"] {
        assert_err(
            parse_sparsevec(t),
            InvalidTextRepresentation,
            &syn(t),
            Some("Vector contents must start with \"{\"."),
        );
    }
    assert_err(
        parse_sparsevec("{}"),
        InvalidTextRepresentation,
        &syn("{}"),
        Some("Unexpected end of input."),
    );
    assert_err(
        parse_sparsevec("{1:1}5"),
        InvalidTextRepresentation,
        &syn("{1:1}5"),
        Some("Unexpected end of input."),
    );
    assert_err(
        parse_sparsevec("{}/1a"),
        InvalidTextRepresentation,
        &syn("{}/1a"),
        Some("Junk after closing."),
    );
}

#[test]
fn dimension_errors() {
    let few = "sparsevec must have at least 1 dimension";
    let many = "sparsevec cannot have more than 1000000000 dimensions";
    assert_err0(parse_sparsevec("{}/-1"), DataException, few);
    assert_err0(parse_sparsevec("{}/0"), DataException, few);
    assert_err0(parse_sparsevec("{}/1000000001"), ProgramLimitExceeded, many);
    assert_err0(parse_sparsevec("{}/2147483648"), ProgramLimitExceeded, many);
    assert_err0(parse_sparsevec("{}/-2147483649"), DataException, few);
    assert_err0(
        parse_sparsevec("{}/9223372036854775808"),
        ProgramLimitExceeded,
        many,
    );
    assert_err0(
        parse_sparsevec("{}/-9223372036854775809"),
        DataException,
        few,
    );
}

#[test]
fn index_errors() {
    let oob = "sparsevec index out of bounds";
    for t in [
        "{2147483647:1}/1",
        "{2147483648:1}/1",
        "{-2147483648:1}/1",
        "{-2147483649:1}/1",
        "{0:1}/1",
        "{2:1}/1",
    ] {
        assert_err0(parse_sparsevec(t), DataException, oob);
    }
    let dup = "sparsevec indices must not contain duplicates";
    assert_err0(parse_sparsevec("{1:1,1:1}/2"), DataException, dup);
    assert_err0(parse_sparsevec("{1:1,2:1,1:1}/2"), DataException, dup);
    // dimension errors come before index errors
    assert_err0(
        parse_sparsevec("{5:1}/0"),
        DataException,
        "sparsevec must have at least 1 dimension",
    );
}

#[test]
fn nnz_limit_counts_commas_first() {
    let body: Vec<String> = (1..=16000).map(|i| format!("{i}:1")).collect();
    let ok = format!("{{{}}}/16000", body.join(","));
    assert_eq!(parse_sparsevec(&ok).unwrap().indices.len(), 16000);
    let too_many = format!("{{{},16001:1}}/16001", body.join(","));
    let msg = "sparsevec cannot have more than 16000 non-zero elements";
    assert_err0(parse_sparsevec(&too_many), ProgramLimitExceeded, msg);
    // pgvector counts commas in the whole literal before anything else
    assert_err0(
        parse_sparsevec(&format!("x{}", ",".repeat(16000))),
        ProgramLimitExceeded,
        msg,
    );
}

#[test]
fn output_format() {
    assert_eq!(format_sparsevec(5, &[0, 2], &[1.5, 2.0]), "{1:1.5,3:2}/5");
    assert_eq!(format_sparsevec(3, &[], &[]), "{}/3");
    assert_eq!(
        format_sparsevec(1_000_000_000, &[999_999_999], &[-3e-5]),
        "{1000000000:-3e-05}/1000000000"
    );
}
