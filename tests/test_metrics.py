"""Tests for recsys_lesson.metrics: limits, worked examples, slow references, scikit-learn."""

import math

import numpy as np
import pytest
import sklearn.metrics
import torch

from recsys_lesson.metrics import (
    auc,
    catalogue_coverage,
    hit_rate_at_k,
    intra_list_diversity,
    log_loss,
    mae,
    map_at_k,
    mrr,
    ndcg_at_k,
    novelty,
    precision_at_k,
    recall_at_k,
    rmse,
    topk,
)

RANKING_METRICS = [precision_at_k, recall_at_k, hit_rate_at_k, ndcg_at_k, mrr, map_at_k]
SEEDS = [0, 1, 2, 3, 4]


# ---------------------------------------------------------------------------------------------
# Slow, obvious per-user references
# ---------------------------------------------------------------------------------------------


def ranked_columns(row_scores):
    """Columns sorted by decreasing score, earlier column first among equal scores."""
    return sorted(range(len(row_scores)), key=lambda c: (-row_scores[c], c))


def slow_metric(name, scores, relevance, k, normalize="count"):
    values = []
    for row_scores, row_relevance in zip(scores.tolist(), relevance.tolist()):
        relevant = {c for c, g in enumerate(row_relevance) if g > 0}
        if not relevant:
            values.append(math.nan)
            continue
        ranking = ranked_columns(row_scores)
        top = ranking[:k] if k is not None else ranking
        hits = [c in relevant for c in top]
        if name == "precision":
            values.append(sum(hits) / k)
        elif name == "recall":
            denominator = len(relevant) if normalize == "count" else min(k, len(relevant))
            values.append(sum(hits) / denominator)
        elif name == "hit_rate":
            values.append(1.0 if any(hits) else 0.0)
        elif name == "ndcg":
            dcg = sum(row_relevance[c] / math.log2(r + 2) for r, c in enumerate(top))
            ideal = sorted(row_relevance, reverse=True)[:k]
            idcg = sum(g / math.log2(r + 2) for r, g in enumerate(ideal))
            values.append(dcg / idcg)
        elif name == "mrr":
            first = next((r for r, hit in enumerate(hits) if hit), None)
            values.append(0.0 if first is None else 1.0 / (first + 1))
        elif name == "map":
            total, found = 0.0, 0
            for r, hit in enumerate(hits):
                if hit:
                    found += 1
                    total += found / (r + 1)
            values.append(total / min(k, len(relevant)))
    return np.array(values)


def random_ranking_inputs(seed, num_users=40, num_candidates=30, graded=False, ties=False):
    rng = np.random.default_rng(seed)
    if ties:
        scores = rng.integers(0, 4, (num_users, num_candidates)).astype(np.float32)
    else:
        scores = rng.standard_normal((num_users, num_candidates))
    if graded:
        relevance = rng.integers(0, 4, (num_users, num_candidates)) * (
            rng.random((num_users, num_candidates)) < 0.3
        )
    else:
        relevance = rng.random((num_users, num_candidates)) < 0.15
    relevance[0] = 0  # one user without relevant candidates
    return scores, relevance


# ---------------------------------------------------------------------------------------------
# Rating error
# ---------------------------------------------------------------------------------------------


def test_rmse_and_mae_worked_example():
    predictions = np.array([3.0, 4.0, 2.0])
    targets = np.array([4.0, 4.0, 5.0])
    assert rmse(predictions, targets) == pytest.approx(math.sqrt((1 + 0 + 9) / 3))
    assert mae(predictions, targets) == pytest.approx((1 + 0 + 3) / 3)
    assert rmse(targets, targets) == 0.0
    assert mae(targets, targets) == 0.0


def test_rmse_and_mae_accept_torch_tensors():
    predictions = torch.tensor([1.0, 2.0], requires_grad=True)
    targets = torch.tensor([2.0, 2.0])
    assert rmse(predictions, targets) == pytest.approx(math.sqrt(0.5))
    assert mae(predictions, targets) == pytest.approx(0.5)


