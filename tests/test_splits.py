"""Tests for recsys_lesson.data.splits: no leakage, right sizes, reproducibility, clear errors."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_lesson.data.splits import (
    HeldOutSplit,
    Split,
    heldout_user_split,
    leave_one_out_split,
    random_split,
    time_split,
)

ML100K = Path("/work/shared/data/ml-100k/u.data")


@pytest.fixture(scope="module")
def ml100k() -> pd.DataFrame:
    if not ML100K.exists():
        pytest.skip("ML-100K is not on this machine")
    frame = pd.read_csv(ML100K, sep="\t", names=["user_id", "item_id", "rating", "timestamp"])
    frame = pd.DataFrame(
        {
            "user": frame["user_id"].to_numpy(np.int64) - 1,
            "item": frame["item_id"].to_numpy(np.int64) - 1,
            "timestamp": frame["timestamp"].to_numpy(np.int64),
            "rating": frame["rating"].to_numpy(np.float32),
        }
    )
    frame["row"] = np.arange(len(frame))  # identifies each interaction across parts
    return frame


def small_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user": np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 3], dtype=np.int64),
            "item": np.array([0, 1, 2, 3, 0, 4, 5, 1, 2, 3], dtype=np.int64),
            "timestamp": np.array([5, 1, 3, 9, 2, 2, 7, 4, 8, 6], dtype=np.int64),
            "rating": np.arange(10, dtype=np.float32),
            "row": np.arange(10),
        }
    )


def pairs(frame: pd.DataFrame) -> set:
    return set(zip(frame["user"].tolist(), frame["item"].tolist()))


def assert_partition(parts, frame: pd.DataFrame) -> None:
    """The parts are disjoint, cover every row once, keep every column and dtype, and have a fresh index."""
    rows = np.concatenate([part["row"].to_numpy() for part in parts])
    assert np.array_equal(np.sort(rows), np.arange(len(frame)))
    for part in parts:
        assert list(part.columns) == list(frame.columns)
        assert part.dtypes.equals(frame.dtypes)
        assert part.index.equals(pd.RangeIndex(len(part)))
        # every row is identical to the original row with the same id
        pd.testing.assert_frame_equal(part, frame.iloc[part["row"].to_numpy()].reset_index(drop=True))


# ----- random_split -----------------------------------------------------------------------------


def test_random_split_sizes_partition_and_no_pair_leak(ml100k):
    assert not ml100k.duplicated(["user", "item"]).any()  # pairs are unique in ML-100K
    split = random_split(ml100k, test_frac=0.2, seed=0)
    assert isinstance(split, Split)
    n = len(ml100k)
    assert len(split.test) == round(0.2 * n)
    assert len(split.valid) == 0 and list(split.valid.columns) == list(ml100k.columns)
    assert len(split.train) == n - round(0.2 * n)
    assert_partition([split.train, split.test], ml100k)
    assert not pairs(split.test) & pairs(split.train)
    # rows keep their original order
    assert (np.diff(split.train["row"].to_numpy()) > 0).all()


def test_random_split_with_valid(ml100k):
    split = random_split(ml100k, test_frac=0.1, valid_frac=0.15, seed=3)
    n = len(ml100k)
    assert (len(split.train), len(split.valid), len(split.test)) == (
        n - round(0.1 * n) - round(0.15 * n),
        round(0.15 * n),
        round(0.1 * n),
    )
    assert_partition(split, ml100k)
    assert not pairs(split.valid) & pairs(split.train)
    assert not pairs(split.test) & (pairs(split.train) | pairs(split.valid))


def test_random_split_reproducible(ml100k):
    a = random_split(ml100k, valid_frac=0.1, seed=7)
    b = random_split(ml100k, valid_frac=0.1, seed=7)
    c = random_split(ml100k, valid_frac=0.1, seed=8)
    for part_a, part_b in zip(a, b):
        pd.testing.assert_frame_equal(part_a, part_b)
    assert not a.test["row"].equals(c.test["row"])


def test_random_split_worked_example():
    frame = small_frame()
    split = random_split(frame, test_frac=0.3, valid_frac=0.2, seed=0)
    assert (len(split.train), len(split.valid), len(split.test)) == (5, 2, 3)
    assert_partition(split, frame)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"test_frac": 0.0}, "test_frac"),
        ({"test_frac": 1.0}, "test_frac"),
        ({"test_frac": -0.1}, "test_frac"),
        ({"test_frac": 1.5}, "test_frac"),
        ({"valid_frac": -0.1}, "valid_frac"),
        ({"valid_frac": 1.0}, "valid_frac"),
        ({"test_frac": 0.6, "valid_frac": 0.4}, "below 1"),
        ({"test_frac": 0.01}, r"\['test'\] empty"),  # round(0.1) = 0 test rows out of 10
        ({"test_frac": 0.3, "valid_frac": 0.01}, r"\['valid'\] empty"),
    ],
)
def test_random_split_bad_fractions(kwargs, message):
    with pytest.raises(ValueError, match=message):
        random_split(small_frame(), **kwargs)


def test_random_split_train_would_be_empty():
    frame = small_frame().iloc[:2]
    with pytest.raises(ValueError, match=r"\['train'\] empty"):
        random_split(frame, test_frac=0.5, valid_frac=0.45)


# ----- input checks shared by every split ---------------------------------------------------------

SPLITTERS = [
    lambda frame: random_split(frame),
    lambda frame: leave_one_out_split(frame),
    lambda frame: time_split(frame),
    lambda frame: heldout_user_split(frame, num_heldout_users=1, min_interactions=2),
]


@pytest.mark.parametrize("splitter", SPLITTERS)
def test_empty_frame(splitter):
    with pytest.raises(ValueError, match="empty"):
        splitter(small_frame().iloc[:0])


@pytest.mark.parametrize("splitter", SPLITTERS)
@pytest.mark.parametrize("column", ["user", "item", "timestamp"])
def test_missing_column(splitter, column):
    with pytest.raises(ValueError, match=f"lacks the column.*{column}"):
        splitter(small_frame().drop(columns=column))


@pytest.mark.parametrize("splitter", SPLITTERS)
def test_not_a_frame(splitter):
    with pytest.raises(ValueError, match="DataFrame"):
        splitter(small_frame().to_numpy())


# ----- leave_one_out_split ------------------------------------------------------------------------


def slow_leave_one_out_check(split: Split, frame: pd.DataFrame) -> None:
    """Per user, by a Python loop: test is a latest interaction, valid a latest of the rest."""
    test = split.test.set_index("user")
    valid = split.valid.set_index("user")
    for user, rows in frame.groupby("user"):
        if len(rows) < 3:
            assert user not in test.index and user not in valid.index
            continue
        test_row, valid_row = test.loc[user], valid.loc[user]
        assert test_row["timestamp"] == rows["timestamp"].max()
        rest = rows[rows["row"] != test_row["row"]]
        assert valid_row["timestamp"] == rest["timestamp"].max()
        assert valid_row["timestamp"] <= test_row["timestamp"]


def test_leave_one_out_on_ml100k(ml100k):
    split = leave_one_out_split(ml100k, seed=0)
    num_users = ml100k["user"].nunique()  # every ML-100K user has at least 20 ratings
    assert len(split.test) == len(split.valid) == num_users
    assert split.test["user"].is_unique and split.valid["user"].is_unique
    assert (np.diff(split.test["user"].to_numpy()) > 0).all()  # sorted by user
    assert_partition(split, ml100k)
    slow_leave_one_out_check(split, ml100k)
    # no train interaction of a user is later than that user's valid or test interaction
    latest_train = split.train.groupby("user")["timestamp"].max()
    assert (latest_train <= split.valid.set_index("user")["timestamp"].loc[latest_train.index]).all()
    assert not pairs(split.test) & pairs(split.train)
    assert not pairs(split.valid) & pairs(split.train)


def test_leave_one_out_ties_are_broken_by_seed(ml100k):
    a = leave_one_out_split(ml100k, seed=0)
    b = leave_one_out_split(ml100k, seed=0)
    c = leave_one_out_split(ml100k, seed=1)
    for part_a, part_b in zip(a, b):
        pd.testing.assert_frame_equal(part_a, part_b)
    assert not a.test["row"].equals(c.test["row"])  # ML-100K has many same-second interactions
    slow_leave_one_out_check(c, ml100k)


def test_leave_one_out_all_tied():
    frame = pd.DataFrame({"user": [0] * 5, "item": np.arange(5), "timestamp": [7] * 5})
    chosen = {int(leave_one_out_split(frame, seed=s).test["item"].iloc[0]) for s in range(30)}
    assert len(chosen) > 1  # any of the tied interactions can be the held-out one


def test_leave_one_out_worked_example_and_short_users():
    frame = small_frame()
    split = leave_one_out_split(frame, seed=0)
    # user 0: times 5,1,3,9 -> test time 9 (item 3), valid time 5 (item 0)
    # user 1: times 2,2,7 -> test time 7 (item 5), valid one of the two at time 2
    # users 2 and 3 have fewer than 3 interactions: wholly in train
    assert split.test["user"].tolist() == [0, 1]
    assert split.test["item"].tolist() == [3, 5]
    assert split.valid["item"].iloc[0] == 0
    assert split.valid["item"].iloc[1] in (0, 4)
    assert set(split.train.loc[split.train["user"].isin([2, 3]), "row"]) == {7, 8, 9}
    assert_partition(split, frame)


def test_leave_one_out_needs_a_user_with_three():
    frame = small_frame()
    with pytest.raises(ValueError, match="3 or more"):
        leave_one_out_split(frame[frame["user"] >= 2])


# ----- time_split --------------------------------------------------------------------------------


def test_time_split_strict_order(ml100k):
    split = time_split(ml100k, test_frac=0.1, valid_frac=0.1)
    assert split.train["timestamp"].max() < split.valid["timestamp"].min()
    assert split.valid["timestamp"].max() < split.test["timestamp"].min()
    assert_partition(split, ml100k)
    n = len(ml100k)
    # sizes: at least the asked number, and only by the rows sharing the boundary timestamp more
    for part, target in ((split.test, round(0.1 * n)), (split.valid, round(0.1 * n))):
        boundary = part["timestamp"].min()
        assert target <= len(part) < target + (part["timestamp"] == boundary).sum()
    pd.testing.assert_frame_equal(time_split(ml100k, 0.1, 0.1).test, split.test)


def test_time_split_without_valid(ml100k):
    split = time_split(ml100k, test_frac=0.2)
    assert len(split.valid) == 0 and list(split.valid.columns) == list(ml100k.columns)
    assert split.train["timestamp"].max() < split.test["timestamp"].min()
    assert_partition([split.train, split.test], ml100k)


def test_time_split_boundary_ties_go_later():
    frame = pd.DataFrame(
        {"user": [0, 1, 2, 3, 4, 5], "item": [0, 1, 2, 3, 4, 5], "timestamp": [1, 2, 3, 3, 4, 4]}
    )
    # 1 test row asked: both rows at time 4 go to test
    split = time_split(frame, test_frac=1 / 6, valid_frac=1 / 6)
    assert split.test["timestamp"].tolist() == [4, 4]
    # 1 valid row asked, at time 3: both rows at time 3 go to valid
    assert split.valid["timestamp"].tolist() == [3, 3]
    assert split.train["timestamp"].tolist() == [1, 2]


def test_time_split_errors():
    frame = pd.DataFrame({"user": [0, 1, 2, 3], "item": [0, 1, 2, 3], "timestamp": [5, 5, 5, 5]})
    with pytest.raises(ValueError, match=r"\['train'\] empty"):
        time_split(frame)
    frame = pd.DataFrame({"user": [0, 1, 2, 3], "item": [0, 1, 2, 3], "timestamp": [1, 3, 3, 3]})
    with pytest.raises(ValueError, match=r"\['train'\] empty"):
        time_split(frame, test_frac=0.25, valid_frac=0.25)  # test takes 3 rows, valid the last one
    with pytest.raises(ValueError, match=r"\['test'\] empty"):
        time_split(frame, test_frac=0.1)  # round(0.4) = 0 test rows
    for kwargs in ({"test_frac": 0}, {"test_frac": 1}, {"valid_frac": 1}, {"test_frac": 0.5, "valid_frac": 0.5}):
        with pytest.raises(ValueError, match="frac"):
            time_split(small_frame(), **kwargs)


# ----- heldout_user_split ------------------------------------------------------------------------


def test_heldout_user_split_on_ml100k(ml100k):
    split = heldout_user_split(ml100k, num_heldout_users=100, fold_in_frac=0.8, min_interactions=5, seed=0)
    assert isinstance(split, HeldOutSplit)
    assert_partition(split, ml100k)
    train_users = set(split.train["user"])
    valid_users = set(split.valid_fold_in["user"])
    test_users = set(split.test_fold_in["user"])
    assert len(valid_users) == len(test_users) == 100
    assert set(split.valid_score["user"]) == valid_users
    assert set(split.test_score["user"]) == test_users
    assert not valid_users & test_users
    assert not (valid_users | test_users) & train_users
    assert len(train_users) == ml100k["user"].nunique() - 200
    counts = ml100k.groupby("user").size()
    for fold_in, score in ((split.valid_fold_in, split.valid_score), (split.test_fold_in, split.test_score)):
        assert not set(fold_in["row"]) & set(score["row"])
        for user, rows in ml100k[ml100k["user"].isin(set(fold_in["user"]))].groupby("user"):
            mine = set(fold_in.loc[fold_in["user"] == user, "row"]) | set(score.loc[score["user"] == user, "row"])
            assert mine == set(rows["row"])  # fold-in and score together are the user's interactions
        fold_in_sizes = fold_in.groupby("user").size()
        expected = np.clip(np.round(0.8 * counts.loc[fold_in_sizes.index]), 1, counts.loc[fold_in_sizes.index] - 1)
        assert (fold_in_sizes == expected).all()


def test_heldout_user_split_reproducible(ml100k):
    a = heldout_user_split(ml100k, num_heldout_users=50, seed=4)
    b = heldout_user_split(ml100k, num_heldout_users=50, seed=4)
    c = heldout_user_split(ml100k, num_heldout_users=50, seed=5)
    for part_a, part_b in zip(a, b):
        pd.testing.assert_frame_equal(part_a, part_b)
    assert set(a.test_score["user"]) != set(c.test_score["user"])


def test_heldout_user_split_eligibility_and_small_users():
    frame = small_frame()  # user 0: 4 interactions, 1: 3, 2: 2, 3: 1
    for seed in range(10):
        split = heldout_user_split(frame, num_heldout_users=1, fold_in_frac=0.5, min_interactions=3, seed=seed)
        held_out = set(split.valid_fold_in["user"]) | set(split.test_fold_in["user"])
        assert held_out == {0, 1}  # the only users with >= 3 interactions
        assert set(split.train["user"]) == {2, 3}
        assert (split.valid_score.groupby("user").size() >= 1).all()
        assert (split.test_score.groupby("user").size() >= 1).all()
        assert_partition(split, frame)


def test_heldout_user_split_fold_in_keeps_one_for_score():
    frame = small_frame()
    split = heldout_user_split(frame, num_heldout_users=1, fold_in_frac=0.99, min_interactions=3, seed=0)
    assert len(split.valid_score) == 1 and len(split.test_score) == 1
    split = heldout_user_split(frame, num_heldout_users=1, fold_in_frac=0.01, min_interactions=3, seed=0)
    assert len(split.valid_fold_in) == 1 and len(split.test_fold_in) == 1


def test_heldout_user_split_errors(ml100k):
    frame = small_frame()
    with pytest.raises(ValueError, match="4 users with at least 2 interactions, but only 3"):
        heldout_user_split(frame, num_heldout_users=2, min_interactions=2)
    with pytest.raises(ValueError, match=r"\['train'\] empty"):
        heldout_user_split(frame[frame["user"] < 2], num_heldout_users=1, min_interactions=3)
    with pytest.raises(ValueError, match="num_heldout_users"):
        heldout_user_split(frame, num_heldout_users=0)
    with pytest.raises(ValueError, match="num_heldout_users"):
        heldout_user_split(frame, num_heldout_users=1.5)
    with pytest.raises(ValueError, match="min_interactions"):
        heldout_user_split(frame, num_heldout_users=1, min_interactions=1)
    for fraction in (0.0, 1.0, 1.2):
        with pytest.raises(ValueError, match="fold_in_frac"):
            heldout_user_split(frame, num_heldout_users=1, fold_in_frac=fraction, min_interactions=3)
    with pytest.raises(ValueError, match="943 have that many"):
        heldout_user_split(ml100k, num_heldout_users=472)
