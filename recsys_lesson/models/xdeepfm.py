"""xDeepFM (Lian et al., KDD 2018) and its Compressed Interaction Network (CIN). Chapter 5.

The CIN builds explicit interactions of growing order *vector-wise*: with X⁰ the (m, D) matrix
of field embeddings and X^{k-1} the (H_{k-1}, D) feature maps of the layer below, feature map h
of layer k is

    X^k_{h,*} = Σ_{i=1}^{H_{k-1}} Σ_{j=1}^{m} W^{k,h}_{i,j} (X^{k-1}_{i,*} ∘ X⁰_{j,*}),

a weighted sum of Hadamard products of one map from below with one field embedding, so layer
k holds interactions of degree k + 1. Each map is sum-pooled over the D coordinates,
p^k_h = Σ_d X^k_{h,d}, and the pooled values of every layer feed the output. xDeepFM adds a
linear part and a plain MLP on the same embeddings:

    s(x) = b + Σ_f w_{f, x_f} + w_cinᵀ [p¹; ...; p^T] + MLP([e_1; ...; e_m]).

The authors' code can also send half of each layer's maps to the output and half to the next
layer ("split half"); this implementation keeps the paper's equation, where every map does both.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from .layers import MLP, CTRModel, FeaturesEmbedding, FeaturesLinear


class CIN(nn.Module):
    """Compressed Interaction Network. forward: (batch, num_fields, dim) -> (batch, sum(layer_sizes)),
    the sum-pooled feature maps of every layer, concatenated.

    Layer k's weights W^k have shape (H_k, H_{k-1}, m) (H_0 = m = num_fields) and start as
    Kaiming-uniform, as a 1×1 convolution's would; there is no bias and no activation (the
    paper's equation).
    """

    def __init__(self, num_fields: int, layer_sizes: Sequence[int] = (16, 16)):
        super().__init__()
        if int(num_fields) != num_fields or num_fields < 1:
            raise ValueError(f"num_fields must be a positive integer, got {num_fields!r}")
        sizes = tuple(int(h) for h in layer_sizes)
        if not sizes or any(h < 1 for h in sizes) or any(int(h) != h for h in layer_sizes):
            raise ValueError(f"layer_sizes must hold at least one positive integer, got {tuple(layer_sizes)}")
        self.num_fields, self.layer_sizes = int(num_fields), sizes
        self.weights = nn.ParameterList()
        below = self.num_fields
        for h in sizes:
            w = torch.empty(h, below * self.num_fields)
            nn.init.kaiming_uniform_(w, a=5 ** 0.5)  # nn.Conv1d's default, fan-in H_{k-1}·m
            self.weights.append(nn.Parameter(w.reshape(h, below, self.num_fields)))
            below = h
        self.out_features = sum(sizes)

    def forward(self, x0: Tensor) -> Tensor:
        if x0.dim() != 3 or x0.shape[1] != self.num_fields:
            raise ValueError(f"CIN expects (batch, {self.num_fields}, dim), got {tuple(x0.shape)}")
        batch, m, dim = x0.shape
        # One row per (example, coordinate d): layer k is then the outer product of each row's
        # H_{k-1} maps with its m fields, flattened, times W^k as an (H_k, H_{k-1}·m) matrix.
        base = x0.transpose(1, 2).reshape(batch * dim, m)  # (batch·dim, m)
        x, pooled = base, []
        for w in self.weights:
            products = (x[:, :, None] * base[:, None, :]).reshape(batch * dim, -1)  # (batch·dim, H_{k-1}·m)
            x = products @ w.reshape(w.shape[0], -1).T  # (batch·dim, H_k)
            pooled.append(x.reshape(batch, dim, -1).sum(dim=1))  # (batch, H_k): sum over coordinates
        return torch.cat(pooled, dim=1)  # (batch, sum(layer_sizes))


class XDeepFM(CTRModel):
    """Linear part + CIN + MLP on one shared embedding table (see the module docstring).

    forward: features (batch, num_fields) -> (batch,).
    """

    def __init__(
        self,
        field_dims: Sequence[int],
        dim: int = 8,
        cin_layers: Sequence[int] = (16, 16),
        hidden: Sequence[int] = (64, 32),
        dropout: float = 0.0,
        batch_norm: bool = False,
        init_std: float = 0.01,
    ):
        super().__init__()
        self.linear = FeaturesLinear(field_dims)
        self.embedding = FeaturesEmbedding(field_dims, dim, init_std=init_std)
        self.field_dims, self.dim = self.linear.field_dims, self.embedding.dim
        self.cin = CIN(self.num_fields, cin_layers)
        self.cin_output = nn.Linear(self.cin.out_features, 1, bias=False)
        self.mlp = MLP(self.num_fields * self.dim, hidden, dropout=dropout, batch_norm=batch_norm, output_dim=1)

    def forward(self, features: Tensor) -> Tensor:
        vectors = self.embedding(features)  # (batch, num_fields, dim)
        cin = self.cin_output(self.cin(vectors)).squeeze(-1)  # (batch,)
        return self.linear(features) + cin + self.mlp(vectors.flatten(start_dim=1))  # (batch,)
