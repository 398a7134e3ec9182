"""Benchmark datasets: the shared fvecs/ivecs fixtures and generated Gaussian-cluster sets.

Every dataset ends up as a `Dataset`: float32 base and query matrices, the metric, and the exact
top-`GT_K` neighbour ids of every query (from the fixture's ground-truth file when it matches the
metric, else computed here by brute force). Distances are always in a "smaller is closer" space:

- l2: squared Euclidean distance (what the fixtures' `*_dist.fvecs` hold),
- cosine: 1 - cosine similarity,
- ip: negative inner product (pgvector's `<#>`).

Generated sets and brute-force ground truth are cached under `target/bench-data/`, keyed by every
parameter that affects them, so a rerun loads them in seconds.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

GT_K = 100  # neighbours kept per query in the ground truth
METRICS = ("l2", "cosine", "ip")
CACHE_VERSION = 1  # bump when generation or ground-truth code changes

# name -> (folder under the shared data dir, base file, query file, native metric)
FIXTURES = {
    "sift5k": ("vectors/sift5k", "base.fvecs", "query.fvecs", "l2"),
    "bigann10k": ("vectors/bigann10k", "base.fvecs", "query.fvecs", "l2"),
    "bge-m3": ("vectors/bge-m3", "paragraph.fvecs", "sentence.fvecs", "cosine"),
    "nfcorpus-minilm": ("text/nfcorpus/embeddings_minilm", "corpus.fvecs", "queries.fvecs", "cosine"),
}
# Ground-truth files shipped with the fixtures: metric -> (ids file, distance-like file).
FIXTURE_GT = {
    "l2": ("groundtruth_l2_top100.ivecs", "groundtruth_l2_top100_dist.fvecs"),
    "cosine": ("groundtruth_cosine_top100.ivecs", "groundtruth_cosine_top100_sim.fvecs"),
}
CLUSTERED_RE = re.compile(r"^clustered-(\d+)([km]?)-(\d+)$")
DATASET_HELP = (
    f"one of {', '.join(FIXTURES)}, or clustered-<n>-<d> (n may end in k or m, "
    "e.g. clustered-100k-128, clustered-1m-128, clustered-200k-768)"
)


@dataclass
class Dataset:
    """A benchmark dataset held in memory."""

    name: str
    metric: str
    base: np.ndarray  # (n, d) float32, row i has id i
    queries: np.ndarray  # (nq, d) float32
    gt_ids: np.ndarray  # (nq, >= k) int64, exact neighbours, closest first
    source: str  # human-readable provenance

    @property
    def dim(self) -> int:
        return int(self.base.shape[1])

    def extra_rows(self, n: int, seed: int) -> np.ndarray:
        """`n` new rows for the insert-throughput test: base rows plus 1% per-dimension noise.

        Perturbed copies keep the data distribution (and, for SIFT, the value range) without
        inserting exact duplicates, which HNSW implementations treat specially.
        """
        rng = np.random.default_rng(seed + 1)
        rows = self.base[rng.integers(0, len(self.base), size=n)].astype(np.float64)
        noise = rng.standard_normal(rows.shape) * (0.01 * self.base.std(axis=0) + 1e-6)
        return (rows + noise).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# File formats


def read_vecs(path: Path) -> np.ndarray:
    """Read a TEXMEX .fvecs or .ivecs file (little-endian, int32 dim before each row)."""
    raw = np.fromfile(path, dtype="<i4")
    if raw.size == 0:
        raise ValueError(f"{path} is empty")
    dim = int(raw[0])
    rows = raw.reshape(-1, dim + 1)
    if not np.all(rows[:, 0] == dim):
        raise ValueError(f"{path}: rows of differing dimension")
    body = rows[:, 1:]
    return body.view("<f4").astype(np.float32) if path.suffix == ".fvecs" else body.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Exact distances and ground truth


def pair_distances(base: np.ndarray, queries: np.ndarray, ids: np.ndarray, metric: str) -> np.ndarray:
    """Exact float64 distances between query i and base rows ids[i, :] (shape of `ids`)."""
    q = queries.astype(np.float64)[:, None, :]
    x = base[ids].astype(np.float64)
    if metric == "l2":
        return ((x - q) ** 2).sum(axis=2)
    dot = (x * q).sum(axis=2)
    if metric == "ip":
        return -dot
    norms = np.linalg.norm(x, axis=2) * np.linalg.norm(q, axis=2)
    return 1.0 - dot / np.where(norms == 0, 1.0, norms)


def _approx_block_distances(xb: np.ndarray, qb: np.ndarray, metric: str) -> np.ndarray:
    """float32 distances of a query block to a base block, for candidate preselection only."""
    dot = qb @ xb.T
    if metric == "l2":
        return (xb * xb).sum(axis=1)[None, :] - 2.0 * dot  # + |q|^2, constant per query
    if metric == "ip":
        return -dot
    norms = np.linalg.norm(xb, axis=1)
    return -dot / np.where(norms == 0, 1.0, norms)[None, :]  # queries pre-normalised


def _exact_topk_block(base: np.ndarray, qb: np.ndarray, metric: str, k: int) -> np.ndarray:
    """Exact top-k ids for one block of queries: float32 preselection, float64 refinement."""
    keep = min(len(base), 2 * k + 16)
    cand_ids = np.empty((len(qb), 0), dtype=np.int64)
    cand_d = np.empty((len(qb), 0), dtype=np.float32)
    qn = qb
    if metric == "cosine":
        qn = qb / np.maximum(np.linalg.norm(qb, axis=1, keepdims=True), 1e-30)
    step = 65536
    for start in range(0, len(base), step):
        d = _approx_block_distances(base[start:start + step], qn, metric)
        ids = np.broadcast_to(np.arange(start, start + d.shape[1]), d.shape)
        d = np.concatenate([cand_d, d], axis=1)
        ids = np.concatenate([cand_ids, ids], axis=1)
        part = np.argpartition(d, min(keep, d.shape[1]) - 1, axis=1)[:, :keep]
        cand_d = np.take_along_axis(d, part, axis=1)
        cand_ids = np.take_along_axis(ids, part, axis=1)
    exact = pair_distances(base, qb, cand_ids, metric)
    order = np.lexsort((cand_ids, exact), axis=1)  # by distance, ties to the lower id
    return np.take_along_axis(cand_ids, order, axis=1)[:, :k]


def brute_force_topk(base: np.ndarray, queries: np.ndarray, metric: str, k: int = GT_K) -> np.ndarray:
    """Exact top-k neighbour ids of every query, computed in blocks to bound memory."""
    k = min(k, len(base))
    blocks = [_exact_topk_block(base, queries[s:s + 256], metric, k) for s in range(0, len(queries), 256)]
    return np.concatenate(blocks, axis=0)


# ---------------------------------------------------------------------------------------------
# Caching


def _cache_dir(cache_root: Path, key: str) -> Path:
    path = cache_root / key
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cached(path: Path, compute):
    """Load the .npy at `path`, or compute, save and return it."""
    if path.exists():
        return np.load(path)
    value = compute()
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, value)
    tmp.replace(path)
    return value


def _file_digest(paths: list[Path]) -> str:
    """Short digest of file names, sizes and mtimes: a cheap cache key for fixture files."""
    h = hashlib.sha256()
    for p in paths:
        st = p.stat()
        h.update(f"{p.name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:12]


# ---------------------------------------------------------------------------------------------
# Loaders


def _fixture_ground_truth(folder: Path, files: list[Path], metric: str, base, queries,
                          cache: Path) -> tuple[np.ndarray, str]:
    """The fixture's own ground-truth ids when shipped for `metric`, else cached brute force."""
    gt_files = FIXTURE_GT.get(metric)
    if gt_files and (folder / gt_files[0]).exists():
        return read_vecs(folder / gt_files[0]), f"{gt_files[0]} (shipped)"
    key = f"{folder.name}-{_file_digest(files)}-v{CACHE_VERSION}"
    gt = _cached(_cache_dir(cache, key) / f"gt_{metric}_{GT_K}.npy",
                 lambda: brute_force_topk(base, queries, metric))
    return gt, "brute force (numpy, cached)"


