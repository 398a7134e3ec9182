//! Storage tiers: what an element tuple holds in place of the vector, and the distances the
//! graph is navigated on.
//!
//! | storage  | element holds                                  | navigation distance       | exact? |
//! |----------|------------------------------------------------|---------------------------|--------|
//! | `f32`    | f32 values                                     | the SQL operator's        | yes    |
//! | `f16`    | f16 values                                     | on halves                 | halfvec|
//! | `int8`   | one byte per dimension (ruvec-quant `Sq8`)     | f32 query vs the bytes    | no     |
//! | `pq8`    | coarse centroid byte, one byte per subvector of the residual (256 centroids), f32 term (`Pq`) | lookup tables (ADC) | no |
//! | `pq4`    | the same with half a byte per subvector (16 centroids) | lookup tables (ADC) | no |
//! | `binary` | rotated sign bits of the residual, 3 floats, coarse centroid byte (`Rbq`) | RaBitQ estimator, popcount | no |
//! | `auto`   | access heat and upgrade pointer, then the `binary` code; an upgrade tuple per hot/warm/cold element ([`super::auto`]) | the upgrade's code, else binary | hot only |
//!
//! `bit` columns store their bits (exact). For tiers that are not exact the scan re-scores the
//! best candidates with exact distances from the heap rows ([`super::rerank`]), so the order a
//! scan returns is decided by exact distances, whatever the tier. Cosine indexes train and code
//! normalised vectors and navigate on their inner product (same order as cosine distance).
//!
//! Trained quantizers ("codebooks") live in a chain of codebook pages named by the meta page;
//! they never change after the build, so each backend keeps the parsed form in a small cache
//! keyed by the index OID and the codebook's build stamp (a REINDEX writes a new stamp).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use half::f16;
use pgrx::{pg_sys, PgSqlErrorCode};
use ruvec_distance::{self as dist, AlignedF32};
use ruvec_quant::{Pq, PqBits, PqTable, QuantError, Rbq, RbqQuery, Sq8, Sq8Query};

use super::auto::{AutoCodec, AutoQuery};
use super::format::*;
use super::store::corrupted;
use crate::error::raise_with;
use crate::storage::{Locked, Mode};

/// Per-index storage tier (the meta page's `storage` byte and every element's `tier` byte).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    F32 = 1,
    F16 = 2,
    Bit = 3,
    Int8 = 4,
    Pq8 = 5,
    Pq4 = 6,
    Binary = 7,
    Auto = 8,
}

/// Rows sampled to train a quantizer (evenly spaced over the build's rows).
pub const TRAIN_SAMPLE: usize = 32_768;
/// Fewer rows than this at build time: the quantizer is not trained and the index stores the
/// column's own precision (exact) until a REINDEX with more data.
pub const MIN_TRAIN_ROWS: usize = 256;
/// Lloyd iterations per PQ subvector codebook, and rows PQ trains on at most: with 4-dimension
/// subvectors and 256 centroids, PQ8 training costs rows × 256 × dims per iteration (about
/// 10 s for 16,384 rows of 768 dimensions on 2 cores).
const PQ_ITERS: usize = 8;
const PQ_TRAIN_ROWS: usize = 16_384;
const SEED: u64 = 0x7275_7665_635f_7471;

