//! `vector` (f32) and `halfvec` (f16): I/O, distances, arithmetic, btree support, aggregates.
//!
//! Both types share one body, generated per element type by `dense_sql_functions!`; the few
//! places where they differ (kernels, text/wire codecs, f16 overflow checks) go through
//! [`DenseOps`].

use std::cmp::Ordering;
use std::ffi::{CStr, CString};

use half::f16;
use pgrx::datum::Internal;
use pgrx::prelude::*;
use ruvec_distance as dist;
use ruvec_vector::{limits, ops, text, wire, Result as VResult};

use super::arrays;
use super::datum::{ArrayArg, BitOut, Dense, DenseElem, DenseOut};
use crate::error::OrRaise;

/// What differs between `vector` and `halfvec`.
pub trait DenseOps: DenseElem + Sized {
    fn parse(s: &str) -> VResult<Vec<Self>>;
    fn format(v: &[Self]) -> String;
    fn send(v: &[Self]) -> Vec<u8>;
    fn recv(buf: &[u8]) -> VResult<Vec<Self>>;
    fn l2_squared(a: &[Self], b: &[Self]) -> f32;
    fn dot(a: &[Self], b: &[Self]) -> f32;
    fn l1(a: &[Self], b: &[Self]) -> f32;
    fn cosine(a: &[Self], b: &[Self]) -> f64;
    fn add(a: &[Self], b: &[Self]) -> VResult<Vec<Self>>;
    fn sub(a: &[Self], b: &[Self]) -> VResult<Vec<Self>>;
    fn mul(a: &[Self], b: &[Self]) -> VResult<Vec<Self>>;
    fn normalize(v: &[Self]) -> VResult<Vec<Self>>;
    fn binary_quantize(v: &[Self]) -> Vec<u8>;
    fn cmp(a: &[Self], b: &[Self]) -> Ordering;
    fn to_f32(self) -> f32;
    fn from_f32(x: f32) -> VResult<Self>;
}

impl DenseOps for f32 {
    fn parse(s: &str) -> VResult<Vec<f32>> {
        text::parse_vector(s)
    }
    fn format(v: &[f32]) -> String {
        text::format_vector(v)
    }
    fn send(v: &[f32]) -> Vec<u8> {
        wire::send_vector(v)
    }
    fn recv(buf: &[u8]) -> VResult<Vec<f32>> {
        wire::recv_vector(buf)
    }
    fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
        dist::l2_squared_f32(a, b)
    }
    fn dot(a: &[f32], b: &[f32]) -> f32 {
        dist::dot_f32(a, b)
    }
    fn l1(a: &[f32], b: &[f32]) -> f32 {
        dist::l1_f32(a, b)
    }
    fn cosine(a: &[f32], b: &[f32]) -> f64 {
        dist::cosine_distance_f32(a, b)
    }
    fn add(a: &[f32], b: &[f32]) -> VResult<Vec<f32>> {
        ops::add_f32(a, b)
    }
    fn sub(a: &[f32], b: &[f32]) -> VResult<Vec<f32>> {
        ops::sub_f32(a, b)
    }
    fn mul(a: &[f32], b: &[f32]) -> VResult<Vec<f32>> {
        ops::mul_f32(a, b)
    }
    fn normalize(v: &[f32]) -> VResult<Vec<f32>> {
        Ok(ops::l2_normalize_f32(v))
    }
    fn binary_quantize(v: &[f32]) -> Vec<u8> {
        ops::binary_quantize_f32(v)
    }
    fn cmp(a: &[f32], b: &[f32]) -> Ordering {
        ops::cmp_f32(a, b)
    }
    fn to_f32(self) -> f32 {
        self
    }
    fn from_f32(x: f32) -> VResult<f32> {
        Ok(x)
    }
}

