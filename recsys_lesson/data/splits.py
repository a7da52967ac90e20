"""Train/validation/test splits of an interaction frame.

Every function takes a frame with the columns ``user``, ``item`` (0-based int64 indices) and
``timestamp`` (int64 seconds), keeps every other column (``rating``, ``label``, ...) untouched,
and returns new frames with a fresh 0..n-1 index. Randomness comes from the ``seed`` argument.

- :func:`random_split` shuffles interactions: the rating-prediction protocol (chapter 1).
- :func:`leave_one_out_split` holds out each user's latest interaction: the NCF protocol (chapter 3).
- :func:`time_split` cuts the whole log at one moment, so nothing from the future is trained on
  (chapter 7, where it is compared with the leaky per-user protocols).
- :func:`heldout_user_split` holds out whole users (strong generalisation), the protocol of the
  autoencoders of chapter 4 (Liang et al. 2018).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

REQUIRED_COLUMNS = ("user", "item", "timestamp")


class Split(NamedTuple):
    """Three disjoint parts of one interaction frame."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame


class HeldOutSplit(NamedTuple):
    """A strong-generalisation split: held-out users' interactions are cut into fold-in and score.

    A model sees ``train`` while training; at evaluation it reads a held-out user's fold-in
    interactions and is scored on how well it ranks that user's score interactions.
    """

    train: pd.DataFrame
    valid_fold_in: pd.DataFrame
    valid_score: pd.DataFrame
    test_fold_in: pd.DataFrame
    test_score: pd.DataFrame


def _check_frame(frame: pd.DataFrame) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"expected a pandas DataFrame of interactions, got {type(frame).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"the interaction frame lacks the column(s) {missing}; it needs {list(REQUIRED_COLUMNS)} "
            f"(it has {list(frame.columns)})"
        )
    if len(frame) == 0:
        raise ValueError("the interaction frame is empty: there is nothing to split")


def _check_fraction(name: str, value: float, allow_zero: bool = False) -> None:
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value < 1):
        interval = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"{name} must lie in {interval}, got {value}")


def _check_parts(parts: dict[str, pd.DataFrame], how: str) -> None:
    empty = [name for name, part in parts.items() if len(part) == 0]
    if empty:
        sizes = ", ".join(f"{name}={len(part)}" for name, part in parts.items())
        raise ValueError(f"{how} would leave {empty} empty ({sizes}); use more data or other fractions")


