"""Hard and mixed negative samplers, and the step-wise warm-up schedule of the training loop."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from recsys_lesson.data.sampling import HardNegativeSampler, MixedNegativeSampler, NegativeSampler
from recsys_lesson.models.mf import MF
from recsys_lesson.train import ImplicitData, fit, warmup_cosine


class ItemScore(nn.Module):
    """A fixed model: the score of (u, i) is i, so higher item indices are 'harder'."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.calls = 0

    def forward(self, users, items):
        self.calls += 1
        assert not self.training, "the sampler must score in eval mode"
        return items.float() + 0 * self.dummy


def small_problem(seed=0, num_users=30, num_items=50, size=300):
    rng = np.random.default_rng(seed)
    return rng.integers(0, num_users, size), rng.integers(0, num_items, size), num_items


def test_hard_sampler_keeps_the_best_scored_of_its_pool_draws():
    users, items, num_items = small_problem()
    base = NegativeSampler(users, items, num_items)
    model = ItemScore().train()
    hard = HardNegativeSampler(base, model, pool_size=5)
    query = np.arange(30)
    drawn = hard.sample(query, 3, generator=11)
    pool = base.sample(query, 3 * 5, generator=11).view(30, 3, 5)  # the same draws: same seed, same sizes
    assert torch.equal(drawn, pool.max(dim=2).values)  # scores are the item indices, so argmax = max
    assert model.training, "the sampler must put the model back in training mode"
    assert not base.is_positive(torch.as_tensor(query).repeat_interleave(3), drawn.reshape(-1)).any()


def test_hard_negatives_are_harder_and_pool_one_is_the_base():
    users, items, num_items = small_problem(1)
    base = NegativeSampler(users, items, num_items)
    query = np.repeat(np.arange(30), 20)
    easy = base.sample(query, 4, generator=0)
    hard = HardNegativeSampler(base, ItemScore(), pool_size=8).sample(query, 4, generator=0)
    assert hard.float().mean() > easy.float().mean() + 10  # the fixed model prefers high indices
    same = HardNegativeSampler(base, ItemScore(), pool_size=1).sample(query, 4, generator=0)
    assert torch.equal(same, easy)


def test_hard_sampler_scores_in_chunks_with_the_same_result():
    users, items, num_items = small_problem(2)
    base = NegativeSampler(users, items, num_items)
    whole = HardNegativeSampler(base, ItemScore(), pool_size=4).sample(np.arange(30), 2, generator=3)
    model = ItemScore()
    chunked = HardNegativeSampler(base, model, pool_size=4, batch_size=7).sample(np.arange(30), 2, generator=3)
    assert torch.equal(whole, chunked) and model.calls == math.ceil(30 * 2 * 4 / 7)


def test_mixed_sampler_counts_and_columns():
    users, items, num_items = small_problem(3)
    base = NegativeSampler(users, items, num_items)
    hard = HardNegativeSampler(base, ItemScore(), pool_size=6)
    mixed = MixedNegativeSampler([base, hard], [1, 1])
    assert mixed.counts(4) == [2, 2] and mixed.counts(5) == [3, 2] and mixed.counts(1) == [1, 0]
    assert MixedNegativeSampler([base, hard, base], [0.5, 0.3, 0.2]).counts(10) == [5, 3, 2]
    assert sum(MixedNegativeSampler([base, hard, base], [1, 1, 1]).counts(7)) == 7
    query = np.repeat(np.arange(30), 10)
    drawn = mixed.sample(query, 4, generator=5)
    assert drawn.shape == (300, 4)
    assert drawn[:, 2:].float().mean() > drawn[:, :2].float().mean() + 10  # hard columns last
    assert torch.equal(drawn, mixed.sample(query, 4, generator=5))
    assert not torch.equal(drawn, mixed.sample(query, 4, generator=6))
    torch_generator = mixed.sample(query, 4, generator=torch.Generator().manual_seed(0))
    assert torch_generator.shape == (300, 4)
    assert not base.is_positive(torch.as_tensor(query).repeat_interleave(4), drawn.reshape(-1)).any()


def test_hard_and_mixed_samplers_train_a_model_through_implicit_data():
    users, items, num_items = small_problem(4)
    base = NegativeSampler(users, items, num_items)
    model = MF(30, num_items, dim=4, init_std=0.1)
    sampler = MixedNegativeSampler([base, HardNegativeSampler(base, model, pool_size=4)], [0.5, 0.5])
    history = fit(model, ImplicitData(users, items, sampler, num_negatives=2), epochs=5, batch_size=64, lr=0.05,
                  progress=False, device="cpu")
    assert history.train_loss[-1] < history.train_loss[0]


def test_sampler_errors():
    users, items, num_items = small_problem()
    base = NegativeSampler(users, items, num_items)
    with pytest.raises(ValueError, match="pool_size"):
        HardNegativeSampler(base, ItemScore(), pool_size=0)
    with pytest.raises(ValueError, match="nn.Module"):
        HardNegativeSampler(base, lambda users, items: items, pool_size=2)
    with pytest.raises(ValueError, match="sample"):
        HardNegativeSampler(object(), ItemScore())
    with pytest.raises(ValueError, match="num_negatives"):
        HardNegativeSampler(base, ItemScore()).sample([0, 1], 0)
    with pytest.raises(ValueError, match="one share per sampler"):
        MixedNegativeSampler([base, base], [1.0])
    with pytest.raises(ValueError, match="non-negative"):
        MixedNegativeSampler([base], [-1.0])
    with pytest.raises(ValueError, match="at least one sampler"):
        MixedNegativeSampler([], [])


def test_warmup_cosine_factor_follows_the_formula():
    factor = warmup_cosine(4, 12, floor=0.1)
    assert [factor(t) for t in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert factor(4) == pytest.approx(1.0)
    assert factor(8) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert factor(12) == pytest.approx(0.1) and factor(100) == pytest.approx(0.1)
    assert warmup_cosine(0, 10)(0) == pytest.approx(1.0)
    for bad in [dict(warmup_steps=-1, total_steps=5), dict(warmup_steps=6, total_steps=5),
                dict(warmup_steps=1, total_steps=0), dict(warmup_steps=1, total_steps=5, floor=2.0)]:
        with pytest.raises(ValueError):
            warmup_cosine(**bad)


def test_fit_steps_a_scheduler_per_batch_when_asked():
    users, items, num_items = small_problem(5)
    data = {"users": torch.as_tensor(users), "items": torch.as_tensor(items), "labels": torch.ones(len(users))}
    seen = {}

    def scheduler(optimizer):
        seen["optimizer"] = optimizer
        return torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(5, 20))

    model = MF(30, num_items, dim=4)
    fit(model, data, epochs=2, batch_size=30, lr=0.1, scheduler=scheduler, scheduler_interval="step", progress=False,
        device="cpu")  # 10 batches per epoch: 20 steps, the end of the cosine
    assert seen["optimizer"].param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    model = MF(30, num_items, dim=4)
    fit(model, data, epochs=2, batch_size=30, lr=0.1, scheduler=scheduler, progress=False, device="cpu")  # per epoch
    assert seen["optimizer"].param_groups[0]["lr"] == pytest.approx(0.1 * 0.6)  # warm-up factor after 2 steps: 3/5
    with pytest.raises(ValueError, match="scheduler_interval"):
        fit(model, data, epochs=1, scheduler=scheduler, scheduler_interval="batch", progress=False, device="cpu")
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        fit(model, data, epochs=1, scheduler=lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt),
            scheduler_interval="step", progress=False, device="cpu")
