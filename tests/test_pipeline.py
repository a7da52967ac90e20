"""Blending, stacking and two-stage pipelines of chapter 8, against slow references."""

import numpy as np
import pytest
import torch

from recsys_lesson.evaluate import rank_full
from recsys_lesson.models.mf import MF
from recsys_lesson.pipeline import (
    ScoreTable, blend, candidate_recall, pair_features, seen_mask, standardize, two_stage_scores,
)


def test_standardize_matches_a_loop_over_rows():
    rng = np.random.default_rng(0)
    scores = rng.normal(3, 2, (4, 7))
    scores[2] = 5.0  # a constant row becomes zeros
    expected = np.zeros_like(scores)
    for r, row in enumerate(scores):
        if row.std() > 0:
            expected[r] = (row - row.mean()) / row.std()
    np.testing.assert_allclose(standardize(scores), expected)


def test_blend_is_the_weighted_sum_and_is_scale_free():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    np.testing.assert_allclose(blend([a, b], [0.3, 0.7]), 0.3 * standardize(a) + 0.7 * standardize(b))
    np.testing.assert_allclose(blend([a, 100 * b + 4], [1, 1]), blend([a, b], [1, 1]))  # scale of a model does not matter


def test_pair_features_gather_the_pairs():
    a, b = np.arange(12.0).reshape(3, 4), -np.arange(12.0).reshape(3, 4)
    features = pair_features([a, b], [0, 2], [1, 3])
    np.testing.assert_array_equal(features, [[1, -1], [11, -11]])


def test_score_table_evaluates_like_the_model_it_copies():
    torch.manual_seed(0)
    model = MF(6, 9, dim=3).eval()
    with torch.no_grad():
        table = ScoreTable(model.score_all(torch.arange(6)))
    users, items = np.arange(6), np.array([1, 2, 3, 4, 5, 6])
    assert rank_full(table, users, items, k=3) == pytest.approx(rank_full(model, users, items, k=3))
    np.testing.assert_allclose(table(torch.tensor([1, 2]), torch.tensor([3, 4])).numpy(),
                               model(torch.tensor([1, 2]), torch.tensor([3, 4])).detach().numpy(), rtol=1e-6)


def test_seen_mask_marks_exactly_the_pairs():
    mask = seen_mask([2, 0, 2], [0, 2, 2], [1, 3, 0], num_items=4)
    expected = np.zeros((3, 4), dtype=bool)
    expected[0, [3, 0]] = True  # user 2
    expected[1, 1] = True  # user 0
    expected[2, [3, 0]] = True
    np.testing.assert_array_equal(mask, expected)


def slow_two_stage(generator, ranker, users, n, seen):
    out = np.full((len(users), generator.num_items), -np.inf)
    with torch.no_grad():
        for r, u in enumerate(users):
            first = generator.score_all(torch.tensor([u]))[0].numpy().astype(np.float64)
            first[list(seen.get(u, []))] = -np.inf
            for item in np.argsort(-first, kind="stable")[:n]:
                if np.isfinite(first[item]):
                    out[r, item] = float(ranker(torch.tensor([u]), torch.tensor([item])))
    return out


def test_two_stage_matches_a_loop_and_full_candidates_equal_the_ranker():
    torch.manual_seed(0)
    generator, ranker = MF(5, 12, dim=4).eval(), MF(5, 12, dim=4).eval()
    seen_users, seen_items = [0, 0, 3], [1, 5, 7]
    seen = {0: [1, 5], 3: [7]}
    users = np.array([0, 1, 3])
    scores, candidates = two_stage_scores(generator, ranker, users, 4, seen_users, seen_items)
    np.testing.assert_allclose(scores, slow_two_stage(generator, ranker, users, 4, seen), rtol=1e-5)
    assert candidates.shape == (3, 4) and np.isfinite(scores).sum(axis=1).tolist() == [4, 4, 4]
    full, _ = two_stage_scores(generator, ranker, users, 12, seen_users, seen_items)
    with torch.no_grad():
        alone = ranker.score_all(torch.as_tensor(users)).numpy()
    finite = np.isfinite(full)
    np.testing.assert_allclose(full[finite], alone[finite], rtol=1e-5)
    assert (~finite).sum() == 3  # exactly the seen pairs are out


def test_candidate_recall_counts_rows_that_hold_their_item():
    assert candidate_recall([[1, 2], [3, 4], [5, 6]], [2, 9, 5]) == pytest.approx(2 / 3)


@pytest.mark.parametrize("call, message", [
    (lambda: standardize(np.array([[1.0, np.inf]])), "finite"),
    (lambda: blend([np.ones((2, 2))], [1, 2]), "one weight per matrix"),
    (lambda: blend([np.ones((2, 2)), np.ones((2, 3))], [1, 2]), "differ in shape"),
    (lambda: pair_features([np.ones((2, 2))], [0, 5], [0, 1]), "outside"),
    (lambda: two_stage_scores(MF(2, 4), MF(2, 4), [0], 5), "num_candidates"),
    (lambda: two_stage_scores(MF(2, 4), MF(2, 5), [0], 2), "one index"),
    (lambda: candidate_recall([[1, 2]], [1, 2]), "num_candidates"),
    (lambda: ScoreTable(np.ones(3)), "2-D"),
])
def test_bad_input_says_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()
