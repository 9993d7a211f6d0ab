"""The maths of trend analysis, apart from Django: which incidents are alike, and which groups
of them look like one problem. scikit-learn, numpy and scipy do the vectors and the graph.

The method (chosen on labelled data: docs/trends.md has the candidates and figures):

- **Text.** An incident is the L2-normalised sum of two TF-IDF vectors: character n-grams
  (3-5, within words) of its title, robust to inflections, typos and identifiers, and words and
  word pairs of the first 1,000 characters of its description (the tail is often logs).
- **Pair score.** The cosine of two incidents' vectors, less a mild penalty for the time
  between them (logarithmic: 0.035 at a week, 0.075 at a month, 0.13 at a year), plus a little
  for the same service or category when both have one.
- **Hub correction (CSLS).** 2 × score - hub(a) - hub(b), where hub is the mean of an incident's
  best ten scores: an incident close to everything ("it does not work") scores lower with each,
  a lone one higher, so a score means the same in a dense set as in a sparse one.
- **Neighbours, bounded.** Candidates come from a sparse product of pruned vectors (each
  incident keeps its heaviest terms among those some but not many incidents share) that keeps
  only each row's best as it goes (sparse_dot_topn, on every core), so 100,000 incidents never
  make a 100,000² matrix; every candidate pair is then scored exactly.
- **Groups.** Two incidents are linked when each is among the other's two best neighbours by
  the corrected score and that score is at least 0.4; a suggestion is a connected component of
  those links, and a lone incident joins a group that holds both its best neighbours. No global
  similarity threshold on the raw score: ranks and the corrected score follow the density of
  the data.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize
from sparse_dot_topn import sp_matmul_topn

TITLE_CHAR_NGRAMS = (3, 5)  # character n-grams of the title, within words
DESCRIPTION_WORD_NGRAMS = (1, 2)  # words and word pairs of the description
DESCRIPTION_MAX_CHARS = 1000  # the start of a description says what is wrong; the tail is logs
MIN_DF = 1  # every term counts in a score: without its own terms a short title is only its
# common parts, and two titles sharing one word looked alike (candidates use shared terms only)
TIME_WEIGHT = 0.05  # penalty = TIME_WEIGHT × log(1 + days apart / TIME_SCALE_DAYS)
TIME_SCALE_DAYS = 7.0
SAME_SERVICE_BONUS = 0.03  # small: text and time decide, the catalogue only tips the balance
SAME_CATEGORY_BONUS = 0.02
CANDIDATE_TERMS = 64  # features kept per incident to find candidates (bounds the cost)
CANDIDATE_MAX_SHARE = 0.01  # terms in more incidents than this share do not find candidates
CANDIDATE_MIN_COMMON = 20  # … unless in no more than this many (small tenants)
CANDIDATE_POOL = 60  # candidates per incident from the pruned product, each scored exactly
CANDIDATES = 30  # the best of them kept per incident
HUB_K = 10  # best scores averaged for an incident's hub score
MUTUAL_K = 2  # linked only when each is among the other's MUTUAL_K best
LINK_MIN_CORRECTED = 0.4  # and the corrected score is at least this
CANDIDATE_THREADS = len(os.sched_getaffinity(0))  # the product runs on every core given
PAIR_STEP = 200_000  # candidate pairs scored at a time
_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Record:
    """An incident as the analysis reads it."""

    id: int
    title: str
    description: str
    created: datetime
    service_id: int | None = None
    category_id: int | None = None


@dataclass
class Index:
    """The fitted vectors and each incident's candidate neighbours, scored."""

    records: Sequence[Record]
    vectors: sp.csr_matrix  # n × features, L2-normalised
    days: np.ndarray  # creation time in days
    services: np.ndarray  # service id or -1
    categories: np.ndarray  # category id or -1
    neighbours: np.ndarray  # n × CANDIDATES positions (-1: none), best pair score first
    scores: np.ndarray  # n × CANDIDATES pair scores (-inf: none)
    hub: np.ndarray  # n hub scores


# --- Fitting -------------------------------------------------------------------------------------


def fit(records: Sequence[Record]) -> Index:
    """Vectorise the incidents and find each one's neighbours and hub score."""
    n = len(records)
    titles = [record.title or "" for record in records]
    descriptions = [
        _URL.sub(" ", record.description or "")[:DESCRIPTION_MAX_CHARS] for record in records
    ]
    title_vectors = _tfidf(
        titles, analyzer="char_wb", ngram_range=TITLE_CHAR_NGRAMS, stop_words=None
    )
    description_vectors = _tfidf(
        descriptions, analyzer="word", ngram_range=DESCRIPTION_WORD_NGRAMS, stop_words="english"
    )
    parts = [part for part in (title_vectors, description_vectors) if part.shape[1]]
    vectors = (
        normalize(sp.hstack([normalize(part) for part in parts]).tocsr())
        if parts
        else sp.csr_matrix((n, 0))
    ).astype(np.float32)
    index = Index(
        records=records,
        vectors=vectors,
        days=np.array([record.created.timestamp() / 86400 for record in records]),
        services=np.array([record.service_id or -1 for record in records], dtype=np.int64),
        categories=np.array([record.category_id or -1 for record in records], dtype=np.int64),
        neighbours=np.full((n, CANDIDATES), -1, dtype=np.int64),
        scores=np.full((n, CANDIDATES), -np.inf, dtype=np.float32),
        hub=np.zeros(n, dtype=np.float32),
    )
    if n > 1:
        _find_neighbours(index)
    return index


