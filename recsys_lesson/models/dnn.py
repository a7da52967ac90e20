"""An MLP on concatenated field embeddings: the "deep" part of chapter 5's models.

Chapter 1 uses it as the plain neural baseline beside LR and the factorisation machine;
chapter 5 puts it next to a wide or FM part (Wide & Deep, DeepFM).
"""

from __future__ import annotations

from typing import Sequence

from torch import Tensor

from .layers import MLP, CTRModel, FeaturesEmbedding


class DNN(CTRModel):
    """Embed each field, concatenate the vectors, and let an MLP output the logit:

        s(x) = MLP([v_{1, x_1}; v_{2, x_2}; ...; v_{n, x_n}]).

    Interactions between fields are left for the hidden layers to learn (they can, but need
    more data than an FM, which has them built in; chapter 1 measures how much more).
    Embeddings start as Normal(0, init_std²). forward: (batch, num_fields) -> (batch,).
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
        self.embedding = FeaturesEmbedding(field_dims, dim, init_std=init_std)
        self.field_dims, self.dim = self.embedding.field_dims, self.embedding.dim
        self.mlp = MLP(len(self.field_dims) * self.dim, hidden, dropout=dropout, batch_norm=batch_norm, output_dim=1)

    def forward(self, features: Tensor) -> Tensor:
        vectors = self.embedding(features)  # (batch, num_fields, dim)
        x = vectors.flatten(start_dim=1)  # (batch, num_fields * dim)
        return self.mlp(x)  # (batch,)
