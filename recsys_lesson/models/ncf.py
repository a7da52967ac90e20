"""Neural collaborative filtering (He et al., WWW 2017): GMF, MLP and NeuMF. Chapter 3.

The three models of the paper, with its notation (p_u, q_i: embeddings; h: output weights):

- `GMF`, generalised matrix factorisation: ŷ = hᵀ(p_u ⊙ q_i) + b. With h = 1 and b = 0 it is
  the dot product of matrix factorisation; a learned h weights the factors.
- `MLP`: the concatenation [p_u, q_i] goes through a tower of ReLU layers, each half as wide as
  the one before (`tower`), and a linear output: ŷ = hᵀ a_L(... a_1([p_u, q_i])) + b.
- `NeuMF` fuses both, each with *its own* embeddings: the GMF vector p^G_u ⊙ q^G_i and the last
  MLP layer are concatenated and mapped to one logit. `NeuMF.from_pretrained` builds it from a
  trained GMF and MLP with the paper's output mixing h ← [α h^GMF, (1 − α) h^MLP], α = 0.5.

Every `forward` returns a logit (train with binary cross-entropy on ``labels`` batches, see
`recsys_lesson.train.ImplicitData`); the sigmoid is applied only where a probability is reported.
Trained on ``ratings`` batches instead, the same networks are regressors fitted with mean
squared error (the explicit-feedback variant the chapter contrasts); pass ``global_mean`` so
the output starts at the mean rating.

Layer sizes follow the authors' code: ``layers=(64, 32, 16, 8)`` means user and item MLP
embeddings of 64 / 2 = 32 each, then hidden layers of 32, 16 and 8 units; the last width is the
MLP's number of *predictive factors*.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn

from .base import Recommender

SCORE_ALL_CELLS = 1 << 22  # score_all of the MLP paths works on about 4 M (user, item, unit) cells at a time


def tower(factors: int, num_layers: int) -> tuple[int, ...]:
    """Widths of the paper's MLP tower with `num_layers` hidden layers ending in `factors` units.

    Returns ``(factors * 2**num_layers, ..., 2 * factors, factors)``: the first entry is the
    width of the concatenated embeddings, each hidden layer halves it. ``tower(8, 3)`` is
    ``(64, 32, 16, 8)``; ``tower(8, 0)`` is ``(8,)``, the MLP-0 of the paper (the concatenated
    embeddings go straight to the output layer).
    """
    if int(factors) != factors or factors < 1:
        raise ValueError(f"factors must be a positive integer, got {factors}")
    if int(num_layers) != num_layers or num_layers < 0:
        raise ValueError(f"num_layers must be an integer >= 0, got {num_layers}")
    return tuple(int(factors) * 2 ** (int(num_layers) - level) for level in range(int(num_layers) + 1))


def _check_layers(layers: Sequence[int]) -> tuple[int, ...]:
    layers = tuple(int(width) for width in layers)
    if len(layers) == 0:
        raise ValueError("layers must hold at least the width of the concatenated embeddings, e.g. (64, 32, 16, 8)")
    if any(width < 1 for width in layers):
        raise ValueError(f"every layer width must be positive, got {layers}")
    if layers[0] % 2:
        raise ValueError(
            f"layers[0] = {layers[0]} is the width of [p_u, q_i], so it must be even "
            f"(user and item embeddings of layers[0] / 2 each)"
        )
    return layers


def _check_dim(dim: int) -> int:
    if int(dim) != dim or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim}")
    return int(dim)


def lookup(table: Tensor, index: Tensor) -> Tensor:
    """Rows ``table[index]``: an embedding lookup, (len(index), table.shape[1]).

    The same values and gradients as ``nn.Embedding``, but its backward pass (an ``index_add``)
    is several times faster on the CPU than the embedding's own, which sorts the indices.
    """
    return table.index_select(0, index)


def _lecun_uniform_(linear: nn.Linear) -> None:
    """Keras' lecun_uniform, the paper's initialiser of the prediction layer: U(±sqrt(3 / fan_in))."""
    bound = math.sqrt(3.0 / linear.in_features)
    nn.init.uniform_(linear.weight, -bound, bound)


class Tower(nn.Module):
    """The MLP path: ``[p_u, q_i]`` (width ``layers[0]``) through ReLU layers ``layers[1:]``.

    Its hidden layers are Xavier-uniform initialised with zero biases (Keras' defaults, as in
    the authors' code). ``dropout`` is applied after every hidden layer while training.
    """

    def __init__(self, layers: Sequence[int], dropout: float = 0.0):
        super().__init__()
        self.layers = _check_layers(layers)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.dropout = float(dropout)
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(self.layers[:-1], self.layers[1:]))
        for linear in self.linears:
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)

    def _rest(self, x: Tensor) -> Tensor:
        """From the first layer's output on: its ReLU, then every further layer and its ReLU.

        `x` must be a fresh tensor the caller does not keep: the ReLUs run in place (on a CPU,
        writing a new (batch, width) buffer costs about as much as the ReLU itself).
        """
        x = self._activate(x)
        for linear in self.linears[1:]:
            x = self._activate(linear(x))  # (batch, width of this layer)
        return x

    def _activate(self, x: Tensor) -> Tensor:
        x = torch.relu_(x)
        if self.dropout and self.training:
            x = nn.functional.dropout(x, self.dropout, training=True)
        return x

    def forward(self, user_vec: Tensor, item_vec: Tensor) -> Tensor:
        """The tower on given embeddings: (batch, layers[0] / 2) twice -> (batch, layers[-1])."""
        x = torch.cat([user_vec, item_vec], dim=-1)  # (batch, layers[0])
        if not self.linears:
            return x
        return self._rest(self.linears[0](x))  # (batch, layers[-1])

    def forward_indexed(self, user_table: Tensor, item_table: Tensor, users: Tensor, items: Tensor) -> Tensor:
        """``forward(user_table[users], item_table[items])``, computed the cheaper of two ways.

        The first layer is linear in the concatenation: W [p; q] + c = W_p p + W_q q + c. When
        a batch has more pairs than there are users and items (half of them), it is cheaper to
        pass every table row through W_p or W_q once and then look the results up than to
        multiply every pair's 2·(layers[0] / 2) inputs: the same numbers, a fraction of the work.
        """
        if not self.linears:
            return torch.cat([lookup(user_table, users), lookup(item_table, items)], dim=-1)
        first, half = self.linears[0], self.layers[0] // 2
        if 2 * len(users) > len(user_table) + len(item_table):
            user_part = torch.addmm(first.bias, user_table, first.weight[:, :half].T)  # (num_users, layers[1])
            item_part = item_table @ first.weight[:, half:].T  # (num_items, layers[1])
            x = lookup(user_part, users).add_(lookup(item_part, items))  # (batch, layers[1])
        else:
            x = first(torch.cat([lookup(user_table, users), lookup(item_table, items)], dim=-1))
        return self._rest(x)  # (batch, layers[-1])

    def forward_all(self, user_vec: Tensor, item_table: Tensor) -> Tensor:
        """The tower for every (user, item) pair: (len(user_vec), len(item_table), layers[-1]).

        The first layer is split as W [p; q] = W_p p + W_q q, so it costs one product per user
        and one per item instead of one per pair.
        """
        if not self.linears:
            half = self.layers[0] // 2
            users = user_vec[:, None, :].expand(-1, len(item_table), half)
            return torch.cat([users, item_table[None, :, :].expand(len(user_vec), -1, half)], dim=-1)
        first = self.linears[0]
        half = self.layers[0] // 2
        user_part = user_vec @ first.weight[:, :half].T + first.bias  # (users, layers[1])
        item_part = item_table @ first.weight[:, half:].T  # (items, layers[1])
        x = user_part[:, None, :] + item_part[None, :, :]  # (users, items, layers[1])
        return self._rest(x)


def _user_chunks(num_users: int, num_items: int, width: int):
    rows = max(1, SCORE_ALL_CELLS // max(1, num_items * width))
    for start in range(0, num_users, rows):
        yield slice(start, start + rows)


class GMF(Recommender):
    """Generalised matrix factorisation: logit ŷ(u, i) = hᵀ(p_u ⊙ q_i) + b.

    Embeddings start from N(0, init_std²) (the paper: 0.01); h from Keras' lecun_uniform.
    """

    def __init__(self, num_users: int, num_items: int, dim: int = 8, init_std: float = 0.01, global_mean: float = 0.0):
        super().__init__()
        self.num_users, self.num_items, self.dim = num_users, num_items, _check_dim(dim)
        self.user_embedding = nn.Embedding(num_users, self.dim)
        self.item_embedding = nn.Embedding(num_items, self.dim)
        self.output = nn.Linear(self.dim, 1)
        nn.init.normal_(self.user_embedding.weight, std=init_std)
        nn.init.normal_(self.item_embedding.weight, std=init_std)
        _lecun_uniform_(self.output)
        nn.init.constant_(self.output.bias, float(global_mean))

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        self.check(users, items)
        x = lookup(self.user_embedding.weight, users) * lookup(self.item_embedding.weight, items)  # (batch, dim)
        return self.output(x).squeeze(-1)  # (batch,)

    def score_all(self, users: Tensor) -> Tensor:
        self.check(users, users.new_zeros(0))
        weighted = self.user_embedding(users) * self.output.weight  # (len(users), dim): p_u ⊙ h
        return weighted @ self.item_embedding.weight.T + self.output.bias  # (len(users), num_items)


class MLP(Recommender):
    """Multi-layer perceptron over [p_u, q_i]: logit ŷ(u, i) = hᵀ tower([p_u, q_i]) + b.

    ``layers`` as in `tower`: ``layers[0] / 2`` is each embedding's size and ``layers[-1]`` the
    number of predictive factors; ``layers=(8,)`` has no hidden layer (MLP-0).
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        layers: Sequence[int] = (64, 32, 16, 8),
        dropout: float = 0.0,
        init_std: float = 0.01,
        global_mean: float = 0.0,
    ):
        super().__init__()
        self.num_users, self.num_items = num_users, num_items
        self.tower = Tower(layers, dropout)
        self.layers = self.tower.layers
        half = self.layers[0] // 2
        self.user_embedding = nn.Embedding(num_users, half)
        self.item_embedding = nn.Embedding(num_items, half)
        self.output = nn.Linear(self.layers[-1], 1)
        nn.init.normal_(self.user_embedding.weight, std=init_std)
        nn.init.normal_(self.item_embedding.weight, std=init_std)
        _lecun_uniform_(self.output)
        nn.init.constant_(self.output.bias, float(global_mean))

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        self.check(users, items)
        x = self.tower.forward_indexed(self.user_embedding.weight, self.item_embedding.weight, users, items)  # (batch, layers[-1])
        return self.output(x).squeeze(-1)  # (batch,)

    def score_all(self, users: Tensor) -> Tensor:
        self.check(users, users.new_zeros(0))
        user_vec = self.user_embedding(users)
        width = self.layers[1] if len(self.layers) > 1 else self.layers[0]
        parts = [
            self.output(self.tower.forward_all(user_vec[rows], self.item_embedding.weight)).squeeze(-1)
            for rows in _user_chunks(len(users), self.num_items, width)
        ]
        return torch.cat(parts) if parts else user_vec.new_zeros(0, self.num_items)  # (len(users), num_items)


