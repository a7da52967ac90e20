"""Evaluation protocols: rating error, click-through (AUC/LogLoss), and ranking.

Ranking comes in the two protocols chapter 3 contrasts: *full* ranking over every item the user
has not interacted with in training, and *sampled* ranking of the held-out item among sampled
negatives (He et al., 2017). The functions return plain dicts such as ``{"hr@10": 0.61}``;
the notebooks print the protocol next to each number.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import numpy as np
import torch
from scipy.special import expit
from torch import Tensor, nn

from . import metrics as M
from .train import as_tensor

RANKING_METRICS: dict[str, Callable] = {
    "hr": M.hit_rate_at_k,
    "ndcg": M.ndcg_at_k,
    "recall": M.recall_at_k,
    "precision": M.precision_at_k,
    "map": M.map_at_k,
}


def _device_of(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


@torch.no_grad()
def predict(model: nn.Module, users, items, batch_size: int = 65536) -> np.ndarray:
    """``model(users, items)`` in batches, as a float NumPy array (logits or ratings)."""
    device = _device_of(model)
    users, items = as_tensor(users, device=device), as_tensor(items, device=device)
    if len(users) != len(items):
        raise ValueError(f"users and items differ in length: {len(users)} vs {len(items)}.")
    if len(users) == 0:
        raise ValueError("Nothing to predict: the evaluation split is empty.")
    model.eval()
    out = [model(users[s : s + batch_size], items[s : s + batch_size]).float().cpu() for s in range(0, len(users), batch_size)]
    return torch.cat(out).numpy()


def rating_metrics(model: nn.Module, users, items, ratings, clip: Optional[tuple[float, float]] = (1.0, 5.0)) -> dict[str, float]:
    """RMSE and MAE of predicted ratings; predictions are clipped to the rating scale `clip`."""
    predictions = predict(model, users, items)
    if clip is not None:
        predictions = np.clip(predictions, *clip)
    ratings = np.asarray(ratings, dtype=np.float64)
    return {"rmse": M.rmse(predictions, ratings), "mae": M.mae(predictions, ratings)}


def ctr_metrics(labels, logits) -> dict[str, float]:
    """AUC and LogLoss of click-through logits against 0/1 labels."""
    logits = np.asarray(logits, dtype=np.float64)
    probabilities = expit(logits)
    return {"auc": M.auc(labels, logits), "logloss": M.log_loss(labels, probabilities)}


def _pair_mask(rows: np.ndarray, users, items, num_items: int) -> np.ndarray:
    """Boolean (len(rows), num_items) matrix, True where (rows[r], item) is among the pairs.

    `rows` must be sorted and unique (as `np.unique` returns them).
    """
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    mask = np.zeros((len(rows), num_items), dtype=bool)
    position = np.searchsorted(rows, users)
    inside = position < len(rows)
    inside[inside] = rows[position[inside]] == users[inside]
    mask[position[inside], items[inside]] = True
    return mask


def _ranking_dict(scores: np.ndarray, relevance: np.ndarray, ks: Sequence[int], names: Sequence[str], reduction: str):
    out = {}
    for name in names:
        if name == "mrr":
            out["mrr"] = M.mrr(scores, relevance, reduction=reduction)
            continue
        if name not in RANKING_METRICS:
            raise ValueError(f"Unknown ranking metric {name!r}; known: {sorted(RANKING_METRICS) + ['mrr']}.")
        for k in ks:
            out[f"{name}@{k}"] = RANKING_METRICS[name](scores, relevance, k, reduction=reduction)
    return out


@torch.no_grad()
def rank_full(
    model: nn.Module,
    users,
    items,
    exclude_users=None,
    exclude_items=None,
    k: int | Sequence[int] = 10,
    metrics: Sequence[str] = ("hr", "ndcg"),
    batch_size: int = 1024,
    reduction: str = "mean",
) -> dict:
    """Full-ranking protocol: rank every item for each evaluated user.

    users, items: the held-out (user, item) pairs; a user may have several.
    exclude_users, exclude_items: pairs to remove from the ranking (the user's training items,
        and validation items when testing); their scores are set to −∞.
    Returns ``{"hr@10": ..., "ndcg@10": ...}`` averaged over evaluated users (or per-user arrays,
    ordered like ``np.unique(users)``, with ``reduction="none"``).
    """
    ks = [k] if isinstance(k, int) else list(k)
    users = np.asarray(users.cpu() if isinstance(users, Tensor) else users, dtype=np.int64)
    items = np.asarray(items.cpu() if isinstance(items, Tensor) else items, dtype=np.int64)
    if len(users) == 0:
        raise ValueError("rank_full got no held-out pairs: the evaluation split is empty.")
    num_items = model.num_items
    eval_users = np.unique(users)
    if exclude_users is not None:
        exclude_users = np.asarray(exclude_users.cpu() if isinstance(exclude_users, Tensor) else exclude_users)
        exclude_items = np.asarray(exclude_items.cpu() if isinstance(exclude_items, Tensor) else exclude_items)
    device = _device_of(model)
    model.eval()
    parts: list[dict] = []
    for start in range(0, len(eval_users), batch_size):
        chunk = eval_users[start : start + batch_size]
        scores = model.score_all(torch.as_tensor(chunk, device=device)).float().cpu().numpy().copy()  # (chunk, num_items), ours to mask
        if exclude_users is not None:
            scores[_pair_mask(chunk, exclude_users, exclude_items, num_items)] = -np.inf
        relevance = _pair_mask(chunk, users, items, num_items)
        parts.append(_ranking_dict(scores, relevance, ks, metrics, reduction="none"))
    per_user = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    if reduction == "none":
        return per_user
    return {name: float(np.nanmean(values)) for name, values in per_user.items()}


@torch.no_grad()
def rank_sampled(
    model: nn.Module,
    users,
    candidates,
    k: int | Sequence[int] = 10,
    metrics: Sequence[str] = ("hr", "ndcg"),
    reduction: str = "mean",
) -> dict:
    """Sampled protocol (He et al., 2017): rank the held-out item among sampled negatives.

    candidates: (num_users, 1 + m) item indices with the held-out item in the *last* column, as
    `recsys_lesson.data.sampling.sampled_candidates` makes them; ties count against it.
    """
    ks = [k] if isinstance(k, int) else list(k)
    candidates = np.asarray(candidates, dtype=np.int64)
    users = np.asarray(users.cpu() if isinstance(users, Tensor) else users, dtype=np.int64)
    if candidates.ndim != 2 or len(candidates) != len(users):
        raise ValueError(f"candidates must be (len(users), 1 + m); got {candidates.shape} for {len(users)} users.")
    if len(users) == 0:
        raise ValueError("rank_sampled got no users: the evaluation split is empty.")
    width = candidates.shape[1]
    scores = predict(model, np.repeat(users, width), candidates.reshape(-1)).reshape(len(users), width)
    relevance = np.zeros_like(candidates, dtype=bool)
    relevance[:, -1] = True
    return _ranking_dict(scores, relevance, ks, metrics, reduction)


def recommend(model: nn.Module, users, k: int = 10, exclude_users=None, exclude_items=None) -> np.ndarray:
    """Top-k item indices for each user, best first, excluding the given (user, item) pairs."""
    users = np.asarray(users, dtype=np.int64)
    if len(users) == 0:
        raise ValueError("recommend got no users.")
    device = _device_of(model)
    with torch.no_grad():
        model.eval()
        scores = model.score_all(torch.as_tensor(users, device=device)).float().cpu().numpy().copy()
    if exclude_users is not None:
        unique, inverse = np.unique(users, return_inverse=True)
        mask = _pair_mask(unique, exclude_users, exclude_items, scores.shape[1])[inverse]
        scores[mask] = -np.inf
    return M.topk(scores, k)
