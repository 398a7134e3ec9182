//! PostgreSQL-compatible `float4` output.
//!
//! PostgreSQL (12+, `extra_float_digits` > 0, the default) prints a `real`
//! with the shortest decimal digit string that reads back to the same
//! value (Ryu), laid out like C's `%g`: fixed notation when the decimal
//! exponent `e` of the first significant digit satisfies `-4 <= e < 6`,
//! otherwise scientific notation with an explicit exponent sign and at
//! least two exponent digits. pgvector uses the same routine for every
//! element of `vector`, `halfvec` (after widening to `float4`) and
//! `sparsevec`.
//!
//! The digits are PostgreSQL's Ryu digits (the shortest decimal strictly
//! inside the float's rounding interval, nearest to the value, ties to
//! even), computed by the private `shortest` module. A golden table captured from a
//! PostgreSQL 15 server (`tests/data/float4_golden.txt`) checks the result.

use std::fmt::Write;

use crate::shortest::pg_digits;

/// Append the PostgreSQL `float4out` text of `x` to `out`.
///
/// Non-finite values print as PostgreSQL does (`NaN`, `Infinity`,
/// `-Infinity`), although vector values never contain them.
pub fn write_f32(out: &mut String, x: f32) {
    if x.is_nan() {
        out.push_str("NaN");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if x == 0.0 {
        out.push_str(if x.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    if x < 0.0 {
        out.push('-');
    }
    let mut buf = [0u8; 16];
    let (n, exp) = pg_digits(x.abs(), &mut buf);
    let digits = &buf[..n];
    // All pushes below are ASCII digits, '.', 'e', '+', '-'.
    let push_digits = |out: &mut String, d: &[u8]| {
        for &c in d {
            out.push(c as char);
        }
    };

    if (-4..6).contains(&exp) {
        if exp >= 0 {
            let int_len = (exp + 1) as usize;
            if digits.len() <= int_len {
                push_digits(out, digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
            } else {
                push_digits(out, &digits[..int_len]);
                out.push('.');
                push_digits(out, &digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            push_digits(out, digits);
        }
    } else {
        push_digits(out, &digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            push_digits(out, &digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push('0');
        }
        let _ = write!(out, "{a}");
    }
}

/// Convenience wrapper around [`write_f32`].
pub fn f32_to_string(x: f32) -> String {
    let mut s = String::with_capacity(16);
    write_f32(&mut s, x);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(x: f32) -> String {
        f32_to_string(x)
    }

    #[test]
    fn notation_thresholds() {
        assert_eq!(t(0.0), "0");
        assert_eq!(t(-0.0), "-0");
        assert_eq!(t(1.0), "1");
        assert_eq!(t(100.0), "100");
        assert_eq!(t(123456.0), "123456");
        assert_eq!(t(999999.0), "999999");
        assert_eq!(t(1e6), "1e+06");
        assert_eq!(t(1234567.0), "1.234567e+06");
        assert_eq!(t(1e7), "1e+07");
        assert_eq!(t(0.0001), "0.0001");
        assert_eq!(t(0.000123), "0.000123");
        assert_eq!(t(0.00001), "1e-05");
        assert_eq!(t(-0.5), "-0.5");
        assert_eq!(t(1.5), "1.5");
        assert_eq!(t(-3e-5), "-3e-05");
        assert_eq!(t(f32::MAX), "3.4028235e+38");
        assert_eq!(t(-f32::MAX), "-3.4028235e+38");
        assert_eq!(t(f32::from_bits(1)), "1e-45");
        assert_eq!(t(1.5e38), "1.5e+38");
        assert_eq!(t(1.5e-38), "1.5e-38");
        assert_eq!(t(1.23456), "1.23456");
    }

    #[test]
    fn non_finite() {
        assert_eq!(t(f32::NAN), "NaN");
        assert_eq!(t(f32::INFINITY), "Infinity");
        assert_eq!(t(f32::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn appends() {
        let mut s = String::from("[");
        write_f32(&mut s, 2.5);
        s.push(',');
        write_f32(&mut s, 1e10);
        assert_eq!(s, "[2.5,1e+10");
    }
}
