//! `vector` / `halfvec` text input and output, following pgvector's
//! regression tests (test/expected/vector_type.out, halfvec.out).

mod common;

use common::{assert_err, assert_err0};
use half::f16;
use ruvec_vector::text::{format_halfvec, format_vector, parse_halfvec, parse_vector};
use ruvec_vector::SqlState::*;

fn v(s: &str) -> String {
    format_vector(&parse_vector(s).unwrap())
}

fn h(s: &str) -> String {
    format_halfvec(&parse_halfvec(s).unwrap())
}

#[test]
fn vector_valid_inputs() {
    assert_eq!(v("[1,2,3]"), "[1,2,3]");
    assert_eq!(v("[-1,-2,-3]"), "[-1,-2,-3]");
    assert_eq!(v("[1.,2.,3.]"), "[1,2,3]");
    assert_eq!(v(" [ 1,  2 ,    3  ] "), "[1,2,3]");
    assert_eq!(v("[1.23456]"), "[1.23456]");
    assert_eq!(v("[1.5e38,-1.5e38]"), "[1.5e+38,-1.5e+38]");
    assert_eq!(v("[1.5e+38,-1.5e+38]"), "[1.5e+38,-1.5e+38]");
    assert_eq!(v("[1.5e-38,-1.5e-38]"), "[1.5e-38,-1.5e-38]");
    assert_eq!(v("[1e-46,1]"), "[0,1]");
    assert_eq!(v("[-1e-46,1]"), "[-0,1]");
    // strtof extras accepted by pgvector
    assert_eq!(v("[0x1p3, +1, -.5, 1e3, 0X.8]"), "[8,1,-0.5,1000,0.5]");
    assert_eq!(v("\t\n[\x0b1\x0c,\r2]\n"), "[1,2]");
}

#[test]
fn vector_syntax_errors() {
    let syn = |s: &str| format!("invalid input syntax for type vector: \"{s}\"");
    for s in [
        "[hello,1]",
        "[1,2,3",
        "[",
        "[ ",
        "[,",
        "[,]",
        "[1,]",
        "[1a]",
        "[1,,3]",
        "[1, ,3]",
        "[1e]",
        "[1e+]",
        "[ix]",
        "[+]",
        "[0x]",
        "[1 2]",
    ] {
        assert_err0(parse_vector(s), InvalidTextRepresentation, &syn(s));
    }
    assert_err(
        parse_vector("[1,2,3]9"),
        InvalidTextRepresentation,
        &syn("[1,2,3]9"),
        Some("Junk after closing right brace."),
    );
    for s in ["1,2,3", "", " ", "{1}", "x[1]"] {
        assert_err(
            parse_vector(s),
            InvalidTextRepresentation,
            &syn(s),
            Some("Vector contents must start with \"[\"."),
        );
    }
}

#[test]
fn vector_value_errors() {
    assert_err0(
        parse_vector("[NaN,1]"),
        InvalidTextRepresentation,
        "NaN not allowed in vector",
    );
    assert_err0(
        parse_vector("[nan(abc)]"),
        InvalidTextRepresentation,
        "NaN not allowed in vector",
    );
    assert_err0(
        parse_vector("[Infinity,1]"),
        InvalidTextRepresentation,
        "infinite value not allowed in vector",
    );
    assert_err0(
        parse_vector("[-Infinity,1]"),
        InvalidTextRepresentation,
        "infinite value not allowed in vector",
    );
    assert_err0(
        parse_vector("[-inf]"),
        InvalidTextRepresentation,
        "infinite value not allowed in vector",
    );
    // strtof reads "inf" out of "infin"; the value error comes before the junk.
    assert_err0(
        parse_vector("[infin]"),
        InvalidTextRepresentation,
        "infinite value not allowed in vector",
    );
    assert_err0(
        parse_vector("[4e38,1]"),
        NumericValueOutOfRange,
        "\"4e38\" is out of range for type vector",
    );
    assert_err0(
        parse_vector("[-4e38,1]"),
        NumericValueOutOfRange,
        "\"-4e38\" is out of range for type vector",
    );
    assert_err0(
        parse_vector("[1, 0x1p200]"),
        NumericValueOutOfRange,
        "\"0x1p200\" is out of range for type vector",
    );
    assert_err0(
        parse_vector("[]"),
        DataException,
        "vector must have at least 1 dimension",
    );
    assert_err0(
        parse_vector("[ ]"),
        DataException,
        "vector must have at least 1 dimension",
    );
    // The first error wins, as in pgvector.
    assert_err0(
        parse_vector("[NaN,4e38"),
        InvalidTextRepresentation,
        "NaN not allowed in vector",
    );
}

