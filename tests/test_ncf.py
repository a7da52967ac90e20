"""GMF, MLP and NeuMF against their equations written out slowly, pre-training, and bad input."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from recsys_lesson.data.sampling import NegativeSampler
from recsys_lesson.models import ncf
from recsys_lesson.models.ncf import GMF, MLP, NeuMF, Tower, lookup, tower
from recsys_lesson.train import ImplicitData, fit

NUM_USERS, NUM_ITEMS = 7, 11


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: a second thread only adds waiting (and much more on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def randomise(model, seed=0):
    """Larger random weights than the initialisation, so that every term matters in a comparison."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return model


def slow_tower(model_tower, x):
    """The MLP of the paper, one layer after the other: a_l = ReLU(W_l a_{l-1} + b_l)."""
    for linear in model_tower.linears:
        x = torch.relu(x @ linear.weight.T + linear.bias)
    return x


@torch.no_grad()
def slow_gmf(model, u, i):
    p, q = model.user_embedding.weight[u], model.item_embedding.weight[i]
    return float((model.output.weight[0] * p * q).sum() + model.output.bias[0])


@torch.no_grad()
def slow_mlp(model, u, i):
    x = torch.cat([model.user_embedding.weight[u], model.item_embedding.weight[i]])
    return float(model.output.weight[0] @ slow_tower(model.tower, x) + model.output.bias[0])


@torch.no_grad()
def slow_neumf(model, u, i):
    gmf = model.gmf_user.weight[u] * model.gmf_item.weight[i]
    mlp = slow_tower(model.tower, torch.cat([model.mlp_user.weight[u], model.mlp_item.weight[i]]))
    return float(model.output.weight[0] @ torch.cat([gmf, mlp]) + model.output.bias[0])


MODELS = {
    "gmf": (lambda: GMF(NUM_USERS, NUM_ITEMS, dim=4), slow_gmf),
    "mlp": (lambda: MLP(NUM_USERS, NUM_ITEMS, layers=(8, 4, 2)), slow_mlp),
    "mlp0": (lambda: MLP(NUM_USERS, NUM_ITEMS, layers=(6,)), slow_mlp),
    "neumf": (lambda: NeuMF(NUM_USERS, NUM_ITEMS, dim=3, layers=(8, 4, 2)), slow_neumf),
    "neumf-mlp0": (lambda: NeuMF(NUM_USERS, NUM_ITEMS, dim=3, layers=(4,)), slow_neumf),
}


def all_pairs():
    users = torch.arange(NUM_USERS).repeat_interleave(NUM_ITEMS)
    items = torch.arange(NUM_ITEMS).repeat(NUM_USERS)
    return users, items


def test_tower_halves_the_width_down_to_the_predictive_factors():
    assert tower(8, 3) == (64, 32, 16, 8)
    assert tower(16, 1) == (32, 16)
    assert tower(8, 0) == (8,)
    for bad in [(0, 3), (8, -1), (2.5, 1)]:
        with pytest.raises(ValueError):
            tower(*bad)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_forward_is_the_equation_of_the_paper(name):
    make, slow = MODELS[name]
    model = randomise(make())
    users, items = torch.tensor([0, 6, 3, 3]), torch.tensor([10, 0, 5, 5])  # a small batch: the plain path
    fast = model(users, items)
    assert fast.shape == (4,)
    expected = [slow(model, int(u), int(i)) for u, i in zip(users, items)]
    assert fast.tolist() == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_score_all_equals_forward_on_every_pair(name):
    make, slow = MODELS[name]
    model = randomise(make(), seed=1)
    users, items = all_pairs()
    scores = model.score_all(torch.arange(NUM_USERS))
    assert scores.shape == (NUM_USERS, NUM_ITEMS)
    expected = torch.tensor([slow(model, int(u), int(i)) for u, i in zip(users, items)]).reshape(NUM_USERS, NUM_ITEMS)
    assert torch.allclose(scores, expected, atol=1e-5)
    assert torch.allclose(model(users, items).reshape(NUM_USERS, NUM_ITEMS), expected, atol=1e-5)


def test_score_all_in_chunks_gives_the_same_scores(monkeypatch):
    model = randomise(NeuMF(NUM_USERS, NUM_ITEMS, dim=3, layers=(8, 4, 2)), seed=2)
    users = torch.tensor([5, 1, 1, 0, 6])
    whole = model.score_all(users)
    monkeypatch.setattr(ncf, "SCORE_ALL_CELLS", 2 * NUM_ITEMS * 4)  # two users per chunk
    assert torch.allclose(model.score_all(users), whole, atol=1e-6)


