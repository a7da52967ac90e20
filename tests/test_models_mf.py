"""MF models and baselines against their formulas written out slowly."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from recsys_lesson.models.baselines import BiasBaseline, GlobalMean, Popularity
from recsys_lesson.models.mf import BiasedMF, MF


def test_biased_mf_is_mean_plus_biases_plus_dot():
    torch.manual_seed(0)
    model = BiasedMF(4, 5, dim=3, global_mean=3.5, init_std=0.5)
    with torch.no_grad():
        model.user_bias.weight.normal_()
        model.item_bias.weight.normal_()
    u, i = 2, 4
    expected = (3.5 + model.user_bias.weight[u, 0] + model.item_bias.weight[i, 0]
                + model.user_factors.weight[u] @ model.item_factors.weight[i])
    assert model(torch.tensor([u]), torch.tensor([i]))[0].item() == pytest.approx(expected.item(), abs=1e-6)


@pytest.mark.parametrize("make", [lambda: BiasedMF(4, 5, dim=3, init_std=0.5), lambda: MF(4, 5, dim=3, init_std=0.5)])
def test_score_all_equals_forward_on_every_pair(make):
    torch.manual_seed(1)
    model = make()
    with torch.no_grad():
        model.item_bias.weight.normal_()
    users = torch.tensor([3, 0, 3])
    fast = model.score_all(users)
    slow = torch.stack([torch.stack([model(torch.tensor([u]), torch.tensor([i]))[0] for i in range(5)]) for u in users])
    assert fast.shape == (3, 5)
    assert torch.allclose(fast, slow, atol=1e-6)


def test_bpr_and_bce_losses_match_their_formulas():
    torch.manual_seed(2)
    model = MF(4, 6, dim=3, init_std=0.5)
    users, items, negatives = torch.tensor([0, 1]), torch.tensor([2, 3]), torch.tensor([[4, 5], [0, 1]])
    bpr = model.loss({"users": users, "items": items, "negatives": negatives})
    slow = []
    for row in range(2):
        positive = model(users[row : row + 1], items[row : row + 1])
        for j in negatives[row]:
            negative = model(users[row : row + 1], j.view(1))
            slow.append(-torch.log(torch.sigmoid(positive - negative)))
    assert bpr.item() == pytest.approx(torch.cat(slow).mean().item(), abs=1e-6)
    labels = torch.tensor([1.0, 0.0])
    bce = model.loss({"users": users, "items": items, "labels": labels})
    p = torch.sigmoid(model(users, items))
    assert bce.item() == pytest.approx((-(labels * p.log() + (1 - labels) * (1 - p).log())).mean().item(), abs=1e-6)


def test_rating_loss_is_mse_and_unknown_batches_are_refused():
    model = BiasedMF(2, 2, global_mean=3.0, init_std=0.0)
    batch = {"users": torch.tensor([0, 1]), "items": torch.tensor([1, 0]), "ratings": torch.tensor([4.0, 1.0])}
    assert model.loss(batch).item() == pytest.approx(F.mse_loss(torch.tensor([3.0, 3.0]), batch["ratings"]).item())
    with pytest.raises(KeyError, match="needs 'ratings'"):
        model.loss({"users": batch["users"], "items": batch["items"]})


def test_unknown_ids_give_a_clear_error_not_an_index_error():
    model = MF(3, 4)
    with pytest.raises(ValueError, match="item index 4 is outside \\[0, 4\\)"):
        model(torch.tensor([0]), torch.tensor([4]))
    with pytest.raises(ValueError, match="user index -1"):
        model.score_all(torch.tensor([-1]))


def test_bias_baseline_matches_a_slow_loop():
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 5, 60), rng.integers(0, 7, 60)
    ratings = rng.integers(1, 6, 60).astype(float)
    model = BiasBaseline(5, 7, users, items, ratings, reg_items=3.0, reg_users=2.0)
    mu = ratings.mean()
    b_i = {i: sum(ratings[items == i] - mu) / (3.0 + (items == i).sum()) for i in range(7)}
    b_u = {u: sum(ratings[users == u] - mu - np.array([b_i[i] for i in items[users == u]])) / (2.0 + (users == u).sum())
           for u in range(5)}
    pred = model(torch.tensor([1, 4]), torch.tensor([6, 0])).numpy()
    assert pred == pytest.approx([mu + b_u[1] + b_i[6], mu + b_u[4] + b_i[0]], abs=1e-5)
    assert torch.allclose(model.score_all(torch.tensor([1]))[0, 6], torch.tensor(pred[0]), atol=1e-5)


def test_global_mean_and_popularity():
    mean = GlobalMean(2, 3, [1.0, 2.0, 6.0])
    assert mean(torch.tensor([0, 1]), torch.tensor([2, 0])).tolist() == [3.0, 3.0]
    pop = Popularity(2, 4, [0, 2, 2, 3, 2])
    assert pop.score_all(torch.tensor([0, 1])).tolist() == [[1, 0, 3, 1]] * 2
    for make in (lambda: GlobalMean(2, 3, []), lambda: Popularity(2, 3, []), lambda: BiasBaseline(2, 3, [], [], [])):
        with pytest.raises(ValueError, match="at least one"):
            make()
