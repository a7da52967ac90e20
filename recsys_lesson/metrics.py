"""Pure metric functions over arrays: rating error, CTR, ranking, and beyond-accuracy metrics.

Every function takes numpy arrays (or torch tensors, which are moved to the CPU and converted)
and returns a Python float, or a per-user numpy array with ``reduction="none"``. Nothing loops
over users in Python. Chapter 7 (evaluation) teaches all of them; the ranking metrics are first
used in chapter 3 (neural collaborative filtering), the CTR metrics in chapter 5.

Conventions for the ranking metrics (``precision_at_k`` ... ``map_at_k``):

- ``scores`` has shape (num_users, num_candidates): higher means ranked earlier.
- ``relevance`` has the same shape: bool, or non-negative gains (graded relevance). A candidate is
  *relevant* when its gain is > 0. Only ``ndcg_at_k`` uses the gain values; the other ranking
  metrics count relevant candidates.
- Ranks start at 1. Ties in ``scores`` are broken by column order: the earlier column ranks higher
  (see ``topk``). Sampled evaluation puts the held-out positive in the LAST column, so a tie with a
  sampled negative counts against the positive (a pessimistic estimate).
- ``reduction="mean"`` averages over users with at least one relevant candidate;
  ``reduction="none"`` returns one value per user, NaN for users without relevant candidates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "rmse",
    "mae",
    "auc",
    "log_loss",
    "topk",
    "precision_at_k",
    "recall_at_k",
    "hit_rate_at_k",
    "ndcg_at_k",
    "mrr",
    "map_at_k",
    "catalogue_coverage",
    "intra_list_diversity",
    "novelty",
]


# ---------------------------------------------------------------------------------------------
# Input checks shared by every metric
# ---------------------------------------------------------------------------------------------


def _as_array(x: Any, name: str) -> np.ndarray:
    """Convert a numpy array, torch tensor, list or scalar to a numpy array."""
    if hasattr(x, "detach"):  # torch tensor, possibly on a GPU and with autograd history
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":  # numpy has no bfloat16 (mixed precision on CUDA)
            x = x.float()
        x = x.numpy()
    x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"{name} must hold numbers, got an array of dtype {x.dtype}")
    if np.issubdtype(x.dtype, np.complexfloating):
        raise ValueError(f"{name} must hold real numbers, got complex dtype {x.dtype}")
    return x


def _check_no_nan(x: np.ndarray, name: str) -> None:
    # max() propagates NaN and is much cheaper than isnan(x).any() on large score matrices.
    if np.issubdtype(x.dtype, np.floating) and x.size and np.isnan(x.max()):
        raise ValueError(f"{name} contains NaN; remove or impute those entries first")


def _vector(x: Any, name: str) -> np.ndarray:
    x = _as_array(x, name)
    if x.ndim != 1:
        if x.ndim == 2 and 1 in x.shape:
            x = x.reshape(-1)
        else:
            raise ValueError(f"{name} must be one-dimensional, got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} is empty; a metric needs at least one entry")
    _check_no_nan(x, name)
    return x


def _paired_vectors(a: Any, b: Any, name_a: str, name_b: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = _vector(a, name_a), _vector(b, name_b)
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same length, got {a.shape[0]} and {b.shape[0]}"
        )
    return a, b


def _binary_labels(labels: np.ndarray) -> np.ndarray:
    if labels.dtype != bool:
        if not np.isin(labels, (0, 1)).all():
            raise ValueError("labels must be 0/1 (or bool); found other values")
    return labels.astype(bool)


def _check_k(k: Any, num_candidates: int) -> int:
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be a positive integer, got {k!r}")
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if k > num_candidates:
        raise ValueError(
            f"k={k} is larger than the number of candidates per user ({num_candidates}); "
            "use a smaller k or score more candidates"
        )
    return k


def _score_matrix(scores: Any) -> np.ndarray:
    scores = _as_array(scores, "scores")
    if scores.ndim != 2:
        raise ValueError(
            f"scores must have shape (num_users, num_candidates), got shape {scores.shape}"
        )
    if scores.size == 0:
        raise ValueError(f"scores is empty (shape {scores.shape}); need at least one user and item")
    if scores.dtype == bool or np.issubdtype(scores.dtype, np.float16):
        scores = scores.astype(np.float32)
    _check_no_nan(scores, "scores")
    return scores


def _ranking_inputs(scores: Any, relevance: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (num_users, num_candidates) score matrix and its relevance matrix."""
    scores = _score_matrix(scores)
    relevance = _as_array(relevance, "relevance")
    if relevance.shape != scores.shape:
        raise ValueError(
            f"scores and relevance must have the same shape, got scores {scores.shape} "
            f"and relevance {relevance.shape}"
        )
    if relevance.dtype != bool:
        _check_no_nan(relevance, "relevance")
        if relevance.min() < 0:
            raise ValueError("relevance must be bool or non-negative gains; found a negative value")
    return scores, relevance


