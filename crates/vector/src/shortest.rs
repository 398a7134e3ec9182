//! The decimal digits PostgreSQL's `float4out` chooses for a float.
//!
//! PostgreSQL uses Ryu (`src/common/f2s.c`) *without* accepting the
//! rounding-interval boundaries: its digits are
//!
//! 1. the largest power of ten `10^k` such that some multiple of `10^k`
//!    lies strictly inside the interval of reals that round to the float
//!    (halfway to each neighbour; a quarter ulp below powers of two);
//! 2. then `v / 10^k` rounded to nearest with ties to even, except that if
//!    the rounded-down candidate is not inside the interval, the next one up
//!    is taken.
//!
//! Rust's shortest formatting (`{:e}`) differs in two rare situations: it
//! accepts a boundary value when the mantissa is even, and it breaks exact
//! ties differently. [`pg_digits`] therefore takes Rust's digits when they
//! are provably what PostgreSQL prints (strictly inside the open interval
//! and not a tie) and otherwise recomputes them exactly with 256-bit
//! integer arithmetic following the definition above.

use std::fmt::Write;

/// Digits of a positive finite float as PostgreSQL prints them: writes the
/// significant digits (no trailing zeros) to `buf`, returns
/// `(digit count, decimal exponent of the first digit)`.
pub(crate) fn pg_digits(x: f32, buf: &mut [u8; 16]) -> (usize, i32) {
    debug_assert!(x.is_finite() && x > 0.0);
    let (n, e) = rust_digits(x, buf);
    let k = e - (n as i32 - 1);
    if fast_path_ok(x, buf, n, k) {
        return (n, e);
    }
    let (mut out, mut k) = exact(x.to_bits(), k);
    while out % 10 == 0 {
        out /= 10;
        k += 1;
    }
    let mut tmp = [0u8; 20];
    let mut len = 0;
    while out > 0 {
        tmp[len] = b'0' + (out % 10) as u8;
        out /= 10;
        len += 1;
    }
    for i in 0..len {
        buf[i] = tmp[len - 1 - i];
    }
    (len, k + len as i32 - 1)
}

/// A fixed-capacity `fmt::Write` sink on the stack.
pub(crate) struct StackStr<const N: usize> {
    pub buf: [u8; N],
    pub len: usize,
}

