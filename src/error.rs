//! Turning value errors from the pure crates into `ereport(ERROR)` with the SQLSTATE they name.
//!
//! Nothing user-facing may go through `error!`/`panic!` (those surface as XX000); every check in
//! `crates/vector` returns a [`VecError`] that carries its SQLSTATE, and the glue raises it here.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};
use ruvec_vector::{SqlState, VecError};

fn code(state: SqlState) -> PgSqlErrorCode {
    match state {
        SqlState::InvalidTextRepresentation => PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        SqlState::InvalidBinaryRepresentation => {
            PgSqlErrorCode::ERRCODE_INVALID_BINARY_REPRESENTATION
        }
        SqlState::DataException => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        SqlState::InvalidParameterValue => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        SqlState::ProgramLimitExceeded => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        SqlState::NumericValueOutOfRange => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
    }
}

/// Raise `e` as a Postgres ERROR. Never returns.
#[track_caller]
pub fn raise(e: VecError) -> ! {
    raise_with(code(e.state), e.message, e.detail, e.hint)
}

/// Raise an ERROR with an explicit SQLSTATE (for checks that live in the glue itself).
#[track_caller]
pub fn raise_with(
    code: PgSqlErrorCode,
    message: String,
    detail: Option<String>,
    hint: Option<String>,
) -> ! {
    let mut report = ErrorReport::new(code, message, "ruvec");
    if let Some(d) = detail {
        report = report.set_detail(d);
    }
    if let Some(h) = hint {
        report = report.set_hint(h);
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("ereport(ERROR) returned")
}

/// `result.or_raise()`: the value, or the error raised as a Postgres ERROR.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T, VecError> {
    #[track_caller]
    fn or_raise(self) -> T {
        match self {
            Ok(v) => v,
            Err(e) => raise(e),
        }
    }
}
