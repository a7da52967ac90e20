"""The checkers of chapter 6's coding exercises pass right answers and fail plausible wrong ones."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from recsys_lesson.checks import check
from recsys_lesson.checks.chapter06 import ML100K_ITEM_IDS
from recsys_lesson.features import collision_rate, hashed_index

POOLING = "06_features-ex-max-pooling"
BUCKETS = "06_features-ex-buckets"


def pool(history, mask):
    filled = history.masked_fill(~mask[:, :, None], float("-inf"))
    pooled = filled.max(dim=1).values
    return torch.where(mask.any(dim=1, keepdim=True), pooled, torch.zeros_like(pooled))


def unmasked(history, mask):  # forgets the mask: padding takes part
    return history.max(dim=1).values


def empty_is_inf(history, mask):  # masks the padding but leaves -inf for an empty history
    return history.masked_fill(~mask[:, :, None], float("-inf")).max(dim=1).values


def mean_instead(history, mask):  # the masked mean, not the maximum
    m = mask.float()[:, :, None]
    return (history * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


def test_right_pooling_passes_and_says_so(capsys):
    assert check(POOLING, pool)
    assert "pass" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, message", [
    (unmasked, "empty history"),  # its first failure: the empty row is not zeros
    (empty_is_inf, "inf or NaN"),
    (mean_instead, "differs from the coordinate-wise maximum"),
    (lambda history, mask: pool(history, mask)[:, :2], "shape"),
    (lambda history, mask: pool(history, mask).numpy(), "not a torch tensor"),
    (42, "should be a function"),
])
def test_wrong_pooling_fails_with_a_reason(wrong, message):
    result = check(POOLING, wrong, quiet=True)
    assert not result and message in result.message


def smallest_power_of_two(threshold=0.10):
    return next(2**p for p in range(1, 25) if collision_rate(hashed_index(ML100K_ITEM_IDS, 2**p, "item_id")) <= threshold)


def test_right_bucket_count_passes_and_neighbours_fail():
    right = smallest_power_of_two()
    assert check(BUCKETS, right, quiet=True)
    assert check(BUCKETS, np.int64(right), quiet=True)  # a NumPy integer is fine too
    too_few = check(BUCKETS, right // 2, quiet=True)
    assert not too_few and "more than 10%" in too_few.message
    too_many = check(BUCKETS, 2 * right, quiet=True)
    assert not too_many and "smaller power of two" in too_many.message
    not_power = check(BUCKETS, right + 1, quiet=True)
    assert not not_power and "not a power of two" in not_power.message
    assert str(right) not in too_many.message and str(right) not in too_few.message.replace(str(right // 2), "")


@pytest.mark.parametrize("wrong", [0, -4, 2.5, True, "16384", 2**40])
def test_bucket_answers_of_the_wrong_kind_fail(wrong):
    assert not check(BUCKETS, wrong, quiet=True)


def test_the_checker_uses_movielens_100k_item_ids():
    home = os.environ.get("RECSYS_LESSON_DATA")
    if not home or not (Path(home) / "ml-100k").exists():
        pytest.skip("set RECSYS_LESSON_DATA to the offline data folder holding ml-100k/")
    from recsys_lesson.data import load_movielens

    ids = np.sort(load_movielens("ml-100k", data_home=home).items["item_id"].to_numpy())
    assert np.array_equal(ids, ML100K_ITEM_IDS)
