"""Checkers for the exercises of chapter 8, Questions and answers (book/08_qa.ipynb)."""

from __future__ import annotations

import numpy as np

from ..bandits import ucb_index
from ..abtest import required_sample_size as sample_size
from . import checker


@checker("08_qa-ex-ucb", hint="the index is the observed click rate s/n plus sqrt(2 ln t / n); an arm never shown (n = 0) gets +inf.")
def _ucb(answer):
    if not callable(answer):
        return False, "the answer should be a function ucb(successes, counts, t), not a value."
    rng = np.random.default_rng(2024)
    for case in range(25):
        shape = (6,) if case % 2 == 0 else (3, 4)
        counts = rng.integers(0, 12, shape)
        counts.flat[0] = 0  # at least one arm never shown
        successes = rng.binomial(counts, 0.3)
        t = int(counts.sum()) + 1 + case
        expected = ucb_index(successes, counts, t)
        got = np.asarray(answer(successes.copy(), counts.copy(), t), dtype=float)
        if got.shape != expected.shape:
            return False, f"for arrays of shape {shape} your function returned shape {got.shape}."
        unseen = counts == 0
        if not np.all(np.isposinf(got[unseen])):
            return False, "an arm with counts 0 must get an infinite index, so that every arm is tried once."
        if not np.allclose(got[~unseen], expected[~unseen], rtol=1e-6, atol=1e-9):
            return False, "the index of an arm that has been shown differs from UCB1's."
    return True


@checker("08_qa-ex-sample-size", hint="use the pooled rate (p_a + p_b) / 2 under the null hypothesis, z quantiles 0.975 and 0.8, and round up.")
def _sample_size(answer):
    if not callable(answer):
        return False, "the answer should be a function users_per_arm(p_a, p_b), not a number."
    rng = np.random.default_rng(8)
    for _ in range(20):
        p_a = float(rng.uniform(0.02, 0.6))
        p_b = float(np.clip(p_a * rng.uniform(0.7, 1.4), 0.01, 0.95))
        if abs(p_a - p_b) < 1e-3:
            continue
        expected = sample_size(p_a, p_b)
        got = float(answer(p_a, p_b))
        if not np.isfinite(got) or abs(got - expected) > max(1.0, 0.002 * expected):
            direction = "too many" if got > expected else "too few"
            return False, f"for one pair of rates your function gives {direction} users per arm."
        if got != int(got):
            return False, "a number of users is a whole number: round up."
    return True
