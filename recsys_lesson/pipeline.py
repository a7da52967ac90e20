"""Combining recommenders (chapter 8): blending, stacking, and a two-stage pipeline.

- `standardize` turns each user's row of a (num_users, num_items) score matrix into z-scores,
  so that models whose scores live on different scales (a dot product, a logit, a count) can be
  added; `blend` is a weighted sum of standardized matrices.
- `pair_features` gathers the scores of several models for (user, item) pairs: the input of a
  *stacker*, a second model (for example scikit-learn's ``LogisticRegression``) fitted on
  held-out pairs to combine them.
- `ScoreTable` wraps a fixed score matrix in the `Recommender` interface, so that
  `recsys_lesson.evaluate.rank_full` evaluates a blend or a stack like any model.
- `two_stage_scores` is retrieval then ranking: a cheap *candidate generator* scores every
  item and keeps the ``num_candidates`` best unseen ones per user; the *ranker* scores only
  those; every other item gets −∞. `candidate_recall` measures the ceiling this sets.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from .evaluate import _device_of, _pair_mask, predict
from .models.base import Recommender

__all__ = ["standardize", "blend", "pair_features", "ScoreTable", "two_stage_scores", "candidate_recall", "seen_mask"]


def _matrix(scores, name: str = "scores") -> np.ndarray:
    if isinstance(scores, Tensor):
        scores = scores.detach().cpu().numpy()
    matrix = np.asarray(scores, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (num_users, num_items) matrix, got shape {matrix.shape}")
    return matrix


def _indices(values, name: str) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{name} must be a 1-D array of integer indices, got {array.dtype} {array.shape}")
    return array.astype(np.int64)


def standardize(scores) -> np.ndarray:
    """Per-row z-scores: (s − mean of the row) / (standard deviation of the row).

    scores: (num_users, num_items), finite. A row whose scores are all equal becomes zeros.
    Returns float64 of the same shape; every row has mean 0 and standard deviation 1 (or 0).
    """
    matrix = _matrix(scores)
    if not np.isfinite(matrix).all():
        raise ValueError("scores must be finite; standardize the raw model scores before masking seen items with -inf")
    centred = matrix - matrix.mean(axis=1, keepdims=True)
    spread = matrix.std(axis=1, keepdims=True)
    return np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 0)


def blend(tables: Sequence, weights: Sequence[float]) -> np.ndarray:
    """Σ_m weights[m] · standardize(tables[m]): a weighted blend of score matrices of one shape."""
    if len(tables) == 0:
        raise ValueError("blend needs at least one score matrix")
    if len(tables) != len(weights):
        raise ValueError(f"got {len(tables)} score matrices but {len(weights)} weights; give one weight per matrix")
    matrices = [standardize(t) for t in tables]
    if len({m.shape for m in matrices}) != 1:
        raise ValueError(f"score matrices differ in shape: {[m.shape for m in matrices]}")
    return sum(float(w) * m for w, m in zip(weights, matrices))


def pair_features(tables: Sequence, users, items) -> np.ndarray:
    """Feature matrix (len(users), len(tables)): column m holds ``tables[m][users, items]``."""
    users, items = _indices(users, "users"), _indices(items, "items")
    if len(users) != len(items):
        raise ValueError(f"users and items differ in length: {len(users)} vs {len(items)}")
    columns = []
    for m, table in enumerate(tables):
        matrix = _matrix(table, f"tables[{m}]")
        if len(users) and (users.max() >= matrix.shape[0] or items.max() >= matrix.shape[1] or min(users.min(), items.min()) < 0):
            raise ValueError(f"a (user, item) index lies outside tables[{m}], of shape {matrix.shape}")
        columns.append(matrix[users, items])
    return np.stack(columns, axis=1) if columns else np.zeros((len(users), 0))


class ScoreTable(Recommender):
    """A fixed (num_users, num_items) score matrix with the `Recommender` interface.

    ``forward(users, items)`` looks the pairs up, ``score_all(users)`` returns their rows; −∞
    entries (items a pipeline never scored) rank last. Use it to evaluate a blend, a stack or
    a two-stage pipeline with `recsys_lesson.evaluate.rank_full`.
    """

    def __init__(self, scores):
        super().__init__()
        matrix = _matrix(scores)
        if np.isnan(matrix).any():
            raise ValueError("scores contain NaN")
        self.num_users, self.num_items = matrix.shape
        self.register_buffer("scores", torch.as_tensor(matrix, dtype=torch.float32))

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        self.check(users, items)
        return self.scores[users, items]

    def score_all(self, users: Tensor) -> Tensor:
        self.check(users, users.new_zeros(0))
        return self.scores[users]


def seen_mask(users, exclude_users, exclude_items, num_items: int) -> np.ndarray:
    """Boolean (len(users), num_items): True where (users[r], item) is among the excluded pairs."""
    users = _indices(users, "users")
    exclude_users, exclude_items = _indices(exclude_users, "exclude_users"), _indices(exclude_items, "exclude_items")
    if len(exclude_users) != len(exclude_items):
        raise ValueError(f"exclude_users and exclude_items differ in length: {len(exclude_users)} vs {len(exclude_items)}")
    if len(exclude_items) and (exclude_items.min() < 0 or exclude_items.max() >= num_items):
        raise ValueError(f"exclude_items must lie in [0, num_items={num_items})")
    unique, inverse = np.unique(users, return_inverse=True)
    return _pair_mask(unique, exclude_users, exclude_items, num_items)[inverse]


@torch.no_grad()
def two_stage_scores(
    generator: nn.Module,
    ranker: nn.Module,
    users,
    num_candidates: int,
    exclude_users=None,
    exclude_items=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Retrieval then ranking, for each user of `users`.

    1. The generator scores every item (``generator.score_all``); excluded (user, item) pairs,
       the items the user has already seen, are removed.
    2. The ``num_candidates`` best remaining items per user are the candidates.
    3. The ranker scores only the (user, candidate) pairs (``ranker(users, items)``).

    Returns ``(scores, candidates)``: scores (len(users), num_items) float32 holding the ranker's
    score for each candidate and −∞ elsewhere, and candidates (len(users), num_candidates), in
    no particular order. With ``num_candidates = num_items`` the result ranks like the ranker
    alone (seen items excluded).
    """
    users = _indices(users, "users")
    num_items = int(generator.num_items)
    if getattr(ranker, "num_items", num_items) != num_items:
        raise ValueError(f"the generator scores {num_items} items but the ranker {ranker.num_items}; build both on one index")
    if isinstance(num_candidates, bool) or int(num_candidates) != num_candidates or not 1 <= num_candidates <= num_items:
        raise ValueError(f"num_candidates must be an integer in [1, num_items={num_items}], got {num_candidates!r}")
    if len(users) == 0:
        raise ValueError("two_stage_scores got no users")
    num_candidates = int(num_candidates)
    generator.eval()
    first = generator.score_all(torch.as_tensor(users, device=_device_of(generator))).float().cpu().numpy()  # (n, num_items)
    if exclude_users is not None:
        first = np.where(seen_mask(users, exclude_users, exclude_items, num_items), -np.inf, first)
    if num_candidates < num_items:
        candidates = np.argpartition(-first, num_candidates - 1, axis=1)[:, :num_candidates]  # (n, num_candidates)
    else:
        candidates = np.tile(np.arange(num_items), (len(users), 1))
    rows = np.repeat(np.arange(len(users)), num_candidates)
    second = predict(ranker, users[rows], candidates.reshape(-1)).astype(np.float32)  # (n * num_candidates,)
    second[~np.isfinite(first[rows, candidates.reshape(-1)])] = -np.inf  # a seen item that filled a slot stays out
    scores = np.full((len(users), num_items), -np.inf, dtype=np.float32)
    scores[rows, candidates.reshape(-1)] = second
    return scores, candidates


def candidate_recall(candidates, items) -> float:
    """Share of rows whose held-out item ``items[r]`` is among ``candidates[r]``. Range [0, 1].

    The ceiling of a two-stage pipeline's hit rate: the ranker cannot find what the generator
    did not retrieve.
    """
    candidates = np.asarray(candidates)
    items = _indices(items, "items")
    if candidates.ndim != 2 or len(candidates) != len(items):
        raise ValueError(f"candidates must be (len(items), num_candidates); got {candidates.shape} for {len(items)} items")
    if len(items) == 0:
        raise ValueError("candidate_recall got no held-out items")
    return float((candidates == items[:, None]).any(axis=1).mean())
