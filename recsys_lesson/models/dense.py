"""Models whose first layer reads dense inputs: numeric columns, and one-hot vectors. Chapter 6.

The CTR models of chapter 5 read every feature as an index into an embedding table, numbers
included (cut into buckets). Two questions of feature engineering need a model that reads
numbers as numbers:

- `TabularMLP` takes numeric columns as they are, beside embedded categorical fields, so the
  chapter can measure what standardising, min-max scaling, a log transform or buckets do to
  training. With ``hidden=()`` it is logistic regression on the same inputs.
- `OneHotMLP` feeds the one-hot encoding of the fields to a dense layer, the textbook input of a
  neural network before embeddings. Multiplying a one-hot vector by a weight matrix selects one
  column per field and adds them up, so that layer *is* a sum of embeddings of size
  ``hidden[0]``; it is computed by lookup, and `OneHotMLP.one_hot` builds the explicit one-hot
  matrix to check that.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor, nn

from .layers import MLP, CTRModel, FeaturesEmbedding, FeaturesLinear, _check_field_dims, _layout, check_features


def _as_float(numeric, num_numeric: int) -> Tensor:
    if not isinstance(numeric, Tensor):
        numeric = torch.as_tensor(np.asarray(numeric, dtype=np.float32))
    if numeric.dim() != 2 or numeric.shape[1] != num_numeric:
        raise ValueError(f"numeric must have shape (batch, num_numeric) = (batch, {num_numeric}), got {tuple(numeric.shape)}.")
    if not numeric.dtype.is_floating_point:
        numeric = numeric.float()
    return numeric


class TabularMLP(CTRModel):
    """Numeric columns next to embedded categorical fields:

        hidden non-empty:  s(z, x) = MLP([z; v_{1, x_1}; ...; v_{n, x_n}]),
        hidden = ():       s(z, x) = b + wᵀz + Σ_f w_{f, x_f}   (logistic regression),

    where z holds the `num_numeric` numeric columns exactly as given: scaling them is the
    caller's choice, and chapter 6 measures its effect. `field_dims` may be empty (numbers
    only) and `num_numeric` may be 0 (fields only: then it is `DNN`, or LR).

    forward(numeric (batch, num_numeric) float, features (batch, num_columns) long or None)
    -> logits (batch,). `loss` reads the batch keys ``numeric``, ``labels`` and, when the model
    has fields, ``features``, so `recsys_lesson.train.fit` trains it unchanged.
    """

    def __init__(self, num_numeric: int, field_dims: Sequence = (), dim: int = 8, hidden: Sequence[int] = (64, 32),
                 init_std: float = 0.01):
        super().__init__()
        if isinstance(num_numeric, bool) or int(num_numeric) != num_numeric or num_numeric < 0:
            raise ValueError(f"num_numeric must be a non-negative integer, got {num_numeric!r}.")
        self.num_numeric = int(num_numeric)
        self.field_dims = _check_field_dims(field_dims) if len(field_dims) else ()
        if self.num_numeric == 0 and not self.field_dims:
            raise ValueError("TabularMLP needs at least one input: num_numeric > 0 or some field_dims.")
        self.hidden = tuple(int(h) for h in hidden)
        self.dim = int(dim)
        if self.hidden:
            self.embedding = FeaturesEmbedding(self.field_dims, dim, init_std=init_std) if self.field_dims else None
            self.mlp = MLP(self.num_numeric + len(self.field_dims) * self.dim, self.hidden, output_dim=1)
        else:  # logistic regression: one weight per numeric column and per field value
            self.linear = FeaturesLinear(self.field_dims) if self.field_dims else None
            self.numeric_weight = nn.Linear(self.num_numeric, 1, bias=self.linear is None) if self.num_numeric else None

    def forward(self, numeric: Optional[Tensor], features: Optional[Tensor] = None) -> Tensor:
        if self.field_dims:
            if features is None:
                raise ValueError(f"this model has {len(self.field_dims)} categorical fields: pass `features` too.")
            check_features(features, self.field_dims)
        if self.num_numeric:
            numeric = _as_float(numeric, self.num_numeric)  # (batch, num_numeric)
        if self.hidden:
            parts = [numeric] if self.num_numeric else []
            if self.embedding is not None:
                parts.append(self.embedding(features).flatten(start_dim=1))  # (batch, num_fields * dim)
            return self.mlp(torch.cat(parts, dim=1))  # (batch,)
        logit = self.numeric_weight(numeric).squeeze(-1) if self.num_numeric else 0.0
        if self.linear is not None:
            logit = logit + self.linear(features)  # (batch,)
        return logit

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        if "labels" not in batch or (self.num_numeric and "numeric" not in batch):
            raise KeyError(f"A TabularMLP batch needs 'numeric' and 'labels' (and 'features'); this one has {sorted(batch)}.")
        logits = self(batch.get("numeric"), batch.get("features"))
        return nn.functional.binary_cross_entropy_with_logits(logits, batch["labels"].float())

    @torch.no_grad()
    def predict_logits(self, numeric, features=None, batch_size: int = 65536) -> Tensor:
        """Logits for every row, computed in eval mode in chunks on the model's device; float32 (n,) on the CPU."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        device = next(self.parameters()).device
        numeric = _as_float(numeric, self.num_numeric) if self.num_numeric else None
        if features is not None and not isinstance(features, Tensor):
            features = torch.as_tensor(np.asarray(features), dtype=torch.long)
        n = len(numeric) if numeric is not None else len(features)
        was_training = self.training
        self.eval()
        out = []
        for start in range(0, n, batch_size):
            z = numeric[start : start + batch_size].to(device) if numeric is not None else None
            x = features[start : start + batch_size].to(device) if features is not None else None
            out.append(self(z, x).float().cpu())
        self.train(was_training)
        return torch.cat(out) if out else torch.zeros(0)