impl DenseOps for f16 {
    fn parse(s: &str) -> VResult<Vec<f16>> {
        text::parse_halfvec(s)
    }
    fn format(v: &[f16]) -> String {
        text::format_halfvec(v)
    }
    fn send(v: &[f16]) -> Vec<u8> {
        wire::send_halfvec(v)
    }
    fn recv(buf: &[u8]) -> VResult<Vec<f16>> {
        wire::recv_halfvec(buf)
    }
    fn l2_squared(a: &[f16], b: &[f16]) -> f32 {
        dist::l2_squared_f16(a, b)
    }
    fn dot(a: &[f16], b: &[f16]) -> f32 {
        dist::dot_f16(a, b)
    }
    fn l1(a: &[f16], b: &[f16]) -> f32 {
        dist::l1_f16(a, b)
    }
    fn cosine(a: &[f16], b: &[f16]) -> f64 {
        dist::cosine_distance_f16(a, b)
    }
    fn add(a: &[f16], b: &[f16]) -> VResult<Vec<f16>> {
        ops::add_f16(a, b)
    }
    fn sub(a: &[f16], b: &[f16]) -> VResult<Vec<f16>> {
        ops::sub_f16(a, b)
    }
    fn mul(a: &[f16], b: &[f16]) -> VResult<Vec<f16>> {
        ops::mul_f16(a, b)
    }
    fn normalize(v: &[f16]) -> VResult<Vec<f16>> {
        ops::l2_normalize_f16(v)
    }
    fn binary_quantize(v: &[f16]) -> Vec<u8> {
        ops::binary_quantize_f16(v)
    }
    fn cmp(a: &[f16], b: &[f16]) -> Ordering {
        ops::cmp_f16(a, b)
    }
    fn to_f32(self) -> f32 {
        f32::from(self)
    }
    fn from_f32(x: f32) -> VResult<f16> {
        ops::f32_to_f16_checked(limits::Kind::Halfvec, x)
    }
}

// ---- bodies shared by both types ----------------------------------------------------------------

pub fn input<T: DenseOps>(s: &CStr, typmod: i32) -> DenseOut<T> {
    let s = s.to_str().unwrap_or_else(|_| {
        // Server encoding is always valid; non-UTF-8 bytes can only reach us from a
        // SQL_ASCII database. Treat them as a malformed literal.
        crate::error::raise(ruvec_vector::VecError {
            state: ruvec_vector::SqlState::InvalidTextRepresentation,
            message: format!("invalid input syntax for type {}", T::SQL_NAME),
            detail: Some("The literal is not valid UTF-8.".into()),
            hint: None,
        })
    });
    let v = T::parse(s).or_raise();
    limits::check_typmod(typmod, v.len()).or_raise();
    DenseOut::from_slice(&v)
}

pub fn output<T: DenseOps>(v: &Dense<'_, T>) -> CString {
    // The formatted text never contains NUL bytes.
    CString::new(T::format(v.as_slice())).expect("vector text has no NUL")
}

/// `RECEIVE`: consumes the whole message buffer, as Postgres requires of a recv function.
pub fn receive<T: DenseOps>(buf: Internal, typmod: i32) -> DenseOut<T> {
    let bytes = take_message(buf);
    let v = T::recv(bytes).or_raise();
    limits::check_typmod(typmod, v.len()).or_raise();
    DenseOut::from_slice(&v)
}

/// The unread bytes of the `StringInfo` a recv function gets, marking them read.
pub fn take_message<'a>(buf: Internal) -> &'a [u8] {
    let Some(datum) = buf.unwrap() else {
        panic!("recv called without a buffer");
    };
    // SAFETY: a RECEIVE function's first argument is a StringInfo over the message; the bytes
    // [cursor, len) belong to this value. We advance the cursor to len (all consumed).
    unsafe {
        let si = datum.cast_mut_ptr::<pg_sys::StringInfoData>();
        let start = (*si).cursor as usize;
        let len = (*si).len as usize;
        (*si).cursor = (*si).len;
        if len <= start {
            return &[];
        }
        core::slice::from_raw_parts(((*si).data as *const u8).add(start), len - start)
    }
}

#[inline]
pub fn same_dims<T>(a: &[T], b: &[T]) {
    if a.len() != b.len() {
        crate::error::raise(ruvec_vector::VecError::dim_mismatch(a.len(), b.len()));
    }
}

pub fn norm<T: DenseOps>(v: &[T]) -> f64 {
    v.iter()
        .map(|&x| x.to_f32() as f64 * x.to_f32() as f64)
        .sum::<f64>()
        .sqrt()
}

pub fn spherical<T: DenseOps>(a: &[T], b: &[T]) -> f64 {
    same_dims(a, b);
    // Only meaningful for unit vectors (ivfflat-style); clamp for acos' domain.
    let d = (T::dot(a, b) as f64).clamp(-1.0, 1.0);
    d.acos() / std::f64::consts::PI
}

pub fn subvector<T: DenseOps>(v: &[T], start: i32, count: i32) -> DenseOut<T> {
    DenseOut::from_slice(&ops::subvector(T::KIND, v, start, count).or_raise())
}

