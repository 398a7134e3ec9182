//! Properties: encoders never panic on finite input and reject bad input with an error; codes
//! have the documented size; training is deterministic; PQ tables agree with decoding.

use proptest::prelude::*;
use ruvec_quant::{kmeans, Metric, Pq, PqBits, QuantError, Rbq, Sq8};

fn sample(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut r = ruvec_quant::SplitMix64::new(seed);
    (0..n * d).map(|_| r.normal() as f32).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn encoders_take_any_finite_vector(v in prop::collection::vec(-1e6f32..1e6, 16)) {
        let s = sample(300, 16, 1);
        let sq = Sq8::train(&s, 16).unwrap();
        prop_assert_eq!(sq.encode(&v).unwrap().len(), 16);
        // The prepared (vectorised) int8 distance equals the distance to the decoded vector.
        let code = sq.encode(&s[..16]).unwrap();
        let dec = sq.decode(&code);
        let l2: f32 = v.iter().zip(&dec).map(|(a, b)| (a - b) * (a - b)).sum();
        let ip: f32 = v.iter().zip(&dec).map(|(a, b)| a * b).sum();
        prop_assert!((sq.distance(Metric::L2, &v, &code) - l2).abs() <= 1e-3 * l2.max(1.0));
        // f32 rounding error is relative to the sum of the terms' magnitudes, not to their
        // sum, which can cancel to almost nothing (components up to 1e6 against a decoded
        // vector of about 1).
        let ip_scale: f32 = v.iter().zip(&dec).map(|(a, b)| (a * b).abs()).sum();
        prop_assert!((sq.distance(Metric::InnerProduct, &v, &code) + ip).abs() <= 1e-3 * ip_scale.max(1.0));
        for bits in [PqBits::Eight, PqBits::Four] {
            let pq = Pq::train(&s, 16, 5, bits, 3, 2).unwrap();
            let code = pq.encode(&v).unwrap();
            prop_assert_eq!(code.len(), pq.code_bytes());
            // ADC equals the exact distance to the decoded vector (4-bit codes: up to half a u8
            // table step per subvector, the fast-scan rounding).
            let t = pq.table(Metric::L2, &v).unwrap();
            let dec = pq.decode(&code);
            let direct: f32 = v.iter().zip(&dec).map(|(a, b)| (a - b) * (a - b)).sum();
            let rounding = if bits == PqBits::Four { 5.0 * t.quantized().1 * 0.5 } else { 0.0 };
            prop_assert!((t.distance(&code) - direct).abs() <= rounding + 1e-3 * direct.max(1.0));
        }
        let rb = Rbq::train(&s, 16, 3).unwrap();
        let code = rb.encode(&v).unwrap();
        prop_assert_eq!(code.len(), rb.code_bytes());
        let q = rb.query(Metric::L2, &v).unwrap();
        prop_assert!(rb.distance(&q, &code).is_finite());
    }
}