impl Storage {
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Storage::F32,
            2 => Storage::F16,
            3 => Storage::Bit,
            4 => Storage::Int8,
            5 => Storage::Pq8,
            6 => Storage::Pq4,
            7 => Storage::Binary,
            8 => Storage::Auto,
            _ => return None,
        })
    }

    /// The `WITH (storage = ...)` names.
    pub const NAMES: [(&'static str, Storage); 7] = [
        ("f32", Storage::F32),
        ("f16", Storage::F16),
        ("int8", Storage::Int8),
        ("pq8", Storage::Pq8),
        ("pq4", Storage::Pq4),
        ("binary", Storage::Binary),
        ("auto", Storage::Auto),
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, s)| s)
    }

    pub fn name(self) -> &'static str {
        match self {
            Storage::Bit => "bit",
            s => Self::NAMES.iter().find(|(_, t)| *t == s).expect("named").0,
        }
    }

    /// The column type's own precision: what an index stores without a `storage` option.
    pub fn native(kind: ElemKind) -> Self {
        match kind {
            ElemKind::F32 => Storage::F32,
            ElemKind::F16 => Storage::F16,
            ElemKind::Bit => Storage::Bit,
        }
    }

    /// A trained quantizer (codebook) is needed.
    pub fn trained(self) -> bool {
        matches!(
            self,
            Storage::Int8 | Storage::Pq8 | Storage::Pq4 | Storage::Binary | Storage::Auto
        )
    }

    /// Distances on the stored form equal the SQL operator's for a column of `kind`.
    pub fn exact_for(self, kind: ElemKind) -> bool {
        match self {
            Storage::F32 | Storage::Bit => true,
            Storage::F16 => kind == ElemKind::F16,
            _ => false,
        }
    }

    /// Candidates re-scored exactly when neither `ruvec.rerank` nor the index's `rerank` option
    /// says otherwise: enough for recall@10 >= 0.95 at the default ef_search on every fixture
    /// (measured in pgrx-tests/test_ruhnsw_tiers.py).
    pub fn default_rerank(self) -> usize {
        // recall@10 at these values (100 queries, ef_search 40), bigann10k / sift5k / bge-m3:
        // f16 0.966 / 0.989 / 0.998, int8 0.967 / 0.989 / 0.998, pq8 0.970 / 0.989 / 0.998,
        // pq4 0.981 / 0.997 / -, binary 0.968 / 0.991 / 1.000 (pgrx-tests/test_ruhnsw_tiers.py
        // prints them); pq4 at 80 gave 0.962 on bigann10k, binary at 60 0.941: too little margin.
        match self {
            Storage::F32 | Storage::Bit => 0,
            Storage::F16 | Storage::Int8 | Storage::Pq8 => 40,
            // auto: the archive (binary) codes' window; hot elements need no table access
            Storage::Binary | Storage::Auto => 80,
            Storage::Pq4 => 100,
        }
    }
}

/// A trained quantizer, or none for the plain tiers.
pub enum Codec {
    Plain,
    Int8(Sq8),
    Pq(Pq),
    Binary(Rbq),
    Auto(Box<AutoCodec>),
}

/// A prepared query, in the form the stored bytes are compared with.
pub enum Query {
    /// Kept 64-byte aligned: see `AlignedF32`.
    F32(AlignedF32),
    F16(Vec<f16>),
    Bit(Vec<u8>),
    /// int8 tier: the (normalised for cosine) query, prepared for the codebook.
    Int8(Sq8Query),
    Pq(PqTable),
    Binary(RbqQuery),
    Auto(Box<AutoQuery>),
}

/// Everything needed to turn column values into element bytes and to measure distances.
pub struct Tier {
    pub storage: Storage,
    /// The column's type.
    pub kind: ElemKind,
    pub metric: Metric,
    pub dims: usize,
    pub codec: Codec,
}

fn quant_metric(metric: Metric) -> ruvec_quant::Metric {
    match metric {
        Metric::L2 => ruvec_quant::Metric::L2,
        _ => ruvec_quant::Metric::InnerProduct,
    }
}

/// f32 values of a column value's bytes (bit columns have none).
pub fn native_f32(kind: ElemKind, v: &[u8]) -> Vec<f32> {
    match kind {
        ElemKind::F32 => v
            .chunks_exact(4)
            .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        ElemKind::F16 => v
            .chunks_exact(2)
            .map(|c| f16::from_ne_bytes([c[0], c[1]]).to_f32())
            .collect(),
        ElemKind::Bit => Vec::new(),
    }
}

/// Bytes laid out as `kind`'s values, as an exact query.
fn plain_query(kind: ElemKind, v: &[u8]) -> Query {
    match kind {
        ElemKind::F32 => Query::F32(native_f32(kind, v).into()),
        ElemKind::F16 => Query::F16(
            v.chunks_exact(2)
                .map(|c| f16::from_ne_bytes([c[0], c[1]]))
                .collect(),
        ),
        ElemKind::Bit => Query::Bit(v.to_vec()),
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    bytemuck::cast_slice(v).to_vec()
}

fn f16_bytes(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|&x| f16::from_f32(x).to_ne_bytes())
        .collect()
}