impl<const N: usize> StackStr<N> {
    pub fn new() -> Self {
        StackStr {
            buf: [0; N],
            len: 0,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl<const N: usize> Write for StackStr<N> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > N {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Rust's shortest round-trip digits of `x` (> 0): (count, exponent).
fn rust_digits(x: f32, digits: &mut [u8; 16]) -> (usize, i32) {
    let mut sink = StackStr::<32>::new();
    // Cannot fail: "d.ddddddddde-45" fits easily.
    let _ = write!(sink, "{:e}", x);
    let s = sink.bytes();
    let len = s.len();
    let epos = s.iter().position(|&c| c == b'e').unwrap_or(len);
    let mut n = 0;
    for &c in &s[..epos] {
        if c.is_ascii_digit() && n < digits.len() {
            digits[n] = c;
            n += 1;
        }
    }
    let mut exp: i32 = 0;
    let mut neg = false;
    for &c in &s[(epos + 1).min(len)..] {
        match c {
            b'-' => neg = true,
            b'0'..=b'9' => exp = exp * 10 + i32::from(c - b'0'),
            _ => {}
        }
    }
    (n, if neg { -exp } else { exp })
}

/// True when Rust's digits are certainly PostgreSQL's (see module docs).
///
/// Rust's result `R = D * 10^k` always lies in the closed rounding interval,
/// so it is strictly inside unless it equals one of the two bounds exactly.
fn fast_path_ok(x: f32, digits: &[u8; 16], n: usize, k: i32) -> bool {
    let d = digits[..n]
        .iter()
        .fold(0u64, |acc, &c| acc * 10 + u64::from(c - b'0'));
    let bits = x.to_bits();
    let (m, e) = decode(bits);
    let m = u64::from(m);
    // Bounds as odd * 2^exp (2m±1 and 4m-1 are odd).
    let upper = (2 * m + 1, e - 1);
    let lower = if bits & 0x7f_ffff == 0 && (bits >> 23) & 0xff > 1 {
        (4 * m - 1, e - 2)
    } else {
        (2 * m - 1, e - 1)
    };
    !decimal_eq_dyadic(d, k, upper.0, upper.1)
        && !decimal_eq_dyadic(d, k, lower.0, lower.1)
        && !is_tie(bits, k)
}

/// Does `d * 10^k` (d > 0) equal `nb * 2^eb` (nb odd) exactly?
fn decimal_eq_dyadic(d: u64, k: i32, nb: u64, eb: i32) -> bool {
    // d * 10^k = d' * 5^k * 2^(k + t), with d = d' * 2^t, d' odd.
    let t = d.trailing_zeros() as i32;
    let mut odd = d >> t;
    if k + t != eb {
        return false;
    }
    if k >= 0 {
        // Need nb == d' * 5^k; nb < 2^27 bounds k.
        if k > 12 {
            return false;
        }
        odd.checked_mul(5u64.pow(k as u32)) == Some(nb)
    } else {
        // Need 5^-k | d' and nb == d' / 5^-k; d' < 2^64 bounds -k.
        if -k > 27 {
            return false;
        }
        let p = 5u64.pow((-k) as u32);
        if !odd.is_multiple_of(p) {
            return false;
        }
        odd /= p;
        odd == nb
    }
}

/// Is the float exactly halfway between two multiples of `10^k`?
fn is_tie(bits: u32, k: i32) -> bool {
    let (m, e) = decode(bits);
    let tz = m.trailing_zeros();
    let (m, e) = (m >> tz, e + tz as i32);
    if e < 0 {
        // v = odd * 5^-e * 10^e: its last non-zero digit is a 5 at 10^e.
        e == k - 1
    } else if (1..=38).contains(&k) {
        // m * 2^e is the float itself, so it fits in 128 bits.
        let v = u128::from(m) << e;
        let p = 10u128.pow(k as u32);
        v % p == 5 * (p / 10)
    } else {
        false
    }
}

/// (significand with hidden bit, binary exponent): value = m * 2^e.
fn decode(bits: u32) -> (u32, i32) {
    let ieee_m = bits & 0x7f_ffff;
    let ieee_e = ((bits >> 23) & 0xff) as i32;
    if ieee_e == 0 {
        (ieee_m, -149)
    } else {
        (ieee_m | 0x80_0000, ieee_e - 150)
    }
}

/// Exact computation of PostgreSQL's (output, k): value ≈ output * 10^k.
/// `k_hint` is a starting guess for k.
fn exact(bits: u32, k_hint: i32) -> (u64, i32) {
    let ieee_m = bits & 0x7f_ffff;
    let ieee_e = (bits >> 23) & 0xff;
    let (m2, e2) = decode(bits);
    // Work in quarter units so both interval bounds are integers.
    let e2 = e2 - 2;
    let mv = 4 * u64::from(m2);
    let mp = mv + 2;
    let mm = mv - 1 - u64::from(ieee_m != 0 || ieee_e <= 1);

    // Some multiple of 10^k strictly between the bounds?
    let holds = |k: i32| {
        let (vp, exact_p) = scaled_floor(mp, e2, k);
        let (mut vm, _) = scaled_floor(mm, e2, k);
        if exact_p {
            vm.add_one();
        }
        vp.gt(&vm)
    };
    let mut k = k_hint;
    if holds(k) {
        while holds(k + 1) {
            k += 1;
        }
    } else {
        k -= 1;
        while !holds(k) {
            k -= 1;
        }
    }

    let (q1, exact1) = scaled_floor(mv, e2, k - 1);
    let q1 = q1.to_u64();
    let vr = q1 / 10;
    let mut last = q1 % 10;
    let vm = scaled_floor(mm, e2, k).0.to_u64();
    if exact1 && last == 5 && vr % 2 == 0 {
        last = 4;
    }
    let out = vr + u64::from(vr == vm || last >= 5);
    (out, k)
}

/// floor(x * 2^e2 / 10^k) and whether the division was exact.
fn scaled_floor(x: u64, e2: i32, k: i32) -> (U256, bool) {
    let mut n = U256([x, 0, 0, 0]);
    let s2 = e2 - k;
    let s5 = -k;
    let mut exact = true;
    if s2 > 0 {
        n.shl(s2 as u32);
    }
    if s5 > 0 {
        n.mul_pow5(s5 as u32);
    }
    if s5 < 0 {
        exact &= n.div_pow5((-s5) as u32);
    }
    if s2 < 0 {
        exact &= n.shr((-s2) as u32);
    }
    (n, exact)
}

/// Minimal 256-bit unsigned integer, little-endian limbs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct U256([u64; 4]);

const POW5_CHUNK: u32 = 27; // 5^27 < 2^63

impl U256 {
    fn shl(&mut self, s: u32) {
        if s >= 256 {
            self.0 = [0; 4];
            return;
        }
        let (w, b) = ((s / 64) as usize, s % 64);
        let mut r = [0u64; 4];
        for i in (w..4).rev() {
            let lo = self.0[i - w];
            r[i] = lo << b;
            if b > 0 && i > w {
                r[i] |= self.0[i - w - 1] >> (64 - b);
            }
        }
        self.0 = r;
    }

    /// Shift right; returns true when no set bits were shifted out.
    fn shr(&mut self, s: u32) -> bool {
        if s >= 256 {
            let exact = self.0 == [0; 4];
            self.0 = [0; 4];
            return exact;
        }
        let (w, b) = ((s / 64) as usize, s % 64);
        let mut exact = self.0[..w].iter().all(|&l| l == 0);
        if b > 0 && w < 4 {
            exact &= self.0[w] & ((1u64 << b) - 1) == 0;
        }
        let mut r = [0u64; 4];
        for (i, slot) in r.iter_mut().enumerate().take(4 - w) {
            *slot = self.0[i + w] >> b;
            if b > 0 && i + w + 1 < 4 {
                *slot |= self.0[i + w + 1] << (64 - b);
            }
        }
        self.0 = r;
        exact
    }

    fn mul_small(&mut self, m: u64) {
        let mut carry: u128 = 0;
        for limb in &mut self.0 {
            let p = u128::from(*limb) * u128::from(m) + carry;
            *limb = p as u64;
            carry = p >> 64;
        }
        debug_assert_eq!(carry, 0, "U256 overflow");
    }

    fn divrem_small(&mut self, d: u64) -> u64 {
        let mut rem: u128 = 0;
        for limb in self.0.iter_mut().rev() {
            let cur = (rem << 64) | u128::from(*limb);
            *limb = (cur / u128::from(d)) as u64;
            rem = cur % u128::from(d);
        }
        rem as u64
    }

    fn mul_pow5(&mut self, mut t: u32) {
        while t > 0 {
            let c = t.min(POW5_CHUNK);
            self.mul_small(5u64.pow(c));
            t -= c;
        }
    }

    /// Divide by 5^t; returns true when exact.
    fn div_pow5(&mut self, mut t: u32) -> bool {
        let mut exact = true;
        while t > 0 {
            let c = t.min(POW5_CHUNK);
            exact &= self.divrem_small(5u64.pow(c)) == 0;
            t -= c;
        }
        exact
    }

    fn add_one(&mut self) {
        for limb in &mut self.0 {
            let (v, overflow) = limb.overflowing_add(1);
            *limb = v;
            if !overflow {
                return;
            }
        }
    }

    fn gt(&self, other: &U256) -> bool {
        for i in (0..4).rev() {
            if self.0[i] != other.0[i] {
                return self.0[i] > other.0[i];
            }
        }
        false
    }

    fn to_u64(self) -> u64 {
        debug_assert!(self.0[1..].iter().all(|&l| l == 0));
        self.0[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(x: f32) -> (String, i32) {
        let mut b = [0u8; 16];
        let (n, e) = pg_digits(x, &mut b);
        (String::from_utf8(b[..n].to_vec()).unwrap(), e)
    }

    fn exact_digits(x: f32) -> (String, i32) {
        let mut b = [0u8; 16];
        let (n, e) = rust_digits(x, &mut b);
        let (mut out, mut k) = exact(x.to_bits(), e - (n as i32 - 1));
        while out % 10 == 0 {
            out /= 10;
            k += 1;
        }
        let s = out.to_string();
        let e = k + s.len() as i32 - 1;
        (s, e)
    }

    #[test]
    fn boundary_and_tie_cases_from_postgres() {
        // 99999904: Rust accepts the boundary 99999900, PostgreSQL does not.
        assert_eq!(digits(f32::from_bits(0x4cbebc14)), ("99999904".into(), 7));
        // 1452445.25: tie between ...452 and ...453, PostgreSQL picks even.
        assert_eq!(digits(f32::from_bits(0x49b14cea)), ("14524452".into(), 6));
        assert_eq!(digits(f32::from_bits(0x51c1b710)), ("103999996".into(), 11));
    }

    #[test]
    fn exact_path_agrees_on_ordinary_values() {
        for &x in &[
            1.0f32,
            0.1,
            1.5,
            123456.0,
            1e-45,
            3.4028235e38,
            1.1754944e-38,
            7.0e-45,
        ] {
            assert_eq!(exact_digits(x), digits(x), "{x:e}");
        }
    }

    #[test]
    fn u256_ops() {
        let mut a = U256([1, 0, 0, 0]);
        a.shl(200);
        assert_eq!(a.0, [0, 0, 0, 1 << 8]);
        assert!(!a.clone().shr(201));
        assert!(a.shr(200));
        assert_eq!(a.0, [1, 0, 0, 0]);
        let mut b = U256([3, 0, 0, 0]);
        b.mul_pow5(60);
        assert!(b.div_pow5(60));
        assert_eq!(b.0, [3, 0, 0, 0]);
        assert!(!b.div_pow5(1));
    }
}
