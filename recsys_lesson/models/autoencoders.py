"""Autoencoders for collaborative filtering: CDAE, Mult-DAE and Mult-VAE (chapter 4).

An autoencoder reads a user as the row x_u of the user-item matrix (1 where the user interacted
with an item) and outputs one score per item; recommending means ranking the items the user has
not interacted with yet by those scores. The three models differ in what they add to that idea:

- `CDAE` (Wu et al., WSDM 2016): corrupt the input by dropout, add a learned vector per user in
  the hidden layer, and decode with a sigmoid per item, trained with squared error or the
  logistic (binary cross-entropy) loss.
- `MultDAE` and `MultVAE` (Liang et al., WWW 2018): a multinomial likelihood over all items
  (log-softmax), input dropout on the L2-normalised row, and, for the VAE, a Gaussian posterior
  over a latent code with the reparameterisation trick and a KL term weighted by an annealed β.

Every model here has the same interface: ``forward(x, users=None)`` maps a batch of dense rows
``x`` (batch, num_items) to item logits (batch, num_items), and ``loss(x, users)`` is its training
loss on that batch. ``users`` (the user indices of the rows) is used only by CDAE.

Training goes through `recsys_lesson.train.fit`: the epoch data are the indices of the training
users, and `RowLoss` densifies the batch's rows on the device (the interaction matrix stays
sparse, see `recsys_lesson.interactions`) and anneals β. `fit_autoencoder` wires this up and
evaluates the strong-generalisation protocol after each epoch with `heldout_metrics`.
"""

from __future__ import annotations

import time
from typing import Callable, Optional, Sequence, Union

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import metrics as M
from ..interactions import HeldOutRows, SparseRows
from ..train import History, fit, get_device

__all__ = [
    "CDAE",
    "MultDAE",
    "MultVAE",
    "RowLoss",
    "heldout_batches",
    "heldout_metrics",
    "heldout_topk",
    "fit_autoencoder",
]

Scorer = Callable[[Tensor, Optional[Tensor]], Tensor]


def _check_rows(x: Tensor, num_items: int) -> None:
    if x.dim() != 2 or x.shape[1] != num_items:
        raise ValueError(
            f"expected a batch of user rows of shape (batch, {num_items}), got {tuple(x.shape)}; "
            "densify rows with recsys_lesson.interactions.SparseRows"
        )


def _init_linear(layer: nn.Linear) -> nn.Linear:
    """Xavier-uniform weights and small normal biases, as in Liang et al.'s reference code."""
    nn.init.xavier_uniform_(layer.weight)
    nn.init.normal_(layer.bias, std=0.001)
    return layer


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _dropout_rate(value: float) -> float:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"dropout must lie in [0, 1), got {value}")
    return float(value)


# ---------------------------------------------------------------------------------------------
# CDAE (Wu et al., 2016)
# ---------------------------------------------------------------------------------------------


