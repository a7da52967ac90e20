"""The checker of chapter 0's coding exercise: right answers pass, plausible wrong ones fail."""

import numpy as np
import pytest
import torch

from recsys_lesson.checks import check
from recsys_lesson.models.baselines import BiasBaseline

LABEL = "00_data-ex-biases"


def shrunk_biases(users, items, ratings, num_users, num_items, reg_items=25.0, reg_users=10.0):  # the solution
    mean = ratings.mean()
    residual = ratings - mean
    item_bias = np.bincount(items, residual, num_items) / (reg_items + np.bincount(items, minlength=num_items))
    residual = residual - item_bias[items]
    user_bias = np.bincount(users, residual, num_users) / (reg_users + np.bincount(users, minlength=num_users))
    return mean, user_bias, item_bias


def by_loops(users, items, ratings, num_users, num_items, reg_items=25.0, reg_users=10.0):  # slow, torch out
    mean = sum(ratings) / len(ratings)
    item_bias = torch.zeros(num_items, dtype=torch.float64)
    for i in range(num_items):
        rows = [r - mean for r, it in zip(ratings, items) if it == i]
        item_bias[i] = sum(rows) / (reg_items + len(rows))
    user_bias = torch.zeros(num_users, dtype=torch.float64)
    for u in range(num_users):
        rows = [r - mean - float(item_bias[it]) for r, it, us in zip(ratings, items, users) if us == u]
        user_bias[u] = sum(rows) / (reg_users + len(rows))
    return torch.tensor(mean), user_bias, item_bias


def with_the_package(users, items, ratings, num_users, num_items, reg_items=25.0, reg_users=10.0):
    model = BiasBaseline(num_users, num_items, users, items, ratings, reg_items=reg_items, reg_users=reg_users)
    return model.mean, model.user_bias, model.item_bias


def no_shrinkage(users, items, ratings, num_users, num_items, reg_items=25.0, reg_users=10.0):  # wrong
    return shrunk_biases(users, items, ratings, num_users, num_items, reg_items=1e-9, reg_users=1e-9)


def users_from_raw_residual(users, items, ratings, num_users, num_items, reg_items=25.0, reg_users=10.0):  # wrong
    mean, _, item_bias = shrunk_biases(users, items, ratings, num_users, num_items, reg_items, reg_users)
    user_bias = np.bincount(users, ratings - mean, num_users) / (reg_users + np.bincount(users, minlength=num_users))
    return mean, user_bias, item_bias


def swapped_regs(users, items, ratings, num_users, num_items, reg_items=25.0, reg_users=10.0):  # wrong
    return shrunk_biases(users, items, ratings, num_users, num_items, reg_items=reg_users, reg_users=reg_items)


def users_first(users, items, ratings, num_users, num_items, reg_items=25.0, reg_users=10.0):  # wrong order
    mean = ratings.mean()
    residual = ratings - mean
    user_bias = np.bincount(users, residual, num_users) / (reg_users + np.bincount(users, minlength=num_users))
    residual = residual - user_bias[users]
    item_bias = np.bincount(items, residual, num_items) / (reg_items + np.bincount(items, minlength=num_items))
    return mean, user_bias, item_bias


def seen_only(users, items, ratings, num_users, num_items, reg_items=25.0, reg_users=10.0):  # wrong shapes
    mean, user_bias, item_bias = shrunk_biases(users, items, ratings, num_users, num_items, reg_items, reg_users)
    return mean, user_bias[: users.max() + 1], item_bias[: items.max() + 1]


@pytest.mark.parametrize("answer", [shrunk_biases, by_loops, with_the_package])
def test_right_answers_pass(answer):
    assert check(LABEL, answer, quiet=True).passed


@pytest.mark.parametrize("answer", [no_shrinkage, users_from_raw_residual, swapped_regs, users_first, seen_only,
                                    lambda *args, **kwargs: (0.0, 0.0), None, 3.5])
def test_wrong_answers_fail_without_raising(answer):
    result = check(LABEL, answer, quiet=True)
    assert not result.passed
    assert "not yet" in result.message


def test_the_message_for_wrong_user_biases_names_what_is_right():
    result = check(LABEL, users_from_raw_residual, quiet=True)
    assert "item biases are right" in result.message
