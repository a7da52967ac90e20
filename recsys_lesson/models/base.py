"""The small interface every recommender in the book shares.

Each model answers three questions (an idea taken from RecBole):
``forward(users, items)`` scores user-item pairs (logits, or ratings for explicit models),
``score_all(users)`` scores every item for each user (for full-ranking evaluation), and
``loss(batch)`` is the training loss for a batch from `recsys_lesson.train.fit`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def check_indices(values: Tensor, size: int, name: str) -> None:
    """Raise a clear ValueError when an index tensor holds ids outside ``[0, size)``.

    Without it, an unknown id surfaces as an IndexError (or a device-side assert) deep inside
    an embedding lookup.
    """
    if values.numel() == 0:
        return
    low, high = int(values.min()), int(values.max())
    if low < 0 or high >= size:
        bad = low if low < 0 else high
        raise ValueError(
            f"{name} index {bad} is outside [0, {size}): the model was built for {size} {name}s. "
            f"Map raw ids to indices with recsys_lesson.data.encode_ids and use the same mapping "
            f"for training and evaluation."
        )


class Recommender(nn.Module):
    """Base class: `loss` picks the loss from what the batch holds.

    - ``ratings`` in the batch: mean squared error of ``forward`` against the ratings.
    - ``labels``: binary cross-entropy of the logits ``forward`` against 0/1 labels.
    - ``negatives`` (shape ``(batch, m)``): BPR, ``-log sigmoid(s(u, i) - s(u, j))``
      averaged over the ``m`` negatives ``j`` of each positive ``i``.
    """

    num_users: int
    num_items: int

    def check(self, users: Tensor, items: Tensor) -> None:
        check_indices(users, self.num_users, "user")
        check_indices(items, self.num_items, "item")

    def score_all(self, users: Tensor) -> Tensor:
        """Scores of every item for each user: (len(users), num_items)."""
        items = torch.arange(self.num_items, device=users.device)
        pairs_users = users.repeat_interleave(self.num_items)  # (len(users) * num_items,)
        pairs_items = items.repeat(len(users))
        return self(pairs_users, pairs_items).reshape(len(users), self.num_items)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        users, items = batch["users"], batch["items"]
        if "negatives" in batch:
            negatives = batch["negatives"]  # (batch, m)
            m = negatives.shape[1]
            positive = self(users, items)  # (batch,)
            negative = self(users.repeat_interleave(m), negatives.reshape(-1)).reshape(-1, m)
            return -F.logsigmoid(positive[:, None] - negative).mean()
        if "labels" in batch:
            return F.binary_cross_entropy_with_logits(self(users, items), batch["labels"].float())
        if "ratings" in batch:
            return F.mse_loss(self(users, items), batch["ratings"].float())
        raise KeyError(f"A batch needs 'ratings', 'labels' or 'negatives'; this one has {sorted(batch)}.")
