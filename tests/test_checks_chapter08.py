"""The exercise checkers of chapter 8 pass right answers and fail wrong ones."""

import math

import numpy as np
from scipy.stats import norm

from recsys_lesson.checks import check


def right_ucb(successes, counts, t):
    successes, counts = np.asarray(successes, float), np.asarray(counts, float)
    safe = np.maximum(counts, 1)
    return np.where(counts > 0, successes / safe + np.sqrt(2 * math.log(t) / safe), np.inf)


def test_ucb_checker():
    assert check("08_qa-ex-ucb", right_ucb, quiet=True)
    no_bonus = lambda s, n, t: np.where(np.asarray(n) > 0, np.asarray(s) / np.maximum(n, 1), np.inf)
    zero_for_unseen = lambda s, n, t: np.nan_to_num(right_ucb(s, n, t), posinf=0.0)
    wrong_constant = lambda s, n, t: np.where(np.asarray(n) > 0, right_ucb(s, n, t) + 0.1, np.inf)
    for wrong in (no_bonus, zero_for_unseen, wrong_constant):
        assert not check("08_qa-ex-ucb", wrong, quiet=True)
    result = check("08_qa-ex-ucb", zero_for_unseen, quiet=True)
    assert "infinite" in result.message
    assert not check("08_qa-ex-ucb", 3.0, quiet=True)
    assert not check("08_qa-ex-ucb", None, quiet=True)


def right_size(p_a, p_b):
    pooled = (p_a + p_b) / 2
    root = norm.ppf(0.975) * math.sqrt(2 * pooled * (1 - pooled)) + norm.ppf(0.8) * math.sqrt(p_a * (1 - p_a) + p_b * (1 - p_b))
    return math.ceil(root**2 / (p_a - p_b) ** 2)


def test_sample_size_checker():
    assert check("08_qa-ex-sample-size", right_size, quiet=True)
    unpooled = lambda a, b: math.ceil((norm.ppf(0.975) + norm.ppf(0.8)) ** 2 * (a * (1 - a) + b * (1 - b)) / (a - b) ** 2 * 1.3)
    one_sided = lambda a, b: math.ceil((norm.ppf(0.95) + norm.ppf(0.8)) ** 2 * (a * (1 - a) + b * (1 - b)) / (a - b) ** 2)
    not_rounded = lambda a, b: right_size(a, b) - 0.5
    for wrong in (unpooled, one_sided, not_rounded):
        assert not check("08_qa-ex-sample-size", wrong, quiet=True)
    assert not check("08_qa-ex-sample-size", 3841, quiet=True)