def _reduce(values: np.ndarray, has_relevant: np.ndarray, reduction: str) -> float | np.ndarray:
    """Per-user values -> mean over users with a relevant candidate, or the array with NaNs."""
    if reduction == "none":
        return np.where(has_relevant, values, np.nan).astype(np.float64)
    if reduction == "mean":
        if not has_relevant.any():
            raise ValueError(
                "no user has a relevant candidate, so the mean is undefined; "
                "check that relevance marks the held-out items"
            )
        return float(values[has_relevant].mean())
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


def _check_reduction(reduction: str) -> None:
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


# ---------------------------------------------------------------------------------------------
# Rating error (chapter 1, chapter 7)
# ---------------------------------------------------------------------------------------------


def _error_inputs(predictions: Any, targets: Any) -> tuple[np.ndarray, np.ndarray]:
    predictions = _as_array(predictions, "predictions")
    targets = _as_array(targets, "targets")
    if predictions.shape != targets.shape:
        raise ValueError(
            f"predictions and targets must have the same shape, got {predictions.shape} "
            f"and {targets.shape} (a (n, 1) versus (n,) mismatch would broadcast silently)"
        )
    if predictions.size == 0:
        raise ValueError("predictions and targets are empty; need at least one pair")
    _check_no_nan(predictions, "predictions")
    _check_no_nan(targets, "targets")
    return predictions.astype(np.float64), targets.astype(np.float64)


def rmse(predictions: Any, targets: Any) -> float:
    """Root mean squared error: sqrt(mean((prediction - target)^2)). Range [0, inf), lower better.

    Chapter 1 (matrix factorisation) and chapter 7: evaluation.
    """
    predictions, targets = _error_inputs(predictions, targets)
    return float(np.sqrt(np.mean((predictions - targets) ** 2)))


def mae(predictions: Any, targets: Any) -> float:
    """Mean absolute error: mean(|prediction - target|). Range [0, inf), lower is better.

    Chapter 7: evaluation.
    """
    predictions, targets = _error_inputs(predictions, targets)
    return float(np.mean(np.abs(predictions - targets)))


# ---------------------------------------------------------------------------------------------
# Click-through rate prediction (chapter 5, chapter 7)
# ---------------------------------------------------------------------------------------------


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values`` in ascending order; tied values share their average rank."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    # start of each run of equal values in sorted order
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], values.size]  # exclusive
    run_rank = (starts + 1 + ends) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(run_rank, ends - starts)
    return ranks


def auc(labels: Any, scores: Any) -> float:
    """Area under the ROC curve: the probability that a random positive outscores a random negative.

    Computed with the Mann-Whitney rank statistic, ties counted as one half:

        AUC = (sum of the ranks of the positives - P (P + 1) / 2) / (P N),

    with ranks 1..P+N of ``scores`` in ascending order (tied scores get their average rank),
    P positives and N negatives. Equals ``sklearn.metrics.roc_auc_score(labels, scores)``.
    Range [0, 1]; 0.5 is a random ranking, 1 a perfect one.

    labels: (n,) 0/1 or bool. scores: (n,) real numbers (logits or probabilities).
    Raises ValueError if the lengths differ, the inputs are empty, the scores contain NaN,
    or labels hold only one class (AUC is then undefined).
    Chapter 5 (CTR models) and chapter 7: evaluation.
    """
    labels, scores = _paired_vectors(labels, scores, "labels", "scores")
    positive = _binary_labels(labels)
    num_pos = int(positive.sum())
    num_neg = positive.size - num_pos
    if num_pos == 0 or num_neg == 0:
        raise ValueError(
            "AUC is undefined when labels hold only one class "
            f"({num_pos} positives, {num_neg} negatives)"
        )
    ranks = _average_ranks(scores.astype(np.float64))
    u_statistic = ranks[positive].sum() - num_pos * (num_pos + 1) / 2.0
    return float(u_statistic / (num_pos * num_neg))