fn normalise(v: &mut [f32]) {
    let n = dist::dot_f32(v, v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

fn quant_error(e: QuantError) -> ! {
    raise_with(
        PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        format!("ruhnsw cannot code this vector: {e}"),
        None,
        None,
    )
}

impl Tier {
    pub fn plain(storage: Storage, kind: ElemKind, metric: Metric, dims: usize) -> Self {
        Tier {
            storage,
            kind,
            metric,
            dims,
            codec: Codec::Plain,
        }
    }

    /// Bytes an element stores.
    pub fn code_bytes(&self) -> usize {
        match &self.codec {
            Codec::Plain => match self.storage {
                Storage::F32 => 4 * self.dims,
                Storage::F16 => 2 * self.dims,
                _ => self.dims.div_ceil(8),
            },
            Codec::Int8(q) => q.code_bytes(),
            Codec::Pq(q) => q.code_bytes(),
            Codec::Binary(q) => q.code_bytes(),
            Codec::Auto(a) => AUTO_PREFIX + a.binary.code_bytes(),
        }
    }

    /// The code inside an element's stored bytes (auto elements: after the AutoPrefix).
    #[inline]
    pub fn code_part<'a>(&self, stored: &'a [u8]) -> &'a [u8] {
        match &self.codec {
            Codec::Auto(_) => stored.get(AUTO_PREFIX..).unwrap_or(&[]),
            _ => stored,
        }
    }

    /// The auto codec, for `storage = 'auto'` indexes.
    pub fn auto(&self) -> Option<&AutoCodec> {
        match &self.codec {
            Codec::Auto(a) => Some(a),
            _ => None,
        }
    }

    /// An auto index's upgrade code at `rung` for a column value's bytes.
    pub fn upgrade_code(&self, rung: super::auto::Rung, native: &[u8]) -> Vec<u8> {
        let Codec::Auto(a) = &self.codec else {
            return Vec::new();
        };
        a.upgrade_code(rung, native, &self.coded_f32(native))
            .unwrap_or_else(|e| quant_error(e))
    }

    /// Whether navigation distances are the exact ones (no rerank needed).
    pub fn exact(&self) -> bool {
        self.storage.exact_for(self.kind)
    }

    /// The f32 form a quantizer codes: the column's values, normalised under cosine.
    fn coded_f32(&self, native: &[u8]) -> Vec<f32> {
        let mut v = native_f32(self.kind, native);
        if self.metric == Metric::Cosine {
            normalise(&mut v);
        }
        v
    }

    /// The element bytes of a column value (`native`: the value's own bytes, see
    /// `value::storage_bytes`).
    pub fn encode(&self, native: &[u8]) -> Vec<u8> {
        self.try_encode(native).unwrap_or_else(|e| quant_error(e))
    }

    /// Whether [`try_encode`](Self::try_encode) returns the stored value's bytes unchanged
    /// (its last `Codec::Plain` arm).
    pub fn encodes_as_is(&self) -> bool {
        matches!(self.codec, Codec::Plain)
            && !matches!(
                (self.storage, self.kind),
                (Storage::F16, ElemKind::F32) | (Storage::F32, ElemKind::F16)
            )
    }

    /// [`Tier::encode`] without raising: pure computation, safe on any thread (the build
    /// codes its rows on rayon threads).
    pub fn try_encode(&self, native: &[u8]) -> Result<Vec<u8>, QuantError> {
        Ok(match (&self.codec, self.storage, self.kind) {
            (Codec::Plain, Storage::F16, ElemKind::F32) => {
                f16_bytes(&native_f32(self.kind, native))
            }
            (Codec::Plain, Storage::F32, ElemKind::F16) => {
                f32_bytes(&native_f32(self.kind, native))
            }
            (Codec::Plain, _, _) => native.to_vec(),
            (Codec::Int8(q), _, _) => q.encode(&self.coded_f32(native))?,
            (Codec::Pq(q), _, _) => q.encode(&self.coded_f32(native))?,
            (Codec::Binary(q), _, _) => q.encode(&self.coded_f32(native))?,
            (Codec::Auto(a), _, _) => {
                // a new element: no heat, no upgrade (archive rung)
                let mut out = vec![0u8; AUTO_PREFIX];
                out.extend(a.binary.encode(&self.coded_f32(native))?);
                out
            }
        })
    }

    /// The navigation query for an exact query (`value::query`, in the column's type).
    pub fn query(&self, exact: &Query) -> Query {
        let f = || match exact {
            Query::F32(v) => v.to_vec(),
            Query::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
            _ => Vec::new(),
        };
        // The query as f32: an f32 one is cloned (staying aligned), not copied through a Vec.
        let f32_query = || match exact {
            Query::F32(v) => Query::F32(v.clone()),
            _ => Query::F32(f().into()),
        };
        let coded = || {
            let mut v = f();
            if self.metric == Metric::Cosine {
                normalise(&mut v);
            }
            v
        };
        let qm = quant_metric(self.metric);
        match (&self.codec, self.storage) {
            (Codec::Plain, Storage::F32) => f32_query(),
            (Codec::Plain, Storage::F16) => {
                Query::F16(f().into_iter().map(f16::from_f32).collect())
            }
            (Codec::Plain, _) => match exact {
                Query::Bit(b) => Query::Bit(b.clone()),
                _ => f32_query(),
            },
            (Codec::Int8(q), _) => Query::Int8(q.prepare(qm, &coded())),
            (Codec::Pq(q), _) => {
                Query::Pq(q.table(qm, &coded()).unwrap_or_else(|e| quant_error(e)))
            }
            (Codec::Binary(q), _) => {
                Query::Binary(q.query(qm, &coded()).unwrap_or_else(|e| quant_error(e)))
            }
            (Codec::Auto(a), _) => {
                let native = match exact {
                    Query::F16(v) => Query::F16(v.clone()),
                    _ => f32_query(),
                };
                Query::Auto(Box::new(
                    a.prepare(qm, native, &coded())
                        .unwrap_or_else(|e| quant_error(e)),
                ))
            }
        }
    }

    /// A column value's own bytes as an exact query (as `value::query` gives for a datum).
    pub fn element_query_native(&self, native: &[u8]) -> Query {
        plain_query(self.kind, native)
    }

    /// An element's stored bytes as a query, to compare two elements with each other (graph
    /// maintenance): plain tiers as stored, coded tiers decoded to f32 (binary codes in rotated
    /// coordinates). Only meaningful against another element query ([`Tier::pair_distance`]).
    pub fn element_query(&self, stored: &[u8]) -> Query {
        match &self.codec {
            Codec::Plain => {
                let layout = match self.storage {
                    Storage::F32 => ElemKind::F32,
                    Storage::F16 => ElemKind::F16,
                    _ => ElemKind::Bit,
                };
                plain_query(layout, stored)
            }
            Codec::Int8(q) => Query::F32(q.decode(stored).into()),
            Codec::Pq(q) => Query::F32(q.decode(stored).into()),
            // rotated coordinates: O(dims), and distances between elements are the same
            Codec::Binary(q) => Query::F32(q.decode_rotated(stored).into()),
            Codec::Auto(a) => Query::F32(a.binary.decode_rotated(self.code_part(stored)).into()),
        }
    }

    /// Navigation distance from a prepared query to an element's stored bytes.
    #[inline]
    pub fn distance(&self, q: &Query, stored: &[u8]) -> f32 {
        match (q, &self.codec) {
            (Query::Int8(v), Codec::Int8(c)) => c.distance_prepared(v, stored),
            (Query::Pq(t), Codec::Pq(_)) => t.distance(stored),
            (Query::Binary(b), Codec::Binary(c)) => c.distance(b, stored),
            (Query::Auto(a), Codec::Auto(c)) => {
                c.binary.distance(&a.binary, self.code_part(stored))
            }
            _ => plain_distance(self.metric, q, stored),
        }
    }

    /// Navigation distance from a prepared query to an auto element's upgrade code.
    #[inline]
    pub fn upgrade_distance(&self, q: &Query, rung: super::auto::Rung, code: &[u8]) -> f32 {
        match (q, &self.codec) {
            (Query::Auto(a), Codec::Auto(c)) => c.upgrade_distance(self.metric, a, rung, code),
            _ => f32::NAN,
        }
    }

    /// Distance between two element queries (both from [`Tier::element_query`]).
    pub fn pair_distance(&self, a: &Query, b: &Query) -> f32 {
        plain_distance(self.metric, a, query_bytes(b))
    }
}