def _tfidf(
    texts: list[str], *, analyzer: str, ngram_range: tuple[int, int], stop_words: str | None
) -> sp.csr_matrix:
    vectorizer = TfidfVectorizer(
        analyzer=analyzer,
        ngram_range=ngram_range,
        sublinear_tf=True,
        min_df=MIN_DF if len(texts) > 2 else 1,
        stop_words=stop_words,
        dtype=np.float32,
    )
    try:
        return vectorizer.fit_transform(texts).tocsr()
    except ValueError:  # no term at all (empty texts): nothing to compare on this side
        return sp.csr_matrix((len(texts), 0), dtype=np.float32)


def _time_penalty(days_a: np.ndarray, days_b: np.ndarray) -> np.ndarray:
    apart = np.abs(days_a - days_b).astype(np.float32)
    penalty: np.ndarray = (TIME_WEIGHT * np.log1p(apart / TIME_SCALE_DAYS)).astype(np.float32)
    return penalty


def _pair_scores(index: Index, a: np.ndarray, b: np.ndarray, cosines: np.ndarray) -> np.ndarray:
    scores = cosines - _time_penalty(index.days[a], index.days[b])
    same_service = (index.services[a] == index.services[b]) & (index.services[a] >= 0)
    same_category = (index.categories[a] == index.categories[b]) & (index.categories[a] >= 0)
    scores += SAME_SERVICE_BONUS * same_service + SAME_CATEGORY_BONUS * same_category
    result: np.ndarray = scores.astype(np.float32)
    return result


