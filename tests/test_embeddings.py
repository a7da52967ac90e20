"""Embedding-table tools against slow, obvious references: cosine neighbours against a loop and
scikit-learn, cold-start vectors on worked examples, and the memory arithmetic against the
buffers PyTorch's Adam really allocates."""

import numpy as np
import pytest
import torch
from sklearn.metrics.pairwise import cosine_similarity as sk_cosine

from recsys_lesson.embeddings import cosine_similarity, init_from_features, memory_bytes, nearest_neighbours


def slow_neighbours(vectors, query, k, allowed=None):
    """Loop over every row, compute the cosine by hand, sort by (-similarity, row)."""
    scored = []
    for row in range(len(vectors)):
        if row == query or (allowed is not None and not allowed[row]):
            continue
        a, b = vectors[query], vectors[row]
        denominator = np.linalg.norm(a) * np.linalg.norm(b)
        similarity = float(a @ b / denominator) if denominator > 0 else 0.0
        scored.append((-similarity, row))
    scored.sort()
    return [row for _, row in scored[:k]], [-s for s, _ in scored[:k]]


# --- cosine similarity and nearest neighbours ---------------------------------------------------------


def test_cosine_similarity_matches_scikit_learn():
    vectors = np.random.default_rng(0).normal(size=(30, 5))
    np.testing.assert_allclose(cosine_similarity(vectors), sk_cosine(vectors), atol=1e-12)


def test_cosine_similarity_of_a_zero_row_is_zero_not_nan():
    vectors = np.array([[1.0, 0.0], [0.0, 0.0], [2.0, 0.0]])
    similarity = cosine_similarity(vectors)
    assert similarity[1].tolist() == [0.0, 0.0, 0.0]
    assert similarity[0, 2] == pytest.approx(1.0)


def test_nearest_neighbours_match_a_slow_loop():
    vectors = np.random.default_rng(1).normal(size=(40, 6))
    queries = np.array([0, 7, 39])
    indices, similarities = nearest_neighbours(vectors, queries, k=5)
    assert indices.shape == similarities.shape == (3, 5)
    for q, row_indices, row_sims in zip(queries, indices, similarities):
        expected_rows, expected_sims = slow_neighbours(vectors, q, 5)
        assert row_indices.tolist() == expected_rows
        np.testing.assert_allclose(row_sims, expected_sims, atol=1e-12)


def test_nearest_neighbours_ignore_the_norm_and_exclude_the_query():
    # Row 1 points the same way as row 0 but is ten times longer: cosine 1, the nearest neighbour.
    vectors = np.array([[1.0, 0.1], [10.0, 1.0], [0.0, 1.0], [-1.0, 0.0]])
    indices, similarities = nearest_neighbours(vectors, [0], k=3)
    assert indices[0].tolist() == [1, 2, 3]
    assert similarities[0, 0] == pytest.approx(1.0)
    assert 0 not in indices[0]


def test_nearest_neighbours_accept_tensors_and_break_ties_by_row():
    vectors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 2.0], [0.0, 3.0]])
    indices, similarities = nearest_neighbours(vectors, torch.tensor([0]), k=3)
    assert indices[0].tolist() == [1, 2, 3]  # all three have cosine 0 with row 0
    np.testing.assert_allclose(similarities[0], 0.0, atol=1e-7)


def test_nearest_neighbours_only_return_candidates():
    vectors = np.random.default_rng(2).normal(size=(25, 4))
    allowed = np.zeros(25, dtype=bool)
    allowed[::3] = True
    indices, _ = nearest_neighbours(vectors, [0, 5], k=4, candidates=allowed)
    assert allowed[indices].all()
    assert indices[1].tolist() == slow_neighbours(vectors, 5, 4, allowed)[0]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda v: nearest_neighbours(v, [0], k=0), "positive integer"),
        (lambda v: nearest_neighbours(v, [0], k=5), "only 4 candidate rows"),
        (lambda v: nearest_neighbours(v, [5], k=1), "outside"),
        (lambda v: nearest_neighbours(v, [-1], k=1), "outside"),
        (lambda v: nearest_neighbours(v, [0.5], k=1), "integer row indices"),
        (lambda v: nearest_neighbours(v, [[0]], k=1), "1-D"),
        (lambda v: nearest_neighbours(v, [0], k=1, candidates=np.ones(3, dtype=bool)), "bool mask"),
        (lambda v: nearest_neighbours(v, [0], k=1, candidates=np.ones(5)), "bool mask"),
        (lambda v: nearest_neighbours(v[0], [0], k=1), "2-D"),
        (lambda v: nearest_neighbours(np.full((5, 2), np.nan), [0], k=1), "NaN"),
    ],
)
def test_nearest_neighbours_reject_bad_input(call, message):
    vectors = np.random.default_rng(3).normal(size=(5, 2))
    with pytest.raises(ValueError, match=message):
        call(vectors)


# --- cold start: vectors from features --------------------------------------------------------------