def _take(frame: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    return frame.loc[mask].reset_index(drop=True)


def random_split(
    frame: pd.DataFrame, test_frac: float = 0.2, valid_frac: float = 0.0, seed: int = 0
) -> Split:
    """Split interactions at random: ``round(test_frac * n)`` rows to test, ``round(valid_frac * n)``
    to valid, the rest to train. Rows keep their original order inside each part.

    ``valid_frac == 0`` gives an empty valid frame with the same columns (the only part allowed
    to be empty). A user or item may appear in test without appearing in train; that is the
    nature of this protocol.
    """
    _check_frame(frame)
    _check_fraction("test_frac", test_frac)
    _check_fraction("valid_frac", valid_frac, allow_zero=True)
    if test_frac + valid_frac >= 1:
        raise ValueError(f"test_frac + valid_frac must be below 1, got {test_frac} + {valid_frac}")
    n = len(frame)
    num_test = int(round(test_frac * n))
    num_valid = int(round(valid_frac * n))
    order = np.random.default_rng(seed).permutation(n)
    part = np.zeros(n, dtype=np.int8)  # 0 train, 1 valid, 2 test
    part[order[:num_test]] = 2
    part[order[num_test : num_test + num_valid]] = 1
    train, valid, test = (_take(frame, part == p) for p in (0, 1, 2))
    parts = {"train": train, "test": test}
    if valid_frac > 0:
        parts["valid"] = valid
    _check_parts(parts, f"random_split(test_frac={test_frac}, valid_frac={valid_frac}) on {n} rows")
    return Split(train, valid, test)


def leave_one_out_split(frame: pd.DataFrame, seed: int = 0) -> Split:
    """Per user: the latest interaction to test, the one before it to valid, the rest to train.

    Ties: many interactions share a timestamp (ML-100K logs whole sessions in the same second),
    so "latest" is ambiguous; ties are broken by a random key drawn with ``seed`` (one per row,
    in row order), so the same frame and seed give the same split, and another seed may move
    a different one of the tied interactions to test.
    Users with fewer than 3 interactions stay wholly in train (they cannot give one of each).

    Train keeps the original row order; valid and test hold one row per user, sorted by user.
    """
    _check_frame(frame)
    n = len(frame)
    tie_break = np.random.default_rng(seed).random(n)
    order = np.lexsort((tie_break, frame["timestamp"].to_numpy(), frame["user"].to_numpy()))
    users_sorted = frame["user"].to_numpy()[order]
    # position from the end inside each user's time-ordered run: 0 = latest
    is_last = np.ones(n, dtype=bool)
    is_last[:-1] = users_sorted[1:] != users_sorted[:-1]
    run_end = np.flatnonzero(is_last)  # index (in sorted order) of each user's latest row
    run_id = np.cumsum(np.r_[0, is_last[:-1]])  # which user run each sorted row belongs to
    run_length = np.diff(np.r_[-1, run_end])
    from_end = run_end[run_id] - np.arange(n)
    eligible = run_length[run_id] >= 3
    part_sorted = np.zeros(n, dtype=np.int8)
    part_sorted[eligible & (from_end == 0)] = 2
    part_sorted[eligible & (from_end == 1)] = 1
    part = np.empty(n, dtype=np.int8)
    part[order] = part_sorted
    train = _take(frame, part == 0)
    valid = frame.iloc[order[part_sorted == 1]].reset_index(drop=True)  # sorted by user
    test = frame.iloc[order[part_sorted == 2]].reset_index(drop=True)
    if len(test) == 0:
        raise ValueError("leave_one_out_split needs at least one user with 3 or more interactions")
    return Split(train, valid, test)


def time_split(frame: pd.DataFrame, test_frac: float = 0.2, valid_frac: float = 0.0) -> Split:
    """Cut the whole log at global moments: the latest ``round(test_frac * n)`` interactions to
    test, the ``round(valid_frac * n)`` before them to valid, everything earlier to train.
    Deterministic (no seed).

    Strict ordering: every train timestamp < every valid timestamp < every test timestamp.
    Interactions that share the timestamp at a boundary all go to the later part, so test and
    valid may be somewhat larger than the fractions ask (and train smaller). ``valid_frac == 0`` gives an empty valid
    frame. Rows keep their original order inside each part.
    """
    _check_frame(frame)
    _check_fraction("test_frac", test_frac)
    _check_fraction("valid_frac", valid_frac, allow_zero=True)
    if test_frac + valid_frac >= 1:
        raise ValueError(f"test_frac + valid_frac must be below 1, got {test_frac} + {valid_frac}")
    timestamps = frame["timestamp"].to_numpy()
    n = len(frame)
    num_test = int(round(test_frac * n))
    num_valid = int(round(valid_frac * n))
    sorted_times = np.sort(timestamps)
    # a part asked to hold 0 rows starts after the last timestamp, so it comes out empty
    test_start = sorted_times[n - num_test] if num_test > 0 else sorted_times[-1] + 1
    first_test = np.searchsorted(sorted_times, test_start, side="left")  # rows tied at the boundary join test
    valid_start = sorted_times[max(first_test - num_valid, 0)] if num_valid > 0 else test_start
    train = _take(frame, timestamps < valid_start)
    valid = _take(frame, (timestamps >= valid_start) & (timestamps < test_start))
    test = _take(frame, timestamps >= test_start)
    parts = {"train": train, "test": test}
    if valid_frac > 0:
        parts["valid"] = valid
    _check_parts(
        parts,
        f"time_split(test_frac={test_frac}, valid_frac={valid_frac}) on {n} rows "
        f"(timestamps shared at a boundary go to the later part)",
    )
    return Split(train, valid, test)


def heldout_user_split(
    frame: pd.DataFrame,
    num_heldout_users: int,
    fold_in_frac: float = 0.8,
    min_interactions: int = 5,
    seed: int = 0,
) -> HeldOutSplit:
    """Strong generalisation (Liang et al. 2018): hold out whole users.

    ``num_heldout_users`` users go to validation and as many other users to test, all drawn at
    random among users with at least ``min_interactions`` interactions; none of their
    interactions is in train. Each held-out user's interactions are cut at random:
    ``round(fold_in_frac * n_u)`` (kept between 1 and ``n_u - 1``) to fold-in, the rest to score.
    Unlike Liang et al.'s script, interactions with items absent from train are kept; a model
    with one output per item simply never saw those items' positives.
    All parts keep the original row order.
    """
    _check_frame(frame)
    _check_fraction("fold_in_frac", fold_in_frac)
    if int(num_heldout_users) != num_heldout_users or num_heldout_users < 1:
        raise ValueError(f"num_heldout_users must be a positive integer, got {num_heldout_users}")
    if int(min_interactions) != min_interactions or min_interactions < 2:
        raise ValueError(
            f"min_interactions must be an integer >= 2 (each held-out user needs one fold-in and "
            f"one score interaction), got {min_interactions}"
        )
    num_heldout_users = int(num_heldout_users)
    users = frame["user"].to_numpy()
    user_ids, user_pos, counts = np.unique(users, return_inverse=True, return_counts=True)
    eligible = user_ids[counts >= min_interactions]
    if 2 * num_heldout_users > len(eligible):
        raise ValueError(
            f"heldout_user_split needs 2 * num_heldout_users = {2 * num_heldout_users} users with at "
            f"least {min_interactions} interactions, but only {len(eligible)} have that many"
        )
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(eligible)[: 2 * num_heldout_users]
    valid_users, test_users = chosen[:num_heldout_users], chosen[num_heldout_users:]

    # random rank of each row inside its user: rows sorted by (user, random key)
    n = len(frame)
    order = np.lexsort((rng.random(n), user_pos))
    first_of_user = np.searchsorted(user_pos[order], np.arange(len(user_ids)))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - first_of_user[user_pos[order]]
    num_fold_in = np.clip(np.round(fold_in_frac * counts), 1, counts - 1)  # per user
    fold_in = rank < num_fold_in[user_pos]

    in_valid = np.isin(users, valid_users)
    in_test = np.isin(users, test_users)
    split = HeldOutSplit(
        train=_take(frame, ~(in_valid | in_test)),
        valid_fold_in=_take(frame, in_valid & fold_in),
        valid_score=_take(frame, in_valid & ~fold_in),
        test_fold_in=_take(frame, in_test & fold_in),
        test_score=_take(frame, in_test & ~fold_in),
    )
    _check_parts(
        split._asdict(),
        f"heldout_user_split(num_heldout_users={num_heldout_users}) on {len(user_ids)} users",
    )
    return split
