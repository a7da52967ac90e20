"""Evaluation protocols against slow per-user references."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss, roc_auc_score

from recsys_lesson.evaluate import ctr_metrics, rank_full, rank_sampled, rating_metrics, recommend
from recsys_lesson.models.base import Recommender


class TableModel(Recommender):
    """Scores read from a fixed (num_users, num_items) table."""

    def __init__(self, table):
        super().__init__()
        self.register_buffer("table", torch.as_tensor(table, dtype=torch.float32))
        self.num_users, self.num_items = self.table.shape

    def forward(self, users, items):
        self.check(users, items)
        return self.table[users, items]


def slow_full_ranking(table, test_pairs, exclude_pairs, k):
    """HR@k and NDCG@k by a per-user loop: sort the allowed items and look for the held-out ones."""
    hrs, ndcgs = [], []
    for user in sorted({u for u, _ in test_pairs}):
        relevant = {i for u, i in test_pairs if u == user}
        allowed = [i for i in range(table.shape[1]) if (user, i) not in exclude_pairs]
        ranked = sorted(allowed, key=lambda i: (-table[user, i], i))[:k]
        hits = [1.0 if i in relevant else 0.0 for i in ranked]
        hrs.append(float(any(hits)))
        dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(relevant))))
        ndcgs.append(dcg / idcg)
    return np.mean(hrs), np.mean(ndcgs)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_full_ranking_matches_a_slow_loop(seed):
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(12, 30))
    exclude = {(int(u), int(i)) for u, i in zip(rng.integers(0, 12, 80), rng.integers(0, 30, 80))}
    test = [(u, i) for u, i in zip(rng.integers(0, 12, 25).tolist(), rng.integers(0, 30, 25).tolist()) if (u, i) not in exclude]
    ex_u, ex_i = map(np.array, zip(*exclude))
    te_u, te_i = map(np.array, zip(*test))
    got = rank_full(TableModel(table), te_u, te_i, ex_u, ex_i, k=5, batch_size=4)
    hr, ndcg = slow_full_ranking(table, set(test), exclude, 5)
    assert got["hr@5"] == pytest.approx(hr)
    assert got["ndcg@5"] == pytest.approx(ndcg)


def test_full_ranking_excludes_training_items():
    table = np.array([[9.0, 8.0, 1.0, 0.0]])
    # Item 0 and 1 outrank the held-out item 2, but they were seen in training.
    assert rank_full(TableModel(table), [0], [2], k=1)["hr@1"] == 0.0
    assert rank_full(TableModel(table), [0], [2], [0, 0], [0, 1], k=1)["hr@1"] == 1.0


def test_sampled_ranking_limits_and_pessimistic_ties():
    table = np.arange(20, dtype=float).reshape(1, 20)
    candidates = np.array([[0, 1, 2, 19]])  # the held-out item (19) last, with the highest score
    assert rank_sampled(TableModel(table), [0], candidates, k=1) == {"hr@1": 1.0, "ndcg@1": 1.0}
    candidates = np.array([[5, 6, 7, 0]])  # now it has the lowest score
    assert rank_sampled(TableModel(table), [0], candidates, k=3)["hr@3"] == 0.0
    flat = np.zeros((1, 20))  # every candidate tied: ties count against the held-out item
    assert rank_sampled(TableModel(flat), [0], np.array([[1, 2, 3, 4]]), k=3)["hr@3"] == 0.0
    second = rank_sampled(TableModel(table), [0], np.array([[1, 18, 2, 17]]), k=4, metrics=("ndcg",))
    assert second["ndcg@4"] == pytest.approx(1 / math.log2(3))


def test_rating_and_ctr_metrics_agree_with_numpy_and_sklearn():
    table = np.array([[1.0, 6.0], [3.0, 4.0]])
    got = rating_metrics(TableModel(table), [0, 0, 1], [0, 1, 1], [2.0, 5.0, 4.5])
    clipped = np.array([1.0, 5.0, 4.0])  # 6.0 is clipped to the top of the scale
    assert got["rmse"] == pytest.approx(np.sqrt(np.mean((clipped - [2.0, 5.0, 4.5]) ** 2)))
    assert got["mae"] == pytest.approx(np.mean(np.abs(clipped - [2.0, 5.0, 4.5])))
    rng = np.random.default_rng(3)
    labels, logits = rng.integers(0, 2, 200), rng.normal(size=200)
    ctr = ctr_metrics(labels, logits)
    assert ctr["auc"] == pytest.approx(roc_auc_score(labels, logits))
    assert ctr["logloss"] == pytest.approx(log_loss(labels, 1 / (1 + np.exp(-logits))))


def test_recommend_excludes_seen_items_and_handles_repeated_users():
    table = np.array([[5.0, 4.0, 3.0, 2.0], [1.0, 2.0, 3.0, 4.0]])
    top = recommend(TableModel(table), [1, 0, 1], k=2, exclude_users=[0, 1], exclude_items=[0, 3])
    assert top.tolist() == [[2, 1], [1, 2], [2, 1]]


def test_empty_or_malformed_inputs_are_refused():
    model = TableModel(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="empty"):
        rank_full(model, [], [])
    with pytest.raises(ValueError, match="candidates must be"):
        rank_sampled(model, [0, 1], np.zeros((1, 3), dtype=int))
    with pytest.raises(ValueError, match="item index 3"):
        rank_sampled(model, [0], np.array([[0, 3]]))
    with pytest.raises(ValueError, match="Unknown ranking metric"):
        rank_full(model, [0], [1], metrics=("auc",))


def test_masking_one_user_does_not_mask_another_for_shared_score_rows():
    # Popularity returns the same row for everyone; excluding user 0's item must not hide it from user 1.
    from recsys_lesson.models.baselines import Popularity

    model = Popularity(2, 3, [0, 0, 1])
    got = rank_full(model, [0, 1], [1, 0], exclude_users=[0], exclude_items=[0], k=1, reduction="none")
    assert got["hr@1"].tolist() == [1.0, 1.0]