class CDAE(nn.Module):
    """Collaborative denoising autoencoder (Wu et al., 2016).

        x̃_u = dropout_q(x_u)                       (kept entries scaled by 1 / (1 - q))
        h_u = σ(W x̃_u + V_u + b)                   (dim,)   V_u: a learned vector per user
        logits_u = W' h_u + b'                      (num_items,)   ŷ_u = σ(logits_u)

    ``loss="logistic"``: binary cross-entropy of ŷ_u against x_u; ``loss="squared"``:
    ‖ŷ_u − x_u‖². Both are summed over all items and averaged over users (the paper samples
    the zero entries for speed; here every item counts). L2 regularisation comes from the
    optimiser's weight decay.

    The user vectors start at zero. A user the model never trained on (strong generalisation)
    therefore has V_u = 0 unless `fold_in` fits one from the user's fold-in interactions.
    """

    def __init__(self, num_users: int, num_items: int, dim: int = 50, dropout: float = 0.5, loss: str = "logistic"):
        super().__init__()
        self.num_users = _positive_int(num_users, "num_users")
        self.num_items = _positive_int(num_items, "num_items")
        self.dim = _positive_int(dim, "dim")
        if loss not in ("logistic", "squared"):
            raise ValueError(f"loss must be 'logistic' or 'squared', got {loss!r}")
        self.loss_name = loss
        self.corrupt = nn.Dropout(_dropout_rate(dropout))
        self.encoder = _init_linear(nn.Linear(num_items, dim))
        self.decoder = _init_linear(nn.Linear(dim, num_items))
        self.user_vectors = nn.Embedding(num_users, dim)
        nn.init.zeros_(self.user_vectors.weight)

    def _user_term(self, users: Optional[Tensor], batch: int, device) -> Tensor:
        if users is None:
            return torch.zeros(batch, self.dim, device=device)
        users = torch.as_tensor(users, device=device).long()
        if users.shape != (batch,):
            raise ValueError(f"users must hold one index per row ({batch}), got shape {tuple(users.shape)}")
        if users.numel() and (int(users.min()) < 0 or int(users.max()) >= self.num_users):
            raise ValueError(f"user index outside [0, {self.num_users}): the model was built for {self.num_users} users")
        return self.user_vectors(users)  # (batch, dim)

    def forward(self, x: Tensor, users: Optional[Tensor] = None) -> Tensor:
        """Item logits (batch, num_items) for rows ``x``; ``users=None`` uses V_u = 0."""
        _check_rows(x, self.num_items)
        hidden = torch.sigmoid(self.encoder(self.corrupt(x)) + self._user_term(users, len(x), x.device))  # (batch, dim)
        return self.decoder(hidden)  # (batch, num_items)

    def reconstruction_loss(self, logits: Tensor, x: Tensor) -> Tensor:
        """The chosen loss, summed over items and averaged over the rows of the batch."""
        logits = logits.float()  # sums over thousands of items: keep them out of bfloat16
        if self.loss_name == "logistic":
            return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1).mean()
        return (torch.sigmoid(logits) - x).pow(2).sum(-1).mean()

    def loss(self, x: Tensor, users: Optional[Tensor] = None) -> Tensor:
        return self.reconstruction_loss(self(x, users), x)

    def fold_in(self, x: Tensor, users: Tensor, steps: int = 50, lr: float = 0.05, weight_decay: float = 0.0) -> Tensor:
        """Fit the vectors V_u of ``users`` (rows ``x``) with every other weight frozen.

        Minimises the training loss (with the same input corruption) over V_u alone by Adam for
        ``steps`` full-batch steps, starting from zero, and writes the result into the user
        table. This is how a model with per-user parameters serves users it never trained on;
        Mult-DAE and Mult-VAE need no such step. Returns the fitted vectors (len(users), dim).
        """
        steps = _positive_int(steps, "steps")
        _check_rows(x, self.num_items)
        users = torch.as_tensor(users, device=x.device).long()
        self._user_term(users, len(x), x.device)  # validates the indices
        vectors = torch.zeros(len(x), self.dim, device=x.device, requires_grad=True)
        optimizer = torch.optim.Adam([vectors], lr=lr, weight_decay=weight_decay)
        was_training = self.training
        self.train()  # corrupt the input as in training
        frozen = [p.requires_grad for p in self.parameters()]
        for p in self.parameters():
            p.requires_grad_(False)
        try:
            for _ in range(steps):
                hidden = torch.sigmoid(self.encoder(self.corrupt(x)) + vectors)  # (batch, dim)
                loss = self.reconstruction_loss(self.decoder(hidden), x)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        finally:
            for p, flag in zip(self.parameters(), frozen):
                p.requires_grad_(flag)
            self.train(was_training)
        with torch.no_grad():
            self.user_vectors.weight[users] = vectors.detach()
        return vectors.detach()


# ---------------------------------------------------------------------------------------------
# Mult-DAE and Mult-VAE (Liang et al., 2018)
# ---------------------------------------------------------------------------------------------


def multinomial_nll(logits: Tensor, x: Tensor) -> Tensor:
    """−Σ_i x_ui log softmax(logits_u)_i, averaged over the rows of the batch."""
    return -(F.log_softmax(logits.float(), dim=-1) * x).sum(-1).mean()


def _tanh_stack(dims: Sequence[int], last_activation: bool) -> nn.Sequential:
    """Linear layers dims[0] → dims[1] → ... with tanh between them (and after the last if asked)."""
    layers: list[nn.Module] = []
    for n, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(_init_linear(nn.Linear(d_in, d_out)))
        if n < len(dims) - 2 or last_activation:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def _layer_dims(num_items: int, hidden_dims: Sequence[int], dim: int) -> list[int]:
    hidden = [_positive_int(h, "each hidden dimension") for h in hidden_dims]
    return [_positive_int(num_items, "num_items"), *hidden, _positive_int(dim, "dim")]


