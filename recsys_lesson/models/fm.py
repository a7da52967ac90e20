"""Logistic regression and the factorisation machine for click-through-rate prediction.

Chapter 1 pits them against each other (and against an MLP, `recsys_lesson.models.dnn.DNN`)
on a synthetic task with known interactions; chapter 5 reuses `fm_pairwise` inside DeepFM.
"""

from __future__ import annotations

from typing import Sequence

from torch import Tensor

from .layers import CTRModel, FeaturesEmbedding, FeaturesLinear


def fm_pairwise(embeddings: Tensor) -> Tensor:
    """The factorisation machine's pairwise term, one value per row (Rendle, 2010).

    For the field vectors ``v_1 ... v_n`` of a row (each of size k = dim),

        Σ_{i<j} <v_i, v_j>  =  ½ Σ_d [ (Σ_i v_id)² − Σ_i v_id² ],

    the left side costs O(k·n²), the right side O(k·n): the square of the sum holds every
    product v_id·v_jd twice (i ≠ j) plus the squares (i = j), which the second sum removes.

    embeddings: (batch, num_fields, dim) -> (batch,).
    """
    if embeddings.dim() != 3:
        raise ValueError(f"fm_pairwise expects (batch, num_fields, dim), got shape {tuple(embeddings.shape)}.")
    square_of_sum = embeddings.sum(dim=1).pow(2)  # (batch, dim)
    sum_of_squares = embeddings.pow(2).sum(dim=1)  # (batch, dim)
    return 0.5 * (square_of_sum - sum_of_squares).sum(dim=1)  # (batch,)


class LogisticRegression(CTRModel):
    """Logistic regression on one-hot fields: the logit ``b + Σ_f w_{f, x_f}``.

    It adds up one weight per field value, so it cannot represent any interaction between
    fields (an XOR of two fields stays at chance). forward: (batch, num_fields) -> (batch,).
    """

    def __init__(self, field_dims: Sequence[int]):
        super().__init__()
        self.linear = FeaturesLinear(field_dims)
        self.field_dims = self.linear.field_dims

    def forward(self, features: Tensor) -> Tensor:
        return self.linear(features)  # (batch,)


class FactorizationMachine(CTRModel):
    """Factorisation machine of degree 2 (Rendle, 2010):

        s(x) = b + Σ_f w_{f, x_f} + Σ_{f<g} <v_{f, x_f}, v_{g, x_g}>,

    logistic regression plus every pairwise interaction, each factorised as the dot product of
    two learned vectors of size `dim`. Embeddings start as Normal(0, init_std²), linear weights
    at zero. forward: (batch, num_fields) -> (batch,).
    """

    def __init__(self, field_dims: Sequence[int], dim: int = 8, init_std: float = 0.01):
        super().__init__()
        self.linear = FeaturesLinear(field_dims)
        self.embedding = FeaturesEmbedding(field_dims, dim, init_std=init_std)
        self.field_dims, self.dim = self.linear.field_dims, self.embedding.dim

    def forward(self, features: Tensor) -> Tensor:
        vectors = self.embedding(features)  # (batch, num_fields, dim)
        return self.linear(features) + fm_pairwise(vectors)  # (batch,)
