//! `storage = 'auto'`: every vector at the precision its use deserves, chosen from how often
//! scans return it.
//!
//! Each element always holds the **archive** code (binary, the smallest) in its fixed-size
//! tuple, behind an [`AutoPrefix`] with its access heat. Elements that scans return often own
//! one *upgrade tuple* with a more precise code of the same vector, one rung per heat band:
//!
//! | rung      | upgrade tuple holds                          | heat (decayed accesses)   |
//! |-----------|----------------------------------------------|---------------------------|
//! | `hot`     | the column's own values (f32 / f16): exact   | >= [`HOT_HEAT`]           |
//! | `warm`    | int8 code                                    | >= [`WARM_HEAT`]          |
//! | `cold`    | PQ4 code                                     | >= [`COLD_HEAT`]          |
//! | `archive` | nothing: the element's binary code only      | below                     |
//!
//! Heat is the number of times a scan returned the element, decayed with the half-life
//! `ruvec.access_half_life`: `heat(now) = heat * 2^-((now - stamp) / half_life)`, and a scan
//! that returns the element sets it to `heat(now) + 1`. Scans write it as a hint (no WAL; see
//! `AutoPrefix`). Rungs change only in `ruvec.retier(index)` and in VACUUM, each change one
//! WAL record ([`super::retier`]), so the tiers themselves are crash-safe and replicated; the
//! heat counters are best-effort (a crash or a standby loses or does not count some accesses).
//!
//! Navigation uses the best code an element has (the upgrade tuple when there is one), so
//! frequently returned vectors are ranked precisely; hot ones are exact, and a scan takes their
//! distance from the index instead of re-reading the table row for the rerank.

use pgrx::pg_sys;
use ruvec_quant::{Pq, PqBits, PqTable, QuantError, Rbq, RbqQuery, Sq8, Sq8Query};

use super::codec::{plain_distance, Query};
use super::format::Metric;

/// Decayed accesses from which an element is kept at a rung: hot when returned about four
/// times or more within the last half-life, warm about once, cold once within about four
/// half-lives. (A single access is worth 1 only at the instant it happens, hence the margins.)
pub const HOT_HEAT: f32 = 4.0;
pub const WARM_HEAT: f32 = 0.5;
pub const COLD_HEAT: f32 = 0.0625;

#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rung {
    Archive = 0,
    Cold = 1,
    Warm = 2,
    Hot = 3,
}

impl Rung {
    pub const ALL: [Rung; 4] = [Rung::Archive, Rung::Cold, Rung::Warm, Rung::Hot];

    pub fn from_u8(v: u8) -> Option<Rung> {
        Rung::ALL.get(v as usize).copied()
    }

    pub fn name(self) -> &'static str {
        match self {
            Rung::Archive => "archive",
            Rung::Cold => "cold",
            Rung::Warm => "warm",
            Rung::Hot => "hot",
        }
    }

    /// The rung an element of this (decayed) heat belongs at.
    pub fn for_heat(heat: f32) -> Rung {
        if heat >= HOT_HEAT {
            Rung::Hot
        } else if heat >= WARM_HEAT {
            Rung::Warm
        } else if heat >= COLD_HEAT {
            Rung::Cold
        } else {
            Rung::Archive
        }
    }
}

/// Seconds since 2000-01-01, the clock of `AutoPrefix::stamp`.
pub fn now_secs() -> u32 {
    // SAFETY: reads the system clock.
    let us = unsafe { pg_sys::GetCurrentTimestamp() };
    (us / 1_000_000).clamp(0, u32::MAX as i64) as u32
}

/// `heat` recorded at `stamp`, decayed to `now`. Garbage (a torn or never-written hint) reads
/// as no heat.
pub fn decayed(heat: f32, stamp: u32, now: u32, half_life: u32) -> f32 {
    if !heat.is_finite() || heat <= 0.0 {
        return 0.0;
    }
    let dt = now.saturating_sub(stamp) as f64;
    let h = heat.min(1e9) as f64 * 0.5f64.powf(dt / half_life.max(1) as f64);
    h as f32
}

/// The three quantizers of an auto index (trained together at build time).
pub struct AutoCodec {
    pub int8: Sq8,
    pub pq4: Pq,
    pub binary: Rbq,
}

/// A query prepared for every rung.
pub struct AutoQuery {
    /// The query in the column's own type (exact distances to hot upgrades).
    pub native: Query,
    pub int8: Sq8Query,
    pub pq4: PqTable,
    pub binary: RbqQuery,
}

impl AutoCodec {
    /// `coded`: the vector as the quantizers see it (normalised under cosine).
    pub fn prepare(
        &self,
        metric: ruvec_quant::Metric,
        native: Query,
        coded: &[f32],
    ) -> Result<AutoQuery, QuantError> {
        Ok(AutoQuery {
            native,
            int8: self.int8.prepare(metric, coded),
            pq4: self.pq4.table(metric, coded)?,
            binary: self.binary.query(metric, coded)?,
        })
    }