def log_loss(labels: Any, probabilities: Any, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy: -mean(y log p + (1 - y) log(1 - p)), natural logarithm.

    Probabilities are clipped to [eps, 1 - eps] so a confident mistake costs at most -log(eps)
    (about 16.1 for the default eps) instead of infinity. Range [0, inf), lower is better;
    always predicting the base rate b gives -(b log b + (1 - b) log(1 - b)).

    labels: (n,) 0/1 or bool. probabilities: (n,) in [0, 1] (apply the sigmoid to logits first).
    Chapter 5 (CTR models) and chapter 7: evaluation.
    """
    labels, probabilities = _paired_vectors(labels, probabilities, "labels", "probabilities")
    positive = _binary_labels(labels)
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps must lie in (0, 0.5), got {eps}")
    p = probabilities.astype(np.float64)
    if p.min() < 0.0 or p.max() > 1.0:
        raise ValueError(
            "probabilities must lie in [0, 1]; if these are logits, apply a sigmoid first"
        )
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(np.where(positive, np.log(p), np.log1p(-p))))


# ---------------------------------------------------------------------------------------------
# Top-k selection and ranking metrics (chapter 3, chapter 4, chapter 7)
# ---------------------------------------------------------------------------------------------


def topk(scores: Any, k: int) -> np.ndarray:
    """Column indices of the k highest scores in each row, best first. Shape (num_users, k).

    Ties are broken by column order: among equal scores the EARLIER column ranks higher, so the
    result equals ``np.argsort(-scores, axis=1, kind="stable")[:, :k]`` and is deterministic.
    Sampled evaluation relies on this: it puts the held-out positive in the last column, so a
    tie with a sampled negative ranks the positive lower (a pessimistic estimate).

    ``-inf`` scores are allowed (the usual way to mask items seen in training); NaN is not.
    Runs in O(num_users * num_candidates): a partition finds each row's k-th largest score,
    the rows with ties at that score are fixed by column order, and only k values are sorted.
    Chapter 3 (neural collaborative filtering) and chapter 7: evaluation.
    """
    scores = _score_matrix(scores)
    num_users, num_candidates = scores.shape
    k = _check_k(k, num_candidates)
    # k-th largest score of each row
    threshold = np.partition(scores, num_candidates - k, axis=1)[
        :, num_candidates - k : num_candidates - k + 1
    ]  # (num_users, 1)
    chosen = scores >= threshold  # (num_users, num_candidates), at least k True per row
    num_chosen = np.count_nonzero(chosen, axis=1)  # (num_users,)
    tied = np.flatnonzero(num_chosen > k)
    if tied.size:
        # rows where several candidates share the k-th score: keep all strictly higher scores,
        # then the earliest columns among those equal to the threshold
        tied_scores, tied_threshold = scores[tied], threshold[tied]
        higher = tied_scores > tied_threshold
        free_slots = k - np.count_nonzero(higher, axis=1)  # (num_tied,)
        equal = tied_scores == tied_threshold
        chosen[tied] = higher | (equal & (np.cumsum(equal, axis=1) <= free_slots[:, None]))
    # exactly k True per row now; flat indices come out row by row in ascending column order
    flat = np.flatnonzero(chosen).reshape(num_users, k)
    columns = flat - np.arange(num_users)[:, None] * num_candidates  # (num_users, k)
    values = np.take_along_axis(scores, columns, axis=1)  # (num_users, k)
    # decreasing values, equal values in increasing column order: a stable increasing sort of
    # the reversed rows, reversed back (no negation, which would wrap unsigned integers)
    order = np.argsort(values[:, ::-1], axis=1, kind="stable")[:, ::-1]  # (num_users, k)
    return np.take_along_axis(columns[:, ::-1], order, axis=1)


def _top_relevance(scores: Any, relevance: Any, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated relevance and the relevance of each user's top-k list, in rank order."""
    scores, relevance = _ranking_inputs(scores, relevance)
    k = _check_k(k, scores.shape[1])
    top = topk(scores, k)  # (num_users, k)
    return relevance, np.take_along_axis(relevance, top, axis=1), k


def precision_at_k(
    scores: Any, relevance: Any, k: int, reduction: str = "mean"
) -> float | np.ndarray:
    """Share of the top k that is relevant: |top k ∩ relevant| / k. Range [0, 1].

    A user with fewer than k relevant candidates cannot reach 1. See the module docstring for
    shapes, ties and ``reduction``. Chapter 3 and chapter 7: evaluation.
    """
    _check_reduction(reduction)
    relevance, top_relevance, k = _top_relevance(scores, relevance, k)
    hits = np.count_nonzero(top_relevance > 0, axis=1)  # (num_users,)
    return _reduce(hits / k, np.any(relevance > 0, axis=1), reduction)


def recall_at_k(
    scores: Any, relevance: Any, k: int, reduction: str = "mean", normalize: str = "count"
) -> float | np.ndarray:
    """Share of the relevant candidates found in the top k. Range [0, 1].

    normalize="count": |top k ∩ relevant| / |relevant| (the textbook definition; a user with more
    than k relevant candidates cannot reach 1).
    normalize="min":   |top k ∩ relevant| / min(k, |relevant|), as in Liang et al. (2018),
    "Variational autoencoders for collaborative filtering" (Mult-VAE); a perfect ranking gives 1.
    See the module docstring for shapes, ties and ``reduction``.
    Chapter 3, chapter 4 (autoencoders) and chapter 7: evaluation.
    """
    _check_reduction(reduction)
    if normalize not in ("count", "min"):
        raise ValueError(f"normalize must be 'count' or 'min', got {normalize!r}")
    relevance, top_relevance, k = _top_relevance(scores, relevance, k)
    hits = np.count_nonzero(top_relevance > 0, axis=1)  # (num_users,)
    num_relevant = np.count_nonzero(relevance > 0, axis=1)  # (num_users,)
    denominator = num_relevant if normalize == "count" else np.minimum(num_relevant, k)
    values = hits / np.maximum(denominator, 1)
    return _reduce(values, num_relevant > 0, reduction)


def hit_rate_at_k(
    scores: Any, relevance: Any, k: int, reduction: str = "mean"
) -> float | np.ndarray:
    """1 if any relevant candidate is in the top k, else 0 (HR@k). Range [0, 1].

    With one held-out item per user (leave-one-out) HR@k equals recall@k.
    See the module docstring for shapes, ties and ``reduction``. Chapter 3 and chapter 7.
    """
    _check_reduction(reduction)
    relevance, top_relevance, _ = _top_relevance(scores, relevance, k)
    hit = np.any(top_relevance > 0, axis=1).astype(np.float64)
    return _reduce(hit, np.any(relevance > 0, axis=1), reduction)


def ndcg_at_k(scores: Any, relevance: Any, k: int, reduction: str = "mean") -> float | np.ndarray:
    """Normalised discounted cumulative gain: DCG@k / IDCG@k. Range [0, 1].

        DCG@k  = sum_{r=1..k} gain_r / log2(r + 1),

    gain_r is the relevance value of the candidate at rank r (linear gains, as in scikit-learn;
    bool relevance gives gains 0/1), and IDCG@k is the DCG@k of the ideal order (gains sorted in
    decreasing order). Equals ``sklearn.metrics.ndcg_score(relevance, scores, k=k)`` when scores
    have no ties and every user has a relevant candidate. Two differences: sklearn averages the
    gain over tied scores, here ties are broken by column order (see ``topk``); and sklearn
    counts a user without relevant candidates as 0, here that user is skipped (NaN with
    ``reduction="none"``). Chapter 3, chapter 4 and chapter 7: evaluation.
    """
    _check_reduction(reduction)
    relevance, top_relevance, k = _top_relevance(scores, relevance, k)
    num_candidates = relevance.shape[1]
    discount = 1.0 / np.log2(np.arange(2, k + 2))  # (k,) for ranks 1..k
    dcg = top_relevance.astype(np.float64) @ discount  # (num_users,)
    # ideal order: the k largest gains of each row, sorted in decreasing order
    best_gains = np.partition(relevance, num_candidates - k, axis=1)[:, num_candidates - k :]
    ideal_gains = -np.sort(-best_gains.astype(np.float64), axis=1)  # (num_users, k)
    idcg = ideal_gains @ discount  # (num_users,)
    has_relevant = idcg > 0
    values = dcg / np.where(has_relevant, idcg, 1.0)
    return _reduce(values, has_relevant, reduction)


def mrr(
    scores: Any, relevance: Any, k: int | None = None, reduction: str = "mean"
) -> float | np.ndarray:
    """Mean reciprocal rank: 1 / (rank of the first relevant candidate). Range (0, 1] without k.

    With k given, a user whose first relevant candidate ranks below k scores 0 (MRR@k), so the
    range is [0, 1]. Ranks follow ``topk`` (ties broken by column order). The rank is counted
    directly, without sorting: rank = 1 + #(higher scores) + #(equal scores in earlier columns),
    taken at the best-ranked relevant candidate. See the module docstring for ``reduction``.
    Chapter 3 and chapter 7: evaluation.
    """
    _check_reduction(reduction)
    scores, relevance = _ranking_inputs(scores, relevance)
    num_users, num_candidates = scores.shape
    if k is not None:
        k = _check_k(k, num_candidates)
    relevant = relevance > 0  # (num_users, num_candidates)
    has_relevant = relevant.any(axis=1)  # (num_users,)
    # best score among each user's relevant candidates (-inf for users without any)
    best = np.where(relevant, scores, -np.inf).max(axis=1, keepdims=True)  # (num_users, 1)
    # earliest relevant column holding that score
    best_column = np.argmax(relevant & (scores == best), axis=1)[:, None]  # (num_users, 1)
    earlier = np.arange(num_candidates)[None, :] < best_column  # (num_users, num_candidates)
    rank = 1 + np.count_nonzero((scores > best) | ((scores == best) & earlier), axis=1)
    values = 1.0 / rank
    if k is not None:
        values = np.where(rank <= k, values, 0.0)
    return _reduce(values, has_relevant, reduction)


def map_at_k(scores: Any, relevance: Any, k: int, reduction: str = "mean") -> float | np.ndarray:
    """Mean average precision at k. Range [0, 1].

        AP@k = (1 / min(k, |relevant|)) * sum_{r=1..k} precision@r * rel_r,

    rel_r is 1 if the candidate at rank r is relevant. Normalising by min(k, |relevant|) makes a
    perfect ranking score 1 even when a user has more than k relevant candidates.
    See the module docstring for shapes, ties and ``reduction``. Chapter 7: evaluation.
    """
    _check_reduction(reduction)
    relevance, top_relevance, k = _top_relevance(scores, relevance, k)
    hits = (top_relevance > 0).astype(np.float64)  # (num_users, k)
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, k + 1)  # (num_users, k)
    num_relevant = np.count_nonzero(relevance > 0, axis=1)  # (num_users,)
    values = (precision_at_rank * hits).sum(axis=1) / np.maximum(np.minimum(num_relevant, k), 1)
    return _reduce(values, num_relevant > 0, reduction)


