"""Matrix factorisation: biased MF for ratings, dot-product MF for implicit feedback.

Chapter 1 introduces both; chapter 3 tunes `MF` as the baseline NCF has to beat.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Recommender


class BiasedMF(Recommender):
    """Explicit ratings: r̂(u, i) = μ + b_u + b_i + p_u · q_i (Koren et al., 2009).

    Trained with mean squared error on ``ratings`` batches. `global_mean` initialises μ (pass
    the training mean so the biases learn deviations from it).
    """

    def __init__(self, num_users: int, num_items: int, dim: int = 32, global_mean: float = 0.0, init_std: float = 0.01):
        super().__init__()
        self.num_users, self.num_items, self.dim = num_users, num_items, dim
        self.user_factors = nn.Embedding(num_users, dim)
        self.item_factors = nn.Embedding(num_items, dim)
        self.user_bias = nn.Embedding(num_users, 1)
        self.item_bias = nn.Embedding(num_items, 1)
        self.global_bias = nn.Parameter(torch.tensor(float(global_mean)))
        for table in (self.user_factors, self.item_factors):
            nn.init.normal_(table.weight, std=init_std)
        for table in (self.user_bias, self.item_bias):
            nn.init.zeros_(table.weight)

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        self.check(users, items)
        dot = (self.user_factors(users) * self.item_factors(items)).sum(-1)  # (batch,)
        return self.global_bias + self.user_bias(users).squeeze(-1) + self.item_bias(items).squeeze(-1) + dot

    def score_all(self, users: Tensor) -> Tensor:
        self.check(users, users.new_zeros(0))
        dots = self.user_factors(users) @ self.item_factors.weight.T  # (len(users), num_items)
        return self.global_bias + self.user_bias(users) + self.item_bias.weight.T + dots


class MF(Recommender):
    """Implicit feedback: the logit s(u, i) = p_u · q_i (+ b_i when ``item_bias``).

    Train it with ``labels`` batches (binary cross-entropy with sampled negatives) or with
    ``negatives`` batches (BPR, Rendle et al., 2009); see `recsys_lesson.train.ImplicitData`.
    """

    def __init__(self, num_users: int, num_items: int, dim: int = 32, item_bias: bool = True, init_std: float = 0.01):
        super().__init__()
        self.num_users, self.num_items, self.dim = num_users, num_items, dim
        self.user_factors = nn.Embedding(num_users, dim)
        self.item_factors = nn.Embedding(num_items, dim)
        self.item_bias = nn.Embedding(num_items, 1) if item_bias else None
        nn.init.normal_(self.user_factors.weight, std=init_std)
        nn.init.normal_(self.item_factors.weight, std=init_std)
        if self.item_bias is not None:
            nn.init.zeros_(self.item_bias.weight)

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        self.check(users, items)
        logits = (self.user_factors(users) * self.item_factors(items)).sum(-1)  # (batch,)
        if self.item_bias is not None:
            logits = logits + self.item_bias(items).squeeze(-1)
        return logits

    def score_all(self, users: Tensor) -> Tensor:
        self.check(users, users.new_zeros(0))
        logits = self.user_factors(users) @ self.item_factors.weight.T  # (len(users), num_items)
        if self.item_bias is not None:
            logits = logits + self.item_bias.weight.T
        return logits
