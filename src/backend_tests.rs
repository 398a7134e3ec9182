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

    /// A 16,000-dimension vector is TOASTed out of line (STORAGE external); reading it back through
    /// the detoast path gives the same value and distances as the in-memory literal.
    #[pg_test]
    fn toasted_vectors_roundtrip() {
        Spi::run("CREATE TABLE big (id int, v vector(16000), h halfvec(16000))").unwrap();
        Spi::run(
            "INSERT INTO big SELECT 1, v, v::halfvec FROM (SELECT array_agg((i % 97)::real / 7)::vector AS v \
             FROM generate_series(1, 16000) i) s",
        )
        .unwrap();
        let toasted = Spi::get_one::<bool>(
            "SELECT pg_relation_size(reltoastrelid) >= 64000 FROM pg_class WHERE relname = 'big'",
        )
        .unwrap()
        .unwrap();
        assert!(toasted, "expected the vector to live in the TOAST table");
        let same = Spi::get_one::<bool>(
            "SELECT v = (SELECT array_agg((i % 97)::real / 7)::vector FROM generate_series(1, 16000) i) \
             AND v <-> v = 0 AND vector_dims(v) = 16000 AND vector_dims(h) = 16000 \
             AND abs((h::vector <-> v)) < 1 FROM big",
        )
        .unwrap()
        .unwrap();
        assert!(same);
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
}