@pytest.mark.parametrize("metric", [rmse, mae])
def test_rating_error_bad_inputs(metric):
    with pytest.raises(ValueError, match="same shape"):
        metric(np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(ValueError, match="empty"):
        metric(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="NaN"):
        metric(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="NaN"):
        metric(np.array([1.0, 2.0]), np.array([1.0, np.nan]))


# ---------------------------------------------------------------------------------------------
# AUC and log loss
# ---------------------------------------------------------------------------------------------


def test_auc_worked_example_with_tie():
    # positives score 0.9 and 0.5; negatives 0.5 and 0.1.
    # pairs: (0.9>0.5) 1, (0.9>0.1) 1, (0.5=0.5) 1/2, (0.5>0.1) 1 -> 3.5 / 4
    labels = np.array([1, 0, 1, 0])
    scores = np.array([0.9, 0.5, 0.5, 0.1])
    assert auc(labels, scores) == pytest.approx(3.5 / 4)


def test_auc_limits():
    labels = np.array([0, 0, 1, 1])
    assert auc(labels, np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert auc(labels, np.array([0.4, 0.3, 0.2, 0.1])) == 0.0
    assert auc(labels, np.zeros(4)) == 0.5


@pytest.mark.parametrize("seed", SEEDS)
def test_auc_matches_sklearn_including_ties(seed):
    rng = np.random.default_rng(seed)
    labels = rng.random(500) < 0.3
    scores = rng.standard_normal(500)
    tied_scores = rng.integers(0, 5, 500).astype(np.float32)
    assert auc(labels, scores) == pytest.approx(sklearn.metrics.roc_auc_score(labels, scores))
    assert auc(labels, tied_scores) == pytest.approx(
        sklearn.metrics.roc_auc_score(labels, tied_scores)
    )
    assert auc(torch.from_numpy(labels), torch.from_numpy(tied_scores)) == pytest.approx(
        sklearn.metrics.roc_auc_score(labels, tied_scores)
    )


def test_auc_bad_inputs():
    with pytest.raises(ValueError, match="one class"):
        auc(np.ones(4), np.arange(4.0))
    with pytest.raises(ValueError, match="one class"):
        auc(np.zeros(4), np.arange(4.0))
    with pytest.raises(ValueError, match="same length"):
        auc(np.array([0, 1, 0]), np.arange(4.0))
    with pytest.raises(ValueError, match="empty"):
        auc(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="NaN"):
        auc(np.array([0, 1]), np.array([0.5, np.nan]))
    with pytest.raises(ValueError, match="0/1"):
        auc(np.array([0, 2]), np.array([0.5, 0.7]))


def test_log_loss_worked_example_and_clipping():
    labels = np.array([1, 0])
    probabilities = np.array([0.8, 0.4])
    assert log_loss(labels, probabilities) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    # a certain, wrong prediction is clipped to eps instead of costing infinity
    assert log_loss(np.array([1]), np.array([0.0]), eps=1e-7) == pytest.approx(-math.log(1e-7))
    assert log_loss(np.array([1, 0]), np.array([1.0, 0.0])) == pytest.approx(-math.log(1 - 1e-7))


@pytest.mark.parametrize("seed", SEEDS)
def test_log_loss_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    labels = rng.random(300) < 0.4
    probabilities = rng.uniform(0.01, 0.99, 300)
    assert log_loss(labels, probabilities) == pytest.approx(
        sklearn.metrics.log_loss(labels, probabilities)
    )


def test_log_loss_bad_inputs():
    with pytest.raises(ValueError, match="same length"):
        log_loss(np.array([0, 1]), np.array([0.5]))
    with pytest.raises(ValueError, match="empty"):
        log_loss(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        log_loss(np.array([0, 1]), np.array([-2.0, 3.0]))
    with pytest.raises(ValueError, match="NaN"):
        log_loss(np.array([0, 1]), np.array([0.5, np.nan]))
    with pytest.raises(ValueError, match="0/1"):
        log_loss(np.array([0, 3]), np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="eps"):
        log_loss(np.array([0, 1]), np.array([0.5, 0.5]), eps=0.0)


# ---------------------------------------------------------------------------------------------
# topk
# ---------------------------------------------------------------------------------------------


def test_topk_best_first():
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [3.0, 1.0, 2.0, 0.0]])
    np.testing.assert_array_equal(topk(scores, 3), [[1, 3, 2], [0, 2, 1]])


def test_topk_ties_broken_by_column_order():
    np.testing.assert_array_equal(topk(np.zeros((2, 5)), 3), [[0, 1, 2], [0, 1, 2]])
    scores = np.array([[1.0, 2.0, 1.0, 2.0, 1.0]])
    np.testing.assert_array_equal(topk(scores, 4), [[1, 3, 0, 2]])
    # sampled evaluation: the positive sits in the last column; a tie counts against it
    sampled = np.array([[0.5, 0.2, 0.5, 0.5]])  # positive (column 3) ties two negatives
    assert topk(sampled, 2).tolist() == [[0, 2]]
    relevance = np.array([[False, False, False, True]])
    assert hit_rate_at_k(sampled, relevance, 2) == 0.0
    assert hit_rate_at_k(sampled, relevance, 3) == 1.0
    assert mrr(sampled, relevance) == pytest.approx(1 / 3)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [1, 5, 30])