# ---------------------------------------------------------------------------------------------
# Beyond accuracy: coverage, diversity, novelty (chapter 7)
# ---------------------------------------------------------------------------------------------


def _recommendation_lists(recommended: Any, num_items: int) -> np.ndarray:
    recommended = _as_array(recommended, "recommended")
    if recommended.ndim != 2:
        raise ValueError(
            f"recommended must have shape (num_users, k) of item indices, got {recommended.shape}"
        )
    if recommended.size == 0:
        raise ValueError(f"recommended is empty (shape {recommended.shape})")
    if not np.issubdtype(recommended.dtype, np.integer):
        raise ValueError(
            f"recommended must hold integer item indices, got dtype {recommended.dtype}"
        )
    if recommended.min() < 0 or recommended.max() >= num_items:
        raise ValueError(
            f"recommended holds item indices outside [0, {num_items}); "
            f"found min {recommended.min()} and max {recommended.max()}"
        )
    return recommended


def catalogue_coverage(recommended: Any, num_items: int) -> float:
    """Share of the catalogue recommended to at least one user: |∪_u list_u| / num_items.

    recommended: (num_users, k) item indices in [0, num_items), e.g. the output of ``topk``.
    Range [0, 1] (at most num_users * k / num_items). Chapter 7: evaluation.
    """
    if isinstance(num_items, (bool, np.bool_)) or not isinstance(num_items, (int, np.integer)):
        raise ValueError(f"num_items must be a positive integer, got {num_items!r}")
    if num_items < 1:
        raise ValueError(f"num_items must be at least 1, got {num_items}")
    recommended = _recommendation_lists(recommended, int(num_items))
    return float(np.unique(recommended).size / num_items)


