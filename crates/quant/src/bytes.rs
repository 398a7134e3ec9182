//! Little-endian serialisation of trained quantizers, so an index can keep them in its pages.
//! Readers validate every length and value: bytes from a damaged page give an error, never a
//! panic or a quantizer that would index out of bounds later.

use crate::QuantError;

pub(crate) struct Writer(pub Vec<u8>);

impl Writer {
    pub fn new() -> Self {
        Writer(Vec::new())
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn f32s(&mut self, v: &[f32]) -> &mut Self {
        self.0.reserve(4 * v.len());
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
        self
    }
}

pub(crate) struct Reader<'a>(&'a [u8]);

fn malformed() -> QuantError {
    QuantError::Malformed
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Reader(b)
    }
    pub fn u32(&mut self) -> Result<u32, QuantError> {
        let (h, t) = self.0.split_at_checked(4).ok_or_else(malformed)?;
        self.0 = t;
        Ok(u32::from_le_bytes(h.try_into().expect("4 bytes")))
    }
    /// A dimension-like count: non-zero and small enough that `n * n` f32 values fit memory.
    pub fn count(&mut self) -> Result<usize, QuantError> {
        let n = self.u32()? as usize;
        if n == 0 || n > 1 << 16 {
            return Err(malformed());
        }
        Ok(n)
    }
    pub fn f32s(&mut self, n: usize) -> Result<Vec<f32>, QuantError> {
        let len = n.checked_mul(4).ok_or_else(malformed)?;
        let (h, t) = self.0.split_at_checked(len).ok_or_else(malformed)?;
        self.0 = t;
        let v: Vec<f32> = h
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        if v.iter().any(|x| !x.is_finite()) {
            return Err(malformed());
        }
        Ok(v)
    }
    pub fn end(self) -> Result<(), QuantError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(malformed())
        }
    }
}
