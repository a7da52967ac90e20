"""Tests for recsys_lesson.interactions: sparse matrices, batch densification, held-out rows."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from recsys_lesson.data.splits import heldout_user_split
from recsys_lesson.interactions import HeldOutRows, SparseRows, heldout_rows, interaction_matrix

ML100K = Path("/work/shared/data/ml-100k/u.data")


def random_pairs(num_users=30, num_items=40, n=200, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, num_users, n), rng.integers(0, num_items, n)


# ----- interaction_matrix -------------------------------------------------------------------------


def test_interaction_matrix_matches_a_dense_loop():
    users, items = random_pairs()
    expected = np.zeros((30, 40), dtype=np.float32)
    for u, i in zip(users, items):
        expected[u, i] = 1.0  # binary: a repeated pair is still 1
    matrix = interaction_matrix(users, items, 30, 40)
    assert isinstance(matrix, sp.csr_matrix) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix.toarray(), expected)
    assert matrix.has_sorted_indices


def test_interaction_matrix_sums_values_of_repeated_pairs():
    matrix = interaction_matrix([0, 0, 1], [2, 2, 0], 2, 3, values=[1.5, 2.0, 4.0])
    np.testing.assert_array_equal(matrix.toarray(), [[0, 0, 3.5], [4.0, 0, 0]])


def test_interaction_matrix_accepts_tensors_and_pandas():
    frame = pd.DataFrame({"user": [1, 0], "item": [0, 1]})
    a = interaction_matrix(frame.user, frame.item, 2, 2)
    b = interaction_matrix(torch.tensor([1, 0]), torch.tensor([0, 1]), 2, 2)
    np.testing.assert_array_equal(a.toarray(), b.toarray())


@pytest.mark.parametrize(
    "args, message",
    [
        (([0, 1], [0], 2, 2), "differ in length"),
        (([0, 2], [0, 1], 2, 2), "user index 2 is outside"),
        (([0, 1], [-1, 1], 2, 2), "item index -1 is outside"),
        (([0.5, 1.0], [0, 1], 2, 2), "integer indices"),
        (([0, 1], [0, 1], 0, 2), "num_users must be a positive integer"),
        (([0, 1], [0, 1], 2, 2.0), "num_items must be a positive integer"),
    ],
)
def test_interaction_matrix_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        interaction_matrix(*args)


def test_interaction_matrix_values_must_match():
    with pytest.raises(ValueError, match="one entry per pair"):
        interaction_matrix([0, 1], [0, 1], 2, 2, values=[1.0])


# ----- SparseRows ---------------------------------------------------------------------------------


def test_sparse_rows_equal_scipy_rows_for_any_index():
    users, items = random_pairs(n=300, seed=1)
    values = np.random.default_rng(2).random(300).astype(np.float32)
    matrix = interaction_matrix(users, items, 30, 40, values=values)
    matrix = sp.vstack([matrix, sp.csr_matrix((2, 40), dtype=np.float32)]).tocsr()  # two empty rows
    rows = SparseRows(matrix)
    assert rows.shape == (32, 40) and rows.nnz == matrix.nnz
    index = np.array([31, 3, 3, 0, 30, 17, 29])  # repeats, empty rows, any order
    np.testing.assert_allclose(rows(torch.as_tensor(index)).numpy(), matrix[index].toarray())
    np.testing.assert_array_equal(rows.row_counts(torch.as_tensor(index)).numpy(), np.diff(matrix.indptr)[index])


def test_sparse_rows_empty_batch_and_empty_rows():
    rows = SparseRows(sp.csr_matrix((3, 5), dtype=np.float32))
    assert rows(torch.tensor([0, 2])).shape == (2, 5) and rows(torch.tensor([0, 2])).sum() == 0
    assert rows(torch.zeros(0, dtype=torch.long)).shape == (0, 5)


def test_sparse_rows_to_device_keeps_values():
    matrix = interaction_matrix([0, 1, 1], [2, 0, 1], 2, 3)
    rows = SparseRows(matrix).to("cpu")
    assert rows.device.type == "cpu"
    np.testing.assert_array_equal(rows.rows([1, 0]).numpy(), [[1, 1, 0], [0, 0, 1]])


def test_sparse_rows_bad_input():
    with pytest.raises(ValueError, match="scipy.sparse"):
        SparseRows(np.eye(3))
    rows = SparseRows(interaction_matrix([0], [0], 2, 2))
    with pytest.raises(ValueError, match="outside"):
        rows(torch.tensor([2]))
    with pytest.raises(ValueError, match="outside"):
        rows(torch.tensor([-1]))
    with pytest.raises(ValueError, match="integers"):
        rows(torch.tensor([0.0]))


# ----- heldout_rows and the strong-generalisation split --------------------------------------------


def test_heldout_rows_aligns_users():
    fold_in = pd.DataFrame({"user": [7, 3, 7], "item": [0, 1, 2]})
    score = pd.DataFrame({"user": [3, 7], "item": [2, 1]})
    heldout = heldout_rows(fold_in, score, num_items=4)
    assert isinstance(heldout, HeldOutRows)
    np.testing.assert_array_equal(heldout.users, [3, 7])
    np.testing.assert_array_equal(heldout.fold_in.toarray(), [[0, 1, 0, 0], [1, 0, 1, 0]])
    np.testing.assert_array_equal(heldout.score.toarray(), [[0, 0, 1, 0], [0, 1, 0, 0]])


def test_heldout_rows_errors():
    fold_in = pd.DataFrame({"user": [1, 2], "item": [0, 1]})
    with pytest.raises(ValueError, match="same users"):
        heldout_rows(fold_in, pd.DataFrame({"user": [1], "item": [1]}), 3)
    with pytest.raises(ValueError, match="both folded in and scored"):
        heldout_rows(fold_in, pd.DataFrame({"user": [1, 2], "item": [0, 2]}), 3)
    with pytest.raises(ValueError, match="columns"):
        heldout_rows(pd.DataFrame({"user": [1]}), fold_in, 3)
    with pytest.raises(ValueError, match="empty"):
        heldout_rows(fold_in.iloc[:0], fold_in, 3)


@pytest.fixture(scope="module")
def ml100k_liked() -> pd.DataFrame:
    if not ML100K.exists():
        pytest.skip("ML-100K is not on this machine")
    frame = pd.read_csv(ML100K, sep="\t", names=["user_id", "item_id", "rating", "timestamp"])
    frame = frame[frame.rating > 3.5]  # the chapter's implicit feedback
    return pd.DataFrame({"user": frame.user_id.to_numpy(np.int64) - 1, "item": frame.item_id.to_numpy(np.int64) - 1,
                         "timestamp": frame.timestamp.to_numpy(np.int64)})


def test_strong_generalisation_matrices_do_not_leak(ml100k_liked):
    """The chapter's pipeline: held-out users have no training row; fold-in and scored items are disjoint."""
    num_users, num_items = 943, 1682
    split = heldout_user_split(ml100k_liked, num_heldout_users=100, fold_in_frac=0.8, seed=3)
    train = interaction_matrix(split.train.user, split.train.item, num_users, num_items)
    for fold_in, score in ((split.valid_fold_in, split.valid_score), (split.test_fold_in, split.test_score)):
        heldout = heldout_rows(fold_in, score, num_items)
        assert len(heldout.users) == 100
        assert train[heldout.users].nnz == 0  # no held-out user appears in training
        assert heldout.fold_in.multiply(heldout.score).nnz == 0  # fold-in and scored items are disjoint
        everything = interaction_matrix(ml100k_liked.user, ml100k_liked.item, num_users, num_items)[heldout.users]
        assert (heldout.fold_in + heldout.score - everything).nnz == 0  # together: all of the user's items
        sizes = np.diff(heldout.fold_in.indptr) + np.diff(heldout.score.indptr)
        np.testing.assert_array_equal(np.diff(heldout.fold_in.indptr), np.clip(np.round(0.8 * sizes), 1, sizes - 1))