pub fn accum<T: DenseOps>(state: &ArrayArg<'_>, v: &[T]) -> Vec<f64> {
    let mut st = arrays::float8_state(state);
    let xs: Vec<f32> = v.iter().map(|&x| x.to_f32()).collect();
    ops::accum(&mut st, &xs).or_raise();
    st
}

pub fn combine(a: &ArrayArg<'_>, b: &ArrayArg<'_>) -> Vec<f64> {
    let mut st = arrays::float8_state(a);
    ops::combine(&mut st, &arrays::float8_state(b)).or_raise();
    st
}

pub fn avg<T: DenseOps>(state: &ArrayArg<'_>) -> Option<DenseOut<T>> {
    let st = arrays::float8_state(state);
    let v = ops::avg_from_state(&st).or_raise()?;
    let out: Vec<T> = v.into_iter().map(|x| T::from_f32(x).or_raise()).collect();
    Some(DenseOut::from_slice(&out))
}

pub fn from_array<T: DenseOps>(arr: &ArrayArg<'_>, typmod: i32) -> DenseOut<T> {
    let v = arrays::array_to_dense_f32(T::KIND, arr, typmod);
    let out: Vec<T> = v.into_iter().map(|x| T::from_f32(x).or_raise()).collect();
    DenseOut::from_slice(&out)
}

pub fn binary_quantize<T: DenseOps>(v: &[T]) -> BitOut {
    BitOut::new(v.len(), &T::binary_quantize(v))
}