/// View stored bytes as a slice of T when aligned, else copy (pages MAXALIGN items, so the
/// copy is a fallback that never triggers for well-formed tuples).
fn typed<T: Copy, const N: usize>(v: &[u8], conv: fn([u8; N]) -> T) -> std::borrow::Cow<'_, [T]> {
    if (v.as_ptr() as usize).is_multiple_of(core::mem::align_of::<T>()) {
        // SAFETY: aligned, length rounded down to whole elements, T is plain data.
        std::borrow::Cow::Borrowed(unsafe {
            core::slice::from_raw_parts(v.as_ptr() as *const T, v.len() / N)
        })
    } else {
        std::borrow::Cow::Owned(
            v.chunks_exact(N)
                .map(|c| conv(c.try_into().unwrap()))
                .collect(),
        )
    }
}

/// A plain query's values as bytes in the stored layout.
fn query_bytes(q: &Query) -> &[u8] {
    match q {
        Query::F32(v) => bytemuck::cast_slice(&v[..]),
        Query::F16(v) => bytemuck::cast_slice(v),
        Query::Bit(v) => v,
        Query::Int8(_) | Query::Pq(_) | Query::Binary(_) | Query::Auto(_) => &[],
    }
}

/// The SQL operators' distance between a plain query and plain stored bytes of its layout
/// (also the exact distance the rerank uses, with the heap row's bytes).
pub fn plain_distance(metric: Metric, q: &Query, v: &[u8]) -> f32 {
    match q {
        Query::F32(q) => {
            let x = typed::<f32, 4>(v, f32::from_ne_bytes);
            match metric {
                Metric::L2 => dist::l2_squared_f32(q, &x),
                Metric::InnerProduct => -dist::dot_f32(q, &x),
                Metric::Cosine => dist::cosine_distance_f32(q, &x) as f32,
                Metric::L1 => dist::l1_f32(q, &x),
                _ => f32::NAN,
            }
        }
        Query::F16(q) => {
            let x = typed::<f16, 2>(v, f16::from_ne_bytes);
            match metric {
                Metric::L2 => dist::l2_squared_f16(q, &x),
                Metric::InnerProduct => -dist::dot_f16(q, &x),
                Metric::Cosine => dist::cosine_distance_f16(q, &x) as f32,
                Metric::L1 => dist::l1_f16(q, &x),
                _ => f32::NAN,
            }
        }
        Query::Bit(q) => match metric {
            Metric::Jaccard => dist::jaccard_distance(q, v) as f32,
            _ => dist::hamming(q, v) as f32,
        },
        Query::Int8(_) | Query::Pq(_) | Query::Binary(_) | Query::Auto(_) => f32::NAN,
    }
}

