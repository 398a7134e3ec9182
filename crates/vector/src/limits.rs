//! Dimension limits, type modifiers and element validation shared by the
//! three types, with pgvector's exact error codes and messages.

use crate::error::{Result, SqlState, VecError};

/// Maximum dimensions of a `vector`.
pub const VECTOR_MAX_DIM: usize = 16000;
/// Maximum dimensions of a `halfvec`.
pub const HALFVEC_MAX_DIM: usize = 16000;
/// Maximum dimensions of a `sparsevec`.
pub const SPARSEVEC_MAX_DIM: i64 = 1_000_000_000;
/// Maximum number of stored (non-zero) elements of a `sparsevec`.
pub const SPARSEVEC_MAX_NNZ: usize = 16000;

/// Which SQL type a value belongs to; selects limits and message wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Vector,
    Halfvec,
    Sparsevec,
}

impl Kind {
    /// The SQL type name: `"vector"`, `"halfvec"` or `"sparsevec"`.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Vector => "vector",
            Kind::Halfvec => "halfvec",
            Kind::Sparsevec => "sparsevec",
        }
    }

    /// Maximum number of dimensions for this type.
    pub fn max_dim(&self) -> i64 {
        match self {
            Kind::Vector => VECTOR_MAX_DIM as i64,
            Kind::Halfvec => HALFVEC_MAX_DIM as i64,
            Kind::Sparsevec => SPARSEVEC_MAX_DIM,
        }
    }
}

/// `typmod_in` for `vector(n)`, `halfvec(n)`, `sparsevec(n)`.
///
/// Exactly one modifier is allowed; it must be between 1 and the type's
/// maximum. All failures are `22023`.
pub fn typmod_in(kind: Kind, mods: &[i32]) -> Result<i32> {
    if mods.len() != 1 {
        return Err(VecError::new(
            SqlState::InvalidParameterValue,
            "invalid type modifier",
        ));
    }
    let n = mods[0];
    if n < 1 {
        return Err(VecError::new(
            SqlState::InvalidParameterValue,
            format!("dimensions for type {} must be at least 1", kind.name()),
        ));
    }
    if i64::from(n) > kind.max_dim() {
        return Err(VecError::new(
            SqlState::InvalidParameterValue,
            format!(
                "dimensions for type {} cannot exceed {}",
                kind.name(),
                kind.max_dim()
            ),
        ));
    }
    Ok(n)
}

/// Check a value's dimensions against a type modifier (`-1` = unconstrained).
pub fn check_typmod(typmod: i32, dim: usize) -> Result<()> {
    if typmod != -1 && i64::from(typmod) != dim as i64 {
        return Err(VecError::expected_dims(typmod, dim));
    }
    Ok(())
}

/// pgvector's `CheckDim`: at least 1 (`22000`), at most the maximum (`54000`).
pub fn check_dim(kind: Kind, dim: usize) -> Result<()> {
    check_dim_i64(kind, dim as i64)
}

/// [`check_dim`] for a signed dimension as read from text or the wire.
pub fn check_dim_i64(kind: Kind, dim: i64) -> Result<()> {
    if dim < 1 {
        return Err(VecError::too_few_dims(kind));
    }
    if dim > kind.max_dim() {
        return Err(VecError::new(
            SqlState::ProgramLimitExceeded,
            format!(
                "{} cannot have more than {} dimensions",
                kind.name(),
                kind.max_dim()
            ),
        ));
    }
    Ok(())
}

/// pgvector's sparsevec `CheckNnz`.
pub fn check_nnz(nnz: i64, dim: i64) -> Result<()> {
    if nnz < 0 {
        return Err(VecError::new(
            SqlState::DataException,
            "sparsevec cannot have negative number of elements",
        ));
    }
    if nnz > SPARSEVEC_MAX_NNZ as i64 {
        return Err(too_many_nnz());
    }
    if nnz > dim {
        return Err(VecError::new(
            SqlState::ProgramLimitExceeded,
            "sparsevec cannot have more elements than dimensions",
        ));
    }
    Ok(())
}

pub(crate) fn too_many_nnz() -> VecError {
    VecError::new(
        SqlState::ProgramLimitExceeded,
        format!("sparsevec cannot have more than {SPARSEVEC_MAX_NNZ} non-zero elements"),
    )
}

/// pgvector's `CheckElement`: NaN and infinities are rejected.
///
/// SQLSTATE 22023 (invalid_parameter_value) for values arriving from arrays, binary input and
/// computations, per DESIGN.md §4; text literals re-label it 22P02 (see `text::literal_element`).
/// pgvector uses 22000 for all of them: same class 22, documented in docs/sql-reference.md.
pub fn check_element(kind: Kind, x: f32) -> Result<()> {
    if x.is_nan() {
        return Err(VecError::new(
            SqlState::InvalidParameterValue,
            format!("NaN not allowed in {}", kind.name()),
        ));
    }
    if x.is_infinite() {
        return Err(VecError::new(
            SqlState::InvalidParameterValue,
            format!("infinite value not allowed in {}", kind.name()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names() {
        assert_eq!(Kind::Vector.name(), "vector");
        assert_eq!(Kind::Halfvec.name(), "halfvec");
        assert_eq!(Kind::Sparsevec.name(), "sparsevec");
    }
}
