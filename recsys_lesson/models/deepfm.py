"""DeepFM (Guo et al., IJCAI 2017): a factorisation machine and an MLP that share one embedding
table. Chapter 5.

    s(x) = b + Σ_f w_{f, x_f}  +  Σ_{f<g} <e_f, e_g>  +  MLP([e_1; ...; e_n]),

where e_f is field f's embedding. The FM part models every pairwise interaction explicitly
(`recsys_lesson.models.fm.fm_pairwise`, the O(k·n) identity), the MLP learns higher-order
ones, and because both read the same e_f, no feature engineering is needed and the
embeddings get gradient from both parts. Wide & Deep's wide part, by contrast, only sees the
crosses someone wrote by hand.
"""

from __future__ import annotations

from typing import Sequence

from torch import Tensor

from .fm import fm_pairwise
from .layers import MLP, CTRModel, FeaturesEmbedding, FeaturesLinear


class DeepFM(CTRModel):
    """FM (linear + pairwise) plus an MLP on the same field embeddings.

    Embeddings start as Normal(0, init_std²), linear weights at zero.
    forward: features (batch, num_fields) -> (batch,).
    """

    def __init__(
        self,
        field_dims: Sequence[int],
        dim: int = 8,
        hidden: Sequence[int] = (64, 32),
        dropout: float = 0.0,
        batch_norm: bool = False,
        init_std: float = 0.01,
    ):
        super().__init__()
        self.linear = FeaturesLinear(field_dims)
        self.embedding = FeaturesEmbedding(field_dims, dim, init_std=init_std)
        self.field_dims, self.dim = self.linear.field_dims, self.embedding.dim
        self.mlp = MLP(self.num_fields * self.dim, hidden, dropout=dropout, batch_norm=batch_norm, output_dim=1)

    def forward(self, features: Tensor) -> Tensor:
        vectors = self.embedding(features)  # (batch, num_fields, dim)
        fm = self.linear(features) + fm_pairwise(vectors)  # (batch,)
        return fm + self.mlp(vectors.flatten(start_dim=1))  # (batch,)