def _pruned(vectors: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Each row's `keep` heaviest features, renormalised: cheap candidates."""
    vectors = vectors.tocsr()
    vectors.eliminate_zeros()
    lengths = np.diff(vectors.indptr)
    kept = np.ones(vectors.nnz, dtype=bool)
    for row in np.nonzero(lengths > keep)[0]:
        start, end = vectors.indptr[row], vectors.indptr[row + 1]
        lightest = np.argpartition(vectors.data[start:end], end - start - keep)
        kept[start + lightest[: end - start - keep]] = False
    rows = np.repeat(np.arange(vectors.shape[0]), lengths)[kept]
    pruned = sp.csr_matrix((vectors.data[kept], (rows, vectors.indices[kept])), shape=vectors.shape)
    return normalize(pruned)


def _find_neighbours(index: Index) -> None:
    n = index.vectors.shape[0]
    pool = min(CANDIDATE_POOL, n - 1)
    # Candidates come from terms that some but not many incidents share: a term of one
    # incident alone finds no neighbour, and one in a large share of them tells none apart and
    # makes the product dense (as a search engine's stop list); neither may take one of the few
    # places kept per incident.
    frequency = np.bincount(index.vectors.indices, minlength=index.vectors.shape[1])
    telling = (frequency >= 2) & (frequency <= max(CANDIDATE_MIN_COMMON, CANDIDATE_MAX_SHARE * n))
    pruned = _pruned(index.vectors @ sp.diags(telling.astype(np.float32)), CANDIDATE_TERMS)
    # The product keeps each row's best as it goes (sparse_dot_topn, on every core): 100,000
    # incidents never make a 100,000² matrix. One more than the pool, for the incident itself.
    products = sp_matmul_topn(
        pruned, pruned.T.tocsr(), top_n=pool + 1, n_threads=CANDIDATE_THREADS
    ).tocoo()
    outside = products.row != products.col
    rows, others = products.row[outside].astype(np.int64), products.col[outside].astype(np.int64)
    # Every candidate pair is then scored exactly (all terms, time, service, category), each
    # unordered pair once, and the best CANDIDATES kept.
    keys = np.minimum(rows, others) * n + np.maximum(rows, others)
    unique, inverse = np.unique(keys, return_inverse=True)
    first, second = unique // n, unique % n
    cosines = np.empty(len(unique), dtype=np.float32)
    for begin in range(0, len(unique), PAIR_STEP):
        a, b = first[begin : begin + PAIR_STEP], second[begin : begin + PAIR_STEP]
        products = index.vectors[a].multiply(index.vectors[b]).sum(axis=1)
        cosines[begin : begin + PAIR_STEP] = np.asarray(products).ravel()
    scores = _pair_scores(index, rows, others, cosines[inverse])
    order = np.lexsort((-scores, rows))
    rows, others, scores = rows[order], others[order], scores[order]
    slots = np.arange(len(rows)) - np.searchsorted(rows, rows)  # rank within its row
    kept = slots < CANDIDATES
    index.neighbours[rows[kept], slots[kept]] = others[kept]
    index.scores[rows[kept], slots[kept]] = scores[kept]
    best = index.scores[:, :HUB_K]
    known = np.isfinite(best)
    totals = np.where(known, best, 0).sum(axis=1)
    index.hub = (totals / np.maximum(known.sum(axis=1), 1)).astype(np.float32)


# --- Reading the index ---------------------------------------------------------------------------


def corrected(index: Index) -> np.ndarray:
    """The hub-corrected scores of every incident's candidates (-inf where none)."""
    safe = np.where(index.neighbours >= 0, index.neighbours, 0)
    values = 2 * index.scores - index.hub[:, None] - index.hub[safe]
    return np.where(index.neighbours >= 0, values, -np.inf).astype(np.float32)


def similar(index: Index, k: int = 10) -> list[list[tuple[int, float]]]:
    """Every incident's k most similar (positions, corrected score), best first."""
    values = corrected(index)
    order = np.argsort(-values, axis=1)[:, :k]
    return [
        [
            (int(index.neighbours[row, slot]), float(values[row, slot]))
            for slot in order[row]
            if index.neighbours[row, slot] >= 0
        ]
        for row in range(len(index.records))
    ]


def clusters(index: Index, min_size: int) -> list[list[int]]:
    """Connected components of the mutual-neighbour links with at least `min_size` incidents,
    the largest first (then the most recent)."""
    n = len(index.records)
    if n < 2:
        return []
    values = corrected(index)
    order = np.argsort(-values, axis=1)[:, :MUTUAL_K]
    rows = np.repeat(np.arange(n), order.shape[1])
    slots = order.ravel()
    others = index.neighbours[rows, slots]
    strength = values[rows, slots]
    valid = others >= 0
    rows, others, strength = rows[valid], others[valid], strength[valid]
    chosen = sp.csr_matrix((np.ones(len(rows)), (rows, others)), shape=(n, n))
    mutual = chosen.multiply(chosen.T).tocsr()
    strong = sp.csr_matrix(
        ((strength >= LINK_MIN_CORRECTED).astype(np.float32), (rows, others)), shape=(n, n)
    )
    graph = mutual.multiply(strong)
    graph.eliminate_zeros()
    _count, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    # An incident left alone joins a group when its best neighbours all belong to it, each
    # strongly enough to link: mutual neighbours are too strict for one more near-copy of a
    # tight group (each member's best few are already other members), and that is how a
    # growing problem looks.
    best = index.neighbours[np.arange(n)[:, None], order]  # n × MUTUAL_K, best first
    best_values = values[np.arange(n)[:, None], order]
    target = labels[np.where(best[:, 0] >= 0, best[:, 0], 0)]
    same_group = (best >= 0) & (labels[np.where(best >= 0, best, 0)] == target[:, None])
    joining = (sizes[labels] == 1) & (sizes[target] >= 2)
    joining &= same_group.all(axis=1) & (best_values >= LINK_MIN_CORRECTED).all(axis=1)
    labels = labels.copy()
    labels[joining] = target[joining]
    sizes = np.bincount(labels)
    groups = [np.nonzero(labels == label)[0] for label in np.nonzero(sizes >= max(2, min_size))[0]]
    groups.sort(key=lambda members: (-len(members), -float(index.days[members].max())))
    return [members.tolist() for members in groups]


def shared_terms(records: Sequence[Record], limit: int = 6) -> list[str]:
    """Why they belong together, in words: those most of them use (in title or description),
    the ones in most titles first."""
    counter = CountVectorizer(
        stop_words="english",
        binary=True,
        token_pattern=r"(?u)\b\w\w\w+\b",  # noqa: S106 - a pattern, not a secret
    )
    quorum = max(2, -(-len(records) // 2))
    try:
        present = counter.fit_transform(
            f"{record.title} {record.description[:DESCRIPTION_MAX_CHARS]}" for record in records
        )
        in_titles = counter.transform(record.title for record in records)
    except ValueError:  # no word at all
        return []
    documents = np.asarray(present.sum(axis=0)).ravel()
    titles = np.asarray(in_titles.sum(axis=0)).ravel()
    words = counter.get_feature_names_out()
    chosen = np.nonzero(documents >= quorum)[0]
    ranked = sorted(chosen, key=lambda feature: (-titles[feature], -documents[feature]))
    return [str(words[feature]) for feature in ranked[:limit]]


def cohesion(index: Index, members: Sequence[int]) -> float:
    """How alike a group is: the mean cosine of its incidents to their centre, 0 to 1."""
    vectors = index.vectors[list(members)]
    centre = np.asarray(vectors.mean(axis=0)).ravel()
    norm = float(np.linalg.norm(centre)) or 1.0
    return float(np.clip(np.asarray(vectors @ centre).mean() / norm, 0.0, 1.0))
