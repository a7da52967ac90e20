"""The checkers of chapter 7's coding exercises: right answers pass, plausible wrong ones fail."""

import numpy as np
import pandas as pd

from recsys_lesson.checks import check

LEAK = "07_training-ex-leak"
ZTEST = "07_training-ex-ztest"


def leaked_share(train, test):  # the solution
    test = test.reset_index(drop=True).assign(row=lambda frame: np.arange(len(frame)))
    pairs = test.merge(train[["user", "item", "timestamp"]], on="item", suffixes=("", "_train"))
    leaked = pairs[(pairs.user_train != pairs.user) & (pairs.timestamp_train > pairs.timestamp)]
    return leaked.row.nunique() / len(test)


def leaked_share_by_latest(train, test):  # also right: compare with each item's latest time by another user
    shares = []
    for user, item, timestamp in test[["user", "item", "timestamp"]].itertuples(index=False):
        others = train[(train.item == item) & (train.user != user)]
        shares.append(len(others) > 0 and others.timestamp.max() > timestamp)
    return float(np.mean(shares))


def counts_ties(train, test):  # wrong: >= instead of >
    test = test.reset_index(drop=True).assign(row=lambda frame: np.arange(len(frame)))
    pairs = test.merge(train, on="item", suffixes=("", "_train"))
    return pairs[(pairs.user_train != pairs.user) & (pairs.timestamp_train >= pairs.timestamp)].row.nunique() / len(test)


def counts_same_user(train, test):  # wrong: the user's own later interaction counts
    test = test.reset_index(drop=True).assign(row=lambda frame: np.arange(len(frame)))
    pairs = test.merge(train, on="item", suffixes=("", "_train"))
    return pairs[pairs.timestamp_train > pairs.timestamp].row.nunique() / len(test)


def counts_pairs(train, test):  # wrong: counts pairs, not test rows
    pairs = test.merge(train, on="item", suffixes=("", "_train"))
    return min(1.0, ((pairs.user_train != pairs.user) & (pairs.timestamp_train > pairs.timestamp)).sum() / len(test))


def z_statistic(clicks_a, n_a, clicks_b, n_b):  # the solution
    pooled = (clicks_a + clicks_b) / (n_a + n_b)
    return (clicks_b / n_b - clicks_a / n_a) / np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))


def z_reversed(clicks_a, n_a, clicks_b, n_b):  # wrong: A - B
    return -z_statistic(clicks_a, n_a, clicks_b, n_b)


def z_unpooled(clicks_a, n_a, clicks_b, n_b):  # wrong: unpooled standard error
    p_a, p_b = clicks_a / n_a, clicks_b / n_b
    return (p_b - p_a) / np.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)


def test_leak_checker_accepts_right_answers():
    assert check(LEAK, leaked_share, quiet=True)
    assert check(LEAK, leaked_share_by_latest, quiet=True)


def test_leak_checker_rejects_wrong_answers():
    for wrong in (counts_ties, counts_same_user, counts_pairs, lambda train, test: 0.5, 0.96, None):
        assert not check(LEAK, wrong, quiet=True), wrong


def test_leak_checker_hint_does_not_reveal_a_number():
    message = check(LEAK, counts_same_user, quiet=True).message
    assert "hand-made" in message and "0.6" not in message


def test_ztest_checker():
    assert check(ZTEST, z_statistic, quiet=True)
    assert not check(ZTEST, z_unpooled, quiet=True)
    result = check(ZTEST, z_reversed, quiet=True)
    assert not result and "sign" in result.message
    assert not check(ZTEST, 1.96, quiet=True)
    assert not check(ZTEST, lambda *args: "z", quiet=True)  # a wrong type is a hint, not a crash