/// Declares the C entry points of one dense type. `$t` is the SQL type name (also the prefix of
/// pgvector's function names), `$e` the element type.
macro_rules! dense_sql_functions {
    ($t:ident, $e:ty) => {
        paste::paste! {
            #[pg_extern(sql = false)]
            fn [<$t _in>](input: &CStr, _oid: pg_sys::Oid, typmod: i32) -> DenseOut<$e> {
                self::input::<$e>(input, typmod)
            }
            #[pg_extern(sql = false)]
            fn [<$t _out>](v: Dense<'_, $e>) -> CString {
                output(&v)
            }
            #[pg_extern(sql = false)]
            fn [<$t _typmod_in>](list: ArrayArg<'_>) -> i32 {
                arrays::typmod_in(<$e as DenseElem>::KIND, &list)
            }
            #[pg_extern(sql = false)]
            fn [<$t _recv>](buf: Internal, _oid: pg_sys::Oid, typmod: i32) -> DenseOut<$e> {
                receive::<$e>(buf, typmod)
            }
            #[pg_extern(sql = false)]
            fn [<$t _send>](v: Dense<'_, $e>) -> Vec<u8> {
                <$e>::send(v.as_slice())
            }
            /// Typmod coercion cast `$t(n)`.
            #[pg_extern(sql = false)]
            fn [<$t _typmod_cast>](v: Dense<'_, $e>, typmod: i32, _explicit: bool) -> DenseOut<$e> {
                limits::check_typmod(typmod, v.dim()).or_raise();
                DenseOut::from_slice(v.as_slice())
            }
            #[pg_extern(sql = false)]
            fn [<$t _l2_distance>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> f64 {
                same_dims(a.as_slice(), b.as_slice());
                (<$e>::l2_squared(a.as_slice(), b.as_slice()) as f64).sqrt()
            }
            #[pg_extern(sql = false)]
            fn [<$t _l2_squared_distance>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> f64 {
                same_dims(a.as_slice(), b.as_slice());
                <$e>::l2_squared(a.as_slice(), b.as_slice()) as f64
            }
            #[pg_extern(sql = false)]
            fn [<$t _inner_product>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> f64 {
                same_dims(a.as_slice(), b.as_slice());
                <$e>::dot(a.as_slice(), b.as_slice()) as f64
            }
            #[pg_extern(sql = false)]
            fn [<$t _negative_inner_product>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> f64 {
                same_dims(a.as_slice(), b.as_slice());
                -(<$e>::dot(a.as_slice(), b.as_slice()) as f64)
            }
            #[pg_extern(sql = false)]
            fn [<$t _cosine_distance>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> f64 {
                same_dims(a.as_slice(), b.as_slice());
                <$e>::cosine(a.as_slice(), b.as_slice())
            }
            #[pg_extern(sql = false)]
            fn [<$t _l1_distance>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> f64 {
                same_dims(a.as_slice(), b.as_slice());
                <$e>::l1(a.as_slice(), b.as_slice()) as f64
            }
            #[pg_extern(sql = false)]
            fn [<$t _spherical_distance>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> f64 {
                spherical(a.as_slice(), b.as_slice())
            }
            #[pg_extern(sql = false)]
            fn [<$t _dims>](v: Dense<'_, $e>) -> i32 {
                v.dim() as i32
            }
            #[pg_extern(sql = false)]
            fn [<$t _norm>](v: Dense<'_, $e>) -> f64 {
                norm(v.as_slice())
            }
            #[pg_extern(sql = false)]
            fn [<$t _l2_normalize>](v: Dense<'_, $e>) -> DenseOut<$e> {
                DenseOut::from_slice(&<$e>::normalize(v.as_slice()).or_raise())
            }
            #[pg_extern(sql = false)]
            fn [<$t _binary_quantize>](v: Dense<'_, $e>) -> BitOut {
                binary_quantize(v.as_slice())
            }
            #[pg_extern(sql = false)]
            fn [<$t _subvector>](v: Dense<'_, $e>, start: i32, count: i32) -> DenseOut<$e> {
                subvector(v.as_slice(), start, count)
            }
            #[pg_extern(sql = false)]
            fn [<$t _add>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> DenseOut<$e> {
                DenseOut::from_slice(&<$e>::add(a.as_slice(), b.as_slice()).or_raise())
            }
            #[pg_extern(sql = false)]
            fn [<$t _sub>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> DenseOut<$e> {
                DenseOut::from_slice(&<$e>::sub(a.as_slice(), b.as_slice()).or_raise())
            }
            #[pg_extern(sql = false)]
            fn [<$t _mul>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> DenseOut<$e> {
                DenseOut::from_slice(&<$e>::mul(a.as_slice(), b.as_slice()).or_raise())
            }
            #[pg_extern(sql = false)]
            fn [<$t _concat>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> DenseOut<$e> {
                let kind = <$e as DenseElem>::KIND;
                DenseOut::from_slice(&ops::concat(kind, a.as_slice(), b.as_slice()).or_raise())
            }
            #[pg_extern(sql = false)]
            fn [<$t _cmp>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> i32 {
                <$e>::cmp(a.as_slice(), b.as_slice()) as i32
            }
            #[pg_extern(sql = false)]
            fn [<$t _lt>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> bool {
                <$e>::cmp(a.as_slice(), b.as_slice()).is_lt()
            }
            #[pg_extern(sql = false)]
            fn [<$t _le>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> bool {
                <$e>::cmp(a.as_slice(), b.as_slice()).is_le()
            }
            #[pg_extern(sql = false)]
            fn [<$t _eq>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> bool {
                <$e>::cmp(a.as_slice(), b.as_slice()).is_eq()
            }
            #[pg_extern(sql = false)]
            fn [<$t _ne>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> bool {
                <$e>::cmp(a.as_slice(), b.as_slice()).is_ne()
            }
            #[pg_extern(sql = false)]
            fn [<$t _ge>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> bool {
                <$e>::cmp(a.as_slice(), b.as_slice()).is_ge()
            }
            #[pg_extern(sql = false)]
            fn [<$t _gt>](a: Dense<'_, $e>, b: Dense<'_, $e>) -> bool {
                <$e>::cmp(a.as_slice(), b.as_slice()).is_gt()
            }
            #[pg_extern(sql = false)]
            fn [<$t _accum>](state: ArrayArg<'_>, v: Dense<'_, $e>) -> Vec<f64> {
                accum(&state, v.as_slice())
            }
            #[pg_extern(sql = false)]
            fn [<$t _combine>](a: ArrayArg<'_>, b: ArrayArg<'_>) -> Vec<f64> {
                combine(&a, &b)
            }
            #[pg_extern(sql = false)]
            fn [<$t _avg>](state: ArrayArg<'_>) -> Option<DenseOut<$e>> {
                avg::<$e>(&state)
            }
            /// `array_to_$t(integer[] | real[] | double precision[] | numeric[], typmod, explicit)`
            #[pg_extern(sql = false)]
            fn [<array_to_ $t>](arr: ArrayArg<'_>, typmod: i32, _explicit: bool) -> DenseOut<$e> {
                from_array::<$e>(&arr, typmod)
            }
            #[pg_extern(sql = false)]
            fn [<$t _to_float4>](v: Dense<'_, $e>, _typmod: i32, _explicit: bool) -> Vec<f32> {
                v.as_slice().iter().map(|&x| x.to_f32()).collect()
            }
        }
    };
}

dense_sql_functions!(vector, f32);
dense_sql_functions!(halfvec, f16);
