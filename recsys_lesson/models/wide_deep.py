"""Wide & Deep (Cheng et al., DLRS 2016), and the optimisers its paper trains it with. Chapter 5.

The logit is the sum of a *wide* linear model over raw and hand-crossed features and a *deep*
MLP over field embeddings, trained jointly (one loss, both parts updated from it):

    s(x) = w_wideᵀ [x, φ(x)] + MLP([e_1; ...; e_n]) + b,

where φ(x) are cross-product features (education × occupation) and e_f the embedding of field f.
The paper trains the wide part with FTRL-Proximal and L1 regularisation, which sets most cross
weights to exactly zero, and the deep part with AdaGrad. `FTRL` implements the first (McMahan
et al., KDD 2013, Algorithm 1) as a ``torch.optim.Optimizer``, and `JointOptimizer` steps one
optimiser per part so that `recsys_lesson.train.fit` trains the model as the paper did.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

import torch
from torch import Tensor, nn

from .layers import MLP, CTRModel, FeaturesEmbedding, FeaturesLinear, _check_field_dims, check_features, field_columns


def _field_subset(fields: Optional[Sequence[int]], num_fields: int, name: str) -> tuple[int, ...]:
    if fields is None:
        return tuple(range(num_fields))
    out = tuple(int(f) for f in fields)
    bad = [f for f in out if not 0 <= f < num_fields]
    if bad:
        raise ValueError(f"{name} holds field positions {bad} outside [0, {num_fields})")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} lists a field twice: {out}")
    return out


class WideDeep(CTRModel):
    """Wide & Deep: a linear model over `wide_fields` plus an MLP over the embeddings of
    `deep_fields` (both default to every field; the book passes the cross features as wide-only
    fields). An empty `deep_fields` gives the wide part alone (logistic regression on the wide
    fields), an empty `wide_fields` the deep part alone (with its own output bias).

    forward: features (batch, num_fields) -> (batch,). `wide_parameters()` and
    `deep_parameters()` split the parameters for two optimisers; the deep part owns the
    embeddings, the MLP and the output bias when the wide part is absent.
    """

    def __init__(
        self,
        field_dims: Sequence[int],
        dim: int = 8,
        hidden: Sequence[int] = (64, 32),
        wide_fields: Optional[Sequence[int]] = None,
        deep_fields: Optional[Sequence[int]] = None,
        dropout: float = 0.0,
        batch_norm: bool = False,
        init_std: float = 0.01,
    ):
        super().__init__()
        self.field_dims = _check_field_dims(field_dims)
        self.wide_fields = _field_subset(wide_fields, self.num_fields, "wide_fields")
        self.deep_fields = _field_subset(deep_fields, self.num_fields, "deep_fields")
        if not self.wide_fields and not self.deep_fields:
            raise ValueError("WideDeep needs at least one wide or one deep field.")
        self.wide = FeaturesLinear([self.field_dims[f] for f in self.wide_fields]) if self.wide_fields else None
        self.embedding: Optional[FeaturesEmbedding] = None
        self.mlp: Optional[MLP] = None
        self.deep_bias: Optional[nn.Parameter] = None
        if self.deep_fields:
            self.embedding = FeaturesEmbedding([self.field_dims[f] for f in self.deep_fields], dim, init_std=init_std)
            self.mlp = MLP(len(self.deep_fields) * dim, hidden, dropout=dropout, batch_norm=batch_norm, output_dim=1)
        self.dim = dim
        layout = field_columns(self.field_dims)  # a multi-valued field spans several columns
        wide_columns = [c for f in self.wide_fields for c in layout[f]]
        deep_columns = [c for f in self.deep_fields for c in layout[f]]
        self.register_buffer("_wide_index", torch.as_tensor(wide_columns, dtype=torch.long), persistent=False)
        self.register_buffer("_deep_index", torch.as_tensor(deep_columns, dtype=torch.long), persistent=False)

    def wide_parameters(self) -> list[nn.Parameter]:
        """The linear weights and bias of the wide part (empty without one)."""
        return list(self.wide.parameters()) if self.wide is not None else []

    def deep_parameters(self) -> list[nn.Parameter]:
        """Embeddings and MLP of the deep part (empty without one)."""
        if self.embedding is None:
            return []
        return list(self.embedding.parameters()) + list(self.mlp.parameters())

    def forward(self, features: Tensor) -> Tensor:
        check_features(features, self.field_dims)
        logits = features.new_zeros(len(features), dtype=torch.float32)
        if self.wide is not None:
            logits = logits + self.wide(features.index_select(1, self._wide_index))  # (batch,)
        if self.embedding is not None:
            vectors = self.embedding(features.index_select(1, self._deep_index))  # (batch, num_deep, dim)
            logits = logits + self.mlp(vectors.flatten(start_dim=1))  # (batch,)
        return logits


class FTRL(torch.optim.Optimizer):
    """FTRL-Proximal with L1 and L2 regularisation (McMahan et al., KDD 2013, Algorithm 1),
    per coordinate, for the wide part of Wide & Deep.

    With gradient g, state z (summed adjusted gradients) and n (summed squared gradients):

        σ = (√(n + g²) − √n) / α,   z ← z + g − σ w,   n ← n + g²,
        w = 0                                        if |z| ≤ λ₁,
        w = −(z − sign(z) λ₁) / ((β + √n) / α + λ₂)  otherwise.

    The closed form for w is what makes L1 produce exact zeros: a coordinate whose accumulated
    gradient never exceeds λ₁ stays at 0. Parameters start wherever they are (zero, for
    `FeaturesLinear`) and are overwritten by the closed form at the first step. A coordinate
    whose gradient is 0 in a step keeps z and n, and so its weight.
    """

    def __init__(self, params: Iterable[Tensor], alpha: float = 0.05, beta: float = 1.0, l1: float = 0.0, l2: float = 0.0):
        if alpha <= 0:
            raise ValueError(f"alpha (the learning rate) must be positive, got {alpha}")
        if beta < 0 or l1 < 0 or l2 < 0:
            raise ValueError(f"beta, l1 and l2 must be non-negative, got beta={beta}, l1={l1}, l2={l2}")
        super().__init__(params, {"alpha": alpha, "beta": beta, "l1": l1, "l2": l2})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            alpha, beta, l1, l2 = group["alpha"], group["beta"], group["l1"], group["l2"]
            for w in group["params"]:
                if w.grad is None:
                    continue
                g = w.grad
                if g.is_sparse:
                    raise ValueError("FTRL does not take sparse gradients; use dense embeddings.")
                state = self.state[w]
                if not state:
                    state["z"] = torch.zeros_like(w)
                    state["n"] = torch.zeros_like(w)
                z, n = state["z"], state["n"]
                sigma = ((n + g * g).sqrt() - n.sqrt()) / alpha
                z.add_(g - sigma * w)
                n.add_(g * g)
                shrunk = z - z.sign() * l1
                new_w = -shrunk / ((beta + n.sqrt()) / alpha + l2)
                w.copy_(torch.where(z.abs() <= l1, torch.zeros_like(w), new_w))
        return loss


class JointOptimizer(torch.optim.Optimizer):
    """Several optimisers that act as one: `step` and `zero_grad` call each of them.

    Joint training of Wide & Deep with the paper's optimisers::

        optimizer = JointOptimizer(FTRL(model.wide_parameters(), l1=1e-3),
                                   torch.optim.Adagrad(model.deep_parameters(), lr=0.05))
        fit(model, data, optimizer=optimizer)

    Every parameter must belong to exactly one of them.
    """

    def __init__(self, *optimizers: torch.optim.Optimizer):
        if not optimizers:
            raise ValueError("JointOptimizer needs at least one optimizer.")
        seen: set[int] = set()
        params = []
        for opt in optimizers:
            for group in opt.param_groups:
                for p in group["params"]:
                    if id(p) in seen:
                        raise ValueError("a parameter belongs to two of the joined optimizers; give each part its own parameters.")
                    seen.add(id(p))
                    params.append(p)
        self.optimizers = list(optimizers)
        super().__init__(params, {})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for opt in self.optimizers:
            opt.step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)