@pytest.mark.parametrize("layers", [(8, 4, 2), (8, 4), (6,)])
def test_factorised_first_layer_has_the_same_values_and_gradients(layers):
    """A batch larger than half the users plus items takes the factorised path; compare it with
    the plain path (concatenate, then multiply) on the same pairs."""
    torch.manual_seed(3)
    model_tower = Tower(layers)
    half = layers[0] // 2
    user_table = torch.randn(NUM_USERS, half, requires_grad=True)
    item_table = torch.randn(NUM_ITEMS, half, requires_grad=True)
    users, items = all_pairs()  # 77 pairs > (7 + 11) / 2: factorised
    assert 2 * len(users) > NUM_USERS + NUM_ITEMS
    fast = model_tower.forward_indexed(user_table, item_table, users, items)
    weights = torch.randn(fast.shape)
    (fast * weights).sum().backward()
    fast_grads = [user_table.grad.clone(), item_table.grad.clone()] + [p.grad.clone() for p in model_tower.parameters()]
    user_table.grad = item_table.grad = None
    model_tower.zero_grad()
    plain = model_tower(user_table[users], item_table[items])
    (plain * weights).sum().backward()
    plain_grads = [user_table.grad, item_table.grad] + [p.grad for p in model_tower.parameters()]
    assert torch.allclose(fast, plain, atol=1e-5)
    for a, b in zip(fast_grads, plain_grads):
        assert torch.allclose(a, b, atol=1e-4)


def test_lookup_is_an_embedding_lookup_with_the_same_gradient():
    table = torch.randn(5, 3, requires_grad=True)
    index = torch.tensor([4, 0, 4, 2])
    lookup(table, index).pow(2).sum().backward()
    fast = table.grad.clone()
    table.grad = None
    F.embedding(index, table).pow(2).sum().backward()
    assert torch.equal(fast, table.grad)


def test_logits_not_probabilities_and_bce_loss():
    model = randomise(NeuMF(NUM_USERS, NUM_ITEMS, dim=3, layers=(8, 4, 2)), seed=4)
    users, items = torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5])
    with torch.no_grad():
        model.output.bias.fill_(3.0)
    logits = model(users, items)
    assert (logits > 1).all()  # a logit, unbounded: no sigmoid inside
    labels = torch.tensor([1.0, 0.0, 1.0])
    loss = model.loss({"users": users, "items": items, "labels": labels})
    expected = -np.mean([math.log(1 / (1 + math.exp(-z))) if y else math.log(1 - 1 / (1 + math.exp(-z)))
                         for z, y in zip(logits.tolist(), labels.tolist())])
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_from_pretrained_mixes_the_two_models_with_alpha():
    gmf = randomise(GMF(NUM_USERS, NUM_ITEMS, dim=4), seed=5)
    mlp = randomise(MLP(NUM_USERS, NUM_ITEMS, layers=(8, 4, 2)), seed=6)
    users, items = all_pairs()
    for alpha in (0.5, 0.2, 1.0):
        model = NeuMF.from_pretrained(gmf, mlp, alpha=alpha)
        assert (model.dim, model.layers) == (4, (8, 4, 2))
        expected = alpha * gmf(users, items) + (1 - alpha) * mlp(users, items)
        assert torch.allclose(model(users, items), expected, atol=1e-5)
    # the parts are copied, not shared: training NeuMF leaves the pre-trained models untouched
    before = gmf.user_embedding.weight.clone()
    with torch.no_grad():
        model.gmf_user.weight.add_(1.0)
    assert torch.equal(gmf.user_embedding.weight, before)


def test_from_pretrained_rejects_mismatched_parts():
    gmf, mlp = GMF(NUM_USERS, NUM_ITEMS, dim=4), MLP(NUM_USERS, NUM_ITEMS, layers=(8, 4))
    with pytest.raises(ValueError, match="alpha"):
        NeuMF.from_pretrained(gmf, mlp, alpha=1.5)
    with pytest.raises(ValueError, match="same index mapping"):
        NeuMF.from_pretrained(gmf, MLP(NUM_USERS + 1, NUM_ITEMS, layers=(8, 4)))
    with pytest.raises(ValueError, match="a GMF and an MLP"):
        NeuMF.from_pretrained(mlp, gmf)


