"""Sparse user-item interaction matrices, densified one batch of rows at a time on the device.

Autoencoders (chapter 4) read a user as the row of the user-item matrix: a vector with one entry
per item. Holding that matrix dense costs ``num_users * num_items * 4`` bytes (ML-20M: 138K users
times 27K items, about 15 GB), so it stays sparse and only the rows of a training batch are made
dense, on the device that trains:

- :func:`interaction_matrix` builds a ``scipy.sparse.csr_matrix`` from index columns;
- :class:`SparseRows` keeps a CSR matrix as three tensors on the device and returns dense rows;
- :func:`heldout_rows` turns the fold-in and score interactions of held-out users (see
  `recsys_lesson.data.splits.heldout_user_split`) into two row-aligned CSR matrices.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Union

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

__all__ = ["interaction_matrix", "SparseRows", "HeldOutRows", "heldout_rows"]


def _index_array(values, name: str) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer indices, got dtype {array.dtype}")
    return array.astype(np.int64)


def _check_range(values: np.ndarray, size: int, name: str) -> None:
    if values.size and (values.min() < 0 or values.max() >= size):
        bad = values.min() if values.min() < 0 else values.max()
        raise ValueError(
            f"{name} index {bad} is outside [0, {size}); map raw ids to indices with "
            f"recsys_lesson.data.encode_ids and pass the matching num_{name}s"
        )


def interaction_matrix(users, items, num_users: int, num_items: int, values=None) -> sp.csr_matrix:
    """The (num_users, num_items) float32 CSR matrix with ``values`` at (users[n], items[n]).

    Without ``values`` the matrix is binary: 1 where a pair occurs, however often it occurs.
    With ``values`` (for example ratings), repeated pairs are summed. Column indices are sorted
    inside each row. Raises ValueError on lengths that differ or indices out of range.
    """
    users, items = _index_array(users, "users"), _index_array(items, "items")
    if len(users) != len(items):
        raise ValueError(f"users and items differ in length: {len(users)} vs {len(items)}")
    for name, size in (("num_users", num_users), ("num_items", num_items)):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"{name} must be a positive integer, got {size!r}")
    _check_range(users, num_users, "user")
    _check_range(items, num_items, "item")
    if values is None:
        data = np.ones(len(users), dtype=np.float32)
    else:
        data = np.asarray(values.detach().cpu() if isinstance(values, Tensor) else values, dtype=np.float32)
        if data.shape != users.shape:
            raise ValueError(f"values must have one entry per pair ({len(users)}), got shape {data.shape}")
    matrix = sp.csr_matrix((data, (users, items)), shape=(int(num_users), int(num_items)), dtype=np.float32)
    matrix.sum_duplicates()  # also sorts the column indices of each row
    if values is None:
        matrix.data[:] = 1.0
    return matrix


class SparseRows:
    """A CSR matrix held as tensors on a device; ``rows(index)`` returns those rows dense.

    Only the requested rows are ever dense: memory is ``nnz`` entries for the whole matrix plus
    ``len(index) * num_items`` for a batch. Densifying is vectorised (no loop over rows), so it
    runs on the GPU when the matrix lives there.

    >>> rows = SparseRows(interaction_matrix([0, 1, 1], [2, 0, 1], 2, 3))
    >>> rows(torch.tensor([1, 0]))
    tensor([[1., 1., 0.],
            [0., 0., 1.]])
    """

    def __init__(self, matrix: sp.spmatrix, device: Union[str, torch.device, None] = None):
        if not sp.issparse(matrix):
            raise ValueError(
                f"SparseRows needs a scipy.sparse matrix, got {type(matrix).__name__}; "
                "build one with recsys_lesson.interactions.interaction_matrix"
            )
        matrix = sp.csr_matrix(matrix, dtype=np.float32)
        matrix.sum_duplicates()
        self.num_rows, self.num_items = matrix.shape
        device = torch.device("cpu") if device is None else torch.device(device)
        self.indptr = torch.as_tensor(matrix.indptr.astype(np.int64), device=device)  # (num_rows + 1,)
        self.indices = torch.as_tensor(matrix.indices.astype(np.int64), device=device)  # (nnz,)
        self.values = torch.as_tensor(matrix.data, device=device)  # (nnz,)

    @property
    def device(self) -> torch.device:
        return self.indptr.device

    @property
    def nnz(self) -> int:
        return int(self.indices.numel())

    @property
    def shape(self) -> tuple[int, int]:
        return (self.num_rows, self.num_items)

    def to(self, device) -> "SparseRows":
        """Move the three tensors to ``device`` (in place) and return self."""
        self.indptr, self.indices, self.values = (t.to(device) for t in (self.indptr, self.indices, self.values))
        return self

    def row_counts(self, index: Tensor) -> Tensor:
        """Number of stored entries of each row in ``index``: shape (len(index),)."""
        index = self._check(index)
        return self.indptr[index + 1] - self.indptr[index]

    def _check(self, index) -> Tensor:
        index = torch.as_tensor(index, device=self.device)
        if index.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
            raise ValueError(f"row index must hold integers, got dtype {index.dtype}")
        index = index.long().reshape(-1)
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= self.num_rows):
            bad = int(index.min()) if int(index.min()) < 0 else int(index.max())
            raise ValueError(f"row index {bad} is outside [0, {self.num_rows}) for this matrix")
        return index

    def __call__(self, index) -> Tensor:
        """Dense float32 rows ``index`` on the matrix's device: shape (len(index), num_items)."""
        index = self._check(index)
        starts = self.indptr[index]  # (batch,)
        counts = self.indptr[index + 1] - starts  # (batch,)
        out = torch.zeros(len(index), self.num_items, device=self.device)
        total = int(counts.sum())
        if total == 0:
            return out
        row_of_entry = torch.repeat_interleave(torch.arange(len(index), device=self.device), counts)  # (total,)
        # position of each entry inside its row, then inside the stored arrays
        first_entry = torch.cumsum(counts, 0) - counts  # (batch,)
        offset = torch.arange(total, device=self.device) - first_entry[row_of_entry]
        position = starts[row_of_entry] + offset  # (total,)
        out[row_of_entry, self.indices[position]] = self.values[position]
        return out

    def rows(self, index) -> Tensor:
        """The same as calling the object: dense rows ``index``."""
        return self(index)