def intra_list_diversity(recommended: Any, item_features: Any) -> float:
    """Mean pairwise dissimilarity inside each list, averaged over users. Range [0, 2].

        ILD(list) = (1 / (k (k - 1))) * sum_{i != j in list} (1 - cos(f_i, f_j)),

    f_i is row i of item_features, e.g. a genre multi-hot vector. For non-negative features
    (multi-hot, counts) cosine lies in [0, 1], so the range is [0, 1]. The cosine of a zero
    vector with anything is defined as 0 (distance 1): an item with no features counts as
    unlike every other item. A repeated item in a list has distance 0 to itself (unless its
    vector is zero).

    recommended: (num_users, k) item indices with k >= 2; item_features: (num_items, f).
    Chapter 7: evaluation.
    """
    item_features = _as_array(item_features, "item_features")
    if item_features.ndim != 2 or item_features.size == 0:
        raise ValueError(
            "item_features must be a non-empty (num_items, f) array, "
            f"got shape {item_features.shape}"
        )
    _check_no_nan(item_features, "item_features")
    recommended = _recommendation_lists(recommended, item_features.shape[0])
    num_users, k = recommended.shape
    if k < 2:
        raise ValueError("intra-list diversity needs lists of at least 2 items, got k=1")
    features = item_features.astype(np.float64)
    norms = np.linalg.norm(features, axis=1, keepdims=True)  # (num_items, 1)
    unit = features / np.where(norms > 0, norms, 1.0)  # zero vectors stay zero -> cosine 0
    vectors = unit[recommended]  # (num_users, k, f)
    similarity = np.einsum("ukf,ujf->ukj", vectors, vectors)  # (num_users, k, k)
    # sum over ordered pairs i != j: subtract the diagonal
    off_diagonal = similarity.sum(axis=(1, 2)) - np.trace(similarity, axis1=1, axis2=2)
    per_user = 1.0 - off_diagonal / (k * (k - 1))  # (num_users,)
    return float(per_user.mean())