/// Train the quantizer of `storage` on `sample` (column values' bytes, `dims` values each).
pub fn train(
    storage: Storage,
    kind: ElemKind,
    metric: Metric,
    dims: usize,
    pq_subvectors: usize,
    sample: &[&[u8]],
) -> Result<Codec, QuantError> {
    let t = Tier::plain(storage, kind, metric, dims);
    let step = if matches!(storage, Storage::Pq8 | Storage::Pq4 | Storage::Auto) {
        sample.len().div_ceil(PQ_TRAIN_ROWS).max(1)
    } else {
        1
    };
    // auto trains its int8 and binary quantizers on every sampled row, PQ on every step-th
    let flat: Vec<f32> = sample
        .iter()
        .step_by(if storage == Storage::Auto { 1 } else { step })
        .flat_map(|v| t.coded_f32(v))
        .collect();
    let m = if pq_subvectors == 0 {
        (dims / 4).max(1)
    } else {
        pq_subvectors
    };
    Ok(match storage {
        Storage::Int8 => Codec::Int8(Sq8::train(&flat, dims)?),
        Storage::Pq8 => Codec::Pq(Pq::train(&flat, dims, m, PqBits::Eight, PQ_ITERS, SEED)?),
        Storage::Pq4 => Codec::Pq(Pq::train(&flat, dims, m, PqBits::Four, PQ_ITERS, SEED)?),
        Storage::Binary => Codec::Binary(Rbq::train(&flat, dims, SEED)?),
        Storage::Auto => Codec::Auto(Box::new(AutoCodec::train(
            &flat, dims, m, step, PQ_ITERS, SEED,
        )?)),
        _ => Codec::Plain,
    })
}

/// Serialised form kept in the codebook pages: the storage byte, then the quantizer's bytes.
pub fn codebook_bytes(storage: Storage, codec: &Codec) -> Vec<u8> {
    let mut out = vec![storage as u8];
    out.extend(match codec {
        Codec::Plain => Vec::new(),
        Codec::Int8(q) => q.to_bytes(),
        Codec::Pq(q) => q.to_bytes(),
        Codec::Binary(q) => q.to_bytes(),
        Codec::Auto(a) => a.to_bytes(),
    });
    out
}