class HeldOutRows(NamedTuple):
    """The held-out users of one part of a strong-generalisation split, one row per user.

    ``users[r]`` is the user index of row r; ``fold_in[r]`` holds the items the model may read
    for that user and ``score[r]`` the items it is scored on (disjoint from ``fold_in[r]``).
    """

    users: np.ndarray
    fold_in: sp.csr_matrix
    score: sp.csr_matrix


def heldout_rows(fold_in, score, num_items: int) -> HeldOutRows:
    """Row-aligned CSR matrices of held-out users from two interaction frames.

    ``fold_in`` and ``score`` are DataFrames with ``user`` and ``item`` columns, such as
    ``valid_fold_in`` and ``valid_score`` of `heldout_user_split`; both must hold the same users.
    Rows follow the sorted user indices. Raises ValueError when a (user, item) pair is in both
    (a duplicated interaction split across the two parts).
    """
    for name, frame in (("fold_in", fold_in), ("score", score)):
        missing = [c for c in ("user", "item") if c not in getattr(frame, "columns", [])]
        if missing:
            raise ValueError(f"{name} needs the columns 'user' and 'item'; it lacks {missing}")
        if len(frame) == 0:
            raise ValueError(f"{name} is empty: there are no held-out interactions")
    users = np.unique(fold_in["user"].to_numpy())
    score_users = np.unique(score["user"].to_numpy())
    if not np.array_equal(users, score_users):
        raise ValueError(
            f"fold_in and score must hold the same users; {len(np.setxor1d(users, score_users))} "
            "users appear in only one of them"
        )
    matrices = []
    for frame in (fold_in, score):
        rows = np.searchsorted(users, frame["user"].to_numpy())
        matrices.append(interaction_matrix(rows, frame["item"].to_numpy(), len(users), num_items))
    overlap = matrices[0].multiply(matrices[1]).nnz
    if overlap:
        raise ValueError(
            f"{overlap} (user, item) pairs are both folded in and scored; the evaluation removes "
            "folded-in items from the ranking, so those could never be found. Drop duplicated "
            "(user, item) rows before splitting"
        )
    return HeldOutRows(users.astype(np.int64), matrices[0], matrices[1])
