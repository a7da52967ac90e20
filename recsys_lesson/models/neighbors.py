"""Neighbourhood collaborative filtering: item-based and user-based k-nearest neighbours.

Chapter 1 puts them next to matrix factorisation. Both models read the user-item matrix
``X`` (num_users, num_items) built from the training pairs, with the rating in a rated cell
(rating prediction) or 1 in an interacted cell (ranking from implicit feedback), and 0 elsewhere.

- `ItemKNN` finds neighbours among items: two items are similar when the same users rated them
  alike, the cosine of two columns of ``X`` (Sarwar et al., 2001).
- `UserKNN` finds neighbours among users: the cosine of two rows of ``X`` (Herlocker et al., 1999).

Each has two modes, chosen by whether ``ratings`` are given.

*Rating prediction* (``ratings`` given), the mean-centred weighted average of Surprise's
``KNNWithMeans``. For ItemKNN, with μ_i the mean training rating of item i,

    r̂(u, i) = μ_i + Σ_{j ∈ N_k(i; u)} s(i, j) (r_uj − μ_j) / Σ_{j ∈ N_k(i; u)} s(i, j),

where N_k(i; u) holds the (at most) k items most similar to i *among the items u rated*, keeping
only positive similarities; with no such item the prediction is μ_i. UserKNN swaps the roles:
μ_u + Σ_{v ∈ N_k(u; i)} s(u, v) (r_vi − μ_v) / Σ s(u, v) over the k users most similar to u
among those who rated i. An item (user) without training ratings gets the global mean as μ.

*Ranking* (no ``ratings``): each target keeps its k most similar items (users) with a positive
similarity, fixed once (the pruned similarity ``neighbours``), and the score counts the
neighbours the other side interacted with, weighted by similarity:

    ItemKNN: s(u, i) = Σ_{j ∈ N_k(i)} s(i, j) x_uj,      UserKNN: s(u, i) = Σ_{v ∈ N_k(u)} s(u, v) x_vi.

`score_all` is then one matrix product. (A neighbourhood restricted to the user's items, as in
rating mode, needs a top-k per scored pair: tens of seconds to rank every item for every user of
MovieLens 100K on two CPU cores, against milliseconds, so ranking uses the fixed neighbourhoods,
as Deshpande and Karypis (2004) and Ferrari Dacrema et al. (2019) do.)

The matrices are held densely as torch buffers (``.to(device)`` moves them): ``X`` takes
num_users x num_items floats and the similarity (num_items or num_users)² floats, a few MB for
MovieLens 100K and about 250 MB for MovieLens 1M.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor

from .base import Recommender, check_indices

PAIR_CHUNK = 4096  # pairs scored at once in rating mode: a (chunk, num_neighbour_candidates) block


def cosine_similarity(matrix) -> Tensor:
    """Cosine similarity between the rows of `matrix`: a float32 tensor (n, n).

    ``S[a, b] = <x_a, x_b> / (||x_a|| ||x_b||)``, range [-1, 1] ([0, 1] for a non-negative
    matrix); a row of zeros has similarity 0 with every row, itself included (as in
    ``sklearn.metrics.pairwise.cosine_similarity``). `matrix` may be a torch tensor, a NumPy
    array or a SciPy sparse matrix (n, m); a sparse matrix is multiplied sparsely and only the
    (n, n) result is dense. A tensor keeps its device.
    """
    if hasattr(matrix, "tocsr") and hasattr(matrix, "nnz"):  # scipy.sparse
        sparse = matrix.tocsr().astype(np.float64)
        if sparse.ndim != 2:
            raise ValueError(f"matrix must be 2-D, got shape {sparse.shape}.")
        if not np.isfinite(sparse.data).all():
            raise ValueError("matrix contains NaN or infinite values.")
        norms = np.sqrt(np.asarray(sparse.multiply(sparse).sum(axis=1)).ravel())  # (n,)
        inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        unit = sparse.multiply(inverse[:, None]).tocsr()  # rows scaled to unit length
        return torch.as_tensor((unit @ unit.T).toarray(), dtype=torch.float32)  # (n, n)
    if isinstance(matrix, Tensor):
        dense = matrix.detach().to(torch.float32)
    else:
        array = np.asarray(matrix)
        if array.dtype == object or array.dtype.kind not in "biuf":
            raise ValueError(f"matrix must hold numbers, got dtype {array.dtype}.")
        dense = torch.as_tensor(np.array(array, dtype=np.float32))
    if dense.dim() != 2:
        raise ValueError(f"matrix must be 2-D (n, m), got shape {tuple(dense.shape)}.")
    if not bool(torch.isfinite(dense).all()):
        raise ValueError("matrix contains NaN or infinite values.")
    norms = dense.norm(dim=1, keepdim=True)  # (n, 1)
    unit = dense / torch.where(norms > 0, norms, torch.ones_like(norms))
    return unit @ unit.T  # (n, n)


def keep_top_k(similarity: Tensor, k: int) -> Tensor:
    """Keep, in each row, the k largest *positive* entries and set the rest to 0: (n, n) -> (n, n).

    The diagonal (an entity's similarity with itself) is never kept. Ties at the k-th value are
    broken by ``torch.topk``.
    """
    k = _check_k(k)
    weights = similarity.clone()
    weights.fill_diagonal_(0.0)
    weights = weights.clamp_min(0.0)
    top, index = weights.topk(min(k, weights.shape[1]), dim=1)  # (n, k)
    return torch.zeros_like(weights).scatter_(1, index, top)


def _check_k(k) -> int:
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k (the number of neighbours) must be a positive integer, got {k!r}.")
    return int(k)


def _as_array(values, name: str, kind: str) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}.")
    if kind == "index":
        if len(array) and (array.dtype == object or array.dtype.kind not in "iu"):
            raise ValueError(f"{name} must hold integer indices, got dtype {array.dtype}.")
        return array.astype(np.int64)
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold numbers, got dtype {array.dtype}.")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return array


class _Neighbourhood(Recommender):
    """Shared machinery; the neighbour side is rows of ``matrix`` (num_targets, num_others)."""

    user_based: bool
    matrix: Tensor  # (num_targets, num_others): X for users, X.T for items
    observed: Tensor  # same shape, bool
    similarity: Tensor  # (num_targets, num_targets), diagonal 0
    neighbours: Tensor  # ranking mode: similarity pruned to the top k per row
    means: Tensor  # rating mode: (num_targets,)

    def __init__(self, num_users: int, num_items: int, users, items, ratings=None, k: int = 40):
        super().__init__()
        for name, value in (("num_users", num_users), ("num_items", num_items)):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.k = _check_k(k)
        users = _as_array(users, "users", "index")
        items = _as_array(items, "items", "index")
        if len(users) != len(items):
            raise ValueError(f"users and items differ in length: {len(users)} vs {len(items)}.")
        if len(users) == 0:
            raise ValueError(f"{type(self).__name__} needs at least one training interaction.")
        self.check(torch.as_tensor(users), torch.as_tensor(items))
        self.rating_mode = ratings is not None
        keys = users * self.num_items + items
        matrix = torch.zeros(self.num_users, self.num_items)  # X: (num_users, num_items)
        if self.rating_mode:
            ratings = _as_array(ratings, "ratings", "number")
            if len(ratings) != len(users):
                raise ValueError(f"ratings and users differ in length: {len(ratings)} vs {len(users)}.")
            if len(np.unique(keys)) != len(keys):
                raise ValueError(
                    "A (user, item) pair appears more than once among the training ratings; keep one "
                    "rating per pair (for example the latest) before building the model."
                )
            matrix[users, items] = torch.as_tensor(ratings, dtype=torch.float32)
        else:
            matrix[users, items] = 1.0  # repeated interactions count once
        observed = torch.zeros(self.num_users, self.num_items, dtype=torch.bool)
        observed[users, items] = True
        if not self.user_based:
            matrix, observed = matrix.T.contiguous(), observed.T.contiguous()  # (num_items, num_users)
        similarity = cosine_similarity(matrix)  # (num_targets, num_targets)
        similarity.fill_diagonal_(0.0)
        self.register_buffer("matrix", matrix)
        self.register_buffer("observed", observed)
        self.register_buffer("similarity", similarity)
        if self.rating_mode:
            counts = observed.sum(dim=1)  # (num_targets,)
            global_mean = float(np.mean(ratings))
            sums = matrix.sum(dim=1)
            means = torch.where(counts > 0, sums / counts.clamp_min(1), torch.tensor(global_mean))
            self.register_buffer("means", means.float())
        else:
            self.register_buffer("neighbours", keep_top_k(similarity, self.k))

    # targets are the side whose neighbours are searched (items for ItemKNN, users for UserKNN)
    def _sides(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        return (users, items) if self.user_based else (items, users)

    def _rating_pairs(self, targets: Tensor, others: Tensor) -> Tensor:
        """Mean-centred prediction for each (target, other) pair: (batch,)."""
        k = min(self.k, self.matrix.shape[0])
        out = []
        for start in range(0, len(targets), PAIR_CHUNK):
            t, o = targets[start : start + PAIR_CHUNK], others[start : start + PAIR_CHUNK]
            weights = self.similarity[t]  # (chunk, num_targets)
            candidate = self.observed[:, o].T & (weights > 0)  # rated by the other side, similar
            weights = torch.where(candidate, weights, torch.zeros_like(weights))
            top, index = weights.topk(k, dim=1)  # (chunk, k); zeros are not neighbours
            deviations = self.matrix[index, o[:, None]] - self.means[index]  # (chunk, k)
            numerator = (top * deviations).sum(dim=1)
            denominator = top.sum(dim=1)
            safe = torch.where(denominator > 0, denominator, torch.ones_like(denominator))
            out.append(self.means[t] + torch.where(denominator > 0, numerator / safe, torch.zeros_like(numerator)))
        return torch.cat(out) if out else self.means.new_zeros(0)

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """Predicted ratings (rating mode) or neighbourhood scores (ranking mode): (batch,)."""
        self.check(users, items)
        if len(users) != len(items):
            raise ValueError(f"users and items differ in length: {len(users)} vs {len(items)}.")
        targets, others = self._sides(users, items)
        if self.rating_mode:
            return self._rating_pairs(targets, others)
        out = [
            (self.neighbours[targets[s : s + PAIR_CHUNK]] * self.matrix[:, others[s : s + PAIR_CHUNK]].T).sum(dim=1)
            for s in range(0, len(targets), PAIR_CHUNK)
        ]  # each (chunk,): Σ_c s(target, c) x(c, other)
        return torch.cat(out) if out else self.matrix.new_zeros(0)

    def score_all(self, users: Tensor) -> Tensor:
        """Scores of every item for each user: (len(users), num_items).

        Ranking mode: one matrix product. Rating mode: the predicted rating of every pair, at
        the cost of a top-k per pair (O(len(users) · num_items · num_targets)).
        """
        self.check(users, users.new_zeros(0))
        if self.rating_mode:
            pairs_users = users.repeat_interleave(self.num_items)  # (len(users) * num_items,)
            pairs_items = torch.arange(self.num_items, device=users.device).repeat(len(users))
            targets, others = self._sides(pairs_users, pairs_items)
            return self._rating_pairs(targets, others).reshape(len(users), self.num_items)
        if self.user_based:
            return self.neighbours[users] @ self.matrix  # (len(users), num_users) @ (num_users, num_items)
        return self.matrix[:, users].T @ self.neighbours.T  # (len(users), num_items) @ (num_items, num_items)

    def extra_repr(self) -> str:
        mode = "ratings" if self.rating_mode else "ranking"
        return f"num_users={self.num_users}, num_items={self.num_items}, k={self.k}, mode={mode}"


class ItemKNN(_Neighbourhood):
    """Item-based k-nearest neighbours (Sarwar et al., 2001): cosine between item columns.

    ``ItemKNN(num_users, num_items, users, items, ratings=None, k=40)``: the training pairs
    (users[n], items[n]) with their ratings for rating prediction, or without ratings for a
    ranking score. See the module docstring for both formulas. After construction there is
    nothing to train: `fit` is not needed. ``similarity`` (num_items, num_items) holds the
    cosines (diagonal 0), ``neighbours`` (ranking mode) the top-k pruned copy.
    """

    user_based = False


class UserKNN(_Neighbourhood):
    """User-based k-nearest neighbours (Herlocker et al., 1999): cosine between user rows.

    Same constructor and modes as `ItemKNN`, with the roles of users and items swapped;
    ``similarity`` is (num_users, num_users).
    """

    user_based = True


def neighbours_of(model: _Neighbourhood, index: int, k: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """The k most similar items (ItemKNN) or users (UserKNN) of `index`, most similar first:
    ``(indices, similarities)``, two arrays of length k (default: the model's k)."""
    k = model.k if k is None else _check_k(k)
    size = model.similarity.shape[0]
    if isinstance(index, bool) or int(index) != index or not 0 <= index < size:
        what = "user" if model.user_based else "item"
        raise ValueError(f"{what} index {index!r} is outside [0, {size}).")
    row = model.similarity[int(index)].clone()
    row[int(index)] = -float("inf")  # never its own neighbour
    top, order = row.topk(min(k, size - 1))
    return order.cpu().numpy(), top.cpu().numpy()