class OneHotMLP(CTRModel):
    """An MLP over the one-hot encoding of the fields:

        h = ReLU(W onehot(x) + b),   s(x) = MLP(h),

    with W of shape (hidden[0], V), V = sum of the fields' sizes. ``W onehot(x)`` adds one column
    of W per field, ``Σ_f W[:, offset_f + x_f]``: the dense layer over one-hot inputs is a table of
    embeddings of size hidden[0], summed over the fields instead of concatenated. It is computed
    that way (a lookup), never by building the (batch, V) one-hot matrix. A multi-valued field
    enters as its normalised multi-hot vector (1/count at each of its values), which is the mean
    of its columns. W and b start as in ``nn.Linear(V, hidden[0])``: uniform in ±1/√V.

    Parameters: V · hidden[0] + hidden[0] for the first layer, against V · dim for an embedding
    table of size dim; chapter 6 compares the two. forward: (batch, num_columns) -> (batch,).
    """

    def __init__(self, field_dims: Sequence, hidden: Sequence[int] = (64, 32)):
        super().__init__()
        hidden = tuple(int(h) for h in hidden)
        if not hidden:
            raise ValueError("OneHotMLP needs at least one hidden layer; LogisticRegression is the one-hot model without one.")
        self.field_dims = _check_field_dims(field_dims)
        self.first = FeaturesEmbedding(self.field_dims, hidden[0])
        self.num_inputs = sum(_layout(self.field_dims)[0])  # V, the width of the one-hot vector
        bound = 1.0 / math.sqrt(self.num_inputs)
        nn.init.uniform_(self.first.weight, -bound, bound)
        self.bias = nn.Parameter(torch.empty(hidden[0]).uniform_(-bound, bound))
        self.mlp = MLP(hidden[0], hidden[1:], output_dim=1)

    @property
    def weight(self) -> Tensor:
        """W of the equation, (hidden[0], V): the lookup table transposed."""
        return self.first.weight.t()

    def one_hot(self, features: Tensor) -> Tensor:
        """The explicit one-hot (normalised multi-hot for bags) matrix, (batch, V) float: for checking."""
        check_features(features, self.field_dims)
        eye = torch.eye(self.num_inputs, device=features.device)
        return self.first.bags.pool(eye[self.first.bags.rows(features)], features).sum(dim=1)  # (batch, V)

    def forward(self, features: Tensor) -> Tensor:
        h = self.first(features).sum(dim=1) + self.bias  # (batch, hidden[0]) = W onehot(x) + b
        return self.mlp(torch.relu(h))  # (batch,)
