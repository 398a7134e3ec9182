//! Binary send/receive formats, byte-identical to pgvector (network order).
//!
//! * `vector`:    int16 dim, int16 unused (0), dim × float4
//! * `halfvec`:   int16 dim, int16 unused (0), dim × uint16 (IEEE half bits)
//! * `sparsevec`: int32 dim, int32 nnz, int32 unused (0),
//!   nnz × int32 index (0-based), nnz × float4 value
//!
//! Receive functions validate in pgvector's order (dimensions, then type
//! modifier, then `unused`, then each element as it is read) and also
//! require the buffer to be consumed exactly.
//!
//! Short input is reported as `22P03 insufficient data left in message`
//! (PostgreSQL's `pq_getmsg*` uses SQLSTATE `08P01` for this, which
//! [`crate::SqlState`] does not model); trailing bytes as
//! `22P03 incorrect binary data format` (in PostgreSQL the caller of the
//! receive function detects this, with a context-specific message).

use half::f16;

use crate::error::{Result, SqlState, VecError};
use crate::limits::{check_dim_i64, check_element, check_nnz, check_typmod, Kind};
use crate::text::{check_index, SparseVec};

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let end = self
            .pos
            .checked_add(N)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(VecError::insufficient_data)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buf[self.pos..end]);
        self.pos = end;
        Ok(out)
    }

    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.take()?))
    }

    fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_be_bytes(self.take()?))
    }

    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.take()?))
    }

    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_bits(u32::from_be_bytes(self.take()?)))
    }

    fn finish(&self) -> Result<()> {
        if self.pos != self.buf.len() {
            return Err(VecError::trailing_data());
        }
        Ok(())
    }
}

fn unused_error(unused: i64) -> VecError {
    VecError::new(
        SqlState::DataException,
        format!("expected unused to be 0, not {unused}"),
    )
}

/// Reads the dense header: dim, unused; checks dim, typmod, unused.
///
/// pgvector 0.8.x reads both fields into `int16`, so they are signed here
/// too: a dim of 0xFFFF is -1 ("must have at least 1 dimension").
fn dense_header(r: &mut Reader<'_>, kind: Kind, typmod: i32) -> Result<usize> {
    let dim = r.i16()?;
    let unused = r.i16()?;
    check_dim_i64(kind, i64::from(dim))?;
    let dim = dim as usize;
    check_typmod(typmod, dim)?;
    if unused != 0 {
        return Err(unused_error(i64::from(unused)));
    }
    Ok(dim)
}

/// `vector_send`.
pub fn send_vector(v: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * v.len());
    out.extend_from_slice(&(v.len() as u16).to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    for &x in v {
        out.extend_from_slice(&x.to_bits().to_be_bytes());
    }
    out
}

/// `vector_recv` without a type modifier.
pub fn recv_vector(buf: &[u8]) -> Result<Vec<f32>> {
    recv_vector_typmod(buf, -1)
}

/// `vector_recv` with a type modifier (`-1` = none), checked at the same
/// point as pgvector does.
pub fn recv_vector_typmod(buf: &[u8], typmod: i32) -> Result<Vec<f32>> {
    let mut r = Reader::new(buf);
    let dim = dense_header(&mut r, Kind::Vector, typmod)?;
    let mut out = Vec::with_capacity(dim);
    for _ in 0..dim {
        let x = r.f32()?;
        check_element(Kind::Vector, x)?;
        out.push(x);
    }
    r.finish()?;
    Ok(out)
}

/// `halfvec_send`.
pub fn send_halfvec(v: &[f16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 2 * v.len());
    out.extend_from_slice(&(v.len() as u16).to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    for &x in v {
        out.extend_from_slice(&x.to_bits().to_be_bytes());
    }
    out
}

/// `halfvec_recv` without a type modifier.
pub fn recv_halfvec(buf: &[u8]) -> Result<Vec<f16>> {
    recv_halfvec_typmod(buf, -1)
}

/// `halfvec_recv` with a type modifier (`-1` = none).
pub fn recv_halfvec_typmod(buf: &[u8], typmod: i32) -> Result<Vec<f16>> {
    let mut r = Reader::new(buf);
    let dim = dense_header(&mut r, Kind::Halfvec, typmod)?;
    let mut out = Vec::with_capacity(dim);
    for _ in 0..dim {
        let h = f16::from_bits(r.u16()?);
        check_element(Kind::Halfvec, h.to_f32())?;
        out.push(h);
    }
    r.finish()?;
    Ok(out)
}

/// `sparsevec_send` (indices 0-based, as stored).
pub fn send_sparsevec(dim: u32, indices: &[u32], values: &[f32]) -> Vec<u8> {
    let nnz = indices.len().min(values.len());
    let mut out = Vec::with_capacity(12 + 8 * nnz);
    out.extend_from_slice(&dim.to_be_bytes());
    out.extend_from_slice(&(nnz as u32).to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    for &i in &indices[..nnz] {
        out.extend_from_slice(&i.to_be_bytes());
    }
    for &x in &values[..nnz] {
        out.extend_from_slice(&x.to_bits().to_be_bytes());
    }
    out
}

/// `sparsevec_recv` without a type modifier.
pub fn recv_sparsevec(buf: &[u8]) -> Result<SparseVec> {
    recv_sparsevec_typmod(buf, -1)
}

/// `sparsevec_recv` with a type modifier (`-1` = none).
pub fn recv_sparsevec_typmod(buf: &[u8], typmod: i32) -> Result<SparseVec> {
    let mut r = Reader::new(buf);
    let dim = r.i32()?;
    let nnz = r.i32()?;
    let unused = r.i32()?;
    check_dim_i64(Kind::Sparsevec, i64::from(dim))?;
    check_nnz(i64::from(nnz), i64::from(dim))?;
    check_typmod(typmod, dim as usize)?;
    if unused != 0 {
        return Err(unused_error(i64::from(unused)));
    }
    let nnz = nnz as usize;
    let mut indices = Vec::with_capacity(nnz);
    let mut prev = None;
    for _ in 0..nnz {
        let idx = r.i32()?;
        check_index(idx, prev, i64::from(dim))?;
        prev = Some(idx);
        indices.push(idx as u32);
    }
    let mut values = Vec::with_capacity(nnz);
    for _ in 0..nnz {
        let x = r.f32()?;
        check_element(Kind::Sparsevec, x)?;
        if x == 0.0 {
            return Err(VecError::new(
                SqlState::DataException,
                "binary representation of sparsevec cannot contain zero values",
            ));
        }
        values.push(x);
    }
    r.finish()?;
    Ok(SparseVec {
        dim: dim as u32,
        indices,
        values,
    })
}
