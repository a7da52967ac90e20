"""Tests for recsys_lesson.data.sampling against slow Python-set references and chi-squared tests."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import chisquare

from recsys_lesson.data import sampling
from recsys_lesson.data.sampling import NegativeSampler, alias_table, sampled_candidates

ML100K = Path("/work/shared/data/ml-100k/u.data")
NUM_ITEMS_100K = 1682


@pytest.fixture(scope="module")
def ml100k():
    if not ML100K.exists():
        pytest.skip("ML-100K is not on this machine")
    frame = pd.read_csv(ML100K, sep="\t", names=["user_id", "item_id", "rating", "timestamp"])
    return frame["user_id"].to_numpy(np.int64) - 1, frame["item_id"].to_numpy(np.int64) - 1


@pytest.fixture(params=["dense", "keys"])
def lookup(request, monkeypatch):
    """Run a test with the dense table and again with the sorted keys + searchsorted path."""
    if request.param == "keys":
        monkeypatch.setattr(sampling, "DENSE_MAX_CELLS", 0)
    return request.param


def positive_sets(users, items) -> dict:
    positives: dict = {}
    for user, item in zip(users.tolist(), items.tolist()):
        positives.setdefault(user, set()).add(item)
    return positives


# ----- NegativeSampler ---------------------------------------------------------------------------


def test_keys_are_sorted_distinct(ml100k):
    users, items = ml100k
    sampler = NegativeSampler(np.r_[users, users[:10]], np.r_[items, items[:10]], NUM_ITEMS_100K)
    keys = sampler.keys.numpy()
    assert keys.dtype == np.int64 and (np.diff(keys) > 0).all()
    assert np.array_equal(keys, np.unique(users * NUM_ITEMS_100K + items))


def test_is_positive_matches_set_reference(ml100k, lookup):
    users, items = ml100k
    sampler = NegativeSampler(users[:50_000], items[:50_000], NUM_ITEMS_100K)
    assert (sampler.dense is None) == (lookup == "keys")
    reference = positive_sets(users[:50_000], items[:50_000])
    rng = np.random.default_rng(0)
    query_users = np.r_[users[:1000], rng.integers(0, 1000, 3000)]  # includes users with no positives
    query_items = np.r_[items[:1000], rng.integers(0, NUM_ITEMS_100K, 3000)]
    found = sampler.is_positive(torch.from_numpy(query_users), torch.from_numpy(query_items))
    expected = [i in reference.get(u, set()) for u, i in zip(query_users.tolist(), query_items.tolist())]
    assert found.dtype == torch.bool
    assert found.tolist() == expected
    assert found[:1000].all()
    # shapes are kept; out-of-range indices are simply not positives
    grid = sampler.is_positive(torch.tensor([[0, 0], [10_000, -1]]), torch.tensor([[items[0], 5], [1, 1]]))
    assert grid.shape == (2, 2) and not grid[1].any()


@pytest.mark.parametrize("distribution", ["uniform", "popularity"])
def test_sample_has_no_positive(ml100k, lookup, distribution):
    users, items = ml100k
    sampler = NegativeSampler(users, items, NUM_ITEMS_100K, distribution=distribution, alpha=0.75)
    batch = torch.from_numpy(users[:20_000])
    negatives = sampler.sample(batch, 4, generator=torch.Generator().manual_seed(0))
    assert negatives.shape == (20_000, 4) and negatives.dtype == torch.int64
    assert negatives.min() >= 0 and negatives.max() < NUM_ITEMS_100K
    reference = positive_sets(users, items)
    for user, row in zip(batch.tolist(), negatives.tolist()):
        assert not reference[user] & set(row)


def test_sample_heavy_user_and_unknown_user():
    # user 0 has every item but one; user 5 has no training positive at all
    num_items = 50
    users = np.zeros(num_items - 1, dtype=np.int64)
    items = np.arange(1, num_items)
    sampler = NegativeSampler(users, items, num_items)
    negatives = sampler.sample(torch.tensor([0, 0, 5]), 100, generator=torch.Generator().manual_seed(1))
    assert (negatives[:2] == 0).all()
    assert len(set(negatives[2].tolist())) > 30  # anything goes for a user without positives


def test_uniform_sampler_is_uniform_over_allowed_items(ml100k, lookup):
    users, items = ml100k
    sampler = NegativeSampler(users, items, NUM_ITEMS_100K)
    user = int(users[0])
    allowed = np.setdiff1d(np.arange(NUM_ITEMS_100K), items[users == user])
    draws = sampler.sample(torch.full((400,), user), 500, generator=torch.Generator().manual_seed(2))
    counts = np.bincount(draws.reshape(-1).numpy(), minlength=NUM_ITEMS_100K)
    assert counts[np.setdiff1d(np.arange(NUM_ITEMS_100K), allowed)].sum() == 0
    assert chisquare(counts[allowed]).pvalue > 1e-3


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_popularity_sampler_matches_expected_frequencies(ml100k, alpha):
    users, items = ml100k
    sampler = NegativeSampler(users, items, NUM_ITEMS_100K, distribution="popularity", alpha=alpha)
    user = int(users[0])
    allowed = np.setdiff1d(np.arange(NUM_ITEMS_100K), items[users == user])
    weights = np.maximum(np.bincount(items, minlength=NUM_ITEMS_100K), 0.5) ** alpha
    expected = weights[allowed] / weights[allowed].sum()
    draws = sampler.sample(torch.full((1000,), user), 500, generator=torch.Generator().manual_seed(3))
    counts = np.bincount(draws.reshape(-1).numpy(), minlength=NUM_ITEMS_100K)
    assert counts[np.setdiff1d(np.arange(NUM_ITEMS_100K), allowed)].sum() == 0
    # pool the rare items so every expected cell count is at least 5
    total = counts.sum()
    order = np.argsort(expected)
    rare = np.cumsum(expected[order]) * total < 50
    observed = np.r_[counts[allowed][order][~rare], counts[allowed][order][rare].sum()]
    wanted = np.r_[expected[order][~rare], expected[order][rare].sum()] * total
    assert chisquare(observed, wanted).pvalue > 1e-3
    # and the popular items really are drawn more often than under uniform sampling
    top = allowed[np.argmax(expected)]
    assert counts[top] > 2 * total / len(allowed)


def test_popularity_floor_for_unseen_items_and_alpha_zero():
    users = np.array([0, 1, 1, 2, 2, 2])
    items = np.array([0, 0, 1, 0, 1, 2])  # counts: item0 3, item1 2, item2 1, item3 0
    sampler = NegativeSampler(users, items, 4, distribution="popularity", alpha=1.0)
    assert torch.allclose(sampler.probs, torch.tensor([3, 2, 1, 0.5]) / 6.5)
    draws = sampler.sample(torch.full((200_000,), 9), 1, generator=torch.Generator().manual_seed(0))
    frequencies = np.bincount(draws.reshape(-1).numpy(), minlength=4) / 200_000
    assert np.allclose(frequencies, [3 / 6.5, 2 / 6.5, 1 / 6.5, 0.5 / 6.5], atol=0.005)
    flat = NegativeSampler(users, items, 4, distribution="popularity", alpha=0.0)
    assert torch.allclose(flat.probs, torch.full((4,), 0.25))


@pytest.mark.parametrize("probs", [[0.5, 0.25, 0.25], [0.1, 0.0, 0.6, 0.3], [1.0], np.arange(1, 40) ** 1.5])
def test_alias_table_reproduces_probabilities(probs):
    probs = np.asarray(probs, dtype=np.float64) / np.sum(probs)
    threshold, alias = alias_table(probs)
    num_items = len(probs)
    rebuilt = threshold.copy()  # column c gives itself with threshold[c] ...
    np.add.at(rebuilt, alias, 1.0 - threshold)  # ... and alias[c] with the rest
    assert np.allclose(rebuilt / num_items, probs, atol=1e-12)


def test_sample_reproducible(ml100k, lookup):
    users, items = ml100k
    sampler = NegativeSampler(users, items, NUM_ITEMS_100K, distribution="popularity")
    batch = torch.from_numpy(users[:5000])
    a = sampler.sample(batch, 4, generator=torch.Generator().manual_seed(11))
    b = sampler.sample(batch, 4, generator=torch.Generator().manual_seed(11))
    c = sampler.sample(batch, 4, generator=torch.Generator().manual_seed(12))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(sampler.sample(batch, 4, generator=11), a)  # an int seed works too
    assert sampler.sample(batch[:0], 4).shape == (0, 4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_sample_on_cuda(ml100k):
    users, items = ml100k
    sampler = NegativeSampler(users, items, NUM_ITEMS_100K, distribution="popularity", device="cuda")
    batch = torch.from_numpy(users).cuda()
    negatives = sampler.sample(batch, 4, generator=torch.Generator(device="cuda").manual_seed(0))
    assert negatives.device.type == "cuda"
    assert not sampler.is_positive(batch[:, None].expand(-1, 4), negatives).any()
    with pytest.raises(ValueError, match="generator lives on cpu"):
        sampler.sample(batch, 4, generator=torch.Generator())


def test_sampler_errors():
    users, items = np.array([0, 0, 1]), np.array([0, 1, 1])
    with pytest.raises(ValueError, match="user 0 has interacted with all 2 items"):
        NegativeSampler(users, items, 2).sample(torch.tensor([1, 0]), 3)
    with pytest.raises(ValueError, match="distribution"):
        NegativeSampler(users, items, 2, distribution="zipf")
    with pytest.raises(ValueError, match="alpha"):
        NegativeSampler(users, items, 2, distribution="popularity", alpha=-1)
    with pytest.raises(ValueError, match="num_items"):
        NegativeSampler(users, items, 0)
    with pytest.raises(ValueError, match="differ in length"):
        NegativeSampler(users, items[:2], 2)
    with pytest.raises(ValueError, match=r"item indices must lie in \[0, num_items=2\)"):
        NegativeSampler(users, np.array([0, 1, 2]), 2)
    with pytest.raises(ValueError, match="user indices must be >= 0"):
        NegativeSampler(np.array([-1, 0, 1]), items, 2)
    with pytest.raises(ValueError, match="at least one training positive"):
        NegativeSampler(np.array([], dtype=np.int64), np.array([], dtype=np.int64), 2)
    with pytest.raises(ValueError, match="integer indices"):
        NegativeSampler(np.array([0.0, 1.0, 1.0]), items, 2)
    sampler = NegativeSampler(users, items, 3)
    with pytest.raises(ValueError, match="num_negatives"):
        sampler.sample(torch.tensor([0]), 0)
    with pytest.raises(ValueError, match="user indices must be >= 0"):
        sampler.sample(torch.tensor([-2]), 1)
    with pytest.raises(ValueError, match="differ in shape"):
        sampler.is_positive(torch.tensor([0, 1]), torch.tensor([0]))


# ----- sampled_candidates ------------------------------------------------------------------------


def test_sampled_candidates_against_set_reference(ml100k):
    users, items = ml100k
    test_rows = np.random.default_rng(0).choice(len(users), 2000, replace=False)
    candidates = sampled_candidates(users[test_rows], items[test_rows], users, items, NUM_ITEMS_100K, 99, seed=0)
    assert candidates.shape == (2000, 100) and candidates.dtype == np.int64
    assert np.array_equal(candidates[:, -1], items[test_rows])  # the positive is last
    reference = positive_sets(users, items)
    for user, row in zip(users[test_rows].tolist(), candidates.tolist()):
        negatives = row[:-1]
        assert len(set(negatives)) == 99
        assert not set(negatives) & reference[user]


def test_sampled_candidates_exclude_the_test_pair_even_if_not_passed():
    all_users, all_items = np.array([0, 0]), np.array([0, 1])
    candidates = sampled_candidates(np.array([0, 0]), np.array([2, 3]), all_users, all_items, 6, 2, seed=0)
    # user 0's positives are {0, 1} and both test items {2, 3}: only 4 and 5 are negatives
    assert [sorted(row[:-1].tolist()) for row in candidates] == [[4, 5], [4, 5]]
    tight = sampled_candidates(np.array([0]), np.array([2]), all_users, all_items, 6, 3, seed=0)
    assert sorted(tight[0, :-1].tolist()) == [3, 4, 5]


def test_sampled_candidates_uniform_and_reproducible(ml100k):
    users, items = ml100k
    user = int(users[0])
    rows = 1500
    test_users, test_items = np.full(rows, user), np.full(rows, items[0])
    candidates = sampled_candidates(test_users, test_items, users, items, NUM_ITEMS_100K, 99, seed=5)
    allowed = np.setdiff1d(np.arange(NUM_ITEMS_100K), items[users == user])
    counts = np.bincount(candidates[:, :-1].reshape(-1), minlength=NUM_ITEMS_100K)
    assert counts[np.setdiff1d(np.arange(NUM_ITEMS_100K), allowed)].sum() == 0
    assert chisquare(counts[allowed]).pvalue > 1e-3
    again = sampled_candidates(test_users, test_items, users, items, NUM_ITEMS_100K, 99, seed=5)
    other = sampled_candidates(test_users, test_items, users, items, NUM_ITEMS_100K, 99, seed=6)
    assert np.array_equal(candidates, again) and not np.array_equal(candidates, other)
    assert len({tuple(row) for row in candidates.tolist()}) == rows  # rows are drawn independently


def test_sampled_candidates_chunking_does_not_change_the_result(ml100k, monkeypatch):
    users, items = ml100k
    test_rows = np.arange(0, len(users), 97)
    whole = sampled_candidates(users[test_rows], items[test_rows], users, items, NUM_ITEMS_100K, 20, seed=1)
    monkeypatch.setattr(sampling, "CANDIDATE_CHUNK_CELLS", 7 * NUM_ITEMS_100K)  # 7 rows per chunk
    chunked = sampled_candidates(users[test_rows], items[test_rows], users, items, NUM_ITEMS_100K, 20, seed=1)
    assert np.array_equal(whole, chunked)


def test_sampled_candidates_errors():
    all_users, all_items = np.array([0, 0, 0, 1]), np.array([0, 1, 2, 0])
    with pytest.raises(ValueError, match="user 0: only 1 of 5 items have no interaction with it, fewer than num_negatives=3"):
        sampled_candidates(np.array([1, 0]), np.array([1, 3]), all_users, all_items, 5, 3)
    with pytest.raises(ValueError, match="test_users and test_items differ"):
        sampled_candidates(np.array([0, 1]), np.array([3]), all_users, all_items, 5, 1)
    with pytest.raises(ValueError, match="all_users and all_items differ"):
        sampled_candidates(np.array([0]), np.array([3]), all_users, all_items[:2], 5, 1)
    with pytest.raises(ValueError, match="empty"):
        sampled_candidates(np.array([], dtype=np.int64), np.array([], dtype=np.int64), all_users, all_items, 5, 1)
    with pytest.raises(ValueError, match=r"test_items must lie in \[0, num_items=5\)"):
        sampled_candidates(np.array([0]), np.array([5]), all_users, all_items, 5, 1)
    with pytest.raises(ValueError, match="all_users must be >= 0"):
        sampled_candidates(np.array([0]), np.array([3]), -all_users - 1, all_items, 5, 1)
    with pytest.raises(ValueError, match="num_negatives"):
        sampled_candidates(np.array([0]), np.array([3]), all_users, all_items, 5, 0)
    with pytest.raises(ValueError, match="num_items"):
        sampled_candidates(np.array([0]), np.array([3]), all_users, all_items, 0, 1)
    with pytest.raises(ValueError, match="integer indices"):
        sampled_candidates(np.array([0.5]), np.array([3]), all_users, all_items, 5, 1)