def test_init_from_features_takes_the_mean_of_rows_with_the_same_features():
    features = np.array([[1, 0], [1, 0], [0, 1], [1, 0], [0, 1]], dtype=np.float32)
    vectors = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [0.0, 0.0], [0.0, 0.0]])
    known = np.array([True, True, True, False, False])
    out = init_from_features(vectors, features, known)
    np.testing.assert_allclose(out[3], [2.0, 3.0])  # mean of rows 0 and 1
    np.testing.assert_allclose(out[4], [5.0, 6.0])  # row 2
    np.testing.assert_array_equal(out[:3], vectors[:3])  # known rows unchanged
    assert vectors[3].tolist() == [0.0, 0.0]  # the input is not modified


def test_init_from_features_falls_back_to_overlap_weights_then_to_the_mean():
    features = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [0, 0, 0]], dtype=np.float32)
    vectors = np.array([[1.0], [2.0], [4.0], [99.0], [99.0]])
    known = np.array([True, True, True, False, False])
    out = init_from_features(vectors, features, known)
    # Row 3 (features 1,1,1) matches no known row exactly; it shares 2, 1 and 1 features with rows 0-2.
    assert out[3, 0] == pytest.approx((2 * 1.0 + 1 * 2.0 + 1 * 4.0) / 4)
    # Row 4 has no feature at all: the mean of every known row.
    assert out[4, 0] == pytest.approx((1.0 + 2.0 + 4.0) / 3)


def test_init_from_features_agrees_with_a_slow_loop_on_movie_like_data():
    rng = np.random.default_rng(4)
    features = (rng.random((60, 4)) < 0.4).astype(np.float64)
    vectors = rng.normal(size=(60, 3))
    known = rng.random(60) < 0.7
    out = init_from_features(vectors, features, known)
    for i in np.flatnonzero(~known):
        same = [j for j in np.flatnonzero(known) if (features[j] == features[i]).all()]
        if same:
            expected = vectors[same].mean(0)
        else:
            weights = np.array([features[i] @ features[j] for j in np.flatnonzero(known)])
            expected = (weights @ vectors[known] / weights.sum()) if weights.sum() > 0 else vectors[known].mean(0)
        np.testing.assert_allclose(out[i], expected, atol=1e-12)


def test_init_from_features_keeps_a_tensor_a_tensor():
    vectors = torch.arange(6, dtype=torch.float32).reshape(3, 2)
    out = init_from_features(vectors, torch.tensor([[1.0], [1.0], [1.0]]), torch.tensor([True, True, False]))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert out[2].tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    "features, known, message",
    [
        (np.ones((2, 2)), np.array([True, False, False]), "one feature row per vector"),
        (np.ones((3, 2)), np.array([1, 0, 0]), "bool mask"),
        (np.ones((3, 2)), np.array([True, False]), "bool mask"),
        (-np.ones((3, 2)), np.array([True, False, False]), "non-negative"),
        (np.ones((3, 2)), np.array([False, False, False]), "No row is known"),
    ],
)
def test_init_from_features_rejects_bad_input(features, known, message):
    with pytest.raises(ValueError, match=message):
        init_from_features(np.zeros((3, 2)), features, known)


# --- memory -----------------------------------------------------------------------------------------


def test_memory_of_the_course_outline_example():
    # 10 million users x 128 dimensions in float32: 5.12 GB of weights.
    memory = memory_bytes(10_000_000, 128, "float32", optimizer="adam")
    assert memory["weights"] == 5_120_000_000
    assert memory["gradients"] == 5_120_000_000
    assert memory["optimizer"] == 2 * 5_120_000_000
    assert memory["total"] == 4 * 5_120_000_000
    half = memory_bytes(10_000_000, 128, "bfloat16", optimizer="adam")
    assert {key: 2 * value for key, value in half.items()} == memory
    assert memory_bytes(10, 4, torch.float16, optimizer=None, gradients=False) == {
        "weights": 80, "gradients": 0, "optimizer": 0, "total": 80}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("name, make", [
    ("adam", lambda p: torch.optim.Adam(p, lr=0.1)),
    ("adagrad", lambda p: torch.optim.Adagrad(p, lr=0.1)),
    ("momentum", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    ("sgd", lambda p: torch.optim.SGD(p, lr=0.1)),
])
def test_memory_matches_the_buffers_pytorch_allocates(dtype, name, make):
    table = torch.nn.Embedding(50, 8, dtype=dtype)
    optimizer = make(table.parameters())
    table(torch.tensor([1, 2, 3])).sum().backward()
    optimizer.step()
    state = optimizer.state[table.weight]
    buffers = [v for v in state.values() if isinstance(v, torch.Tensor) and v.shape == table.weight.shape]
    measured = {
        "weights": table.weight.nbytes,
        "gradients": table.weight.grad.nbytes,
        "optimizer": sum(b.nbytes for b in buffers),
    }
    expected = memory_bytes(50, 8, str(dtype), optimizer=name)
    assert {key: expected[key] for key in measured} == measured


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_rows=0, dim=8), "num_rows"),
        (dict(num_rows=10, dim=2.5), "dim"),
        (dict(num_rows=True, dim=2), "num_rows"),
        (dict(num_rows=10, dim=8, dtype="float8"), "Unknown dtype"),
        (dict(num_rows=10, dim=8, optimizer="lion"), "Unknown optimizer"),
    ],
)
def test_memory_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        memory_bytes(**kwargs)
