"""Deep Interest Network (Zhou et al., KDD 2018): attention over the user's history. Chapter 5.

A user's history is a variable-length list of items e_1 ... e_L (the items they interacted with
before). The base model of the paper pools it into one vector, the same whatever item is being
scored (sum or mean pooling). DIN pools it *against the candidate item* e_a:

    v_U(a) = Σ_j a(e_j, e_a) e_j,    a(e_j, e_a) = MLP([e_j; e_a; e_j − e_a; e_j ⊙ e_a]),

so the history items that relate to the candidate count more. As in the paper, the weights are
not normalised by a softmax (their sum keeps the strength of the interest); padding positions
get weight 0. The pooled vector joins the other field embeddings in an MLP.

Input layout: the history travels in the same ``features`` tensor as the fields, so `fit`,
`CTRModel.loss` and `predict_logits` work unchanged: the first columns are the fields' (one
per field, several for a multi-valued field such as the genres), the last ``history_length``
columns are indices in the item field's vocabulary
(``field_dims[item_field]``), oldest first, and index 0 marks an empty slot (the encoders'
out-of-vocabulary index, so an unknown item in the history is left out too). History items share
the candidate item's embedding table.

Chapter 6 compares the three ways to pool a padded history offered here: DIN's attention, the
base model's mean, and the coordinate-wise maximum (`max_pooling`); all three ignore the padding.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from .layers import MLP, CTRModel, FeaturesEmbedding, lookup, num_columns


class AttentionPooling(nn.Module):
    """DIN's local activation unit: target-aware weights over a padded history.

    forward(history (batch, L, dim), target (batch, dim), mask (batch, L) bool) ->
    (pooled (batch, dim), weights (batch, L)), weights 0 where mask is False.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (36,)):
        super().__init__()
        self.dim = int(dim)
        self.mlp = MLP(4 * self.dim, hidden, output_dim=1)

    def forward(self, history: Tensor, target: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        batch, length, dim = history.shape
        query = target[:, None, :].expand(-1, length, -1)  # (batch, L, dim)
        pairs = torch.cat([history, query, history - query, history * query], dim=-1)  # (batch, L, 4·dim)
        scores = self.mlp(pairs.reshape(batch * length, 4 * dim)).reshape(batch, length)  # (batch, L)
        weights = scores * mask  # padding contributes nothing
        pooled = (weights[:, :, None] * history).sum(dim=1)  # (batch, dim)
        return pooled, weights


def mean_pooling(history: Tensor, mask: Tensor) -> Tensor:
    """The base model's pooling: the mean of the non-padding history vectors, zeros for an empty
    history. history (batch, L, dim), mask (batch, L) -> (batch, dim)."""
    mask = mask.to(history.dtype)
    count = mask.sum(dim=1, keepdim=True).clamp(min=1.0)  # (batch, 1)
    return (mask[:, :, None] * history).sum(dim=1) / count  # (batch, dim)


def max_pooling(history: Tensor, mask: Tensor) -> Tensor:
    """Coordinate-wise maximum of the non-padding history vectors, zeros for an empty history:
    ``pooled[b, d] = max_{j : mask[b, j]} history[b, j, d]``. Padding never wins, however large its
    vector; the gradient reaches only the winning item of each coordinate.
    history (batch, L, dim), mask (batch, L) -> (batch, dim)."""
    mask = mask.bool()
    filled = history.masked_fill(~mask[:, :, None], float("-inf"))  # (batch, L, dim)
    pooled = filled.max(dim=1).values  # (batch, dim); -inf for an empty history
    return torch.where(mask.any(dim=1, keepdim=True), pooled, torch.zeros_like(pooled))


class DIN(CTRModel):
    """Embedding & MLP with the user's history pooled by attention (``pooling="attention"``, DIN),
    by its mean (``pooling="mean"``, the paper's base model) or by its coordinate-wise maximum
    (``pooling="max"``, chapter 6).

    field_dims: the fields' sizes; item_field: the position of the candidate item's field;
    history_length: the number L of history columns after the fields (see the module docstring).
    forward: features (batch, num_columns + L) -> (batch,), num_columns = num_fields without bags.
    """

    def __init__(
        self,
        field_dims: Sequence[int],
        item_field: int,
        history_length: int,
        dim: int = 8,
        hidden: Sequence[int] = (64, 32),
        attention_hidden: Sequence[int] = (36,),
        pooling: str = "attention",
        dropout: float = 0.0,
        batch_norm: bool = False,
        init_std: float = 0.01,
    ):
        super().__init__()
        self.embedding = FeaturesEmbedding(field_dims, dim, init_std=init_std)
        self.field_dims, self.dim = self.embedding.field_dims, self.embedding.dim
        if not 0 <= int(item_field) < self.num_fields or int(item_field) != item_field:
            raise ValueError(f"item_field must be a field position in [0, {self.num_fields}), got {item_field!r}")
        if isinstance(self.field_dims[int(item_field)], tuple):
            raise ValueError("the item field must be single-valued: it is the candidate item")
        self.num_columns = num_columns(self.field_dims)
        if int(history_length) != history_length or history_length < 1:
            raise ValueError(f"history_length must be a positive integer, got {history_length!r}")
        if pooling not in ("attention", "mean", "max"):
            raise ValueError(f"pooling must be 'attention' (DIN), 'mean' (the base model) or 'max', got {pooling!r}")
        self.item_field, self.history_length, self.pooling = int(item_field), int(history_length), pooling
        self.attention = AttentionPooling(self.dim, attention_hidden) if pooling == "attention" else None
        self.mlp = MLP((self.num_fields + 1) * self.dim, hidden, dropout=dropout, batch_norm=batch_norm, output_dim=1)

    @property
    def num_items(self) -> int:
        """Size of the item field's vocabulary, which the history indices come from."""
        return self.field_dims[self.item_field]

    def _split(self, features: Tensor) -> tuple[Tensor, Tensor]:
        expected = self.num_columns + self.history_length
        if not isinstance(features, Tensor) or features.dim() != 2 or features.shape[1] != expected:
            shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
            raise ValueError(
                f"DIN expects features of shape (batch, num_columns + history_length) = (batch, {expected}): "
                f"the {self.num_columns} field columns, then {self.history_length} history columns; got {shape}."
            )
        fields, history = features[:, : self.num_columns], features[:, self.num_columns :]
        if history.numel() and (int(history.min()) < 0 or int(history.max()) >= self.num_items):
            raise ValueError(
                f"history holds indices outside [0, {self.num_items}), the item field's vocabulary; "
                f"encode history items with the item field's encoder (0 for an empty slot)."
            )
        return fields, history

    def _embed(self, features: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        fields, history = self._split(features)
        vectors = self.embedding(fields)  # (batch, num_fields, dim)
        offset = self.embedding.offsets[self.item_field]
        history_vectors = lookup(self.embedding.weight, history + offset)  # (batch, L, dim)
        return vectors, history_vectors, history > 0

    def attention_weights(self, features: Tensor) -> Tensor:
        """The attention weights a(e_j, e_a), (batch, L), 0 at empty slots (attention pooling only)."""
        if self.attention is None:
            raise ValueError(f"this DIN pools by the {self.pooling}; attention weights exist only with pooling='attention'")
        vectors, history_vectors, mask = self._embed(features)
        return self.attention(history_vectors, vectors[:, self.item_field], mask)[1]

    def forward(self, features: Tensor) -> Tensor:
        vectors, history_vectors, mask = self._embed(features)
        if self.attention is not None:
            pooled, _ = self.attention(history_vectors, vectors[:, self.item_field], mask)  # (batch, dim)
        elif self.pooling == "max":
            pooled = max_pooling(history_vectors, mask)  # (batch, dim)
        else:
            pooled = mean_pooling(history_vectors, mask)  # (batch, dim)
        x = torch.cat([vectors.flatten(start_dim=1), pooled], dim=1)  # (batch, (num_fields + 1) · dim)
        return self.mlp(x)  # (batch,)