fn parse_codebook(storage: Storage, b: &[u8]) -> Result<Codec, QuantError> {
    let (&tag, rest) = b.split_first().ok_or(QuantError::Malformed)?;
    if tag != storage as u8 {
        return Err(QuantError::Malformed);
    }
    Ok(match storage {
        Storage::Int8 => Codec::Int8(Sq8::from_bytes(rest)?),
        Storage::Pq8 | Storage::Pq4 => {
            let q = Pq::from_bytes(rest)?;
            let want = if storage == Storage::Pq8 {
                PqBits::Eight
            } else {
                PqBits::Four
            };
            if q.bits() != want {
                return Err(QuantError::Malformed);
            }
            Codec::Pq(q)
        }
        Storage::Binary => Codec::Binary(Rbq::from_bytes(rest)?),
        Storage::Auto => Codec::Auto(Box::new(AutoCodec::from_bytes(rest)?)),
        _ => Codec::Plain,
    })
}

/// Read the codebook chain named by the meta tuple (its bytes, in page order).
///
/// # Safety
/// `rel` must be an open ruhnsw index.
pub unsafe fn read_codebook(rel: pg_sys::Relation, meta: &MetaTuple) -> Vec<u8> {
    let mut out = Vec::with_capacity(meta.codebook_len as usize);
    let mut blk = meta.codebook_blk;
    let nblocks =
        // SAFETY: rel is open.
        unsafe { pg_sys::RelationGetNumberOfBlocksInFork(rel, pg_sys::ForkNumber::MAIN_FORKNUM) };
    let mut pages = 0;
    while out.len() < meta.codebook_len as usize {
        if blk == pg_sys::InvalidBlockNumber || blk >= nblocks || pages > nblocks {
            corrupted("codebook chain ends early");
        }
        // SAFETY: blk < nblocks.
        let buf = unsafe { Locked::read(rel, blk, Mode::Share) };
        let page = buf.page();
        let Some(op) = page
            .special::<PageOpaque>()
            .filter(|o| o.page_id == PAGE_ID && o.page_type == PAGE_CODEBOOK)
        else {
            corrupted("codebook chain leads to a page that is not a codebook page")
        };
        let Some(item) = page.item(1) else {
            corrupted("empty codebook page")
        };
        out.extend_from_slice(item);
        blk = op.next;
        pages += 1;
    }
    if out.len() != meta.codebook_len as usize {
        corrupted("codebook length does not match the meta page");
    }
    out
}

thread_local! {
    /// Parsed codebooks of this backend, by (index OID, build stamp).
    static TIERS: RefCell<HashMap<(u32, u64), Arc<Tier>>> = RefCell::new(HashMap::new());
}

/// The tier of an open index (codebook read once per backend and build).
///
/// # Safety
/// `rel` must be an open ruhnsw index whose meta tuple is `meta`.
pub unsafe fn tier_of(rel: pg_sys::Relation, meta: &MetaTuple) -> Arc<Tier> {
    let (Some(kind), Some(metric), Some(storage)) = (
        ElemKind::from_u8(meta.elem_kind),
        Metric::from_u8(meta.metric),
        Storage::from_u8(meta.storage),
    ) else {
        corrupted("unknown element type, metric or storage in the meta page")
    };
    let dims = meta.dims as usize;
    if !storage.trained() {
        return Arc::new(Tier::plain(storage, kind, metric, dims));
    }
    // SAFETY: rel is open.
    let key = (unsafe { (*rel).rd_id }.to_u32(), meta.build_stamp);
    if let Some(t) = TIERS.with(|c| c.borrow().get(&key).cloned()) {
        return t;
    }
    // SAFETY: forwarded.
    let bytes = unsafe { read_codebook(rel, meta) };
    let codec =
        parse_codebook(storage, &bytes).unwrap_or_else(|_| corrupted("unreadable codebook"));
    let dims_ok = match &codec {
        Codec::Int8(q) => q.dims() == dims,
        Codec::Pq(q) => q.dims() == dims,
        Codec::Binary(q) => q.dims() == dims,
        Codec::Auto(a) => a.dims_ok(dims),
        Codec::Plain => false,
    };
    if !dims_ok {
        corrupted("codebook dimensions do not match the index");
    }
    let tier = Arc::new(Tier {
        storage,
        kind,
        metric,
        dims,
        codec,
    });
    TIERS.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= 32 {
            c.clear();
        }
        c.insert(key, tier.clone());
    });
    tier
}