class MultDAE(nn.Module):
    """Denoising autoencoder with a multinomial likelihood: Mult-DAE of Liang et al. (2018).

        x̃_u = dropout_q(x_u / ‖x_u‖₂)
        z_u = tanh(... tanh(W_1 x̃_u + b_1) ...)               (dim,)
        logits_u = decoder(z_u)                                (num_items,)
        loss = −Σ_i x_ui log softmax(logits_u)_i

    The encoder is num_items → hidden_dims → dim (the paper's 600 → 200) and the decoder
    mirrors it; tanh follows every layer except the output. ``users`` is ignored.
    """

    def __init__(self, num_items: int, hidden_dims: Sequence[int] = (600,), dim: int = 200, dropout: float = 0.5):
        super().__init__()
        dims = _layer_dims(num_items, hidden_dims, dim)
        self.num_items, self.dim = dims[0], dims[-1]
        self.dropout = nn.Dropout(_dropout_rate(dropout))
        self.encoder = _tanh_stack(dims, last_activation=True)
        self.decoder = _tanh_stack(dims[::-1], last_activation=False)

    def forward(self, x: Tensor, users: Optional[Tensor] = None) -> Tensor:
        _check_rows(x, self.num_items)
        z = self.encoder(self.dropout(F.normalize(x, dim=-1)))  # (batch, dim)
        return self.decoder(z)  # (batch, num_items)

    def loss(self, x: Tensor, users: Optional[Tensor] = None) -> Tensor:
        return multinomial_nll(self(x), x)