def test_topk_equals_stable_argsort(seed, k):
    rng = np.random.default_rng(seed)
    tied = rng.integers(0, 3, (50, 30)).astype(np.float32)
    tied[rng.random((50, 30)) < 0.2] = -np.inf  # masked items
    distinct = rng.standard_normal((50, 30)).astype(np.float32)
    for scores in (tied, distinct):
        expected = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(topk(scores, k), expected)
    # integer scores, including unsigned ones (negating those would wrap around)
    small = rng.integers(0, 3, (50, 30))
    expected = np.argsort(-small, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(topk(small, k), expected)
    np.testing.assert_array_equal(topk(small.astype(np.uint8), k), expected)
    positive = small > 0
    expected = np.argsort(-positive.astype(int), axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(topk(positive, k), expected)


def test_topk_accepts_torch_and_is_deterministic():
    scores = torch.tensor([[0.3, 0.3, 0.9], [0.0, 0.0, 0.0]], requires_grad=True)
    first = topk(scores, 2)
    assert first.tolist() == [[2, 0], [0, 1]]
    np.testing.assert_array_equal(topk(scores, 2), first)
    np.testing.assert_array_equal(topk(scores.to(torch.bfloat16), 2), first)


def test_topk_bad_inputs():
    with pytest.raises(ValueError, match="larger than the number of candidates"):
        topk(np.zeros((2, 3)), 4)
    with pytest.raises(ValueError, match="at least 1"):
        topk(np.zeros((2, 3)), 0)
    with pytest.raises(ValueError, match="NaN"):
        topk(np.array([[0.1, np.nan]]), 1)
    with pytest.raises(ValueError, match="num_users, num_candidates"):
        topk(np.zeros(5), 1)
    with pytest.raises(ValueError, match="empty"):
        topk(np.zeros((0, 5)), 1)
    with pytest.raises(ValueError, match="integer"):
        topk(np.zeros((2, 3)), 1.5)


# ---------------------------------------------------------------------------------------------
# Ranking metrics: limits
# ---------------------------------------------------------------------------------------------


def perfect_case():
    # every user has exactly k=2 relevant candidates, ranked first and second
    scores = np.array([[0.9, 0.8, 0.1, 0.2], [0.1, 0.2, 0.9, 0.8]])
    relevance = np.array([[1, 1, 0, 0], [0, 0, 1, 1]], dtype=bool)
    return scores, relevance


@pytest.mark.parametrize("metric", RANKING_METRICS)
def test_perfect_ranking_gives_one(metric):
    scores, relevance = perfect_case()
    assert metric(scores, relevance, 2) == pytest.approx(1.0)
    np.testing.assert_allclose(metric(scores, relevance, 2, reduction="none"), [1.0, 1.0])


@pytest.mark.parametrize("metric", RANKING_METRICS)
def test_no_relevant_in_top_k_gives_zero(metric):
    scores, relevance = perfect_case()
    assert metric(scores, ~relevance, 2) == 0.0


def test_perfect_graded_ranking_gives_ndcg_one():
    relevance = np.array([[3.0, 0.0, 1.0, 2.0]])
    scores = np.array([[10.0, 0.0, 5.0, 7.0]])
    assert ndcg_at_k(scores, relevance, 2) == pytest.approx(1.0)
    assert ndcg_at_k(scores, relevance, 4) == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# Ranking metrics: worked examples
# ---------------------------------------------------------------------------------------------

# one user; ranking by score: columns 0, 1, 2, 3, 4; relevant columns 1 and 3
WORKED_SCORES = np.array([[0.9, 0.8, 0.7, 0.6, 0.5]])
WORKED_RELEVANCE = np.array([[0, 1, 0, 1, 0]], dtype=bool)


def test_worked_precision_recall_hit():
    assert precision_at_k(WORKED_SCORES, WORKED_RELEVANCE, 2) == pytest.approx(1 / 2)
    assert precision_at_k(WORKED_SCORES, WORKED_RELEVANCE, 5) == pytest.approx(2 / 5)
    assert recall_at_k(WORKED_SCORES, WORKED_RELEVANCE, 2) == pytest.approx(1 / 2)
    assert recall_at_k(WORKED_SCORES, WORKED_RELEVANCE, 4) == pytest.approx(2 / 2)
    assert hit_rate_at_k(WORKED_SCORES, WORKED_RELEVANCE, 1) == 0.0
    assert hit_rate_at_k(WORKED_SCORES, WORKED_RELEVANCE, 2) == 1.0


def test_worked_ndcg():
    # relevant at ranks 2 and 4; ideal: ranks 1 and 2
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert ndcg_at_k(WORKED_SCORES, WORKED_RELEVANCE, 5) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(WORKED_SCORES, WORKED_RELEVANCE, 2) == pytest.approx(
        (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    )


def test_worked_graded_ndcg():
    relevance = np.array([[0.0, 3.0, 1.0, 0.0, 2.0]])
    # top 3 by score: columns 0, 1, 2 with gains 0, 3, 1; ideal gains 3, 2, 1
    dcg = 0 / math.log2(2) + 3 / math.log2(3) + 1 / math.log2(4)
    idcg = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(WORKED_SCORES, relevance, 3) == pytest.approx(dcg / idcg)


def test_worked_mrr():
    assert mrr(WORKED_SCORES, WORKED_RELEVANCE) == pytest.approx(1 / 2)
    assert mrr(WORKED_SCORES, WORKED_RELEVANCE, k=2) == pytest.approx(1 / 2)
    assert mrr(WORKED_SCORES, WORKED_RELEVANCE, k=1) == 0.0
    late = np.array([[0, 0, 0, 0, 1]], dtype=bool)
    assert mrr(WORKED_SCORES, late) == pytest.approx(1 / 5)
    assert mrr(WORKED_SCORES, late, k=4) == 0.0


def test_worked_map():
    # k=5: hits at ranks 2 and 4 -> (1/2 + 2/4) / min(5, 2)
    assert map_at_k(WORKED_SCORES, WORKED_RELEVANCE, 5) == pytest.approx((1 / 2 + 2 / 4) / 2)
    # k=3: one hit at rank 2 -> (1/2) / min(3, 2)
    assert map_at_k(WORKED_SCORES, WORKED_RELEVANCE, 3) == pytest.approx((1 / 2) / 2)
    # k=2 with 4 relevant candidates: hits at ranks 1 and 2 -> (1/1 + 2/2) / min(2, 4) = 1
    many = np.array([[1, 1, 0, 1, 1]], dtype=bool)
    assert map_at_k(WORKED_SCORES, many, 2) == pytest.approx(1.0)
    # k=3: hits at ranks 1, 2 -> (1 + 1) / min(3, 4)
    assert map_at_k(WORKED_SCORES, many, 3) == pytest.approx(2 / 3)


def test_recall_normalize_min():
    # 4 relevant, k=2, both top-2 relevant: count-recall 2/4, min-recall 2/min(2, 4) = 1
    many = np.array([[1, 1, 0, 1, 1]], dtype=bool)
    assert recall_at_k(WORKED_SCORES, many, 2) == pytest.approx(2 / 4)
    assert recall_at_k(WORKED_SCORES, many, 2, normalize="min") == pytest.approx(1.0)
    # 2 relevant, k=3, one found: both normalisations divide by 2
    assert recall_at_k(WORKED_SCORES, WORKED_RELEVANCE, 3, normalize="min") == pytest.approx(1 / 2)
    assert recall_at_k(WORKED_SCORES, WORKED_RELEVANCE, 3) == pytest.approx(1 / 2)


def test_graded_relevance_counts_positive_gains_as_relevant():
    graded = WORKED_RELEVANCE * 3.0
    for metric in (precision_at_k, recall_at_k, hit_rate_at_k, map_at_k):
        assert metric(WORKED_SCORES, graded, 3) == metric(WORKED_SCORES, WORKED_RELEVANCE, 3)
    assert mrr(WORKED_SCORES, graded) == mrr(WORKED_SCORES, WORKED_RELEVANCE)
    # ndcg with uniform gains is scale-free
    assert ndcg_at_k(WORKED_SCORES, graded, 3) == pytest.approx(
        ndcg_at_k(WORKED_SCORES, WORKED_RELEVANCE, 3)
    )


# ---------------------------------------------------------------------------------------------
# Ranking metrics: reduction
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", RANKING_METRICS)
def test_reduction_none_gives_nan_for_users_without_relevant(metric):
    scores = np.array([[0.9, 0.1, 0.5], [0.9, 0.1, 0.5], [0.9, 0.1, 0.5]])
    relevance = np.array([[1, 0, 0], [0, 0, 0], [0, 1, 0]], dtype=bool)
    per_user = metric(scores, relevance, 2, reduction="none")
    assert per_user.shape == (3,)
    assert per_user.dtype == np.float64
    assert per_user[0] == pytest.approx(1.0 if metric is not precision_at_k else 0.5)
    assert np.isnan(per_user[1])
    assert per_user[2] == 0.0
    # mean skips the user without relevant candidates
    assert metric(scores, relevance, 2) == pytest.approx(np.nanmean(per_user))


# ---------------------------------------------------------------------------------------------
# Ranking metrics: agreement with slow references and scikit-learn
# ---------------------------------------------------------------------------------------------

SLOW_NAMES = {
    precision_at_k: "precision",
    recall_at_k: "recall",
    hit_rate_at_k: "hit_rate",
    ndcg_at_k: "ndcg",
    mrr: "mrr",
    map_at_k: "map",
}


@pytest.mark.parametrize("metric", RANKING_METRICS)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("graded", [False, True])
def test_ranking_metric_matches_slow_reference(metric, seed, ties, graded):
    scores, relevance = random_ranking_inputs(seed, graded=graded, ties=ties)
    for k in (1, 5, 30):
        expected = slow_metric(SLOW_NAMES[metric], scores, relevance, k)
        per_user = metric(scores, relevance, k, reduction="none")
        np.testing.assert_allclose(per_user, expected, rtol=1e-12, atol=1e-12)
        assert metric(scores, relevance, k) == pytest.approx(np.nanmean(expected))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ties", [False, True])
def test_recall_min_and_mrr_without_k_match_slow_reference(seed, ties):
    scores, relevance = random_ranking_inputs(seed, ties=ties)
    for k in (1, 3, 10):
        np.testing.assert_allclose(
            recall_at_k(scores, relevance, k, normalize="min", reduction="none"),
            slow_metric("recall", scores, relevance, k, normalize="min"),
        )
    np.testing.assert_allclose(
        mrr(scores, relevance, reduction="none"), slow_metric("mrr", scores, relevance, None)
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("graded", [False, True])
@pytest.mark.parametrize("k", [1, 5, 10, 25])
def test_ndcg_matches_sklearn_without_ties(seed, graded, k):
    scores, relevance = random_ranking_inputs(seed, graded=graded)
    keep = relevance.sum(axis=1) > 0  # sklearn counts users without relevant items as 0
    scores, relevance = scores[keep], relevance[keep]
    expected = sklearn.metrics.ndcg_score(relevance, scores, k=k)
    assert ndcg_at_k(scores, relevance, k) == pytest.approx(expected)


def test_ranking_metrics_accept_torch_tensors():
    scores, relevance = random_ranking_inputs(0)
    for metric in RANKING_METRICS:
        assert metric(torch.from_numpy(scores), torch.from_numpy(relevance), 5) == pytest.approx(
            metric(scores, relevance, 5)
        )


# ---------------------------------------------------------------------------------------------
# Ranking metrics: bad inputs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", RANKING_METRICS)
def test_ranking_metric_bad_inputs(metric):
    scores, relevance = perfect_case()
    with pytest.raises(ValueError, match=r"\(2, 4\).*\(2, 3\)"):
        metric(scores, relevance[:, :3], 2)
    with pytest.raises(ValueError, match="at least 1"):
        metric(scores, relevance, 0)
    with pytest.raises(ValueError, match="larger than the number of candidates"):
        metric(scores, relevance, 5)
    with pytest.raises(ValueError, match="NaN"):
        metric(np.where(relevance, np.nan, scores), relevance, 2)
    with pytest.raises(ValueError, match="no user has a relevant candidate"):
        metric(scores, np.zeros_like(relevance), 2)
    with pytest.raises(ValueError, match="non-negative"):
        metric(scores, np.where(relevance, -1.0, 0.0), 2)
    with pytest.raises(ValueError, match="reduction"):
        metric(scores, relevance, 2, reduction="sum")
    with pytest.raises(ValueError, match="empty"):
        metric(np.zeros((0, 4)), np.zeros((0, 4), dtype=bool), 2)
    with pytest.raises(ValueError, match="num_users, num_candidates"):
        metric(scores[0], relevance[0], 2)


def test_recall_bad_normalize():
    scores, relevance = perfect_case()
    with pytest.raises(ValueError, match="normalize"):
        recall_at_k(scores, relevance, 2, normalize="max")


def test_mrr_rejects_nan_relevance():
    scores, _ = perfect_case()
    with pytest.raises(ValueError, match="relevance contains NaN"):
        mrr(scores, np.full((2, 4), np.nan))


# ---------------------------------------------------------------------------------------------
# Beyond accuracy
# ---------------------------------------------------------------------------------------------


def test_catalogue_coverage_worked_example():
    recommended = np.array([[0, 1], [1, 2], [0, 2]])
    assert catalogue_coverage(recommended, 10) == pytest.approx(3 / 10)
    assert catalogue_coverage(np.array([[0, 1, 2]]), 3) == 1.0
    assert catalogue_coverage(torch.tensor([[4, 4]]), 8) == pytest.approx(1 / 8)


def test_catalogue_coverage_bad_inputs():
    with pytest.raises(ValueError, match="outside"):
        catalogue_coverage(np.array([[0, 10]]), 10)
    with pytest.raises(ValueError, match="outside"):
        catalogue_coverage(np.array([[-1, 0]]), 10)
    with pytest.raises(ValueError, match="empty"):
        catalogue_coverage(np.zeros((0, 2), dtype=int), 10)
    with pytest.raises(ValueError, match="num_users, k"):
        catalogue_coverage(np.array([0, 1]), 10)
    with pytest.raises(ValueError, match="integer item indices"):
        catalogue_coverage(np.array([[0.0, 1.0]]), 10)
    with pytest.raises(ValueError, match="num_items"):
        catalogue_coverage(np.array([[0, 1]]), 0)


def test_intra_list_diversity_worked_example():
    features = np.array(
        [
            [1.0, 0.0, 0.0],  # item 0: genre A
            [1.0, 1.0, 0.0],  # item 1: genres A, B
            [0.0, 0.0, 1.0],  # item 2: genre C
            [0.0, 0.0, 0.0],  # item 3: no genre
        ]
    )
    # user 0: items 0, 1 -> cosine 1/sqrt(2) -> distance 1 - 1/sqrt(2)
    # user 1: items 0, 2, 3 -> all pairs have cosine 0 -> distance 1
    # user 2: items 0, 0 -> the same item twice -> distance 0
    assert intra_list_diversity(np.array([[0, 1]]), features) == pytest.approx(1 - 1 / math.sqrt(2))
    assert intra_list_diversity(np.array([[0, 2, 3]]), features) == pytest.approx(1.0)
    assert intra_list_diversity(np.array([[0, 0]]), features) == pytest.approx(0.0)
    both = np.array([[0, 1], [2, 3]])
    assert intra_list_diversity(both, features) == pytest.approx(((1 - 1 / math.sqrt(2)) + 1) / 2)


def test_intra_list_diversity_matches_slow_reference():
    rng = np.random.default_rng(0)
    features = (rng.random((20, 6)) < 0.3).astype(np.float32)
    recommended = rng.integers(0, 20, (15, 5))

    def cosine(a, b):
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        return 0.0 if na == 0 or nb == 0 else float(a @ b / (na * nb))

    per_user = []
    for items in recommended:
        pairs = [(i, j) for i in range(5) for j in range(5) if i != j]
        per_user.append(
            np.mean([1 - cosine(features[items[i]], features[items[j]]) for i, j in pairs])
        )
    assert intra_list_diversity(recommended, features) == pytest.approx(np.mean(per_user))


def test_intra_list_diversity_bad_inputs():
    features = np.eye(3)
    with pytest.raises(ValueError, match="at least 2"):
        intra_list_diversity(np.array([[0], [1]]), features)
    with pytest.raises(ValueError, match="outside"):
        intra_list_diversity(np.array([[0, 3]]), features)
    with pytest.raises(ValueError, match=r"\(num_items, f\)"):
        intra_list_diversity(np.array([[0, 1]]), np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        intra_list_diversity(np.array([[0, 1]]), np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="empty"):
        intra_list_diversity(np.zeros((0, 2), dtype=int), features)


def test_novelty_worked_example():
    popularity = np.array([8, 4, 2, 0])  # 14 interactions; item 3 unseen -> count 1
    recommended = np.array([[0, 1], [2, 3]])
    expected_share = np.mean(
        [-math.log2(8 / 14), -math.log2(4 / 14), -math.log2(2 / 14), -math.log2(1 / 14)]
    )
    assert novelty(recommended, popularity) == pytest.approx(expected_share)
    # Zhou et al. 2010: p_i = share of the 8 users who interacted with i
    expected_users = np.mean(
        [-math.log2(8 / 8), -math.log2(4 / 8), -math.log2(2 / 8), -math.log2(1 / 8)]
    )
    assert novelty(recommended, popularity, num_users=8) == pytest.approx(expected_users)
    assert novelty(np.array([[0, 0]]), popularity, num_users=8) == 0.0
    assert np.isfinite(novelty(np.array([[3, 3]]), popularity))


def test_novelty_bad_inputs():
    popularity = np.array([8, 4, 2, 0])
    with pytest.raises(ValueError, match="outside"):
        novelty(np.array([[0, 4]]), popularity)
    with pytest.raises(ValueError, match="non-negative"):
        novelty(np.array([[0, 1]]), np.array([1, -1, 2, 3]))
    with pytest.raises(ValueError, match="sums to 0"):
        novelty(np.array([[0, 1]]), np.zeros(4))
    with pytest.raises(ValueError, match="num_users"):
        novelty(np.array([[0, 1]]), popularity, num_users=5)
    with pytest.raises(ValueError, match="item_popularity"):
        novelty(np.array([[0, 1]]), np.zeros((0,)))
    with pytest.raises(ValueError, match="empty"):
        novelty(np.zeros((0, 2), dtype=int), popularity)
