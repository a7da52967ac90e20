"""Deep & Cross Network (Wang et al., ADKDD 2017) and DCN-V2's matrix cross layer (Wang et al.,
WWW 2021). Chapter 5.

The cross network applies, to x₀ = [e_1; ...; e_n] (the concatenated field embeddings, size d),

    DCN:     x_{l+1} = x₀ (x_lᵀ w_l) + b_l + x_l          (w_l, b_l ∈ R^d: 2d parameters a layer)
    DCN-V2:  x_{l+1} = x₀ ⊙ (W_l x_l + b_l) + x_l         (W_l ∈ R^{d×d}: d² + d parameters a layer)

so that layer l holds polynomial interactions of x₀ of degree up to l + 1, with a residual
connection. The vector form is the special case of the matrix form whose W_l has rank one
(W_l = 1 w_lᵀ); the matrix form gives every pair of coordinates its own weight. DCN runs the
cross network and an MLP side by side on x₀ and maps their concatenated outputs to the logit.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from .layers import MLP, CTRModel, FeaturesEmbedding


class CrossNetwork(nn.Module):
    """`num_layers` cross layers of the kind ``"vector"`` (DCN) or ``"matrix"`` (DCN-V2).

    Weights start Normal(0, 1/d) (vector) or Xavier-uniform (matrix), biases at zero.
    forward: x0 (batch, input_dim) -> (batch, input_dim).
    """

    def __init__(self, input_dim: int, num_layers: int = 2, kind: str = "vector"):
        super().__init__()
        if int(input_dim) != input_dim or input_dim < 1:
            raise ValueError(f"input_dim must be a positive integer, got {input_dim!r}")
        if int(num_layers) != num_layers or num_layers < 1:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
        if kind not in ("vector", "matrix"):
            raise ValueError(f"kind must be 'vector' (DCN) or 'matrix' (DCN-V2), got {kind!r}")
        self.input_dim, self.num_layers, self.kind = int(input_dim), int(num_layers), kind
        d = self.input_dim
        if kind == "vector":
            self.weights = nn.ParameterList(nn.Parameter(torch.randn(d) / d ** 0.5) for _ in range(self.num_layers))
        else:
            self.weights = nn.ParameterList(nn.Parameter(nn.init.xavier_uniform_(torch.empty(d, d))) for _ in range(self.num_layers))
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(d)) for _ in range(self.num_layers))

    def forward(self, x0: Tensor) -> Tensor:
        if x0.dim() != 2 or x0.shape[1] != self.input_dim:
            raise ValueError(f"CrossNetwork expects (batch, {self.input_dim}), got {tuple(x0.shape)}")
        x = x0
        for w, b in zip(self.weights, self.biases):
            if self.kind == "vector":
                x = x0 * (x @ w)[:, None] + b + x  # (batch, d): x₀ scaled by the scalar x_lᵀw_l
            else:
                x = x0 * (x @ w.T + b) + x  # (batch, d)
        return x


class DCN(CTRModel):
    """Deep & Cross: a cross network and an MLP in parallel on the concatenated embeddings,
    s(x) = wᵀ [x_L; h_deep] + b. ``cross="matrix"`` gives DCN-V2 (its parallel form).

    forward: features (batch, num_fields) -> (batch,).
    """

    def __init__(
        self,
        field_dims: Sequence[int],
        dim: int = 8,
        num_cross_layers: int = 2,
        hidden: Sequence[int] = (64, 32),
        cross: str = "vector",
        dropout: float = 0.0,
        batch_norm: bool = False,
        init_std: float = 0.01,
    ):
        super().__init__()
        self.embedding = FeaturesEmbedding(field_dims, dim, init_std=init_std)
        self.field_dims, self.dim = self.embedding.field_dims, self.embedding.dim
        input_dim = self.num_fields * self.dim
        self.cross = CrossNetwork(input_dim, num_cross_layers, kind=cross)
        self.mlp = MLP(input_dim, hidden, dropout=dropout, batch_norm=batch_norm, output_dim=None)
        self.output = nn.Linear(input_dim + self.mlp.out_features, 1)

    def forward(self, features: Tensor) -> Tensor:
        x0 = self.embedding(features).flatten(start_dim=1)  # (batch, num_fields * dim)
        both = torch.cat([self.cross(x0), self.mlp(x0)], dim=1)  # (batch, num_fields * dim + hidden[-1])
        return self.output(both).squeeze(-1)  # (batch,)
