"""Checkers for the exercises of chapter 7, *Training techniques and evaluation* (book/07_training.ipynb).

``07_training-ex-leak``: the answer is a function ``leaked_share(train, test)`` returning the
share of test interactions for which another user has a strictly later training interaction
with the same item. The checker runs it on small frames of its own (with ties, repeated items
and a user who appears on both sides) and compares it with a slow loop.

``07_training-ex-ztest``: the answer is a function ``z_statistic(clicks_a, n_a, clicks_b, n_b)``,
the pooled two-proportion z statistic of B − A. The checker compares it with
`recsys_lesson.abtest.two_proportion_z_test` on cases of its own.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from ..abtest import two_proportion_z_test
from . import checker


def _leaked_share_by_loops(train: pd.DataFrame, test: pd.DataFrame) -> float:
    rows = list(train[["user", "item", "timestamp"]].itertuples(index=False))
    leaked = 0
    for user, item, timestamp in test[["user", "item", "timestamp"]].itertuples(index=False):
        leaked += any(u != user and i == item and t > timestamp for u, i, t in rows)
    return leaked / len(test)


def _leak_cases() -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    # A hand-made case, share 2/3. Test row 0 has only a later row of the *same* user and a tie with
    # another user (no leak); row 1 has a later row of user 1 (leak); row 2 one of user 3 (leak).
    train = pd.DataFrame({"user": [1, 2, 3], "item": [5, 5, 6], "timestamp": [20, 10, 50]})
    test = pd.DataFrame({"user": [1, 4, 7], "item": [5, 5, 6], "timestamp": [10, 10, 40]})
    cases = [(train, test)]
    rng = np.random.default_rng(7)
    for size_train, size_test, num_users, num_items in [(60, 15, 8, 6), (200, 40, 20, 10)]:
        train = pd.DataFrame({
            "user": rng.integers(0, num_users, size_train),
            "item": rng.integers(0, num_items, size_train),
            "timestamp": rng.integers(0, 30, size_train),  # few distinct times: many ties
        })
        test = pd.DataFrame({
            "user": rng.integers(0, num_users, size_test),
            "item": rng.integers(0, num_items, size_test),
            "timestamp": rng.integers(0, 30, size_test),
        })
        cases.append((train, test))
    return cases


@checker(
    "07_training-ex-leak",
    hint="for each test row (u, i, t), look for a training row (v, i, t') with v != u and t' > t (strictly); "
    "count the test rows that have at least one, and divide by the number of test rows.",
)
def check_leak(answer: Callable) -> tuple[bool, str]:
    if not callable(answer):
        return False, "the answer should be a function leaked_share(train, test), not a value."
    for number, (train, test) in enumerate(_leak_cases()):
        got = float(answer(train.copy(), test.copy()))
        want = _leaked_share_by_loops(train, test)
        if not np.isclose(got, want, atol=1e-9):
            detail = ("in the first, hand-made case (a later row of the same user and a tie must not count)."
                      if number == 0 else f"in random test case {number} of 2.")
            return False, f"the share is not right {detail}"
    return True, ""


@checker(
    "07_training-ex-ztest",
    hint="z = (p_B - p_A) / sqrt(p (1 - p) (1/n_A + 1/n_B)), with p = (c_A + c_B) / (n_A + n_B) the pooled rate.",
)
def check_ztest(answer: Callable) -> tuple[bool, str]:
    if not callable(answer):
        return False, "the answer should be a function z_statistic(clicks_a, n_a, clicks_b, n_b), not a value."
    cases = [(120, 1000, 150, 1000), (30, 400, 18, 350), (500, 5000, 520, 4800), (7, 90, 12, 110)]
    for clicks_a, n_a, clicks_b, n_b in cases:
        got = float(answer(clicks_a, n_a, clicks_b, n_b))
        want = two_proportion_z_test(clicks_a, n_a, clicks_b, n_b).z
        if np.isclose(got, -want, rtol=1e-6) and not np.isclose(want, 0):
            return False, "the sign is reversed: take the difference B - A (clicks_b / n_b - clicks_a / n_a)."
        if not np.isclose(got, want, rtol=1e-6):
            return False, f"the statistic is not right for {clicks_a}/{n_a} clicks in A and {clicks_b}/{n_b} in B."
    return True, ""
