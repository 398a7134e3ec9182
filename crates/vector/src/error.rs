//! Error values carrying a PostgreSQL SQLSTATE, message, detail and hint.
//!
//! The glue layer turns a [`VecError`] into `ereport(ERROR, ...)`; the
//! messages here are the exact strings pgvector 0.8 emits.

use std::fmt;

use crate::limits::Kind;

/// The SQLSTATE classes this crate can raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlState {
    /// `22P02` invalid_text_representation
    InvalidTextRepresentation,
    /// `22P03` invalid_binary_representation
    InvalidBinaryRepresentation,
    /// `22000` data_exception
    DataException,
    /// `22023` invalid_parameter_value
    InvalidParameterValue,
    /// `54000` program_limit_exceeded
    ProgramLimitExceeded,
    /// `22003` numeric_value_out_of_range
    NumericValueOutOfRange,
}

impl SqlState {
    /// The five-character SQLSTATE code, e.g. `"22P02"`.
    pub fn code(&self) -> &'static str {
        match self {
            SqlState::InvalidTextRepresentation => "22P02",
            SqlState::InvalidBinaryRepresentation => "22P03",
            SqlState::DataException => "22000",
            SqlState::InvalidParameterValue => "22023",
            SqlState::ProgramLimitExceeded => "54000",
            SqlState::NumericValueOutOfRange => "22003",
        }
    }
}

/// An error to be reported to the SQL client.
#[derive(Debug, Clone, PartialEq)]
pub struct VecError {
    pub state: SqlState,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, VecError>;

impl fmt::Display for VecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(d) = &self.detail {
            write!(f, " (DETAIL: {d})")?;
        }
        if let Some(h) = &self.hint {
            write!(f, " (HINT: {h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for VecError {}

impl VecError {
    /// An error with the given state and message, no detail or hint.
    pub fn new(state: SqlState, message: impl Into<String>) -> Self {
        VecError {
            state,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    /// Attach a DETAIL line.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Attach a HINT line.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `22000 different vector dimensions {a} and {b}`
    pub fn dim_mismatch(a: usize, b: usize) -> Self {
        Self::dim_mismatch_kind(Kind::Vector, a, b)
    }

    /// `22000 different {halfvec|sparsevec|vector} dimensions {a} and {b}`
    pub fn dim_mismatch_kind(kind: Kind, a: usize, b: usize) -> Self {
        Self::new(
            SqlState::DataException,
            format!("different {} dimensions {a} and {b}", kind.name()),
        )
    }

    /// `22000 expected {expected} dimensions, not {got}`
    pub fn expected_dims(expected: i32, got: usize) -> Self {
        Self::new(
            SqlState::DataException,
            format!("expected {expected} dimensions, not {got}"),
        )
    }

    /// `22003 value out of range: overflow` (PostgreSQL's float_overflow_error)
    pub fn overflow() -> Self {
        Self::new(
            SqlState::NumericValueOutOfRange,
            "value out of range: overflow",
        )
    }

    /// `22003 value out of range: underflow` (PostgreSQL's float_underflow_error)
    pub fn underflow() -> Self {
        Self::new(
            SqlState::NumericValueOutOfRange,
            "value out of range: underflow",
        )
    }

    /// `22000 {kind} must have at least 1 dimension`
    pub fn too_few_dims(kind: Kind) -> Self {
        Self::new(
            SqlState::DataException,
            format!("{} must have at least 1 dimension", kind.name()),
        )
    }

    /// `22P02 invalid input syntax for type {kind}: "{lit}"`
    pub(crate) fn syntax(kind: Kind, lit: &str) -> Self {
        Self::new(
            SqlState::InvalidTextRepresentation,
            format!("invalid input syntax for type {}: \"{lit}\"", kind.name()),
        )
    }

    /// `22003 "{token}" is out of range for type {kind}`
    pub(crate) fn out_of_range(kind: Kind, token: &str) -> Self {
        Self::new(
            SqlState::NumericValueOutOfRange,
            format!("\"{token}\" is out of range for type {}", kind.name()),
        )
    }

    /// `22P03 insufficient data left in message` (binary input too short).
    pub(crate) fn insufficient_data() -> Self {
        Self::new(
            SqlState::InvalidBinaryRepresentation,
            "insufficient data left in message",
        )
    }

    /// `22P03 incorrect binary data format` (binary input has trailing bytes).
    pub(crate) fn trailing_data() -> Self {
        Self::new(
            SqlState::InvalidBinaryRepresentation,
            "incorrect binary data format",
        )
    }
}
