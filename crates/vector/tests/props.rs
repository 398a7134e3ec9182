//! Property tests: parsers never panic; valid values round-trip exactly
//! through text and binary formats.

use half::f16;
use proptest::prelude::*;
use ruvec_vector::limits::Kind;
use ruvec_vector::ops::{cmp_f32, concat, subvector};
use ruvec_vector::text::*;
use ruvec_vector::wire::*;

const ALPHABET: &[char] = &[
    '[', ']', '{', '}', ':', '/', ',', '.', '-', '+', 'e', 'E', '0', '1', '2', '3', '4', '5', '6',
    '7', '8', '9', ' ', 'n', 'a', 'i', 'f', 'N', 'I', 'F', '\t', 'x', 'p', '(', ')', '\0',
];

fn grammar_string() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..48)
        .prop_map(|v| v.into_iter().collect())
}

fn finite_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        // any bit pattern, with an all-ones exponent (inf/NaN) made finite
        any::<u32>().prop_map(|b| {
            let x = f32::from_bits(b);
            if x.is_finite() {
                x
            } else {
                f32::from_bits(b & !0x4000_0000)
            }
        }),
        -1000.0f32..1000.0,
        Just(0.0f32),
        Just(-0.0f32),
    ]
}

fn finite_f16() -> impl Strategy<Value = f16> {
    any::<u16>().prop_map(|b| {
        let h = f16::from_bits(b);
        if h.is_finite() {
            h
        } else {
            f16::from_bits(b & !0x4000)
        }
    })
}

fn sparse() -> impl Strategy<Value = SparseVec> {
    (1u32..=1_000_000_000).prop_flat_map(|dim| {
        let max = dim.min(64) as usize;
        (
            Just(dim),
            prop::collection::btree_set(0..dim, 0..=max),
            prop::collection::vec(
                finite_f32().prop_map(|x| if x == 0.0 { 1.0 } else { x }),
                64,
            ),
        )
            .prop_map(|(dim, idx, vals)| {
                let indices: Vec<u32> = idx.into_iter().collect();
                let values = vals[..indices.len()].to_vec();
                SparseVec {
                    dim,
                    indices,
                    values,
                }
            })
    })
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn parsers_never_panic_on_grammar_strings(s in grammar_string()) {
        let _ = parse_vector(&s);
        let _ = parse_halfvec(&s);
        let _ = parse_sparsevec(&s);
    }

    #[test]
    fn parsers_never_panic_on_random_bytes(b in prop::collection::vec(any::<u8>(), 0..64)) {
        let s = String::from_utf8_lossy(&b);
        let _ = parse_vector(&s);
        let _ = parse_halfvec(&s);
        let _ = parse_sparsevec(&s);
        let _ = recv_vector(&b);
        let _ = recv_halfvec(&b);
        let _ = recv_sparsevec(&b);
    }

    #[test]
    fn recv_never_panics_on_plausible_headers(dim in -3i32..40, nnz in -3i32..40, body in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut d = (dim as i16).to_be_bytes().to_vec();
        d.extend_from_slice(&[0, 0]);
        d.extend_from_slice(&body);
        let _ = recv_vector(&d);
        let _ = recv_halfvec(&d);
        let mut s = dim.to_be_bytes().to_vec();
        s.extend_from_slice(&nnz.to_be_bytes());
        s.extend_from_slice(&[0, 0, 0, 0]);
        s.extend_from_slice(&body);
        let _ = recv_sparsevec(&s);
    }

    #[test]
    fn vector_text_round_trip(v in prop::collection::vec(finite_f32(), 1..64)) {
        let text = format_vector(&v);
        let back = parse_vector(&text).unwrap();
        prop_assert_eq!(bits(&back), bits(&v));
        // whitespace-padded input parses to the same value
        let padded = text.replace(',', " , ").replace('[', " [ ").replace(']', " ] ");
        prop_assert_eq!(bits(&parse_vector(&padded).unwrap()), bits(&v));
    }

    #[test]
    fn vector_binary_round_trip(v in prop::collection::vec(finite_f32(), 1..64)) {
        let b = send_vector(&v);
        prop_assert_eq!(b.len(), 4 + 4 * v.len());
        prop_assert_eq!(bits(&recv_vector(&b).unwrap()), bits(&v));
    }

    #[test]
    fn halfvec_round_trips(v in prop::collection::vec(finite_f16(), 1..64)) {
        let back = parse_halfvec(&format_halfvec(&v)).unwrap();
        prop_assert_eq!(back.iter().map(|h| h.to_bits()).collect::<Vec<_>>(), v.iter().map(|h| h.to_bits()).collect::<Vec<_>>());
        let back = recv_halfvec(&send_halfvec(&v)).unwrap();
        prop_assert_eq!(back, v);
    }

    #[test]
    fn sparse_round_trips(s in sparse()) {
        let text = format_sparsevec(s.dim, &s.indices, &s.values);
        let back = parse_sparsevec(&text).unwrap();
        prop_assert_eq!(back.dim, s.dim);
        prop_assert_eq!(&back.indices, &s.indices);
        prop_assert_eq!(bits(&back.values), bits(&s.values));
        let back = recv_sparsevec(&send_sparsevec(s.dim, &s.indices, &s.values)).unwrap();
        prop_assert_eq!(back.dim, s.dim);
        prop_assert_eq!(&back.indices, &s.indices);
        prop_assert_eq!(bits(&back.values), bits(&s.values));
    }

    #[test]
    fn shuffled_sparse_text_is_sorted(s in sparse(), seed in any::<u64>()) {
        let mut pairs: Vec<(u32, f32)> = s.indices.iter().copied().zip(s.values.iter().copied()).collect();
        // deterministic shuffle
        let mut x = seed | 1;
        for i in (1..pairs.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            pairs.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let body: Vec<String> = pairs.iter().map(|(i, v)| {
            let mut t = format!("{}:", i + 1);
            ruvec_vector::float_text::write_f32(&mut t, *v);
            t
        }).collect();
        let back = parse_sparsevec(&format!("{{{}}}/{}", body.join(","), s.dim)).unwrap();
        prop_assert_eq!(back.indices, s.indices);
    }

    #[test]
    fn subvector_and_concat_agree(v in prop::collection::vec(-10.0f32..10.0, 1..40), start in -5i32..45, count in -2i32..45) {
        match subvector(Kind::Vector, &v, start, count) {
            Ok(sv) => {
                let from = (start.max(1) - 1) as usize;
                prop_assert!(!sv.is_empty());
                prop_assert_eq!(&sv[..], &v[from..from + sv.len()]);
                let joined = concat(Kind::Vector, &v[..from], &sv).unwrap();
                prop_assert_eq!(cmp_f32(&joined, &v[..from + sv.len()]), std::cmp::Ordering::Equal);
            }
            Err(e) => prop_assert_eq!(e.message, "vector must have at least 1 dimension"),
        }
    }
}