#[test]
fn bad_input_is_an_error() {
    let s = sample(50, 8, 1);
    assert!(matches!(
        Sq8::train(&s[..7], 8),
        Err(QuantError::BadSample { .. })
    ));
    assert!(matches!(
        Sq8::train(&[], 8),
        Err(QuantError::BadSample { .. })
    ));
    let sq = Sq8::train(&s, 8).unwrap();
    assert!(matches!(
        sq.encode(&[1.0; 7]),
        Err(QuantError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        sq.encode(&[f32::NAN; 8]),
        Err(QuantError::NonFinite)
    ));
    assert!(matches!(
        Pq::train(&s, 8, 9, PqBits::Eight, 2, 0),
        Err(QuantError::BadParameters(_))
    ));
    assert!(matches!(
        kmeans(&s, 8, 0, 2, 0),
        Err(QuantError::BadParameters(_))
    ));
}

#[test]
fn training_is_deterministic() {
    let s = sample(500, 12, 9);
    assert_eq!(
        Pq::train(&s, 12, 4, PqBits::Four, 5, 3).unwrap(),
        Pq::train(&s, 12, 4, PqBits::Four, 5, 3).unwrap()
    );
    assert_eq!(
        Rbq::train(&s, 12, 4).unwrap(),
        Rbq::train(&s, 12, 4).unwrap()
    );
}

#[test]
fn code_sizes_follow_the_format() {
    let s = sample(400, 128, 5);
    assert_eq!(Sq8::train(&s, 128).unwrap().code_bytes(), 128);
    assert_eq!(
        Pq::train(&s, 128, 32, PqBits::Eight, 2, 1)
            .unwrap()
            .code_bytes(),
        32 + 5
    );
    assert_eq!(
        Pq::train(&s, 128, 32, PqBits::Four, 2, 1)
            .unwrap()
            .code_bytes(),
        16 + 5
    );
    // 128 sign bits + 3 floats + coarse centroid: 29 bytes, 1/18 of the f32 vector.
    assert_eq!(Rbq::train(&s, 128, 1).unwrap().code_bytes(), 29);
}

#[test]
fn quantized_tables_preserve_order_roughly() {
    let s = sample(2000, 32, 6);
    let pq = Pq::train(&s, 32, 16, PqBits::Four, 10, 1).unwrap();
    let q = &s[..32];
    let t = pq.table(Metric::L2, q).unwrap();
    let (tab, scale, bias) = t.quantized();
    for row in s.chunks_exact(32).take(200) {
        let code = pq.encode(row).unwrap();
        let approx: f32 = bias
            + scale
                * (0..16)
                    .map(|j| {
                        f32::from(
                            tab[j * 16
                                + ((code[j / 2] >> if j % 2 == 0 { 0 } else { 4 }) & 15) as usize],
                        )
                    })
                    .sum::<f32>();
        // 16 tables, each rounded to half a step.
        assert!((approx - t.table_sum(&code)).abs() <= 16.0 * scale * 0.5 + 1e-3);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    /// Serialised quantizers read back equal, and any truncation or corruption of the bytes is
    /// an error (the index keeps these bytes in its pages), never a panic.
    #[test]
    fn serialisation_roundtrips_and_rejects_damage(cut in 0usize..64, flip in 0usize..4096) {
        let s = sample(300, 16, 5);
        let sq = Sq8::train(&s, 16).unwrap();
        let pq8 = Pq::train(&s, 16, 4, PqBits::Eight, 3, 2).unwrap();
        let pq4 = Pq::train(&s, 16, 8, PqBits::Four, 3, 2).unwrap();
        let rb = Rbq::train(&s, 16, 3).unwrap();
        prop_assert_eq!(Sq8::from_bytes(&sq.to_bytes()).unwrap(), sq.clone());
        prop_assert_eq!(Pq::from_bytes(&pq8.to_bytes()).unwrap(), pq8.clone());
        prop_assert_eq!(Pq::from_bytes(&pq4.to_bytes()).unwrap(), pq4.clone());
        prop_assert_eq!(Rbq::from_bytes(&rb.to_bytes()).unwrap(), rb.clone());
        for bytes in [sq.to_bytes(), pq8.to_bytes(), pq4.to_bytes(), rb.to_bytes()] {
            let short = &bytes[..bytes.len() - 1 - cut.min(bytes.len() - 1)];
            prop_assert!(Sq8::from_bytes(short).is_err());
            prop_assert!(Pq::from_bytes(short).is_err());
            prop_assert!(Rbq::from_bytes(short).is_err());
            // A damaged byte decodes to an error or to some valid quantizer: never a panic.
            let mut bad = bytes.clone();
            let i = flip % bad.len();
            bad[i] ^= 0xA5;
            let _ = Sq8::from_bytes(&bad);
            let _ = Pq::from_bytes(&bad);
            let _ = Rbq::from_bytes(&bad);
        }
    }

    /// Decoding a binary code gives a vector whose code is the same code's sign bits.
    #[test]
    fn binary_decode_keeps_signs(v in prop::collection::vec(-100f32..100.0, 16)) {
        let s = sample(300, 16, 8);
        let rb = Rbq::train(&s, 16, 3).unwrap();
        let code = rb.encode(&v).unwrap();
        let again = rb.encode(&rb.decode(&code)).unwrap();
        prop_assert_eq!(&again[..2], &code[..2]);
        // Rotated decoding preserves distances between decoded vectors.
        let w: Vec<f32> = v.iter().map(|x| x * 0.5 + 3.0).collect();
        let code2 = rb.encode(&w).unwrap();
        let (a, b) = (rb.decode(&code), rb.decode(&code2));
        let (ra, rb2) = (rb.decode_rotated(&code), rb.decode_rotated(&code2));
        let d: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        let dr: f32 = ra.iter().zip(&rb2).map(|(x, y)| (x - y) * (x - y)).sum();
        prop_assert!((d - dr).abs() <= 1e-3 * d.max(1.0), "{} vs {}", d, dr);
    }
}