class MultVAE(nn.Module):
    """Variational autoencoder with a multinomial likelihood: Mult-VAE of Liang et al. (2018).

        q(z_u | x_u) = N(μ(x̃_u), diag σ²(x̃_u)),   x̃_u = dropout_q(x_u / ‖x_u‖₂)
        z_u = μ + σ ⊙ ε, ε ~ N(0, I)               (reparameterisation; z_u = μ at evaluation)
        loss = −Σ_i x_ui log softmax(f(z_u))_i + β · KL(q(z_u | x_u) ‖ N(0, I))
        KL = ½ Σ_d (σ_d² + μ_d² − 1 − log σ_d²)

    The encoder is num_items → hidden_dims → 2·dim (μ and log σ²), the decoder dim → hidden_dims
    reversed → num_items, tanh between layers. β is passed to `loss` (see `RowLoss` for the
    annealing); ``users`` is ignored. ``forward(x, sample=True)`` draws z from the posterior
    even in evaluation mode, which the chapter uses to diversify recommendations.
    """

    def __init__(self, num_items: int, hidden_dims: Sequence[int] = (600,), dim: int = 200, dropout: float = 0.5):
        super().__init__()
        dims = _layer_dims(num_items, hidden_dims, dim)
        self.num_items, self.dim = dims[0], dims[-1]
        self.dropout = nn.Dropout(_dropout_rate(dropout))
        self.encoder = _tanh_stack([*dims[:-1], 2 * dims[-1]], last_activation=False)
        self.decoder = _tanh_stack(dims[::-1], last_activation=False)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean μ and log-variance log σ², each (batch, dim)."""
        _check_rows(x, self.num_items)
        out = self.encoder(self.dropout(F.normalize(x, dim=-1)))  # (batch, 2 * dim)
        return out[:, : self.dim], out[:, self.dim :]

    def _logits(self, x: Tensor, sample: bool) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu  # (batch, dim)
        return self.decoder(z), mu, logvar

    def forward(self, x: Tensor, users: Optional[Tensor] = None, sample: Optional[bool] = None) -> Tensor:
        """Item logits; z is sampled in training mode (or with ``sample=True``), else z = μ."""
        return self._logits(x, self.training if sample is None else sample)[0]

    @staticmethod
    def kl(mu: Tensor, logvar: Tensor) -> Tensor:
        """KL(N(μ, σ²) ‖ N(0, I)) summed over the latent dimensions, averaged over the batch."""
        mu, logvar = mu.float(), logvar.float()
        return 0.5 * (torch.exp(logvar) + mu.pow(2) - 1.0 - logvar).sum(-1).mean()

    def loss(self, x: Tensor, users: Optional[Tensor] = None, beta: float = 0.2) -> Tensor:
        logits, mu, logvar = self._logits(x, sample=self.training)
        return multinomial_nll(logits, x) + beta * self.kl(mu, logvar)


# ---------------------------------------------------------------------------------------------
# Training with recsys_lesson.train.fit
# ---------------------------------------------------------------------------------------------


class RowLoss:
    """``loss_fn`` for `fit`: densify the batch's user rows, anneal β, call ``model.loss``.

    The epoch data given to `fit` is ``{"users": indices of the training users}``; each batch's
    rows are read from ``rows`` (a `SparseRows` on the training device). For models whose
    ``loss`` takes ``beta`` (Mult-VAE), β grows linearly with the number of training steps and
    stops at ``beta_cap``:

        β(step) = min(beta_cap, step / anneal_steps)

    (Liang et al. use a cap of 0.2; ``anneal_steps=0`` gives β = beta_cap from the start.)
    ``step`` counts calls, that is, training batches; ``beta`` is the value used last.
    """

    def __init__(self, rows: SparseRows, beta_cap: float = 0.2, anneal_steps: int = 0):
        if not isinstance(rows, SparseRows):
            raise ValueError(f"rows must be a SparseRows, got {type(rows).__name__}")
        if beta_cap < 0:
            raise ValueError(f"beta_cap must be non-negative, got {beta_cap}")
        if anneal_steps < 0:
            raise ValueError(f"anneal_steps must be non-negative, got {anneal_steps}")
        self.rows, self.beta_cap, self.anneal_steps = rows, float(beta_cap), int(anneal_steps)
        self.step = 0
        self.beta = self.beta_at(0)

    def beta_at(self, step: int) -> float:
        if self.anneal_steps == 0:
            return self.beta_cap
        return min(self.beta_cap, step / self.anneal_steps)

    def __call__(self, model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
        users = batch["users"]
        x = self.rows(users)  # (batch, num_items), dense on the device
        if isinstance(model, MultVAE):
            self.beta = self.beta_at(self.step)
            loss = model.loss(x, users, beta=self.beta)
        else:
            loss = model.loss(x, users)
        self.step += 1
        return loss


# ---------------------------------------------------------------------------------------------
# Strong-generalisation evaluation
# ---------------------------------------------------------------------------------------------


def _model_device(model) -> torch.device:
    if isinstance(model, nn.Module):
        for tensor in list(model.parameters()) + list(model.buffers()):
            return tensor.device
    return torch.device("cpu")


def heldout_batches(scorer: Scorer, heldout: HeldOutRows, batch_size: int = 1000, device=None):
    """Yield (row slice, scores) for the held-out users, batch by batch, without gradients.

    ``scorer(x, users)`` maps dense fold-in rows (batch, num_items) and the users' indices to
    scores (batch, num_items) (any model of this module, or a lambda around a baseline). Items
    in a user's fold-in are set to −∞, so they are never recommended or counted. A scorer that
    is an `nn.Module` is put in evaluation mode (and left there).
    """
    batch_size = _positive_int(batch_size, "batch_size")
    if isinstance(scorer, nn.Module):
        scorer.eval()
    device = _model_device(scorer) if device is None else torch.device(device)
    fold_in = SparseRows(heldout.fold_in, device=device)
    users = torch.as_tensor(heldout.users, device=device)
    with torch.no_grad():
        for start in range(0, fold_in.num_rows, batch_size):
            index = torch.arange(start, min(start + batch_size, fold_in.num_rows), device=device)
            x = fold_in(index)  # (batch, num_items)
            scores = scorer(x, users[index]).float()
            if scores.shape != x.shape:
                raise ValueError(f"the scorer returned shape {tuple(scores.shape)} for rows of shape {tuple(x.shape)}")
            scores = scores.masked_fill(x > 0, float("-inf"))
            yield slice(start, start + len(index)), scores.cpu().numpy()


def heldout_metrics(
    scorer: Scorer,
    heldout: HeldOutRows,
    recall_ks: Sequence[int] = (20, 50),
    ndcg_ks: Sequence[int] = (100,),
    batch_size: int = 1000,
    reduction: str = "mean",
    device=None,
) -> dict[str, Union[float, np.ndarray]]:
    """Liang et al.'s protocol on held-out users: rank every item not in the user's fold-in.

    Recall@k = |top k ∩ score items| / min(k, |score items|) (``recall_at_k(normalize="min")``)
    and NDCG@k with binary gains, averaged over the held-out users (or one value per row of
    ``heldout`` with ``reduction="none"``). Keys: ``"recall@20"``, ``"recall@50"``, ``"ndcg@100"``.
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    parts: dict[str, list[np.ndarray]] = {f"recall@{k}": [] for k in recall_ks}
    parts.update({f"ndcg@{k}": [] for k in ndcg_ks})
    for rows, scores in heldout_batches(scorer, heldout, batch_size, device):
        relevance = heldout.score[rows].toarray() > 0  # (batch, num_items)
        for k in recall_ks:
            parts[f"recall@{k}"].append(M.recall_at_k(scores, relevance, k, reduction="none", normalize="min"))
        for k in ndcg_ks:
            parts[f"ndcg@{k}"].append(M.ndcg_at_k(scores, relevance, k, reduction="none"))
    per_user = {name: np.concatenate(values) for name, values in parts.items()}
    if reduction == "none":
        return per_user
    return {name: float(np.nanmean(values)) for name, values in per_user.items()}


