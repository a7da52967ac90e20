"""Checkers for the coding exercises of chapter 6, feature engineering.

``06_features-ex-max-pooling``: the answer is a function ``pool(history, mask)`` that pools a
padded history (batch, L, dim) by its coordinate-wise maximum over the positions where ``mask``
(batch, L, bool) is True, with zeros for an empty history. The checker runs it on fresh random
histories whose padding holds large values and compares it with
`recsys_lesson.models.din.max_pooling`.

``06_features-ex-buckets``: the answer is the smallest power of two B for which at most 10% of
MovieLens 100K's item ids share a bucket with another id under
``hashed_index(ids, B, "item_id")``. MovieLens 100K's item ids are exactly 1 ... 1682 (the tests
check it against the data), so the checker hashes those numbers and needs no data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..features import collision_rate, hashed_index
from ..models.din import max_pooling
from . import checker

ML100K_ITEM_IDS = np.arange(1, 1683)
"""The item ids of MovieLens 100K (u.item numbers its 1682 movies 1 ... 1682)."""

MAX_COLLISION_RATE = 0.10


def _histories(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    history = torch.randn(6, 5, 4, generator=generator)  # (batch, L, dim)
    mask = torch.rand(6, 5, generator=generator) > 0.4
    mask[0] = True  # a full history
    mask[1] = False  # an empty one
    mask[2] = torch.tensor([False, False, False, True, True])  # left padding, as in the book's tasks
    history = torch.where(mask[:, :, None], history, torch.full_like(history, 50.0))  # padding that would win a max
    return history, mask


@checker(
    "06_features-ex-max-pooling",
    hint="replace the padding positions by -inf (masked_fill with ~mask) before taking the maximum over the "
    "history axis (dim=1), then put zeros in the rows whose mask is all False.",
)
def max_pooling_checker(answer: Any):
    if not callable(answer):
        return False, "the answer should be a function pool(history, mask) returning a (batch, dim) tensor."
    for seed in (0, 1):
        history, mask = _histories(seed)
        got = answer(history.clone(), mask.clone())
        if not isinstance(got, torch.Tensor):
            return False, f"the function returned a {type(got).__name__}, not a torch tensor."
        if tuple(got.shape) != (history.shape[0], history.shape[2]):
            return False, f"for a history of shape {tuple(history.shape)} the result should have shape (batch, dim), got {tuple(got.shape)}."
        expected = max_pooling(history, mask)
        if torch.allclose(got.float(), expected, atol=1e-6):
            continue
        if not torch.isfinite(got).all():
            return False, "the result holds inf or NaN: what does your function return for a history with no item at all?"
        if not torch.allclose(got[1].float(), torch.zeros_like(got[1]).float()):
            return False, "a row whose mask is all False (an empty history) should pool to zeros."
        if (got.float() >= 49.0).any():
            return False, "the padding positions (mask False) still take part in the maximum."
        return False, "the result differs from the coordinate-wise maximum over the non-padding positions."
    return True


def _rate(num_buckets: int) -> float:
    return collision_rate(hashed_index(ML100K_ITEM_IDS, int(num_buckets), "item_id"))


@checker(
    "06_features-ex-buckets",
    hint="try B = 2, 4, 8, ... in turn; for each, hash the 1682 item ids with hashed_index(ids, B, \"item_id\") "
    "and measure collision_rate; stop at the first B whose rate is at most 0.10.",
)
def buckets_checker(answer: Any):
    if isinstance(answer, bool) or int(answer) != answer or answer < 1:
        return False, "the answer should be a positive whole number of buckets."
    answer = int(answer)
    if answer & (answer - 1):
        return False, f"{answer} is not a power of two."
    if answer > 2**24:
        return False, "far more buckets than needed: a table that large would not fit in memory."
    if _rate(answer) > MAX_COLLISION_RATE:
        return False, f"with {answer} buckets, more than 10% of the item ids share a bucket."
    if answer > 1 and _rate(answer // 2) <= MAX_COLLISION_RATE:
        return False, f"{answer} buckets are enough, but a smaller power of two is enough too."
    return True
