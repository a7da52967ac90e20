"""ItemKNN and UserKNN against slow per-pair loops and scikit-learn's cosine similarity; limits
(no neighbour, k larger than the candidates, k = 1) and bad input."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.metrics.pairwise import cosine_similarity as sklearn_cosine

from recsys_lesson.evaluate import rank_full, rating_metrics
from recsys_lesson.models.neighbors import ItemKNN, UserKNN, cosine_similarity, keep_top_k, neighbours_of

NUM_USERS, NUM_ITEMS = 12, 9


@pytest.fixture(scope="module")
def data():
    """Random distinct (user, item) pairs with real-valued ratings (no ties in similarities)."""
    rng = np.random.default_rng(0)
    cells = rng.choice(NUM_USERS * NUM_ITEMS, size=50, replace=False)
    users, items = cells // NUM_ITEMS, cells % NUM_ITEMS
    ratings = rng.uniform(1, 5, size=len(cells))
    return users, items, ratings


def slow_cosine(vectors: dict, a, b):
    """Cosine of two sparse vectors given as {index: value} dicts."""
    dot = sum(value * vectors[b].get(key, 0.0) for key, value in vectors[a].items())
    norm_a = math.sqrt(sum(v * v for v in vectors[a].values()))
    norm_b = math.sqrt(sum(v * v for v in vectors[b].values()))
    return dot / (norm_a * norm_b) if norm_a > 0 and norm_b > 0 else 0.0


def slow_prediction(users, items, ratings, user, item, k, user_based):
    """The KNNWithMeans formula, one pair at a time, from Python dicts."""
    if user_based:
        target, other, pairs = user, item, zip(users, items, ratings)
    else:
        target, other, pairs = item, user, zip(items, users, ratings)
    vectors: dict = {}
    for t, o, r in pairs:  # vectors[target side][other side] = rating
        vectors.setdefault(int(t), {})[int(o)] = float(r)
    global_mean = float(np.mean(ratings))
    means = {t: np.mean(list(v.values())) for t, v in vectors.items()}
    mean_target = means.get(target, global_mean)
    if target not in vectors:
        return mean_target
    candidates = [c for c in vectors if c != target and other in vectors[c]]
    sims = sorted(((slow_cosine(vectors, target, c), c) for c in candidates), reverse=True)
    sims = [(s, c) for s, c in sims if s > 0][:k]
    if not sims:
        return mean_target
    numerator = sum(s * (vectors[c][other] - means[c]) for s, c in sims)
    return mean_target + numerator / sum(s for s, _ in sims)


def slow_ranking_similarities(users, items, user_based):
    """Cosine of every pair of targets from Python dicts, and the 0/1 vectors: (sims, vectors)."""
    if user_based:
        target_side, other_side, size = users, items, NUM_USERS
    else:
        target_side, other_side, size = items, users, NUM_ITEMS
    vectors: dict = {t: {} for t in range(size)}
    for t, o in zip(target_side, other_side):
        vectors[int(t)][int(o)] = 1.0
    sims = [[slow_cosine(vectors, a, b) if a != b else 0.0 for b in range(size)] for a in range(size)]
    return sims, vectors


def test_cosine_matches_sklearn_dense_sparse_and_zero_rows():
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(7, 5)) * (rng.random((7, 5)) < 0.6)
    matrix[3] = 0.0  # a row of zeros
    expected = sklearn_cosine(matrix)
    for given in (matrix, torch.as_tensor(matrix), sp.csr_matrix(matrix), sp.coo_matrix(matrix)):
        result = cosine_similarity(given)
        assert result.shape == (7, 7) and result.dtype == torch.float32
        assert np.allclose(result.numpy(), expected, atol=1e-6)
    assert np.allclose(cosine_similarity(matrix)[3].numpy(), 0.0)


def test_cosine_worked_example():
    result = cosine_similarity(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]]))
    assert result[0, 1].item() == pytest.approx(1 / math.sqrt(2))
    assert result[0, 2].item() == pytest.approx(0.0)
    assert result[1, 1].item() == pytest.approx(1.0)


@pytest.mark.parametrize("model_class, user_based", [(ItemKNN, False), (UserKNN, True)])
@pytest.mark.parametrize("k", [1, 3, 40])
def test_rating_predictions_match_the_slow_loop(data, model_class, user_based, k):
    users, items, ratings = data
    model = model_class(NUM_USERS, NUM_ITEMS, users, items, ratings, k=k)
    all_users = np.repeat(np.arange(NUM_USERS), NUM_ITEMS)
    all_items = np.tile(np.arange(NUM_ITEMS), NUM_USERS)
    fast = model(torch.as_tensor(all_users), torch.as_tensor(all_items)).numpy()
    slow = [slow_prediction(users, items, ratings, u, i, k, user_based) for u, i in zip(all_users, all_items)]
    assert np.allclose(fast, slow, atol=1e-5)
    # score_all is the same prediction for every item
    assert np.allclose(model.score_all(torch.arange(NUM_USERS)).numpy().reshape(-1), fast, atol=1e-6)


@pytest.mark.parametrize("model_class, user_based", [(ItemKNN, False), (UserKNN, True)])
@pytest.mark.parametrize("k", [1, 2, 40])
def test_ranking_scores_match_the_slow_loop(data, model_class, user_based, k):
    """0/1 data has tied similarities, and a tie at the k-th place may be broken either way; so
    check that the kept neighbours are a valid top k, then the score over the kept neighbours."""
    users, items, _ = data
    model = model_class(NUM_USERS, NUM_ITEMS, users, items, k=k)
    sims, vectors = slow_ranking_similarities(users, items, user_based)
    kept = model.neighbours.numpy()
    for target, row in enumerate(sims):
        best = sorted((s for s in row if s > 0), reverse=True)[:k]
        chosen = np.flatnonzero(kept[target])
        assert np.allclose(sorted(kept[target][chosen], reverse=True), best, atol=1e-6)
        assert np.allclose(kept[target][chosen], [row[c] for c in chosen], atol=1e-6)
    scores = model.score_all(torch.arange(NUM_USERS)).numpy()  # (num_users, num_items)
    for user in range(NUM_USERS):
        for item in range(NUM_ITEMS):
            target, other = (user, item) if user_based else (item, user)
            slow = sum(sims[target][c] * vectors[c].get(other, 0.0) for c in np.flatnonzero(kept[target]))
            assert scores[user, item] == pytest.approx(slow, abs=1e-5)
    pairs_users = torch.as_tensor(np.repeat(np.arange(NUM_USERS), NUM_ITEMS))
    pairs_items = torch.as_tensor(np.tile(np.arange(NUM_ITEMS), NUM_USERS))
    assert np.allclose(model(pairs_users, pairs_items).numpy(), scores.reshape(-1), atol=1e-6)


def test_the_similarity_is_the_cosine_of_columns_or_rows(data):
    users, items, ratings = data
    matrix = np.zeros((NUM_USERS, NUM_ITEMS))
    matrix[users, items] = ratings
    item_sim, user_sim = sklearn_cosine(matrix.T), sklearn_cosine(matrix)
    np.fill_diagonal(item_sim, 0.0)
    np.fill_diagonal(user_sim, 0.0)
    assert np.allclose(ItemKNN(NUM_USERS, NUM_ITEMS, users, items, ratings).similarity.numpy(), item_sim, atol=1e-6)
    assert np.allclose(UserKNN(NUM_USERS, NUM_ITEMS, users, items, ratings).similarity.numpy(), user_sim, atol=1e-6)


def test_worked_example_item_based():
    """Items 0 and 1 were rated by the same users; user 2 rated only item 0."""
    users = [0, 0, 1, 1, 2]
    items = [0, 1, 0, 1, 0]
    ratings = [5.0, 4.0, 3.0, 2.0, 4.0]
    model = ItemKNN(3, 3, users, items, ratings, k=5)
    # μ_0 = 4, μ_1 = 3; s(1, 0) > 0, so r̂(2, 1) = μ_1 + (r_20 − μ_0) = 3 + 0 = 3
    assert model(torch.tensor([2]), torch.tensor([1])).item() == pytest.approx(3.0)
    # item 2 has no rating: global mean 3.6, and no neighbour of it is similar
    assert model(torch.tensor([0]), torch.tensor([2])).item() == pytest.approx(3.6)
    # ranking mode: user 2 interacted with item 0, the only neighbour of item 1
    ranking = ItemKNN(3, 3, users, items, k=5)
    similarity = 2 / (math.sqrt(3) * math.sqrt(2))  # columns (1, 1, 1) and (1, 1, 0)
    assert ranking(torch.tensor([2]), torch.tensor([1])).item() == pytest.approx(similarity, rel=1e-6)
    assert ranking(torch.tensor([2]), torch.tensor([2])).item() == 0.0


def test_no_rated_neighbour_falls_back_to_the_mean():
    # user 1 rated only item 2, which nobody else rated: no item similar to item 0 among its items
    model = ItemKNN(2, 3, [0, 0, 1], [0, 1, 2], [5.0, 1.0, 2.0], k=3)
    assert model(torch.tensor([1]), torch.tensor([0])).item() == pytest.approx(5.0)  # μ_0
    user_model = UserKNN(2, 3, [0, 0, 1], [0, 1, 2], [5.0, 1.0, 2.0], k=3)
    assert user_model(torch.tensor([1]), torch.tensor([0])).item() == pytest.approx(2.0)  # μ_1


def test_k_at_least_the_candidates_equals_using_all_of_them(data):
    users, items, ratings = data
    big = ItemKNN(NUM_USERS, NUM_ITEMS, users, items, ratings, k=NUM_ITEMS - 1)
    huge = ItemKNN(NUM_USERS, NUM_ITEMS, users, items, ratings, k=1000)
    grid = torch.arange(NUM_USERS)
    assert torch.allclose(big.score_all(grid), huge.score_all(grid))


def test_keep_top_k():
    similarity = torch.tensor([[1.0, 0.5, 0.2, -0.3], [0.5, 1.0, 0.9, 0.1], [0.2, 0.9, 1.0, 0.0], [-0.3, 0.1, 0.0, 1.0]])
    pruned = keep_top_k(similarity, 2)
    expected = torch.tensor([[0.0, 0.5, 0.2, 0.0], [0.5, 0.0, 0.9, 0.0], [0.2, 0.9, 0.0, 0.0], [0.0, 0.1, 0.0, 0.0]])
    assert torch.equal(pruned, expected)  # no diagonal, no negative value, at most 2 per row


def test_neighbours_of(data):
    users, items, ratings = data
    model = ItemKNN(NUM_USERS, NUM_ITEMS, users, items, ratings)
    order, sims = neighbours_of(model, 4, k=3)
    row = model.similarity[4].numpy().copy()
    row[4] = -np.inf
    assert list(order) == list(np.argsort(-row)[:3])
    assert np.all(np.diff(sims) <= 0) and 4 not in order
    with pytest.raises(ValueError, match=r"item index 9 is outside \[0, 9\)"):
        neighbours_of(model, 9)


def test_works_with_the_evaluation_protocols(data):
    users, items, ratings = data
    rating_model = UserKNN(NUM_USERS, NUM_ITEMS, users, items, ratings, k=5)
    result = rating_metrics(rating_model, users[:10], items[:10], ratings[:10])
    assert set(result) == {"rmse", "mae"} and result["rmse"] >= 0
    ranking_model = ItemKNN(NUM_USERS, NUM_ITEMS, users, items, k=5)
    held_out = rank_full(ranking_model, users[:5], items[:5], k=3)
    assert 0 <= held_out["hr@3"] <= 1


def test_ranking_mode_accepts_repeated_interactions():
    once = ItemKNN(2, 3, [0, 1, 1], [0, 0, 1])
    twice = ItemKNN(2, 3, [0, 1, 1, 1], [0, 0, 1, 1])
    assert torch.equal(once.similarity, twice.similarity)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"users": [0, 1], "items": [0]}, "differ in length"),
        ({"users": [], "items": []}, "at least one training interaction"),
        ({"users": [0, 5], "items": [0, 1]}, r"user index 5 is outside \[0, 3\)"),
        ({"users": [0, 1], "items": [0, -1]}, r"item index -1 is outside"),
        ({"users": [0.5, 1], "items": [0, 1]}, "integer indices"),
        ({"users": [0, 0], "items": [1, 1], "ratings": [3.0, 4.0]}, "more than once"),
        ({"users": [0, 1], "items": [0, 1], "ratings": [3.0]}, "ratings and users differ"),
        ({"users": [0, 1], "items": [0, 1], "ratings": [3.0, np.nan]}, "NaN"),
        ({"users": [0, 1], "items": [0, 1], "k": 0}, "positive integer"),
        ({"users": [0, 1], "items": [0, 1], "k": 2.5}, "positive integer"),
        ({"users": [0, 1], "items": [0, 1], "num_users": 0}, "num_users"),
    ],
)
@pytest.mark.parametrize("model_class", [ItemKNN, UserKNN])
def test_bad_input(model_class, kwargs, message):
    arguments = {"num_users": 3, "num_items": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        model_class(**arguments)


def test_unknown_ids_at_prediction_time(data):
    users, items, ratings = data
    model = ItemKNN(NUM_USERS, NUM_ITEMS, users, items, ratings)
    with pytest.raises(ValueError, match=r"item index 9 is outside \[0, 9\)"):
        model(torch.tensor([0]), torch.tensor([9]))
    with pytest.raises(ValueError, match=r"user index 12 is outside"):
        model.score_all(torch.tensor([12]))
    with pytest.raises(ValueError, match="differ in length"):
        model(torch.tensor([0, 1]), torch.tensor([0]))


def test_cosine_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        cosine_similarity(np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        cosine_similarity(np.array([[1.0, np.inf]]))
    with pytest.raises(ValueError, match="numbers"):
        cosine_similarity(np.array([["a", "b"]]))
