//! `amvalidate`: is an operator class usable by ruhnsw? (Called by the `amvalidate(oid)` SQL
//! function, e.g. after a user defines their own opclass.) Problems are reported as INFO
//! messages, as PostgreSQL's own access methods do, and the result is false.

use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

fn count(sql: &str) -> i64 {
    // Read-only SPI: amvalidate must also work on a hot standby.
    Spi::connect(|client| {
        client
            .select(sql, Some(1), &[])
            .ok()?
            .first()
            .get_one::<i64>()
            .ok()
            .flatten()
    })
    .unwrap_or(0)
}

#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amvalidate(opclassoid: pg_sys::Oid) -> bool {
    let oid = opclassoid.to_u32();
    let procs = |cond: &str| {
        count(&format!(
            "SELECT count(*) FROM pg_amproc p JOIN pg_opclass c ON p.amprocfamily = c.opcfamily \
             WHERE c.oid = {oid} AND p.amproclefttype = c.opcintype AND {cond}"
        ))
    };
    let ops = |cond: &str| {
        count(&format!(
            "SELECT count(*) FROM pg_amop a JOIN pg_opclass c ON a.amopfamily = c.opcfamily \
             WHERE c.oid = {oid} AND a.amoplefttype = c.opcintype AND {cond}"
        ))
    };
    let mut problems = Vec::new();
    if procs("p.amprocnum = 1") != 1 {
        problems.push("is missing support function 1 (the distance function)".to_string());
    }
    if procs("p.amprocnum = 2") != 1 {
        problems.push("is missing support function 2 (the ruhnsw metric code)".to_string());
    }
    if procs("p.amprocnum NOT IN (1, 2)") != 0 {
        problems.push("has support functions other than 1 and 2".to_string());
    }
    if ops("a.amopstrategy = 1 AND a.amoppurpose = 'o'") != 1 {
        problems.push(
            "needs exactly one ordering operator with strategy 1 (FOR ORDER BY float_ops)"
                .to_string(),
        );
    }
    if ops("NOT (a.amopstrategy = 1 AND a.amoppurpose = 'o')") != 0 {
        problems.push(
            "has search operators or strategies other than 1, which ruhnsw cannot use".to_string(),
        );
    }
    for p in &problems {
        pgrx::ereport!(
            INFO,
            PgSqlErrorCode::ERRCODE_INVALID_OBJECT_DEFINITION,
            format!("ruhnsw operator class with OID {oid} {p}")
        );
    }
    problems.is_empty()
}