def test_bad_sizes_and_unknown_ids_give_clear_errors():
    with pytest.raises(ValueError, match="even"):
        MLP(3, 4, layers=(7, 4))
    with pytest.raises(ValueError, match="at least"):
        NeuMF(3, 4, layers=())
    with pytest.raises(ValueError, match="positive"):
        NeuMF(3, 4, layers=(8, 0))
    with pytest.raises(ValueError, match="dim"):
        GMF(3, 4, dim=0)
    with pytest.raises(ValueError, match="dropout"):
        NeuMF(3, 4, dropout=1.0)
    model = NeuMF(3, 4, dim=2, layers=(4, 2))
    with pytest.raises(ValueError, match="item index 4 is outside"):
        model(torch.tensor([0]), torch.tensor([4]))
    with pytest.raises(ValueError, match="user index 3 is outside"):
        model.score_all(torch.tensor([3]))


def test_dropout_only_while_training():
    model = randomise(NeuMF(NUM_USERS, NUM_ITEMS, dim=3, layers=(8, 4, 2), dropout=0.5), seed=7)
    users, items = all_pairs()
    model.eval()
    assert torch.equal(model(users, items), model(users, items))
    model.train()
    torch.manual_seed(0)
    assert not torch.allclose(model(users, items), model.eval()(users, items))


def block_problem(num_users=40, num_items=30, seed=0):
    """Two taste groups: users of group g interact only with items of group g."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(num_users):
        group = u % 2
        liked = [i for i in range(num_items) if i % 2 == group]
        chosen = rng.choice(liked, size=8, replace=False)
        users += [u] * len(chosen)
        items += chosen.tolist()
    return np.array(users), np.array(items)


@pytest.mark.parametrize("make", [
    lambda: GMF(40, 30, dim=4),
    lambda: MLP(40, 30, layers=(16, 8, 4)),
    lambda: NeuMF(40, 30, dim=4, layers=(16, 8, 4)),
])
def test_each_model_learns_the_taste_groups(make):
    users, items = block_problem()
    torch.manual_seed(0)
    model = make()
    sampler = NegativeSampler(users, items, 30)
    fit(model, ImplicitData(users, items, sampler, num_negatives=4), epochs=15, batch_size=256, lr=0.05,
        progress=False, device="cpu")
    scores = model.score_all(torch.arange(40)).detach()
    same = (torch.arange(40)[:, None] % 2) == (torch.arange(30)[None, :] % 2)
    seen = torch.zeros(40, 30, dtype=torch.bool)
    seen[users, items] = True
    # unseen items of the user's own group outrank the other group's items
    assert scores[same & ~seen].mean() > scores[~same].mean() + 1.0


def test_explicit_variant_starts_at_the_mean_and_learns_ratings_with_mse():
    rng = np.random.default_rng(1)
    users = torch.as_tensor(rng.integers(0, 20, 400))
    items = torch.as_tensor(rng.integers(0, 15, 400))
    ratings = (3.5 + 0.8 * torch.sign(torch.sin(users.float() * 1.3) * torch.cos(items.float() * 0.7))).float()
    torch.manual_seed(0)
    model = NeuMF(20, 15, dim=4, layers=(16, 8, 4), global_mean=float(ratings.mean()))
    start = model(users, items).detach()
    assert torch.allclose(start, torch.full_like(start, float(ratings.mean())), atol=0.05)
    batch = {"users": users, "items": items, "ratings": ratings}
    before = model.loss(batch).item()
    assert before == pytest.approx(float(F.mse_loss(start, ratings)), rel=1e-5)
    fit(model, batch, epochs=30, batch_size=100, lr=0.02, progress=False, device="cpu")
    assert model.loss(batch).item() < 0.5 * before


def test_fit_matches_a_hand_written_adam_loop():
    """fit (shuffle once per epoch, contiguous batches, fused Adam) is plain mini-batch Adam."""
    users, items = block_problem()
    labels = torch.as_tensor(np.random.default_rng(2).integers(0, 2, len(users)), dtype=torch.float32)
    data = {"users": torch.as_tensor(users), "items": torch.as_tensor(items), "labels": labels}
    torch.manual_seed(0)
    model = NeuMF(40, 30, dim=4, layers=(16, 8, 4))
    reference = NeuMF(40, 30, dim=4, layers=(16, 8, 4))
    reference.load_state_dict(model.state_dict())
    fit(model, data, epochs=2, batch_size=50, lr=0.01, progress=False, device="cpu", seed=3)

    generator = torch.Generator().manual_seed(3)
    optimizer = torch.optim.Adam(reference.parameters(), lr=0.01, foreach=False)
    for _ in range(2):
        order = torch.randperm(len(users), generator=generator)
        for start in range(0, len(users), 50):
            index = order[start : start + 50]
            optimizer.zero_grad()
            reference.loss({key: value[index] for key, value in data.items()}).backward()
            optimizer.step()
    for (name, a), b in zip(model.state_dict().items(), reference.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), name
