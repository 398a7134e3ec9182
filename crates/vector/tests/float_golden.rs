//! `write_f32` against a golden table produced by PostgreSQL 15's
//! `float4::text` (see `data/gen_float4_golden.py`).

use ruvec_vector::float_text::{f32_to_string, write_f32};
use ruvec_vector::text::parse_vector;

const GOLDEN: &str = include_str!("data/float4_golden.txt");

fn rows() -> impl Iterator<Item = (u32, &'static str)> {
    GOLDEN
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (h, t) = l.split_once(' ').expect("row has two fields");
            (u32::from_str_radix(h, 16).expect("hex bits"), t)
        })
}

#[test]
fn golden_table_is_complete() {
    assert_eq!(rows().count(), 20000);
    // The table covers both notations, signs, zero and subnormals.
    assert!(rows().any(|(_, t)| t.contains("e+")));
    assert!(rows().any(|(_, t)| t.contains("e-")));
    assert!(rows().any(|(_, t)| t.starts_with('-')));
    assert!(rows().any(|(b, _)| b & 0x7f80_0000 == 0 && b & 0x7f_ffff != 0));
}

#[test]
fn write_f32_matches_postgres() {
    let mut failures = Vec::new();
    let mut buf = String::new();
    for (bits, expected) in rows() {
        buf.clear();
        write_f32(&mut buf, f32::from_bits(bits));
        if buf != expected {
            failures.push(format!("{bits:08x}: postgres {expected}, ours {buf}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
}

#[test]
fn postgres_text_parses_back_to_the_same_bits() {
    for (bits, text) in rows() {
        let v = parse_vector(&format!("[{text}]")).unwrap();
        assert_eq!(v[0].to_bits(), bits, "{text}");
    }
}

#[test]
fn known_postgres_outputs() {
    // Cases where plain shortest round-trip formatting differs from
    // PostgreSQL (boundary values and exact ties).
    assert_eq!(f32_to_string(f32::from_bits(0x4cbebc14)), "9.9999904e+07");
    assert_eq!(f32_to_string(f32::from_bits(0x49b14cea)), "1.4524452e+06");
    assert_eq!(f32_to_string(f32::from_bits(0x51c1b710)), "1.03999996e+11");
    assert_eq!(f32_to_string(f32::from_bits(0x4f24ddd0)), "2.7660001e+09");
}
