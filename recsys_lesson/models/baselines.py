"""Baselines every model in the book must beat: global mean, user and item biases, popularity.

They share the `Recommender` interface, so the evaluation helpers treat them like any model.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .base import Recommender


def _as_index_array(values) -> np.ndarray:
    return np.array(values.cpu() if isinstance(values, Tensor) else values, dtype=np.int64)


class GlobalMean(Recommender):
    """Predicts the training mean rating μ for every pair."""

    def __init__(self, num_users: int, num_items: int, ratings):
        super().__init__()
        self.num_users, self.num_items = num_users, num_items
        ratings = np.asarray(ratings, dtype=np.float64)
        if len(ratings) == 0:
            raise ValueError("GlobalMean needs at least one training rating.")
        self.register_buffer("mean", torch.tensor(float(ratings.mean())))

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        self.check(users, items)
        return self.mean.expand(len(users)).float()


class BiasBaseline(Recommender):
    """r̂(u, i) = μ + b_u + b_i with regularised mean deviations (Koren, 2010, section 2.1).

    b_i = Σ_u (r_ui − μ) / (λ_i + n_i), then b_u = Σ_i (r_ui − μ − b_i) / (λ_u + n_u):
    items and users with few ratings are shrunk towards the global mean.
    """

    def __init__(self, num_users: int, num_items: int, users, items, ratings, reg_items: float = 25.0, reg_users: float = 10.0):
        super().__init__()
        self.num_users, self.num_items = num_users, num_items
        users, items = _as_index_array(users), _as_index_array(items)
        ratings = np.asarray(ratings, dtype=np.float64)
        if len(ratings) == 0:
            raise ValueError("BiasBaseline needs at least one training rating.")
        self.check(torch.as_tensor(users), torch.as_tensor(items))
        mean = ratings.mean()
        residual = ratings - mean
        item_bias = np.bincount(items, residual, num_items) / (reg_items + np.bincount(items, minlength=num_items))
        residual = residual - item_bias[items]
        user_bias = np.bincount(users, residual, num_users) / (reg_users + np.bincount(users, minlength=num_users))
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("item_bias", torch.as_tensor(item_bias, dtype=torch.float32))
        self.register_buffer("user_bias", torch.as_tensor(user_bias, dtype=torch.float32))

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        self.check(users, items)
        return self.mean + self.user_bias[users] + self.item_bias[items]

    def score_all(self, users: Tensor) -> Tensor:
        self.check(users, users.new_zeros(0))
        return self.mean + self.user_bias[users][:, None] + self.item_bias[None, :]


class Popularity(Recommender):
    """Scores an item by how many training interactions it has: the same list for everyone."""

    def __init__(self, num_users: int, num_items: int, items):
        super().__init__()
        self.num_users, self.num_items = num_users, num_items
        items = _as_index_array(items)
        if len(items) == 0:
            raise ValueError("Popularity needs at least one training interaction.")
        self.check(torch.zeros(0, dtype=torch.long), torch.as_tensor(items))
        counts = np.bincount(items, minlength=num_items)
        self.register_buffer("counts", torch.as_tensor(counts, dtype=torch.float32))

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        self.check(users, items)
        return self.counts[items]

    def score_all(self, users: Tensor) -> Tensor:
        self.check(users, users.new_zeros(0))
        return self.counts.repeat(len(users), 1)  # a real copy: callers may mask it in place
