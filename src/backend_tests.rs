//! In-backend tests (DESIGN.md §5 tier 2): behaviour that needs a live backend — PostgreSQL's
//! own float4 output as the oracle for our float text, TOAST and short-header datums.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    /// Our vector text output must be exactly PostgreSQL's float4 output for every element
    /// (shortest round-trip digits, PostgreSQL's exponent style). Checked on 20,000 random
    /// bit patterns against float4out in this very backend.
    #[pg_test]
    fn float_text_matches_float4out() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut checked = 0;
        let mut values = Vec::new();
        while values.len() < 20_000 {
            // xorshift64*: deterministic, no extra dependency
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let bits = (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32;
            let x = f32::from_bits(bits);
            if x.is_finite() {
                values.push(x);
            }
        }
        for chunk in values.chunks(1000) {
            let list: Vec<String> = chunk.iter().map(|x| format!("{:e}", x)).collect();
            let sql = format!(
                "SELECT array_agg(x::text ORDER BY i) FROM unnest(ARRAY[{}]::real[]) WITH ORDINALITY u(x, i)",
                list.join(",")
            );
            let pg: Vec<String> = Spi::get_one::<Vec<String>>(&sql).unwrap().unwrap();
            let ours = ruvec_vector::text::format_vector(chunk);
            let expected = format!("[{}]", pg.join(","));
            assert_eq!(ours, expected);
            checked += chunk.len();
        }
        assert_eq!(checked, 20_000);
    }

    /// Every way PostgreSQL can store a wide value reads back the same: the types' default
    /// STORAGE main keeps a compressible 16,000-d vector compressed in the heap row and moves an
    /// incompressible one (64 kB, larger than a page) out of line; `SET STORAGE external`
    /// (pgvector's default) moves both out of line. Values and distances equal the literal's.
    #[pg_test]
    fn toasted_vectors_roundtrip() {
        Spi::run("CREATE TABLE big (id int, v vector(16000), h halfvec(16000))").unwrap();
        Spi::run("CREATE TABLE big_ext (LIKE big)").unwrap();
        Spi::run("ALTER TABLE big_ext ALTER COLUMN v SET STORAGE external, ALTER COLUMN h SET STORAGE external").unwrap();
        // id 1 repeats a 97-element pattern (pglz finds it); id 2 is sin(i), which it cannot compress
        let values = "SELECT 1 AS id, array_agg((i % 97)::real / 7 ORDER BY i)::vector AS v FROM generate_series(1, 16000) i \
                      UNION ALL SELECT 2, array_agg(sin(i)::real ORDER BY i)::vector FROM generate_series(1, 16000) i";
        for t in ["big", "big_ext"] {
            Spi::run(&format!(
                "INSERT INTO {t} SELECT id, v, v::halfvec FROM ({values}) s"
            ))
            .unwrap();
        }
        let compressed = |t: &str, id: i32| {
            Spi::get_one::<bool>(&format!(
                "SELECT pg_column_compression(v) IS NOT NULL FROM {t} WHERE id = {id}"
            ))
            .unwrap()
            .unwrap()
        };
        assert!(
            compressed("big", 1),
            "the repeating vector is stored compressed"
        );
        assert!(!compressed("big", 2), "sin(i) does not compress");
        assert!(!compressed("big_ext", 1), "external never compresses");
        let toast_bytes = |t: &str| {
            Spi::get_one::<i64>(&format!(
                "SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = '{t}'"
            ))
            .unwrap()
            .unwrap()
        };
        // main: only sin(i) (64 kB + 32 kB halfvec) is out of line; external: all four values
        assert!(
            (96_000..160_000).contains(&toast_bytes("big")),
            "{}",
            toast_bytes("big")
        );
        assert!(
            toast_bytes("big_ext") >= 190_000,
            "{}",
            toast_bytes("big_ext")
        );
        for t in ["big", "big_ext"] {
            let same = Spi::get_one::<bool>(&format!(
                "SELECT bool_and(t.v = s.v AND t.v <-> s.v = 0 AND t.v <=> s.v < 1e-6 \
                 AND vector_dims(t.v) = 16000 AND vector_dims(t.h) = 16000 \
                 AND t.h = s.v::halfvec AND abs(t.h::vector <-> t.v) < 1) \
                 FROM {t} t JOIN ({values}) s USING (id)"
            ))
            .unwrap()
            .unwrap();
            assert!(same, "{t}");
        }
    }

    /// Small values stored in a heap tuple get 1-byte varlena headers; every function must read them
    /// through detoasting (which re-aligns them) and agree with the unpacked literal.
    #[pg_test]
    fn short_header_datums() {
        Spi::run("CREATE TABLE small (v vector, h halfvec, s sparsevec)").unwrap();
        Spi::run("INSERT INTO small VALUES ('[1,2,3]', '[1,2,3]', '{1:1,3:3}/3')").unwrap();
        let ok = Spi::get_one::<bool>(
            "SELECT v <-> '[1,2,4]' = 1 AND h <=> '[1,2,3]' = 0 AND s <+> '{2:2}/3' = 6 \
             AND v::text = '[1,2,3]' AND s::text = '{1:1,3:3}/3' FROM small",
        )
        .unwrap()
        .unwrap();
        assert!(ok);
    }

    /// Errors carry their SQLSTATE through the pgrx boundary (never XX000).
    #[pg_test(error = "different vector dimensions 2 and 3")]
    fn dimension_mismatch_is_an_error() {
        Spi::get_one::<f64>("SELECT '[1,2]'::vector <-> '[1,2,3]'").unwrap();
    }

    /// The storage guards on a real relation: a Generic WAL record applies atomically or not
    /// at all (and writes WAL), the build writer appends pages and logs them once, and reads see
    /// exactly what was written. A plain empty table serves as the page container; nothing
    /// scans it before it is dropped.
    #[pg_test]
    fn storage_guards_roundtrip() {
        use crate::storage::{BuildWriter, Locked, Mode, WalRecord};

        #[derive(Clone, Copy, PartialEq, Debug)]
        #[repr(C)]
        struct Special {
            magic: u32,
            next: u32,
        }

        Spi::run("CREATE TABLE page_box (x int)").unwrap();
        let oid = Spi::get_one::<pg_sys::Oid>("SELECT 'page_box'::regclass::oid")
            .unwrap()
            .unwrap();
        // SAFETY: the table was just created by this transaction; we hold its lock until the end.
        let rel = unsafe { pg_sys::relation_open(oid, pg_sys::AccessExclusiveLock as i32) };

        // 1. two new pages in one WAL record
        // SAFETY: rel is open and exclusively locked.
        let lsn_before = unsafe { pg_sys::GetXLogInsertRecPtr() };
        let (b0, b1) = unsafe {
            let mut rec = WalRecord::start(rel);
            let i0 = rec.register(Locked::extend(rel, pg_sys::ForkNumber::MAIN_FORKNUM), true);
            let i1 = rec.register(Locked::extend(rel, pg_sys::ForkNumber::MAIN_FORKNUM), true);
            for (i, tag) in [(i0, 0xA1u8), (i1, 0xB2u8)] {
                let mut p = rec.page(i);
                p.init(Special {
                    magic: 0x52555645,
                    next: 7,
                });
                assert_eq!(p.add_item(&[tag; 40]), Some(1));
                assert_eq!(p.add_item(&[tag ^ 0xFF; 8]), Some(2));
            }
            let blocks = (rec.block(i0), rec.block(i1));
            rec.finish();
            blocks
        };
        // SAFETY: plain WAL position read.
        assert!(
            unsafe { pg_sys::GetXLogInsertRecPtr() } > lsn_before,
            "no WAL was written"
        );
        // SAFETY: both blocks exist.
        let page0 = unsafe { Locked::read(rel, b0, Mode::Share) };
        assert_eq!(page0.page().item(1), Some(&[0xA1u8; 40][..]));
        assert_eq!(page0.page().item(2), Some(&[0x5Eu8; 8][..]));
        assert_eq!(page0.page().item(3), None);
        assert_eq!(
            page0.page().special::<Special>(),
            Some(Special {
                magic: 0x52555645,
                next: 7
            })
        );
        drop(page0);

        // 2. an unfinished record changes nothing
        // SAFETY: b1 exists; the record is dropped (aborted) without finish.
        unsafe {
            let mut rec = WalRecord::start(rel);
            let i = rec.register(Locked::read(rel, b1, Mode::Exclusive), false);
            assert!(rec.page(i).overwrite_item(1, &[0u8; 40]));
            assert!(
                !rec.page(i).overwrite_item(1, &[0u8; 39]),
                "size must match"
            );
            drop(rec);
            let p = Locked::read(rel, b1, Mode::Share);
            assert_eq!(p.page().item(1), Some(&[0xB2u8; 40][..]));
        }

        // 3. a finished in-place overwrite is visible
        // SAFETY: as above.
        unsafe {
            let mut rec = WalRecord::start(rel);
            let i = rec.register(Locked::read(rel, b1, Mode::Exclusive), false);
            assert!(rec.page(i).overwrite_item(1, &[0x11u8; 40]));
            rec.finish();
            let p = Locked::read(rel, b1, Mode::Share);
            assert_eq!(p.page().item(1), Some(&[0x11u8; 40][..]));
        }

        // 4. read_recent: through the buffer a block was in, or, given another block's buffer
        // (a stale hint), through the buffer mapping as usual
        // SAFETY: both blocks exist; buffers come from reads of this relation.
        unsafe {
            let (buf0, buf1) = {
                let p0 = Locked::read(rel, b0, Mode::Share);
                let p1 = Locked::read(rel, b1, Mode::Share);
                (p0.buffer(), p1.buffer())
            };
            assert_ne!(buf0, buf1);
            for (recent, expect) in [(buf1, buf1), (buf0, buf1), (0, buf1)] {
                let p = Locked::read_recent(rel, b1, Mode::Share, recent);
                assert_eq!(p.block(), b1);
                assert_eq!(p.buffer(), expect);
                let item = p.page().item(1).expect("item 1");
                assert_eq!(item, &[0x11u8; 40][..]);
                // the item is the page's last 40 bytes before the special area
                assert_eq!(
                    p.page().offset_of(item),
                    pg_sys::BLCKSZ as usize - size_of::<Special>() - 40
                );
            }
        }

        // 5. build writer: append, rewrite, log once
        // SAFETY: rel is ours.
        unsafe {
            let mut w = BuildWriter::new(rel);
            let first = w.append(|p| {
                p.init(Special { magic: 1, next: 0 });
                p.add_item(b"meta");
            });
            let second = w.append(|p| p.init(Special { magic: 2, next: 0 }));
            w.rewrite(first, |p| {
                p.set_special(Special {
                    magic: 1,
                    next: second,
                })
            });
            w.finish();
            assert_eq!(first, b1 + 1);
            let p = Locked::read(rel, first, Mode::Share);
            assert_eq!(
                p.page().special::<Special>(),
                Some(Special {
                    magic: 1,
                    next: second
                })
            );
            assert_eq!(p.page().item(1), Some(&b"meta"[..]));
            assert!(p.page().free_space() > 8000);
            assert_eq!(
                pg_sys::RelationGetNumberOfBlocksInFork(rel, pg_sys::ForkNumber::MAIN_FORKNUM),
                second + 1
            );
            pg_sys::relation_close(rel, pg_sys::NoLock as i32);
        }
        Spi::run("DROP TABLE page_box").unwrap();
    }
}