#[test]
fn vector_dimension_limit() {
    let ok = format!("[{}]", vec!["1"; 16000].join(","));
    assert_eq!(parse_vector(&ok).unwrap().len(), 16000);
    let too_many = format!("[{}]", vec!["1"; 16001].join(","));
    assert_err0(
        parse_vector(&too_many),
        ProgramLimitExceeded,
        "vector cannot have more than 16000 dimensions",
    );
    // pgvector checks the limit before parsing element 16001, even if it is junk.
    let junk = format!("[{},x", vec!["1"; 16000].join(","));
    assert_err0(
        parse_vector(&junk),
        ProgramLimitExceeded,
        "vector cannot have more than 16000 dimensions",
    );
}

#[test]
fn vector_input_is_a_c_string() {
    assert_eq!(v("[1]\0junk"), "[1]");
    assert_err(
        parse_vector("\0[1]"),
        InvalidTextRepresentation,
        "invalid input syntax for type vector: \"\"",
        Some("Vector contents must start with \"[\"."),
    );
}

#[test]
fn vector_output_format() {
    assert_eq!(format_vector(&[1.0, 2.5, -3e-5]), "[1,2.5,-3e-05]");
    assert_eq!(
        format_vector(&[0.0, -0.0, 1e6, 123456.0, 0.0001]),
        "[0,-0,1e+06,123456,0.0001]"
    );
    assert_eq!(
        format_vector(&[f32::MAX, f32::from_bits(1)]),
        "[3.4028235e+38,1e-45]"
    );
}

#[test]
fn halfvec_valid_inputs() {
    assert_eq!(h("[1,2,3]"), "[1,2,3]");
    assert_eq!(h("[-1,-2,-3]"), "[-1,-2,-3]");
    assert_eq!(h(" [ 1,  2 ,    3  ] "), "[1,2,3]");
    assert_eq!(h("[1.23456]"), "[1.234375]");
    assert_eq!(h("[65519,-65519]"), "[65504,-65504]");
    assert_eq!(h("[1e-8,-1e-8]"), "[0,-0]");
    assert_eq!(h("[1e-46,1]"), "[0,1]");
    assert_eq!(h("[6e-8]"), "[5.9604645e-08]");
    assert_eq!(h("[0.1]"), "[0.099975586]");
}

#[test]
fn halfvec_errors() {
    let syn = |s: &str| format!("invalid input syntax for type halfvec: \"{s}\"");
    assert_err0(
        parse_halfvec("[hello,1]"),
        InvalidTextRepresentation,
        &syn("[hello,1]"),
    );
    assert_err0(
        parse_halfvec("[NaN,1]"),
        InvalidTextRepresentation,
        "NaN not allowed in halfvec",
    );
    assert_err0(
        parse_halfvec("[Infinity,1]"),
        InvalidTextRepresentation,
        "infinite value not allowed in halfvec",
    );
    assert_err0(
        parse_halfvec("[-Infinity,1]"),
        InvalidTextRepresentation,
        "infinite value not allowed in halfvec",
    );
    assert_err0(
        parse_halfvec("[65520,-65520]"),
        NumericValueOutOfRange,
        "\"65520\" is out of range for type halfvec",
    );
    assert_err0(
        parse_halfvec("[70000]"),
        NumericValueOutOfRange,
        "\"70000\" is out of range for type halfvec",
    );
    assert_err0(
        parse_halfvec("[4e38,1]"),
        NumericValueOutOfRange,
        "\"4e38\" is out of range for type halfvec",
    );
    assert_err0(
        parse_halfvec("[1,2,3"),
        InvalidTextRepresentation,
        &syn("[1,2,3"),
    );
    assert_err(
        parse_halfvec("[1,2,3]9"),
        InvalidTextRepresentation,
        &syn("[1,2,3]9"),
        Some("Junk after closing right brace."),
    );
    assert_err(
        parse_halfvec("1,2,3"),
        InvalidTextRepresentation,
        &syn("1,2,3"),
        Some("Vector contents must start with \"[\"."),
    );
    assert_err0(
        parse_halfvec("[]"),
        DataException,
        "halfvec must have at least 1 dimension",
    );
    let too_many = format!("[{}]", vec!["1"; 16001].join(","));
    assert_err0(
        parse_halfvec(&too_many),
        ProgramLimitExceeded,
        "halfvec cannot have more than 16000 dimensions",
    );
}

#[test]
fn halfvec_output_is_float4_of_the_half() {
    let v = [
        f16::from_f32(0.1),
        f16::MAX,
        f16::from_bits(1),
        f16::NEG_ZERO,
    ];
    assert_eq!(format_halfvec(&v), "[0.099975586,65504,5.9604645e-08,-0]");
}
