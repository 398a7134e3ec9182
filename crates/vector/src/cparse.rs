//! Re-implementations of the C library number scanners pgvector relies on:
//! glibc `strtof` (in the "C" locale, which PostgreSQL forces for
//! `LC_NUMERIC`) and `strtol(.., 10)` with a 64-bit `long`.
//!
//! Only the observable behaviour pgvector depends on is modelled: how many
//! bytes are consumed, the value, and whether `errno` would be `ERANGE`
//! for results that overflowed to infinity or underflowed to zero.

/// C `isspace` in the "C" locale (also PostgreSQL < 17 `vector_isspace`).
pub(crate) fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn skip_space(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    i
}

/// Result of [`strtof`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FloatScan {
    pub value: f32,
    /// Bytes consumed, counted from the start of the input (`endptr - nptr`).
    pub len: usize,
    /// `errno == ERANGE` with a result of ±inf (overflow) or ±0 (underflow).
    /// glibc also sets `ERANGE` for inexact subnormal results; pgvector only
    /// looks at `ERANGE` together with an infinite or zero value, so that
    /// case is not modelled and reported as `false`.
    pub erange: bool,
}

fn starts_with_ci(s: &[u8], pat: &[u8]) -> bool {
    s.len() >= pat.len() && s[..pat.len()].eq_ignore_ascii_case(pat)
}

/// glibc `strtof` semantics. `None` means "no conversion" (`endptr == nptr`).
pub(crate) fn strtof(s: &[u8]) -> Option<FloatScan> {
    let tok_start = skip_space(s, 0);
    let mut i = tok_start;
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let rest = &s[i..];
    let signed = |v: f32| if neg { -v } else { v };

    if starts_with_ci(rest, b"inf") {
        let n = if starts_with_ci(rest, b"infinity") {
            8
        } else {
            3
        };
        return Some(FloatScan {
            value: signed(f32::INFINITY),
            len: i + n,
            erange: false,
        });
    }
    if starts_with_ci(rest, b"nan") {
        let mut n = 3;
        if rest.get(3) == Some(&b'(') {
            let mut k = 4;
            while k < rest.len() && (rest[k].is_ascii_alphanumeric() || rest[k] == b'_') {
                k += 1;
            }
            if rest.get(k) == Some(&b')') {
                n = k + 1;
            }
        }
        return Some(FloatScan {
            value: signed(f32::NAN),
            len: i + n,
            erange: false,
        });
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        if let Some((bits, n, erange)) = scan_hex(&rest[2..]) {
            return Some(FloatScan {
                value: signed(f32::from_bits(bits)),
                len: i + 2 + n,
                erange,
            });
        }
        // "0x" without hex digits: only the "0" is converted.
    }
    scan_decimal(s, tok_start, i)
}