def load_fixture(name: str, shared: Path, metric: str | None, cache: Path) -> Dataset:
    """Load one of the shared fixtures listed in FIXTURES."""
    rel, base_file, query_file, native = FIXTURES[name]
    folder = shared / rel
    if not folder.is_dir():
        raise SystemExit(f"fixture folder {folder} not found (set RUVEC_SHARED_DATA)")
    metric = metric or native
    files = [folder / base_file, folder / query_file]
    base, queries = read_vecs(files[0]), read_vecs(files[1])
    gt, how = _fixture_ground_truth(folder, files, metric, base, queries, cache)
    return Dataset(name, metric, base, queries, gt, f"{folder}: {base_file} / {query_file}; ground truth: {how}")


def parse_clustered(name: str) -> tuple[int, int] | None:
    """`clustered-100k-128` -> (100000, 128); None when `name` is not of that form."""
    m = CLUSTERED_RE.match(name)
    if not m:
        return None
    scale = {"": 1, "k": 1000, "m": 1_000_000}[m.group(2)]
    return int(m.group(1)) * scale, int(m.group(3))


def generate_clustered(n: int, nq: int, dim: int, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian mixture: centres ~ N(0, I), each cluster with its own spread in [0.15, 0.35].

    Queries are drawn from the same mixture with an independent random stream.
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    spreads = rng.uniform(0.15, 0.35, size=clusters).astype(np.float32)

    def draw(count: int, stream: np.random.Generator) -> np.ndarray:
        out = np.empty((count, dim), dtype=np.float32)
        for s in range(0, count, 100_000):
            lab = stream.integers(0, clusters, size=min(100_000, count - s))
            noise = stream.standard_normal((len(lab), dim), dtype=np.float32)
            out[s:s + len(lab)] = centres[lab] + noise * spreads[lab, None]
        return out

    return draw(n, rng), draw(nq, np.random.default_rng(seed + 7919))


def load_clustered(name: str, metric: str | None, nq: int, clusters: int | None,
                   seed: int, cache: Path) -> Dataset:
    """Generate (or load from cache) a clustered set and its exact ground truth."""
    n, dim = parse_clustered(name)
    metric = metric or "l2"
    clusters = clusters or max(10, n // 1000)
    key = f"clustered-n{n}-d{dim}-c{clusters}-q{nq}-s{seed}-v{CACHE_VERSION}"
    folder = _cache_dir(cache, key)
    if not (folder / "base.npy").exists():
        base, queries = generate_clustered(n, nq, dim, clusters, seed)
        np.save(folder / "queries.npy", queries)
        np.save(folder / "base.npy", base)  # written last: marks the pair complete
    base, queries = np.load(folder / "base.npy"), np.load(folder / "queries.npy")
    gt = _cached(folder / f"gt_{metric}_{GT_K}.npy", lambda: brute_force_topk(base, queries, metric))
    src = f"generated: {clusters} Gaussian clusters, seed {seed}; cached in {folder}"
    return Dataset(name, metric, base, queries, gt, src)


def load_dataset(name: str, *, shared: Path, cache: Path, metric: str | None = None,
                 queries: int | None = None, clusters: int | None = None, seed: int = 42) -> Dataset:
    """Load a dataset by name; `queries` caps (fixtures) or sets (generated) the query count."""
    if name in FIXTURES:
        ds = load_fixture(name, shared, metric, cache)
        if queries:
            ds.queries, ds.gt_ids = ds.queries[:queries], ds.gt_ids[:queries]
        return ds
    if parse_clustered(name):
        return load_clustered(name, metric, queries or 1000, clusters, seed, cache)
    raise SystemExit(f"unknown dataset {name!r}: {DATASET_HELP}")


# ---------------------------------------------------------------------------------------------
# Recall


def per_query_recall(ds: Dataset, results: list[list[int]], k: int, rel_tol: float = 1e-6) -> np.ndarray:
    """Tie-aware recall@k of each query's `results` (one id list per query, in query order).

    A returned id counts when its exact distance is no greater than the k-th true distance
    (with a relative tolerance `rel_tol` that absorbs the server's float32 arithmetic), so any
    member of a tie at rank k is accepted. Duplicated ids count once.
    """
    kth_ids = ds.gt_ids[:len(results), k - 1:k]
    kth = pair_distances(ds.base, ds.queries[:len(results)], kth_ids, ds.metric)[:, 0]
    limit = kth + rel_tol * np.maximum(np.abs(kth), 1e-12)
    out = np.zeros(len(results))
    for i, ids in enumerate(results):
        uniq = np.array(list(dict.fromkeys(ids))[:k], dtype=np.int64)
        uniq = uniq[(uniq >= 0) & (uniq < len(ds.base))]
        if uniq.size:
            d = pair_distances(ds.base, ds.queries[i:i + 1], uniq[None, :], ds.metric)[0]
            out[i] = (d <= limit[i]).sum() / k
    return out