def novelty(recommended: Any, item_popularity: Any, num_users: int | None = None) -> float:
    """Mean self-information of the recommended items: mean over all list entries of -log2(p_i).

    item_popularity: (num_items,) non-negative interaction counts, normally the number of training
    users who interacted with each item. p_i is the popularity share of item i:

    - num_users given: p_i = count_i / num_users, the share of users who interacted with i
      (Zhou et al. 2010, "Solving the apparent diversity-accuracy dilemma of recommender systems").
      Counts must then be at most num_users.
    - num_users None: p_i = count_i / sum(counts), the share of all interactions that involve i
      (the total uses the counts as given, before zeros are replaced).

    An item with count 0 is treated as count 1, so the value stays finite. Range [0, inf) in bits;
    higher means less popular (more novel) recommendations; recommending only items that every
    user has seen gives 0 (with num_users). Chapter 7: evaluation.
    """
    popularity = _as_array(item_popularity, "item_popularity")
    if popularity.ndim != 1 or popularity.size == 0:
        raise ValueError(
            f"item_popularity must be a non-empty (num_items,) array, got shape {popularity.shape}"
        )
    _check_no_nan(popularity, "item_popularity")
    if popularity.min() < 0:
        raise ValueError("item_popularity must hold non-negative counts; found a negative value")
    recommended = _recommendation_lists(recommended, popularity.size)
    counts = np.maximum(popularity.astype(np.float64), 1.0)  # (num_items,) zero counts -> 1
    if num_users is None:
        total = float(popularity.sum())
        if total <= 0:
            raise ValueError("item_popularity sums to 0; pass the training interaction counts")
    else:
        if isinstance(num_users, (bool, np.bool_)) or not isinstance(num_users, (int, np.integer)):
            raise ValueError(f"num_users must be a positive integer, got {num_users!r}")
        if num_users < 1 or counts.max() > num_users:
            raise ValueError(
                f"num_users={num_users} must be at least 1 and at least every item's count "
                f"(largest count {popularity.max()}); pass the number of users the counts came from"
            )
        total = float(num_users)
    self_information = -np.log2(counts / total)  # (num_items,)
    return float(self_information[recommended].mean())