    /// Code of an upgrade tuple at `rung` (`native`: the column value's bytes, `coded`: its
    /// f32 form as the quantizers see it). Hot stores the column value itself.
    pub fn upgrade_code(
        &self,
        rung: Rung,
        native: &[u8],
        coded: &[f32],
    ) -> Result<Vec<u8>, QuantError> {
        match rung {
            Rung::Hot => Ok(native.to_vec()),
            Rung::Warm => self.int8.encode(coded),
            Rung::Cold => self.pq4.encode(coded),
            Rung::Archive => Ok(Vec::new()),
        }
    }

    /// Bytes of an upgrade code at `rung` for a column value of `native_bytes` bytes.
    pub fn upgrade_bytes(&self, rung: Rung, native_bytes: usize) -> usize {
        match rung {
            Rung::Hot => native_bytes,
            Rung::Warm => self.int8.code_bytes(),
            Rung::Cold => self.pq4.code_bytes(),
            Rung::Archive => 0,
        }
    }

    /// Navigation distance from `q` to an upgrade code (exact for hot).
    pub fn upgrade_distance(&self, metric: Metric, q: &AutoQuery, rung: Rung, code: &[u8]) -> f32 {
        match rung {
            Rung::Hot => plain_distance(metric, &q.native, code),
            Rung::Warm => self.int8.distance_prepared(&q.int8, code),
            Rung::Cold => q.pq4.distance(code),
            Rung::Archive => f32::NAN,
        }
    }

    pub fn dims_ok(&self, dims: usize) -> bool {
        self.int8.dims() == dims && self.pq4.dims() == dims && self.binary.dims() == dims
    }

    /// Train on `flat` (rows of `dims` coded values); PQ on every `pq_step`-th row.
    pub fn train(
        flat: &[f32],
        dims: usize,
        pq_subvectors: usize,
        pq_step: usize,
        iters: usize,
        seed: u64,
    ) -> Result<Self, QuantError> {
        let pq_rows: Vec<f32> = flat
            .chunks_exact(dims)
            .step_by(pq_step.max(1))
            .flatten()
            .copied()
            .collect();
        Ok(AutoCodec {
            int8: Sq8::train(flat, dims)?,
            pq4: Pq::train(&pq_rows, dims, pq_subvectors, PqBits::Four, iters, seed)?,
            binary: Rbq::train(flat, dims, seed)?,
        })
    }

    /// Serialised: three length-prefixed (u32 LE) quantizers.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for part in [
            self.int8.to_bytes(),
            self.pq4.to_bytes(),
            self.binary.to_bytes(),
        ] {
            out.extend((part.len() as u32).to_le_bytes());
            out.extend(part);
        }
        out
    }

    pub fn from_bytes(mut b: &[u8]) -> Result<Self, QuantError> {
        let mut next = || -> Result<&[u8], QuantError> {
            let len = b
                .get(..4)
                .map(|l| u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize)
                .ok_or(QuantError::Malformed)?;
            let part = b.get(4..4 + len).ok_or(QuantError::Malformed)?;
            b = &b[4 + len..];
            Ok(part)
        };
        let int8 = Sq8::from_bytes(next()?)?;
        let pq4 = Pq::from_bytes(next()?)?;
        let binary = Rbq::from_bytes(next()?)?;
        if pq4.bits() != PqBits::Four {
            return Err(QuantError::Malformed);
        }
        Ok(AutoCodec { int8, pq4, binary })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_by_heat() {
        assert_eq!(Rung::for_heat(0.0), Rung::Archive);
        assert_eq!(Rung::for_heat(0.2), Rung::Cold);
        assert_eq!(Rung::for_heat(0.99), Rung::Warm);
        assert_eq!(Rung::for_heat(4.0), Rung::Hot);
        for r in Rung::ALL {
            assert_eq!(Rung::from_u8(r as u8), Some(r));
        }
        assert_eq!(Rung::from_u8(4), None);
    }

    #[test]
    fn heat_halves_per_half_life() {
        assert_eq!(decayed(8.0, 100, 100, 60), 8.0);
        assert!((decayed(8.0, 100, 160, 60) - 4.0).abs() < 1e-5);
        assert!((decayed(8.0, 100, 280, 60) - 1.0).abs() < 1e-5);
        // a clock that went backwards does not heat anything up
        assert_eq!(decayed(2.0, 500, 100, 60), 2.0);
        assert_eq!(decayed(f32::NAN, 0, 10, 60), 0.0);
        assert_eq!(decayed(-3.0, 0, 10, 60), 0.0);
    }
}
