"""Checkers for the coding exercises of chapter 3, neural collaborative filtering.

``03_ncf-ex-sampled-metrics``: the answer is a function ``f(scores, k) -> (HR@k, NDCG@k)`` for
the sampled protocol, where ``scores`` is (num_users, 1 + m) with the held-out item in the last
column. The checker runs it on fresh random score matrices (and one with ties) and compares it
with `recsys_lesson.metrics.hit_rate_at_k` and `~recsys_lesson.metrics.ndcg_at_k`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import metrics as M
from . import checker

_TOLERANCE = 1e-6


def _pair(value: Any) -> tuple[float, float]:
    hr, ndcg = value  # raises for anything that is not a pair
    return float(hr), float(ndcg)


def _reference(scores: np.ndarray, k: int) -> tuple[float, float]:
    relevance = np.zeros(scores.shape, dtype=bool)
    relevance[:, -1] = True  # the held-out item is the last candidate
    return M.hit_rate_at_k(scores, relevance, k), M.ndcg_at_k(scores, relevance, k)


def _cases() -> list[tuple[str, np.ndarray, int]]:
    rng = np.random.default_rng(2017)
    cases = [
        ("random", rng.normal(size=(200, 100)), 10),
        ("random", rng.normal(size=(50, 21)), 3),
        ("random", rng.normal(size=(30, 100)) + np.r_[np.zeros(99), 2.0], 10),  # a model that often wins
    ]
    ties = rng.integers(0, 5, size=(300, 100)).astype(float)  # many ties with the held-out item
    cases.append(("ties", ties, 10))
    return cases


@checker(
    "03_ncf-ex-sampled-metrics",
    hint="the held-out item is the LAST column; its rank is 1 + the number of other candidates scored "
    "at least as high (ties count against it); a hit is a rank <= k, and with one relevant item NDCG@k "
    "is the discount 1 / log2(1 + rank) of a hit (0 otherwise), averaged over users.",
)
def sampled_metrics(answer: Any):
    if not callable(answer):
        return False, "the answer should be a function f(scores, k) returning the pair (HR@k, NDCG@k)."
    right_without_ties = True
    for kind, scores, k in _cases():
        hr, ndcg = _pair(answer(scores.copy(), k))
        expected_hr, expected_ndcg = _reference(scores, k)
        hr_ok, ndcg_ok = abs(hr - expected_hr) < _TOLERANCE, abs(ndcg - expected_ndcg) < _TOLERANCE
        if hr_ok and ndcg_ok:
            continue
        if kind == "ties" and right_without_ties:
            return False, "right on scores without ties, wrong where a candidate ties with the held-out item."
        if hr_ok:
            return False, f"HR@{k} is right but NDCG@{k} is not, on a random {scores.shape[0]} x {scores.shape[1]} score matrix."
        return False, f"HR@{k} is not right on a random {scores.shape[0]} x {scores.shape[1]} score matrix."
    return True
