"""Negative sampling for implicit feedback.

- :class:`NegativeSampler` draws training negatives in bulk on the model's device (chapters 3
  and 7: NCF's "4 negatives per positive", uniform or popularity-weighted).
- :class:`HardNegativeSampler` keeps, of a few such draws, the one the current model scores
  highest (dynamic negative sampling; chapter 7), and :class:`MixedNegativeSampler` takes each
  row's negatives from several samplers in fixed shares (chapter 7).
- :func:`sampled_candidates` builds the fixed candidate lists of the sampled ranking protocol
  (one held-out positive among 99 items the user never interacted with; chapters 3 and 7).

Both are vectorised: a user's positives are the int64 keys ``user * num_items + item``, looked
up by binary search in the sorted keys (or in a dense table when the grid is small), never
with Python sets.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
import torch

DISTRIBUTIONS = ("uniform", "popularity")
ZERO_COUNT_FLOOR = 0.5  # popularity sampling treats an item never seen in training as half an interaction
DENSE_MAX_CELLS = 1 << 27  # keep a dense user x item bool table up to 128 MB
CANDIDATE_CHUNK_CELLS = 1 << 22  # sampled_candidates draws 4 M float32 keys (16 MB) at a time


def _as_index_tensor(values, name: str, device: torch.device) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        tensor = values.detach()
    else:
        array = np.asarray(values)
        if array.dtype == object or array.dtype.kind not in "iub":
            raise ValueError(f"{name} must hold integer indices, got dtype {array.dtype}")
        tensor = torch.from_numpy(np.array(array, dtype=np.int64))  # a writable copy
    if tensor.dtype.is_floating_point or tensor.dtype.is_complex:
        raise ValueError(f"{name} must hold integer indices, got dtype {tensor.dtype}")
    if tensor.dim() != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {tuple(tensor.shape)}")
    return tensor.to(device=device, dtype=torch.int64)


def _as_index_array(values, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype == object or array.dtype.kind not in "iub":
        raise ValueError(f"{name} must hold integer indices, got dtype {array.dtype}")
    return array.astype(np.int64)


def alias_table(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table (Vose's construction) for drawing from ``probs`` in O(1) per draw.

    Returns ``(threshold, alias)``, both of shape (num_items,): draw a column c uniformly and
    u ~ U(0, 1); the draw is c if u < threshold[c], else alias[c]. Building it takes one pass over
    the items (a Python loop, done once); drawing is two vectorised random draws and a gather.
    """
    num_items = len(probs)
    scaled = np.asarray(probs, dtype=np.float64) * num_items / np.sum(probs)
    threshold = np.ones(num_items)
    alias = np.arange(num_items)
    small = [j for j in range(num_items) if scaled[j] < 1.0]
    large = [j for j in range(num_items) if scaled[j] >= 1.0]
    while small and large:
        low, high = small.pop(), large.pop()
        threshold[low], alias[low] = scaled[low], high
        scaled[high] -= 1.0 - scaled[low]
        (small if scaled[high] < 1.0 else large).append(high)
    return threshold, alias  # leftovers keep threshold 1 (exact up to rounding)


