"""Checkers for the exercises of chapter 1: *The classics* (book/01_classics.ipynb) and *What
the classics cannot capture* (book/01_limits.ipynb).

Each checker calls the learner's function on fresh random inputs and compares it with a
reference computed here, so it can say "not yet" without printing the expected numbers.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from . import checker

__all__ = ["centred_cosine_reference"]


def _numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def centred_cosine_reference(matrix: np.ndarray) -> np.ndarray:
    """Item-centred cosine between the columns of a rating matrix (chapter 1, exercise).

    matrix: (num_users, num_items), a rating in a rated cell and 0 elsewhere. Each item's mean
    over its *rated* cells is subtracted from those cells only (missing cells stay 0), then
    s(i, j) = c_i . c_j / (|c_i| |c_j|) for the centred columns c; a column that is all zero
    after centring has similarity 0 with every item. Range [-1, 1]; shape (num_items, num_items).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    rated = matrix != 0
    counts = rated.sum(axis=0)
    means = matrix.sum(axis=0) / np.maximum(counts, 1)
    centred = np.where(rated, matrix - means, 0.0)
    norms = np.linalg.norm(centred, axis=0)
    unit = centred / np.where(norms > 0, norms, 1.0)
    return unit.T @ unit


def _rating_matrix(rng: np.random.Generator, num_users: int, num_items: int) -> np.ndarray:
    matrix = rng.integers(1, 6, size=(num_users, num_items)).astype(np.float64)
    matrix[rng.random(size=matrix.shape) < 0.6] = 0.0  # about 40% of the cells rated
    return matrix


@checker(
    "01_classics-ex-centred",
    hint="centre each item's column on the mean of its rated cells only, keep the missing cells at 0, "
    "then take the cosine of the centred columns; a zero column gets similarity 0.",
)
def check_centred_cosine(answer: Callable) -> tuple[bool, str]:
    if not callable(answer):
        return False, "the answer should be a function centred_cosine(matrix), not a value."
    rng = np.random.default_rng(11)
    special = _rating_matrix(rng, 30, 9)
    special[:, 3] = np.where(special[:, 3] > 0, 4.0, 0.0)  # every rating of item 3 equals its mean
    special[:, 7] = 0.0  # item 7 was never rated
    cases = [("a random rating matrix", _rating_matrix(rng, 40, 12)),
             ("a matrix with a constant column and an empty column", special)]
    for name, matrix in cases:
        got = _numpy(answer(matrix.copy()))
        num_items = matrix.shape[1]
        if got.shape != (num_items, num_items):
            return False, f"expected an (num_items, num_items) matrix, got the shape {got.shape} for {name}."
        off_diagonal = ~np.eye(num_items, dtype=bool)  # the diagonal is not checked
        if np.isnan(got[off_diagonal]).any():
            return False, f"the similarities contain NaN for {name}: a column with zero norm needs similarity 0."
        if not np.allclose(got[off_diagonal], centred_cosine_reference(matrix)[off_diagonal], atol=1e-5):
            return False, f"the similarities are not the item-centred cosine on {name}."
    return True, ""


@checker(
    "01_limits-ex-rotation",
    hint="draw a Gaussian (dim, dim) matrix with the seed, take the Q factor of its QR decomposition "
    "(np.linalg.qr), and multiply both tables by it on the right.",
)
def check_rotation(answer: Callable) -> tuple[bool, str]:
    if not callable(answer):
        return False, "the answer should be a function rotate(user_vectors, item_vectors, seed), not a value."
    rng = np.random.default_rng(5)
    users, items = rng.normal(size=(40, 6)), rng.normal(size=(55, 6))
    out = answer(users.copy(), items.copy(), 0)
    try:
        new_users, new_items = (_numpy(part) for part in out)
    except (TypeError, ValueError):
        return False, "return a pair (rotated user vectors, rotated item vectors)."
    if new_users.shape != users.shape or new_items.shape != items.shape:
        return False, "the rotated tables must keep the shapes of the tables they came from."
    if not np.allclose(new_users @ new_items.T, users @ items.T, atol=1e-6):
        return False, "the scores p_u . q_i changed: a rotation of both tables must keep every score."
    if not np.allclose(new_users @ new_users.T, users @ users.T, atol=1e-6):
        return False, ("the scores are kept, but the map is not a rotation: lengths of and angles between "
                       "user vectors changed (an orthogonal matrix keeps them).")
    if np.abs(new_users - users).max() < 1e-3:
        return False, "the vectors did not change: the rotation should not be the identity."
    again = _numpy(answer(users.copy(), items.copy(), 1)[0])
    if np.allclose(again, new_users, atol=1e-6):
        return False, "two different seeds gave the same rotation: draw the rotation from the seed."
    return True, ""