class NeuMF(Recommender):
    """Neural matrix factorisation: GMF and MLP with separate embeddings, fused at the output.

    logit ŷ(u, i) = hᵀ [p^G_u ⊙ q^G_i ; tower([p^M_u, q^M_i])] + b, with GMF embeddings of size
    ``dim`` and an MLP tower ``layers`` (see `MLP`). Build it from trained parts with
    `NeuMF.from_pretrained`.
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        dim: int = 8,
        layers: Sequence[int] = (64, 32, 16, 8),
        dropout: float = 0.0,
        init_std: float = 0.01,
        global_mean: float = 0.0,
    ):
        super().__init__()
        self.num_users, self.num_items, self.dim = num_users, num_items, _check_dim(dim)
        self.tower = Tower(layers, dropout)
        self.layers = self.tower.layers
        half = self.layers[0] // 2
        self.gmf_user = nn.Embedding(num_users, self.dim)
        self.gmf_item = nn.Embedding(num_items, self.dim)
        self.mlp_user = nn.Embedding(num_users, half)
        self.mlp_item = nn.Embedding(num_items, half)
        self.output = nn.Linear(self.dim + self.layers[-1], 1)
        for table in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
            nn.init.normal_(table.weight, std=init_std)
        _lecun_uniform_(self.output)
        nn.init.constant_(self.output.bias, float(global_mean))

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        self.check(users, items)
        gmf = lookup(self.gmf_user.weight, users) * lookup(self.gmf_item.weight, items)  # (batch, dim)
        mlp = self.tower.forward_indexed(self.mlp_user.weight, self.mlp_item.weight, users, items)  # (batch, layers[-1])
        return self.output(torch.cat([gmf, mlp], dim=-1)).squeeze(-1)  # (batch,)

    def score_all(self, users: Tensor) -> Tensor:
        self.check(users, users.new_zeros(0))
        h_gmf, h_mlp = self.output.weight[0, : self.dim], self.output.weight[0, self.dim :]
        gmf = (self.gmf_user(users) * h_gmf) @ self.gmf_item.weight.T  # (len(users), num_items)
        user_vec = self.mlp_user(users)
        width = self.layers[1] if len(self.layers) > 1 else self.layers[0]
        mlp = [
            self.tower.forward_all(user_vec[rows], self.mlp_item.weight) @ h_mlp
            for rows in _user_chunks(len(users), self.num_items, width)
        ]
        mlp = torch.cat(mlp) if mlp else gmf.new_zeros(0, self.num_items)  # (len(users), num_items)
        return gmf + mlp + self.output.bias

    @classmethod
    def from_pretrained(cls, gmf: GMF, mlp: MLP, alpha: float = 0.5) -> "NeuMF":
        """NeuMF initialised from a trained `GMF` and `MLP` (He et al., section 3.4.1).

        Embeddings and hidden layers are copied; the output layer becomes
        h ← [α h^GMF, (1 − α) h^MLP] and b ← α b^GMF + (1 − α) b^MLP, so that the new model's
        logit is exactly α·GMF + (1 − α)·MLP before any further training.
        """
        if not isinstance(gmf, GMF) or not isinstance(mlp, MLP):
            raise ValueError(f"from_pretrained needs a GMF and an MLP, got {type(gmf).__name__} and {type(mlp).__name__}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
        if (gmf.num_users, gmf.num_items) != (mlp.num_users, mlp.num_items):
            raise ValueError(
                f"the GMF was built for {gmf.num_users} users and {gmf.num_items} items, the MLP for "
                f"{mlp.num_users} and {mlp.num_items}; pre-train both on the same index mapping"
            )
        model = cls(gmf.num_users, gmf.num_items, dim=gmf.dim, layers=mlp.layers, dropout=mlp.tower.dropout)
        device = gmf.output.weight.device
        model.to(device)
        with torch.no_grad():
            model.gmf_user.weight.copy_(gmf.user_embedding.weight)
            model.gmf_item.weight.copy_(gmf.item_embedding.weight)
            model.mlp_user.weight.copy_(mlp.user_embedding.weight)
            model.mlp_item.weight.copy_(mlp.item_embedding.weight)
            model.tower.load_state_dict(mlp.tower.state_dict())
            model.output.weight.copy_(torch.cat([alpha * gmf.output.weight, (1 - alpha) * mlp.output.weight], dim=1))
            model.output.bias.copy_(alpha * gmf.output.bias + (1 - alpha) * mlp.output.bias)
        return model