def heldout_topk(scorer: Scorer, heldout: HeldOutRows, k: int = 20, batch_size: int = 1000, device=None) -> np.ndarray:
    """Top-k item indices (num_rows, k), best first, for each held-out user (fold-in excluded)."""
    return np.concatenate([M.topk(scores, k) for _, scores in heldout_batches(scorer, heldout, batch_size, device)])


def fit_autoencoder(
    model: nn.Module,
    train: sp.spmatrix,
    valid: Optional[HeldOutRows] = None,
    *,
    epochs: int = 50,
    batch_size: int = 100,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    beta_cap: float = 0.2,
    anneal_steps: int = 0,
    monitor: Optional[str] = "ndcg@100",
    patience: Optional[int] = None,
    recall_ks: Sequence[int] = (20, 50),
    ndcg_ks: Sequence[int] = (100,),
    device=None,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """Train an autoencoder of this module on the rows of ``train`` with `recsys_lesson.train.fit`.

    train: the (num_users, num_items) training interaction matrix (scipy sparse); users without
        interactions (the held-out ones) are skipped. It stays sparse: `RowLoss` densifies
        the rows of each batch on ``device``.
    valid: held-out validation users; after every epoch `heldout_metrics` is computed on them
        and, with ``monitor``, the best epoch's weights are restored (``patience``: stop after
        that many epochs without improvement). recall_ks, ndcg_ks: the cut-offs computed.
    beta_cap, anneal_steps: the β schedule of `RowLoss` (used by `MultVAE` only).

    Each epoch's metrics also hold ``step`` (training batches so far), ``beta`` (β of the
    last batch) and ``train_seconds`` (the epoch's time without the validation).
    """
    if not sp.issparse(train):
        raise ValueError(f"train must be a scipy.sparse matrix, got {type(train).__name__}")
    num_items = getattr(model, "num_items", None)
    if train.shape[1] != num_items:
        raise ValueError(f"train has {train.shape[1]} item columns but the model was built for {num_items} items")
    device = get_device() if device is None else torch.device(device)
    train = sp.csr_matrix(train)
    users = np.flatnonzero(np.diff(train.indptr) > 0)
    if len(users) == 0:
        raise ValueError("train holds no interactions: check the split you built it from")
    loss_fn = RowLoss(SparseRows(train, device=device), beta_cap=beta_cap, anneal_steps=anneal_steps)
    last_end = [time.perf_counter()]

    def valid_fn(m: nn.Module) -> dict[str, float]:
        started = time.perf_counter()
        out = heldout_metrics(m, valid, recall_ks, ndcg_ks) if valid is not None else {}
        done = time.perf_counter()
        out.update(step=float(loss_fn.step), beta=loss_fn.beta, train_seconds=started - last_end[0])
        last_end[0] = done
        return out

    def epoch_data(generator: torch.Generator) -> dict[str, Tensor]:
        last_end[0] = time.perf_counter()  # fit asks for the data when an epoch starts
        return {"users": torch.as_tensor(users, device=device)}

    return fit(
        model, epoch_data, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
        loss_fn=loss_fn, valid_fn=valid_fn, monitor=monitor if valid is not None else None,
        patience=patience, device=device, seed=seed, progress=progress,
    )