fn scan_decimal(s: &[u8], tok_start: usize, sign_end: usize) -> Option<FloatScan> {
    let digits_at = |mut j: usize| {
        while j < s.len() && s[j].is_ascii_digit() {
            j += 1;
        }
        j
    };
    let mut j = digits_at(sign_end);
    let mut ndigits = j - sign_end;
    if s.get(j) == Some(&b'.') {
        let k = digits_at(j + 1);
        ndigits += k - (j + 1);
        j = k;
    }
    if ndigits == 0 {
        return None;
    }
    let mant_end = j;
    if matches!(s.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(s.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        let m = digits_at(k);
        if m > k {
            j = m;
        }
    }
    // Include the sign, if any: Rust's parser accepts the same grammar.
    let tok = std::str::from_utf8(&s[tok_start..j]).ok()?;
    let value: f32 = tok.parse().ok()?;
    let nonzero_digits = s[sign_end..mant_end]
        .iter()
        .any(|&c| c.is_ascii_digit() && c != b'0');
    let erange = value.is_infinite() || (value == 0.0 && nonzero_digits);
    Some(FloatScan {
        value,
        len: j,
        erange,
    })
}

fn hex_val(c: u8) -> Option<u64> {
    (c as char).to_digit(16).map(u64::from)
}

/// Scan the part of a hex float after "0x". Returns (abs bits, len, erange).
fn scan_hex(s: &[u8]) -> Option<(u32, usize, bool)> {
    let mut m: u64 = 0;
    let mut e: i64 = 0;
    let mut sticky = false;
    let mut any = false;
    let mut j = 0;
    while let Some(d) = s.get(j).and_then(|&c| hex_val(c)) {
        any = true;
        if m >> 56 == 0 {
            m = m * 16 + d;
        } else {
            sticky |= d != 0;
            e += 4;
        }
        j += 1;
    }
    if s.get(j) == Some(&b'.') {
        let mut k = j + 1;
        while let Some(d) = s.get(k).and_then(|&c| hex_val(c)) {
            any = true;
            if m >> 56 == 0 {
                m = m * 16 + d;
                e -= 4;
            } else {
                sticky |= d != 0;
            }
            k += 1;
        }
        if any {
            j = k;
        }
    }
    if !any {
        return None;
    }
    if matches!(s.get(j), Some(b'p' | b'P')) {
        let mut k = j + 1;
        let eneg = match s.get(k) {
            Some(b'-') => {
                k += 1;
                true
            }
            Some(b'+') => {
                k += 1;
                false
            }
            _ => false,
        };
        let start = k;
        let mut pexp: i64 = 0;
        while let Some(c) = s.get(k).filter(|c| c.is_ascii_digit()) {
            pexp = (pexp * 10 + i64::from(c - b'0')).min(1 << 40);
            k += 1;
        }
        if k > start {
            e = e.saturating_add(if eneg { -pexp } else { pexp });
            j = k;
        }
    }
    let (bits, erange) = compose_f32(m, sticky, e);
    Some((bits, j, erange))
}

/// Round `m * 2^e` (plus a sticky remainder below `m`'s last bit) to the
/// nearest `f32`, ties to even. Returns (abs bits, overflow or underflow
/// to zero).
///
/// Precondition: `sticky` implies `m >= 2^56`, so sticky bits always lie
/// strictly below the rounding position.
fn compose_f32(m: u64, sticky: bool, e: i64) -> (u32, bool) {
    if m == 0 {
        return (0, false);
    }
    let bitlen = 64 - i64::from(m.leading_zeros());
    let top = e.saturating_add(bitlen - 1);
    if top > 127 {
        return (0x7f80_0000, true);
    }
    let mut q = (top - 23).max(-149);
    let shift = q - e;
    let (mut r, inexact) = if shift <= 0 {
        ((u128::from(m)) << (-shift), sticky)
    } else if shift >= 100 {
        (0, true)
    } else {
        let m = u128::from(m);
        let dropped = m & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        let mut r = m >> shift;
        if dropped > half || (dropped == half && (sticky || r & 1 == 1)) {
            r += 1;
        }
        (r, dropped != 0 || sticky)
    };
    if r == 1 << 24 {
        r >>= 1;
        q += 1;
    }
    if q + 23 > 127 {
        return (0x7f80_0000, true);
    }
    let bits = (((q + 149) as u128) << 23) + r;
    let bits = bits as u32;
    (bits, inexact && bits == 0)
}

/// C `strtol(s, &end, 10)` with 64-bit `long`: returns (value, consumed);
/// consumed is 0 when no digits were found. Overflow saturates.
pub(crate) fn strtol(s: &[u8]) -> (i64, usize) {
    let mut i = skip_space(s, 0);
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let start = i;
    let mut v: i128 = 0;
    while let Some(c) = s.get(i).filter(|c| c.is_ascii_digit()) {
        v = (v * 10 + i128::from(c - b'0')).min(1 << 64);
        i += 1;
    }
    if i == start {
        return (0, 0);
    }
    let v = if neg { -v } else { v };
    (
        v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
        i,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Option<(u32, usize, bool)> {
        strtof(s.as_bytes()).map(|r| (r.value.to_bits(), r.len, r.erange))
    }

    // Expected values observed from glibc strtof on the development machine
    // (except that ERANGE on inexact subnormals is deliberately not modelled).
    #[test]
    fn matches_glibc() {
        assert_eq!(f("1e"), Some((0x3f800000, 1, false)));
        assert_eq!(f("1e+"), Some((0x3f800000, 1, false)));
        assert_eq!(f("1.e5"), Some((0x47c35000, 4, false)));
        assert_eq!(f(".e5"), None);
        assert_eq!(f("."), None);
        assert_eq!(f("-.5"), Some((0xbf000000, 3, false)));
        assert_eq!(f("+1"), Some((0x3f800000, 2, false)));
        assert_eq!(f("0x"), Some((0, 1, false)));
        assert_eq!(f("0x1p3"), Some((0x41000000, 5, false)));
        assert_eq!(f("0x1p"), Some((0x3f800000, 3, false)));
        assert_eq!(f("0X.8"), Some((0x3f000000, 4, false)));
        assert_eq!(f("0x.p1"), Some((0, 1, false)));
        assert_eq!(f("inf"), Some((0x7f800000, 3, false)));
        assert_eq!(f("infin"), Some((0x7f800000, 3, false)));
        assert_eq!(f("INFINITYx"), Some((0x7f800000, 8, false)));
        assert_eq!(f("1e-46"), Some((0, 5, true)));
        assert_eq!(f("1e-40"), Some((0x000116c2, 5, false)));
        assert_eq!(f("7e-46"), Some((0, 5, true)));
        assert_eq!(f("1e39"), Some((0x7f800000, 4, true)));
        assert_eq!(f("0x1p200"), Some((0x7f800000, 7, true)));
        assert_eq!(f("0x1p-200"), Some((0, 8, true)));
        assert_eq!(f("0x1.fffffe0000001p127"), Some((0x7f7fffff, 21, false)));
        assert_eq!(f("0x1.ffffffp127"), Some((0x7f800000, 14, true)));
        assert_eq!(f(" 5"), Some((0x40a00000, 2, false)));
        assert_eq!(f("\x0b5"), Some((0x40a00000, 2, false)));
        assert_eq!(f("1_0"), Some((0x3f800000, 1, false)));
        assert_eq!(f("00012"), Some((0x41400000, 5, false)));
        assert_eq!(f("0x1P-149"), Some((1, 8, false)));
        assert_eq!(f("0x1.8p-149"), Some((2, 10, false)));
        assert_eq!(
            f("0x0.00000000000000000001p0"),
            Some((0x17800000, 26, false))
        );
        assert_eq!(f("1e999999999999999999"), Some((0x7f800000, 20, true)));
        assert_eq!(f("1e-999999999999999999"), Some((0, 21, true)));
        assert_eq!(f("0e999999999999"), Some((0, 14, false)));
        assert_eq!(f("0x0p99999999999"), Some((0, 15, false)));
        assert_eq!(f("-0"), Some((0x80000000, 2, false)));
        assert_eq!(f("-"), None);
        assert_eq!(f(""), None);
        assert_eq!(f("e5"), None);
    }

    #[test]
    fn nan_forms() {
        let n = |s: &str| strtof(s.as_bytes()).map(|r| (r.value.is_nan(), r.len));
        assert_eq!(n("nan"), Some((true, 3)));
        assert_eq!(n("NaN"), Some((true, 3)));
        assert_eq!(n("nan(abc)"), Some((true, 8)));
        assert_eq!(n("nan(a-b)"), Some((true, 3)));
        assert_eq!(n("nan("), Some((true, 3)));
        assert_eq!(n("-nan"), Some((true, 4)));
    }

    #[test]
    fn hex_rounding_ties_to_even() {
        // 1 + 2^-24 is a tie between 1 and 1+2^-23: even mantissa wins.
        assert_eq!(f("0x1.000001p0").unwrap().0, 0x3f800000);
        // 1 + 3*2^-24 ties between 1+2^-23 (odd) and 1+2^-22: round up.
        assert_eq!(f("0x1.000003p0").unwrap().0, 0x3f800002);
        // Sticky bits far below break the tie upwards.
        assert_eq!(f("0x1.00000100000000000000001p0").unwrap().0, 0x3f800001);
        // Largest subnormal rounding up into the smallest normal.
        assert_eq!(f("0x1.fffffffp-127").unwrap().0, 0x00800000);
    }

    #[test]
    fn strtol_cases() {
        assert_eq!(strtol(b"12:"), (12, 2));
        assert_eq!(strtol(b" -7"), (-7, 3));
        assert_eq!(strtol(b"+"), (0, 0));
        assert_eq!(strtol(b"x"), (0, 0));
        assert_eq!(strtol(b"9223372036854775808"), (i64::MAX, 19));
        assert_eq!(strtol(b"-9223372036854775809"), (i64::MIN, 20));
        assert_eq!(strtol(b"99999999999999999999999999999"), (i64::MAX, 29));
    }
}