class NegativeSampler:
    """Draws, for each given user, items that user has no training interaction with.

    Parameters: ``users``, ``items`` are the training positives (equal-length integer arrays or
    tensors); ``num_items`` the size of the catalogue; ``distribution`` is ``"uniform"`` (every
    item equally likely) or ``"popularity"`` (P(item) proportional to count(item) ** alpha, the
    count being the item's number of training rows; items with no training row count as
    ``ZERO_COUNT_FLOOR`` = 0.5 so they can still be drawn, rarely). ``alpha = 0`` gives uniform,
    ``alpha = 0.75`` is word2vec's choice. Both distributions are then restricted to the user's
    non-positive items by rejection. ``device``: where keys live and samples are returned
    (default CPU).

    Positives are stored as the sorted int64 keys ``user * num_items + item`` (``self.keys``) and
    looked up with ``torch.searchsorted``. When the user x item grid is small (at most
    ``DENSE_MAX_CELLS`` cells, e.g. ML-1M's 22 M) a dense boolean copy is kept too, because
    indexing it is several times faster than a binary search over random queries.
    """

    def __init__(
        self,
        users,
        items,
        num_items: int,
        distribution: str = "uniform",
        alpha: float = 1.0,
        device: Optional[Union[str, torch.device]] = None,
    ) -> None:
        if distribution not in DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
        if int(num_items) != num_items or num_items < 1:
            raise ValueError(f"num_items must be a positive integer, got {num_items}")
        if not np.isfinite(alpha) or alpha < 0:
            raise ValueError(f"alpha must be a finite number >= 0, got {alpha}")
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.num_items = int(num_items)
        self.distribution = distribution
        self.alpha = float(alpha)
        users = _as_index_tensor(users, "users", self.device)
        items = _as_index_tensor(items, "items", self.device)
        if users.numel() != items.numel():
            raise ValueError(f"users and items differ in length: {users.numel()} vs {items.numel()}")
        if users.numel() == 0:
            raise ValueError("NegativeSampler needs at least one training positive")
        if int(users.min()) < 0:
            raise ValueError(f"user indices must be >= 0, found {int(users.min())}")
        if int(items.min()) < 0 or int(items.max()) >= self.num_items:
            raise ValueError(
                f"item indices must lie in [0, num_items={self.num_items}), found "
                f"[{int(items.min())}, {int(items.max())}]"
            )
        self.keys = torch.unique(users * self.num_items + items)  # sorted, distinct
        self.num_positives_per_user = torch.bincount(self.keys // self.num_items)  # (num_rows,)
        self.num_rows = self.num_positives_per_user.numel()  # users 0..num_rows-1 have positives
        self.dense: Optional[torch.Tensor] = None
        if self.num_rows * self.num_items <= DENSE_MAX_CELLS:
            self.dense = torch.zeros(self.num_rows * self.num_items, dtype=torch.bool, device=self.device)
            self.dense[self.keys] = True  # (num_rows * num_items,)
        self.probs: Optional[torch.Tensor] = None
        if distribution == "popularity":
            counts = torch.bincount(items, minlength=self.num_items).to(torch.float64).cpu().numpy()
            weights = np.maximum(counts, ZERO_COUNT_FLOOR) ** self.alpha
            self.probs = torch.as_tensor(weights / weights.sum(), dtype=torch.float32, device=self.device)
            threshold, alias = alias_table(weights)
            self._threshold = torch.as_tensor(threshold, dtype=torch.float32, device=self.device)
            self._alias = torch.as_tensor(alias, dtype=torch.int64, device=self.device)

    def is_positive(self, users, items) -> torch.Tensor:
        """BoolTensor, same shape as ``users``: whether each (user, item) is a training positive."""
        if not isinstance(users, torch.Tensor):
            users = torch.from_numpy(np.array(users, dtype=np.int64))
        if not isinstance(items, torch.Tensor):
            items = torch.from_numpy(np.array(items, dtype=np.int64))
        users = users.to(device=self.device, dtype=torch.int64)
        items = items.to(device=self.device, dtype=torch.int64)
        if users.shape != items.shape:
            raise ValueError(f"users and items differ in shape: {tuple(users.shape)} vs {tuple(items.shape)}")
        shape = users.shape
        users, items = users.reshape(-1), items.reshape(-1)
        inside = (users >= 0) & (users < self.num_rows) & (items >= 0) & (items < self.num_items)
        query = torch.where(inside, users * self.num_items + items, 0)
        return (self._contains(query) & inside).view(shape)

    def _contains(self, query: torch.Tensor) -> torch.Tensor:
        """Whether each key of a 1-d ``query`` (user * num_items + item, user < num_rows) is a positive."""
        if self.dense is not None:
            return self.dense.index_select(0, query)
        where = torch.searchsorted(self.keys, query).clamp(max=self.keys.numel() - 1)
        return self.keys.index_select(0, where) == query

    def _draw(self, size: int, generator: Optional[torch.Generator]) -> torch.Tensor:
        columns = torch.randint(0, self.num_items, (size,), generator=generator, device=self.device)
        if self.probs is None:
            return columns
        coins = torch.rand(size, generator=generator, device=self.device)
        keep = coins < self._threshold.index_select(0, columns)
        return torch.where(keep, columns, self._alias.index_select(0, columns))

    def sample(
        self,
        users,
        num_negatives: int,
        generator: Optional[Union[torch.Generator, int]] = None,
    ) -> torch.Tensor:
        """LongTensor (n, num_negatives) of items each user has not interacted with in training.

        Draws are independent (with replacement, so a row may repeat an item, as in NCF
        training), from the sampler's distribution restricted to the user's non-positives:
        all draws are made at once and only rejected positions are redrawn, until none is left.
        ``generator``: a ``torch.Generator`` on the sampler's device, an int seed, or None for
        torch's global generator.
        """
        if int(num_negatives) != num_negatives or num_negatives < 1:
            raise ValueError(f"num_negatives must be a positive integer, got {num_negatives}")
        num_negatives = int(num_negatives)
        if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
            seed = int(generator)
            generator = torch.Generator(device=self.device)
            generator.manual_seed(seed)
        if generator is not None and torch.device(generator.device).type != self.device.type:
            raise ValueError(
                f"the generator lives on {generator.device} but the sampler on {self.device}; "
                f"create it with torch.Generator(device={str(self.device)!r})"
            )
        users = _as_index_tensor(users, "users", self.device)
        if users.numel() == 0:
            return torch.empty((0, num_negatives), dtype=torch.int64, device=self.device)
        if int(users.min()) < 0:
            raise ValueError(f"user indices must be >= 0, found {int(users.min())}")
        known = users < self.num_rows
        full = torch.zeros_like(known)
        full[known] = self.num_positives_per_user[users[known]] >= self.num_items
        if bool(full.any()):
            user = int(users[full][0])
            raise ValueError(
                f"user {user} has interacted with all {self.num_items} items in training, "
                f"so no negative can be drawn for it; drop such users before sampling"
            )
        # key base user * num_items per draw; -1 marks a user with no training positive at all
        base = torch.where(known, users * self.num_items, -1)
        base = base.repeat_interleave(num_negatives)  # (n * num_negatives,)
        rejected = self._rejected if bool(known.all()) else self._rejected_some_unknown
        negatives = self._draw(base.numel(), generator)  # (n * num_negatives,)
        redo = torch.nonzero(rejected(base, negatives)).squeeze(1)
        while redo.numel() > 0:
            fresh = self._draw(redo.numel(), generator)
            negatives.index_copy_(0, redo, fresh)
            redo = redo[rejected(base.index_select(0, redo), fresh)]
        return negatives.view(-1, num_negatives)  # (n, num_negatives)

    def _rejected(self, base: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self._contains(base + items)

    def _rejected_some_unknown(self, base: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        has_row = base >= 0
        return self._contains(torch.where(has_row, base + items, 0)) & has_row



def _seed_from(generator: Optional[Union[torch.Generator, int]], index: int) -> Optional[int]:
    """A seed for the `index`-th sub-draw: derived from an int seed, or drawn from a generator."""
    if generator is None:
        return None
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return int(np.random.SeedSequence([int(generator), index]).generate_state(1, dtype=np.uint64)[0] >> 2)
    return int(torch.randint(2**62, (1,), generator=generator, device=generator.device))


class HardNegativeSampler:
    """Hard negatives: of ``pool_size`` draws from `base`, keep the one `model` scores highest.

    For each requested negative of user u, ``pool_size`` candidates j_1..j_pool are drawn from
    ``base`` (so none is a training positive of u, and they follow the base distribution), the
    current model scores them, and the candidate with the highest score s(u, j) is kept:

        j* = argmax_{j in pool} s(u, j).

    This is dynamic negative sampling (Zhang et al., SIGIR 2013): the negatives are the items the
    model currently ranks too high, so every gradient step works on a mistake, and the sampler
    follows the model as it trains. ``pool_size = 1`` gives the base sampler's draws back.
    Scoring costs ``pool_size`` forward passes (without gradients) per negative. The model is
    scored in eval mode (no dropout) and put back in its previous mode. Chapter 7.

    Hard negatives include *false* negatives: items the user would have chosen but has not yet
    (the held-out test item is one), which the model is then taught to rank down.
    """

    def __init__(self, base: NegativeSampler, model: torch.nn.Module, pool_size: int = 10, batch_size: int = 1 << 18):
        if not hasattr(base, "sample"):
            raise ValueError(f"base must be a sampler with a sample() method, got {type(base).__name__}")
        if not isinstance(model, torch.nn.Module):
            raise ValueError(f"model must be a torch.nn.Module scoring (users, items), got {type(model).__name__}")
        if int(pool_size) != pool_size or pool_size < 1:
            raise ValueError(f"pool_size must be a positive integer, got {pool_size}")
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        self.base = base
        self.model = model
        self.pool_size = int(pool_size)
        self.batch_size = int(batch_size)

    @property
    def device(self) -> torch.device:
        return getattr(self.base, "device", torch.device("cpu"))

    @torch.no_grad()
    def _scores(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """The model's scores of (users[r], items[r]) in chunks, on the sampler's device."""
        device = next(iter(self.model.parameters()), torch.empty(0)).device
        was_training = self.model.training
        self.model.eval()
        try:
            parts = [
                self.model(users[s : s + self.batch_size].to(device), items[s : s + self.batch_size].to(device)).float()
                for s in range(0, len(users), self.batch_size)
            ]
        finally:
            self.model.train(was_training)
        return torch.cat(parts).to(items.device)

    def sample(
        self,
        users,
        num_negatives: int,
        generator: Optional[Union[torch.Generator, int]] = None,
    ) -> torch.Tensor:
        """LongTensor (n, num_negatives): per draw, the best-scored of ``pool_size`` base draws."""
        if int(num_negatives) != num_negatives or num_negatives < 1:
            raise ValueError(f"num_negatives must be a positive integer, got {num_negatives}")
        num_negatives = int(num_negatives)
        pool = self.base.sample(users, num_negatives * self.pool_size, generator=generator)  # (n, m * pool)
        n = pool.shape[0]
        if n == 0 or self.pool_size == 1:
            return pool
        users = _as_index_tensor(users, "users", pool.device)
        pair_users = users.repeat_interleave(num_negatives * self.pool_size)  # (n * m * pool,)
        scores = self._scores(pair_users, pool.reshape(-1)).view(n, num_negatives, self.pool_size)
        best = scores.argmax(dim=2, keepdim=True)  # (n, m, 1)
        return pool.view(n, num_negatives, self.pool_size).gather(2, best).squeeze(2)  # (n, m)


class MixedNegativeSampler:
    """Each row's negatives drawn from several samplers in fixed shares.

    With ``shares = (0.5, 0.5)`` and 4 negatives per positive, two come from the first sampler
    and two from the second. The counts per sampler are ``shares * num_negatives`` rounded by the
    largest-remainder rule (they always add up to ``num_negatives``); see `counts`. The columns
    are in the order of the samplers. Chapter 7 mixes uniform and hard negatives.
    """

    def __init__(self, samplers: Sequence, shares: Sequence[float]):
        samplers, shares = list(samplers), [float(s) for s in shares]
        if not samplers:
            raise ValueError("MixedNegativeSampler needs at least one sampler")
        if len(samplers) != len(shares):
            raise ValueError(f"got {len(samplers)} samplers but {len(shares)} shares; give one share per sampler")
        if any(not np.isfinite(s) or s < 0 for s in shares) or sum(shares) <= 0:
            raise ValueError(f"shares must be non-negative numbers with a positive sum, got {shares}")
        for sampler in samplers:
            if not hasattr(sampler, "sample"):
                raise ValueError(f"every sampler needs a sample() method; {type(sampler).__name__} has none")
        total = sum(shares)
        self.samplers = samplers
        self.shares = [s / total for s in shares]

    def counts(self, num_negatives: int) -> list[int]:
        """Negatives per sampler for `num_negatives` per row (largest remainder, ties to the earlier sampler)."""
        if int(num_negatives) != num_negatives or num_negatives < 1:
            raise ValueError(f"num_negatives must be a positive integer, got {num_negatives}")
        exact = np.array(self.shares) * int(num_negatives)
        counts = np.floor(exact).astype(int)
        remainder = int(num_negatives) - counts.sum()
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:remainder]] += 1
        return counts.tolist()

    def sample(
        self,
        users,
        num_negatives: int,
        generator: Optional[Union[torch.Generator, int]] = None,
    ) -> torch.Tensor:
        """LongTensor (n, num_negatives): the samplers' draws side by side, in sampler order.

        ``generator``: an int seed (each sampler gets its own seed derived from it), a
        ``torch.Generator`` (a seed is drawn from it for each sampler) or None.
        """
        parts = [
            sampler.sample(users, count, generator=_seed_from(generator, index))
            for index, (sampler, count) in enumerate(zip(self.samplers, self.counts(num_negatives)))
            if count > 0
        ]
        device = parts[0].device
        return torch.cat([part.to(device) for part in parts], dim=1)  # (n, num_negatives)


def sampled_candidates(
    test_users,
    test_items,
    all_users,
    all_items,
    num_items: int,
    num_negatives: int = 99,
    seed: int = 0,
) -> np.ndarray:
    """Candidate lists for the sampled ranking protocol: int64 array (n, 1 + num_negatives).

    Row r holds ``num_negatives`` distinct items drawn uniformly without replacement among the
    items user ``test_users[r]`` never interacted with anywhere in (``all_users``, ``all_items``)
    (pass every interaction: train + valid + test; the test pair itself is also excluded), followed
    by the held-out positive ``test_items[r]`` in the LAST column. Metrics that break score ties by
    column order therefore rank the positive below the negatives it ties with: a model that scores
    everything equal gets no credit.

    Each row is a uniform random subset: rows are processed in chunks, each (row, item) gets a
    uniform random key, positives get +inf, and the ``num_negatives`` smallest keys are taken.
    """
    test_users = _as_index_array(test_users, "test_users")
    test_items = _as_index_array(test_items, "test_items")
    all_users = _as_index_array(all_users, "all_users")
    all_items = _as_index_array(all_items, "all_items")
    if int(num_items) != num_items or num_items < 1:
        raise ValueError(f"num_items must be a positive integer, got {num_items}")
    if int(num_negatives) != num_negatives or num_negatives < 1:
        raise ValueError(f"num_negatives must be a positive integer, got {num_negatives}")
    num_items, num_negatives = int(num_items), int(num_negatives)
    if len(test_users) != len(test_items):
        raise ValueError(f"test_users and test_items differ in length: {len(test_users)} vs {len(test_items)}")
    if len(all_users) != len(all_items):
        raise ValueError(f"all_users and all_items differ in length: {len(all_users)} vs {len(all_items)}")
    if len(test_users) == 0:
        raise ValueError("no test rows were given: test_users is empty")
    for name, array in (("test_items", test_items), ("all_items", all_items)):
        if len(array) and (array.min() < 0 or array.max() >= num_items):
            raise ValueError(f"{name} must lie in [0, num_items={num_items}), found [{array.min()}, {array.max()}]")
    for name, array in (("test_users", test_users), ("all_users", all_users)):
        if len(array) and array.min() < 0:
            raise ValueError(f"{name} must be >= 0, found {array.min()}")

    # positives of every user as sorted distinct keys, then CSR: item lists per user
    keys = np.unique(np.concatenate([all_users, test_users]) * num_items + np.concatenate([all_items, test_items]))
    key_users, key_items = keys // num_items, keys % num_items
    num_users = int(max(key_users.max(), test_users.max())) + 1
    indptr = np.searchsorted(key_users, np.arange(num_users + 1))
    positives_per_user = np.diff(indptr)
    available = num_items - positives_per_user[test_users]
    if (available < num_negatives).any():
        row = int(np.flatnonzero(available < num_negatives)[0])
        raise ValueError(
            f"user {test_users[row]}: only {available[row]} of {num_items} items have no interaction "
            f"with it, fewer than num_negatives={num_negatives}; lower num_negatives or drop that user"
        )

    rng = np.random.default_rng(seed)
    n = len(test_users)
    candidates = np.empty((n, num_negatives + 1), dtype=np.int64)
    candidates[:, -1] = test_items
    chunk = max(1, CANDIDATE_CHUNK_CELLS // num_items)  # rows per chunk
    for start in range(0, n, chunk):
        users = test_users[start : start + chunk]
        rows = len(users)
        keys_chunk = rng.random((rows, num_items), dtype=np.float32)  # (rows, num_items)
        # mask every positive of every row's user with +inf
        lengths = positives_per_user[users]
        row_of = np.repeat(np.arange(rows), lengths)
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        keys_chunk[row_of, key_items[indptr[users][row_of] + offsets]] = np.inf
        smallest = np.argpartition(keys_chunk, num_negatives - 1, axis=1)[:, :num_negatives]
        order = np.argsort(np.take_along_axis(keys_chunk, smallest, axis=1), axis=1)
        candidates[start : start + rows, :-1] = np.take_along_axis(smallest, order, axis=1)
    return candidates
