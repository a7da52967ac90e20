"""Checkers for the exercises of chapter 0, *Meet the data* (book/00_data.ipynb).

``00_data-ex-biases``: the answer is a function
``shrunk_biases(users, items, ratings, num_users, num_items, reg_items, reg_users)`` returning
``(mean, user_bias, item_bias)``, the closed-form baseline of Koren (2010) that
`recsys_lesson.models.baselines.BiasBaseline` fits. The checker runs it on fresh random
ratings and compares it with that model, so it can say "not yet" without printing numbers.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..models.baselines import BiasBaseline
from . import checker


def _numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def _ratings(rng: np.random.Generator, num_users: int, num_items: int, size: int):
    users = rng.integers(0, num_users - 1, size=size)  # the last user rates nothing
    items = rng.integers(0, num_items - 1, size=size)  # the last item is never rated
    items[: size // 3] = rng.integers(0, 4, size=size // 3)  # a few popular items
    ratings = rng.integers(1, 6, size=size).astype(np.float64)
    return users, items, ratings


@checker(
    "00_data-ex-biases",
    hint="first the item biases from r - mu, each sum divided by (reg_items + the item's number of ratings); "
    "then the user biases from what is left, r - mu - b_i, divided by (reg_users + the user's number of ratings).",
)
def check_biases(answer: Callable) -> tuple[bool, str]:
    if not callable(answer):
        return False, ("the answer should be a function shrunk_biases(users, items, ratings, num_users, num_items, "
                       "reg_items, reg_users), not a value.")
    rng = np.random.default_rng(2010)
    for number, (num_users, num_items, size, reg_items, reg_users) in enumerate(
        [(30, 20, 400, 25.0, 10.0), (12, 40, 150, 3.0, 7.0)]
    ):
        users, items, ratings = _ratings(rng, num_users, num_items, size)
        out = answer(users.copy(), items.copy(), ratings.copy(), num_users, num_items,
                     reg_items=reg_items, reg_users=reg_users)
        try:
            mean, user_bias, item_bias = out
        except (TypeError, ValueError):
            return False, "return three things: (mean, user_bias, item_bias)."
        mean, user_bias, item_bias = float(_numpy(mean)), _numpy(user_bias), _numpy(item_bias)
        if user_bias.shape != (num_users,) or item_bias.shape != (num_items,):
            return False, "user_bias needs one value per user (num_users) and item_bias one per item (num_items)."
        want = BiasBaseline(num_users, num_items, users, items, ratings, reg_items=reg_items, reg_users=reg_users)
        case = f"test case {number + 1} of 2 (reg_items={reg_items:g}, reg_users={reg_users:g})"
        if not np.isclose(mean, float(want.mean), atol=1e-5):
            return False, f"the global mean is not right in {case}."
        if not np.allclose(item_bias, want.item_bias.numpy(), atol=1e-5):
            return False, f"the item biases are not right in {case}."
        if not np.allclose(user_bias, want.user_bias.numpy(), atol=1e-5):
            return False, f"the global mean and the item biases are right, the user biases not, in {case}."
    return True, ""
