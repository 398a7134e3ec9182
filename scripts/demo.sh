#!/usr/bin/env bash
# The main job: build and install ruvec, start a scratch cluster of its own on 127.0.0.1, load a
# small real dataset, and run nearest-neighbour queries. Installs whatever is missing first;
# safe to re-run (the cluster and tables are reused/replaced).
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"

PORT="${RUVEC_DEMO_PORT:-55432}"
DB=ruvec_demo
VECS="$REPO_ROOT/scripts/lib/vecs_copy.py"

ensure_prereqs
install_extension release
cluster_start demo "$PORT"
# A fresh database each run, so re-running the demo gives the same output.
psql_at "$PORT" postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql_at "$PORT" "$DB" -c "CREATE EXTENSION ruvec"
echo "ruvec $(psql_at "$PORT" "$DB" -tA -c 'SELECT ruvec.version()') loaded; distance kernels: $(psql_at "$PORT" "$DB" -tA -c 'SELECT ruvec.simd_backend()')"

BGE="$SHARED_DATA/vectors/bge-m3"
SIFT="$SHARED_DATA/vectors/sift5k"
if [ -f "$BGE/paragraph.fvecs" ] && [ -f "$SIFT/base.fvecs" ]; then
    log "loading Alice in Wonderland: 500 paragraphs and 500 sentences, bge-m3 1024-d embeddings"
    psql_at "$PORT" "$DB" <<SQL
CREATE TABLE alice_paragraphs (id int PRIMARY KEY, embedding vector(1024) NOT NULL, body text NOT NULL);
CREATE TABLE alice_sentences  (id int PRIMARY KEY, embedding vector(1024) NOT NULL, body text NOT NULL);
\copy alice_paragraphs FROM PROGRAM 'python3 $VECS $BGE/paragraph.fvecs --texts $BGE/paragraph.jsonl'
\copy alice_sentences  FROM PROGRAM 'python3 $VECS $BGE/sentence.fvecs  --texts $BGE/sentence.jsonl'
SQL
    log "which paragraphs are closest (cosine, <=>) to a sentence about a key too small for the locks?"
    psql_at "$PORT" "$DB" -P pager=off <<'SQL'
\set ON_ERROR_STOP 1
SELECT id AS sentence, regexp_replace(body, '\s+', ' ', 'g') AS query
  FROM alice_sentences WHERE body ILIKE '%the key was too small%' ORDER BY id LIMIT 1 \gset q_
\echo query sentence :q_sentence: :q_query
SELECT p.id AS paragraph,
       round((p.embedding <=> s.embedding)::numeric, 4) AS cosine_distance,
       left(regexp_replace(p.body, '\s+', ' ', 'g'), 110) AS text
  FROM alice_paragraphs p, alice_sentences s
 WHERE s.id = :q_sentence
 ORDER BY p.embedding <=> s.embedding
 LIMIT 5;
SQL

    log "SIFT (sift5k): 4,500 x 128-d base, L2 (<->) nearest neighbours vs. exact ground truth"
    psql_at "$PORT" "$DB" <<SQL
CREATE TABLE sift_base  (id int PRIMARY KEY, v vector(128) NOT NULL);
CREATE TABLE sift_query (id int PRIMARY KEY, v vector(128) NOT NULL);
CREATE TABLE sift_truth (query int, rank int, id int, PRIMARY KEY (query, rank));
\copy sift_base  FROM PROGRAM 'python3 $VECS $SIFT/base.fvecs'
\copy sift_query FROM PROGRAM 'python3 $VECS $SIFT/query.fvecs --limit 20'
\copy sift_truth FROM PROGRAM 'python3 $VECS $SIFT/groundtruth_l2_top100.ivecs --ranks --limit 20'
SQL
    psql_at "$PORT" "$DB" -P pager=off <<'SQL'
SELECT b.id, b.v <-> q.v AS l2_distance
  FROM sift_base b, sift_query q WHERE q.id = 0
 ORDER BY b.v <-> q.v LIMIT 5;
SELECT count(*) AS queries,
       sum(hits) AS top10_ids_matching_exact_ground_truth,
       10 * count(*) AS of
  FROM (SELECT q.id,
               (SELECT count(*) FROM (SELECT b.id FROM sift_base b ORDER BY b.v <-> q.v LIMIT 10) nn
                 WHERE nn.id IN (SELECT t.id FROM sift_truth t WHERE t.query = q.id AND t.rank <= 10)) AS hits
          FROM sift_query q) per_query;
SQL
else
    log "../shared/data not found: using a generated dataset (10,000 x 64, fixed seed)"
    psql_at "$PORT" "$DB" -P pager=off <<'SQL'
SELECT setseed(0.42);
CREATE TABLE items AS
SELECT i AS id, (SELECT array_agg(random()::real) FROM generate_series(1, 64) WHERE i > 0)::vector(64) AS embedding
  FROM generate_series(1, 10000) i;
SELECT id, embedding <-> (SELECT embedding FROM items WHERE id = 1) AS l2_distance
  FROM items ORDER BY embedding <-> (SELECT embedding FROM items WHERE id = 1) LIMIT 5;
SQL
fi

log "done. The scratch cluster keeps running:"
echo "  psql -h 127.0.0.1 -p $PORT -U postgres $DB"
echo "  stop it with: $PG_BIN/pg_ctl -D $(cluster_dir demo)/data stop   (as user postgres)"
