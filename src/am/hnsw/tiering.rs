//! Storage tiers at CREATE INDEX: which tiers a column can use (clear errors), training the
//! tier's quantizer on the build's rows, and writing its codebook pages (see codec.rs for the
//! tiers themselves, format.rs for the page layout).

use pgrx::PgSqlErrorCode;

use super::build::Spec;
use super::codec::{self, Storage, Tier};
use super::format::*;
use crate::error::raise_with;
use crate::storage::BuildWriter;

/// Largest dimensions a binary tier takes: its codebook holds a dims x dims rotation (16 MB at
/// 2,048) trained in O(dims^3).
const MAX_BINARY_DIMS: usize = 2048;

/// Refuse storage tiers that cannot hold this column: clear errors at CREATE INDEX.
pub fn check_storage(
    kind: ElemKind,
    metric: Metric,
    dims: usize,
    storage: Storage,
    pq_subvectors: i32,
) {
    let unsupported = |msg: String, hint: Option<String>| -> ! {
        raise_with(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            msg,
            None,
            hint,
        )
    };
    if kind == ElemKind::Bit && storage != Storage::Bit {
        unsupported(
            format!(
                "ruhnsw indexes on bit columns store the bits; storage '{}' is not available",
                storage.name()
            ),
            Some("Drop the storage option.".into()),
        );
    }
    if metric == Metric::L1 && storage.trained() {
        unsupported(
            format!(
                "ruhnsw storage '{}' does not support L1 distance",
                storage.name()
            ),
            Some("Use storage 'f32' or 'f16' for vector_l1_ops / halfvec_l1_ops.".into()),
        );
    }
    // (auto's cold tier is PQ4)
    let pq = matches!(storage, Storage::Pq8 | Storage::Pq4 | Storage::Auto);
    if pq_subvectors != 0 && !pq {
        raise_with(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "ruhnsw option pq_subvectors applies to storage 'pq8', 'pq4' and 'auto' only".into(),
            None,
            None,
        );
    }
    if pq && pq_subvectors as usize > dims {
        raise_with(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("pq_subvectors ({pq_subvectors}) cannot exceed the dimensions ({dims})"),
            None,
            None,
        );
    }
    let room = MAX_ITEM - ELEMENT_HEADER;
    let max = match storage {
        Storage::Bit => room * 8,
        Storage::F32 => room / 4,
        Storage::F16 => room / 2,
        Storage::Int8 => room,
        // pq8 codes one byte per subvector: only an explicit pq_subvectors can overflow a
        // page (the default dims / 4 stays under it up to the types' 16,000 dimensions)
        Storage::Pq8 if pq_subvectors as usize > room => pq_subvectors as usize - 1,
        Storage::Pq8 | Storage::Pq4 => usize::MAX,
        Storage::Binary => MAX_BINARY_DIMS,
        // the archive code is binary; a hot vector's upgrade tuple holds the column value
        Storage::Auto => MAX_BINARY_DIMS.min((MAX_ITEM - UPGRADE_HEADER) / kind.vector_bytes(1)),
    };
    if dims > max {
        let hint = match storage {
            Storage::F32 => "Store half precision (WITH (storage = 'f16'), up to 4,040 dimensions) or a quantized tier (int8, pq8, pq4).",
            Storage::Binary | Storage::Auto => "Use storage 'pq8' or 'pq4' for more dimensions.",
            _ => "An element must fit in one 8 kB page.",
        };
        raise_with(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!(
                "ruhnsw storage '{}' supports at most {max} dimensions, the column has {dims}",
                storage.name()
            ),
            None,
            Some(hint.into()),
        );
    }
}

/// The tier the index is written with: the spec's, its quantizer trained on rows sampled
/// evenly from the build's rows. With too few rows to train on, the column's own precision
/// (exact), with a NOTICE: a REINDEX after loading data trains the quantizer.
pub fn train_tier(spec: &Spec, vectors: &[u8], rows: usize) -> Tier {
    let plain = |storage| Tier::plain(storage, spec.kind, spec.metric, spec.dims);
    if !spec.storage.trained() {
        return plain(spec.storage);
    }
    let vb = spec.kind.vector_bytes(spec.dims);
    let n = rows;
    if n < codec::MIN_TRAIN_ROWS {
        pgrx::ereport!(
            NOTICE,
            PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
            format!(
                "ruhnsw storage '{}' needs at least {} rows to train its codebook; the index stores full-precision vectors",
                spec.storage.name(),
                codec::MIN_TRAIN_ROWS
            ),
            "REINDEX after loading data to store the quantized tier."
        );
        return plain(Storage::native(spec.kind));
    }
    let take = n.min(codec::TRAIN_SAMPLE);
    let sample: Vec<&[u8]> = (0..take)
        .map(|j| {
            let i = j * n / take;
            &vectors[i * vb..(i + 1) * vb]
        })
        .collect();
    match codec::train(
        spec.storage,
        spec.kind,
        spec.metric,
        spec.dims,
        spec.pq_subvectors,
        &sample,
    ) {
        Ok(codec) => Tier {
            storage: spec.storage,
            kind: spec.kind,
            metric: spec.metric,
            dims: spec.dims,
            codec,
        },
        Err(e) => raise_with(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!(
                "ruhnsw could not train its '{}' codebook: {e}",
                spec.storage.name()
            ),
            None,
            None,
        ),
    }
}

/// Append the codebook pages (one item each, chained) and point the meta tuple at them.
pub fn write_codebook(w: &mut BuildWriter, meta: &mut MetaTuple, tier: &Tier) {
    let bytes = codec::codebook_bytes(tier.storage, &tier.codec);
    let chunk = MAX_ITEM;
    let pieces: Vec<&[u8]> = bytes.chunks(chunk).collect();
    let first = w.next_block();
    for (i, piece) in pieces.iter().enumerate() {
        w.append(|p| {
            let mut op = PageOpaque::new(PAGE_CODEBOOK);
            if i + 1 < pieces.len() {
                op.next = first + i as u32 + 1;
            }
            p.init(op);
            p.add_item(piece)
                .expect("a codebook piece of MAX_ITEM bytes fits an empty page");
        });
    }
    meta.codebook_blk = first;
    meta.codebook_len = bytes.len() as u32;
}
