"""Chapter 5's CTR models against slow references for their interaction layers (FM identity
inside DeepFM, CIN, cross layers, attention pooling, multi-valued fields, FTRL), the
out-of-vocabulary index through every model, and bad input."""

import itertools

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from recsys_lesson.features import Categorical, FieldEncoder, MultiHot
from recsys_lesson.models.dcn import DCN, CrossNetwork
from recsys_lesson.models.deepfm import DeepFM
from recsys_lesson.models.din import DIN, AttentionPooling, mean_pooling
from recsys_lesson.models.dnn import DNN
from recsys_lesson.models.fm import FactorizationMachine, LogisticRegression
from recsys_lesson.models.layers import FeaturesEmbedding, FeaturesLinear, FieldwiseEmbedding, field_columns, num_columns
from recsys_lesson.models.wide_deep import FTRL, JointOptimizer, WideDeep
from recsys_lesson.models.xdeepfm import CIN, XDeepFM
from recsys_lesson.train import fit

FIELD_DIMS = (4, 3, 5)
BAG_DIMS = (4, (6, 3), 5)  # field 1 is a bag of up to 3 of 6 values (0 = empty slot)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: a second thread only adds synchronisation, and on a busy machine
    its spin-waits make training tens of times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def features_for(field_dims, batch, seed=0):
    generator = torch.Generator().manual_seed(seed)
    columns = []
    for d in field_dims:
        size, slots = d if isinstance(d, tuple) else (d, 1)
        columns.append(torch.randint(0, size, (batch, slots), generator=generator))
    return torch.cat(columns, dim=1)


# ------------------------------------------------------------------ multi-valued fields


def test_bag_embedding_is_the_mean_over_non_empty_slots():
    torch.manual_seed(0)
    embedding = FeaturesEmbedding(BAG_DIMS, dim=3, init_std=1.0)
    features = torch.tensor([[1, 2, 0, 5, 4], [3, 0, 0, 0, 0], [0, 1, 1, 2, 2]])
    out = embedding(features)
    assert out.shape == (3, 3, 3)
    table = embedding.weight
    for row in range(3):
        assert torch.allclose(out[row, 0], table[int(features[row, 0])])
        slots = [int(v) for v in features[row, 1:4] if v != 0]
        expected = torch.stack([table[4 + v] for v in slots]).mean(0) if slots else torch.zeros(3)
        assert torch.allclose(out[row, 1], expected, atol=1e-6)
        assert torch.allclose(out[row, 2], table[4 + 6 + int(features[row, 4])])
    linear = FeaturesLinear(BAG_DIMS)
    with torch.no_grad():
        linear.weight.weight.copy_(torch.arange(15.0)[:, None])
    # row 0: w[1] + mean(w[4+2], w[4+5]) + w[10+4] = 1 + 7.5 + 14
    assert linear(features)[0].item() == pytest.approx(22.5)
    assert field_columns(BAG_DIMS) == [[0], [1, 2, 3], [4]] and num_columns(BAG_DIMS) == 5


def test_bag_gradients_match_the_slow_mean():
    torch.manual_seed(1)
    embedding = FeaturesEmbedding(BAG_DIMS, dim=2, init_std=1.0)
    table = embedding.weight.detach().clone().requires_grad_(True)
    features = features_for(BAG_DIMS, batch=6, seed=3)
    fast = embedding(features)
    rows = []
    for r in range(6):
        bag = [4 + int(v) for v in features[r, 1:4] if v != 0]
        bag_vector = table[bag].mean(0) if bag else torch.zeros(2)
        rows.append(torch.stack([table[int(features[r, 0])], bag_vector, table[10 + int(features[r, 4])]]))
    slow = torch.stack(rows)
    upstream = torch.randn_like(slow)
    (fast * upstream).sum().backward()
    (slow * upstream).sum().backward()
    assert torch.allclose(fast, slow, atol=1e-6)
    assert torch.allclose(embedding.weight.grad, table.grad, atol=1e-6)


def test_bag_bad_input():
    embedding = FeaturesEmbedding(BAG_DIMS, dim=2)
    with pytest.raises(ValueError, match=r"\(batch, num_columns\) = \(batch, 5\)"):
        embedding(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"field 1 holds index 6 \(row 0\), outside \[0, 6\)"):
        embedding(torch.tensor([[0, 1, 6, 0, 0]]))
    with pytest.raises(ValueError, match="pair"):
        FeaturesEmbedding((4, (6, 0)), dim=2)
    with pytest.raises(ValueError, match="single-valued"):
        FieldwiseEmbedding(BAG_DIMS, dim=2)


# ------------------------------------------------------------------ DeepFM


def test_deepfm_is_linear_plus_pairwise_dots_plus_mlp():
    torch.manual_seed(2)
    model = DeepFM(FIELD_DIMS, dim=3, hidden=(4,), init_std=0.5)
    with torch.no_grad():
        model.linear.weight.weight.normal_()
    features = features_for(FIELD_DIMS, batch=5, seed=4)
    vectors = model.embedding(features)
    for r in range(5):
        pairs = sum(float((vectors[r, i] @ vectors[r, j]).detach()) for i, j in itertools.combinations(range(3), 2))
        expected = float(model.linear(features[r : r + 1]).detach()) + pairs + float(model.mlp(vectors[r].reshape(1, -1)).detach())
        assert float(model(features)[r].detach()) == pytest.approx(expected, abs=1e-5)


# ------------------------------------------------------------------ CIN


def slow_cin(x0, weights):
    """The paper's equation, one feature map, one i and one j at a time."""
    batch, m, dim = x0.shape
    x, pooled = x0, []
    for w in weights:
        out = torch.zeros(batch, w.shape[0], dim)
        for h in range(w.shape[0]):
            for i in range(x.shape[1]):
                for j in range(m):
                    out[:, h] += w[h, i, j] * x[:, i] * x0[:, j]
        x = out
        pooled.append(x.sum(dim=2))
    return torch.cat(pooled, dim=1)


@pytest.mark.parametrize("num_fields, layers", [(3, (4, 2)), (5, (3,)), (2, (2, 3, 2))])
def test_cin_equals_the_triple_loop(num_fields, layers):
    torch.manual_seed(num_fields)
    cin = CIN(num_fields, layers)
    x0 = torch.randn(4, num_fields, 3)
    fast = cin(x0)
    assert fast.shape == (4, sum(layers))
    assert torch.allclose(fast, slow_cin(x0, [w.detach() for w in cin.weights]), atol=1e-4)


def test_cin_first_layer_is_a_weighted_sum_of_field_pair_dot_products():
    # One map whose weight is 1 for the pair (0, 1) only: sum_d x0_d * x1_d, the dot product.
    cin = CIN(2, (1,))
    with torch.no_grad():
        cin.weights[0].zero_()
        cin.weights[0][0, 0, 1] = 1.0
    x0 = torch.tensor([[[1.0, 2.0], [3.0, -4.0]]])
    assert cin(x0).item() == pytest.approx(1 * 3 + 2 * -4)


def test_xdeepfm_adds_linear_cin_and_mlp():
    torch.manual_seed(3)
    model = XDeepFM(FIELD_DIMS, dim=2, cin_layers=(3,), hidden=(4,))
    features = features_for(FIELD_DIMS, batch=4)
    vectors = model.embedding(features)
    expected = (model.linear(features) + model.cin_output(model.cin(vectors)).squeeze(-1)
                + model.mlp(vectors.flatten(1)))
    assert torch.allclose(model(features), expected)
    with pytest.raises(ValueError, match="CIN expects"):
        model.cin(torch.zeros(2, 5, 2))


# ------------------------------------------------------------------ cross network


def slow_cross(x0, weights, biases, kind):
    rows = []
    for r in range(len(x0)):
        a0 = x0[r][:, None]  # column vector (d, 1)
        x = a0
        for w, b in zip(weights, biases):
            if kind == "vector":
                x = a0 @ (x.T @ w[:, None]) + b[:, None] + x  # x0 x_lᵀ w + b + x_l
            else:
                x = a0 * (w @ x + b[:, None]) + x
        rows.append(x[:, 0])
    return torch.stack(rows)


@pytest.mark.parametrize("kind", ["vector", "matrix"])
def test_cross_network_equals_the_formula(kind):
    torch.manual_seed(4)
    net = CrossNetwork(5, num_layers=3, kind=kind)
    with torch.no_grad():
        for b in net.biases:
            b.normal_()
    x0 = torch.randn(6, 5)
    slow = slow_cross(x0, [w.detach() for w in net.weights], [b.detach() for b in net.biases], kind)
    assert torch.allclose(net(x0), slow, atol=1e-5)
    per_layer = 2 * 5 if kind == "vector" else 5 * 5 + 5
    assert sum(p.numel() for p in net.parameters()) == 3 * per_layer


def test_vector_cross_is_the_matrix_cross_with_a_rank_one_matrix():
    torch.manual_seed(5)
    vector = CrossNetwork(4, 2, "vector")
    matrix = CrossNetwork(4, 2, "matrix")
    with torch.no_grad():
        for wv, wm in zip(vector.weights, matrix.weights):
            wm.copy_(torch.ones(4, 1) @ wv[None, :])  # W = 1 wᵀ
    x0 = torch.randn(3, 4)
    assert torch.allclose(vector(x0), matrix(x0), atol=1e-5)


def test_cross_network_bad_arguments():
    with pytest.raises(ValueError, match="'vector'"):
        CrossNetwork(4, 2, "tensor")
    with pytest.raises(ValueError, match="num_layers"):
        CrossNetwork(4, 0)
    with pytest.raises(ValueError, match=r"expects \(batch, 4\)"):
        CrossNetwork(4, 1)(torch.zeros(2, 3))


# ------------------------------------------------------------------ attention


def test_attention_pooling_equals_the_loop_and_ignores_padding():
    torch.manual_seed(6)
    pool = AttentionPooling(dim=3, hidden=(5,))
    history, target = torch.randn(2, 4, 3), torch.randn(2, 3)
    mask = torch.tensor([[True, True, False, True], [False, False, False, False]])
    pooled, weights = pool(history, target, mask)
    for r in range(2):
        total = torch.zeros(3)
        for j in range(4):
            e, a = history[r, j], target[r]
            score = pool.mlp(torch.cat([e, a, e - a, e * a])[None])[0].detach()
            expected_weight = float(score) if mask[r, j] else 0.0
            assert float(weights[r, j].detach()) == pytest.approx(expected_weight, abs=1e-6)
            total += expected_weight * e
        assert torch.allclose(pooled[r], total, atol=1e-6)
    assert torch.equal(pooled[1], torch.zeros(3))  # an empty history pools to zero
    assert torch.allclose(mean_pooling(history, mask)[0], history[0, [0, 1, 3]].mean(0))
    assert torch.equal(mean_pooling(history, mask)[1], torch.zeros(3))


def test_din_reads_fields_then_history_and_shares_the_item_table():
    torch.manual_seed(7)
    model = DIN(BAG_DIMS, item_field=2, history_length=3, dim=2, hidden=(4,))
    fields = features_for(BAG_DIMS, batch=3, seed=8)
    history = torch.tensor([[0, 1, 4], [0, 0, 0], [2, 2, 3]])
    features = torch.cat([fields, history], dim=1)
    assert model(features).shape == (3,)
    weights = model.attention_weights(features)
    assert weights.shape == (3, 3) and weights[0, 0] == 0 and torch.equal(weights[1], torch.zeros(3))
    # the history reads the item field's rows of the one table
    vectors = model.embedding.weight[4 + 6 + history[0, 1]]
    assert torch.equal(vectors, model.embedding.weight[model.embedding.offsets[2] + 1])
    with pytest.raises(ValueError, match=r"history holds indices outside \[0, 5\)"):
        model(torch.cat([fields, torch.full((3, 3), 5)], dim=1))
    with pytest.raises(ValueError, match=r"\(batch, 8\)"):
        model(fields)
    with pytest.raises(ValueError, match="mean"):
        DIN(FIELD_DIMS, 1, 2, pooling="mean").attention_weights(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="single-valued"):
        DIN(BAG_DIMS, item_field=1, history_length=2)


# ------------------------------------------------------------------ Wide & Deep and FTRL


def test_wide_deep_is_wide_linear_plus_deep_mlp_and_each_part_alone():
    torch.manual_seed(9)
    dims = (4, 3, 5, 7)  # field 3 plays a cross feature, wide only
    model = WideDeep(dims, dim=2, hidden=(3,), wide_fields=[0, 1, 2, 3], deep_fields=[0, 1, 2])
    with torch.no_grad():
        model.wide.weight.weight.normal_()
    features = features_for(dims, batch=5)
    expected = model.wide(features) + model.mlp(model.embedding(features[:, :3]).flatten(1))
    assert torch.allclose(model(features), expected)
    assert {id(p) for p in model.wide_parameters()} | {id(p) for p in model.deep_parameters()} == {id(p) for p in model.parameters()}
    wide_only = WideDeep(dims, deep_fields=[])
    assert wide_only.embedding is None and wide_only.num_parameters == sum(dims) + 1
    deep_only = WideDeep(dims, wide_fields=[])
    assert deep_only.wide is None and deep_only(features).shape == (5,)
    with pytest.raises(ValueError, match="at least one"):
        WideDeep(dims, wide_fields=[], deep_fields=[])
    with pytest.raises(ValueError, match="outside"):
        WideDeep(dims, wide_fields=[4])
    bags = WideDeep(BAG_DIMS, dim=2, wide_fields=[0, 2], deep_fields=[1, 2])
    assert bags(features_for(BAG_DIMS, 3)).shape == (3,)


def slow_ftrl(w, grads, alpha, beta, l1, l2):
    w, z, n = list(w), [0.0] * len(w), [0.0] * len(w)
    for g in grads:
        for i, gi in enumerate(g):
            sigma = (np.sqrt(n[i] + gi * gi) - np.sqrt(n[i])) / alpha
            z[i] += gi - sigma * w[i]
            n[i] += gi * gi
            if abs(z[i]) <= l1:
                w[i] = 0.0
            else:
                w[i] = -(z[i] - np.sign(z[i]) * l1) / ((beta + np.sqrt(n[i])) / alpha + l2)
    return np.array(w)


def test_ftrl_equals_the_per_coordinate_algorithm():
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(6, 5))
    grads[2, 1] = 0.0
    p = torch.nn.Parameter(torch.zeros(5, dtype=torch.float64))
    opt = FTRL([p], alpha=0.1, beta=1.0, l1=1.0, l2=0.01)
    for g in grads:
        p.grad = torch.as_tensor(g)
        opt.step()
    expected = slow_ftrl(np.zeros(5), grads, 0.1, 1.0, 1.0, 0.01)
    assert np.allclose(p.detach().numpy(), expected, atol=1e-12)
    assert (expected == 0).any() and (expected != 0).any()  # this l1 zeroes some coordinates, not all


def test_ftrl_l1_sparsifies_and_joint_optimizer_steps_both_parts():
    torch.manual_seed(10)
    dims = (6, 5, 30)
    features = features_for(dims, batch=400, seed=11)
    labels = (features[:, 0] >= 3).float()
    model = WideDeep(dims, dim=2, hidden=(4,))
    deep_before = [p.detach().clone() for p in model.deep_parameters()]
    opt = JointOptimizer(FTRL(model.wide_parameters(), alpha=0.5, l1=0.2), torch.optim.Adagrad(model.deep_parameters(), lr=0.05))
    fit(model, {"features": features, "labels": labels}, epochs=15, batch_size=100, optimizer=opt, progress=False, device="cpu")
    weights = model.wide.weight.weight.detach()[:, 0]
    assert (weights[11:] == 0).float().mean() > 0.8  # the 30 noise values of field 2: (nearly) all exactly zero
    assert (weights[:6] != 0).all()  # the informative field keeps its weights
    assert any(not torch.equal(a, b) for a, b in zip(deep_before, model.deep_parameters()))
    with pytest.raises(ValueError, match="two of the joined"):
        JointOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), torch.optim.SGD(model.wide_parameters(), lr=0.1))
    with pytest.raises(ValueError, match="alpha"):
        FTRL(model.wide_parameters(), alpha=0.0)


# ------------------------------------------------------------------ every model: OOV, shapes, learning


def all_models(field_dims, item_field=1, history_length=3):
    return {
        "LR": LogisticRegression(field_dims),
        "FM": FactorizationMachine(field_dims, dim=4),
        "DNN": DNN(field_dims, dim=4, hidden=(8,)),
        "WideDeep": WideDeep(field_dims, dim=4, hidden=(8,)),
        "DeepFM": DeepFM(field_dims, dim=4, hidden=(8,)),
        "xDeepFM": XDeepFM(field_dims, dim=4, cin_layers=(3, 3), hidden=(8,)),
        "DCN": DCN(field_dims, dim=4, hidden=(8,)),
        "DCN-V2": DCN(field_dims, dim=4, hidden=(8,), cross="matrix"),
        "DIN": DIN(field_dims, item_field=item_field, history_length=history_length, dim=4, hidden=(8,)),
    }


def test_an_unseen_category_reaches_every_model_as_the_oov_index():
    train = pd.DataFrame({"user": ["u1", "u2", "u3", "u1"], "item": ["a", "b", "a", "c"],
                          "genres": [["x"], ["y", "x"], [], ["y"]]})
    test = pd.DataFrame({"user": ["u9"], "item": ["zzz"], "genres": [["never-seen"]]})
    encoder = FieldEncoder([Categorical("user"), Categorical("item"), MultiHot("genres")]).fit(train)
    encoded = torch.as_tensor(encoder.transform(test))
    assert encoded.tolist() == [[0, 0, 0, 0]]  # both ids OOV, an empty genre bag
    history = torch.tensor([[0, 2, 3]])  # earlier items, by index in the item field
    for name, model in all_models(encoder.field_dims).items():
        x = torch.cat([encoded, history], dim=1) if name == "DIN" else encoded
        logits = model.predict_logits(x)
        assert logits.shape == (1,) and torch.isfinite(logits).all(), name


@pytest.mark.parametrize("name", list(all_models(FIELD_DIMS)))
def test_out_of_range_indices_raise_value_errors_not_index_errors(name):
    model = all_models(FIELD_DIMS)[name]
    bad = torch.tensor([[0, 3, 0]])  # field 1 has 3 values: 0, 1, 2
    if name == "DIN":
        bad = torch.cat([bad, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    with pytest.raises(ValueError, match="field 1 holds index 3"):
        model(bad)


def test_every_model_learns_a_pairwise_interaction():
    """Label = XOR of two fields' parity: LR cannot learn it; every model with interactions can."""
    generator = torch.Generator().manual_seed(12)
    dims = (6, 6, 4)
    features = torch.stack([torch.randint(0, d, (1500,), generator=generator) for d in dims], dim=1)
    labels = ((features[:, 0] % 2) ^ (features[:, 1] % 2)).float()
    history = torch.randint(0, 6, (1500, 3), generator=generator)
    aucs = {}
    torch.manual_seed(0)
    for name, model in all_models(dims).items():
        x = torch.cat([features, history], dim=1) if name == "DIN" else features
        fit(model, {"features": x[:1000], "labels": labels[:1000]}, epochs=12, batch_size=250, lr=0.05,
            progress=False, device="cpu", seed=0)
        aucs[name] = roc_auc_score(labels[1000:].numpy(), model.predict_logits(x[1000:]).numpy())
    assert aucs["LR"] < 0.6, aucs
    for name, value in aucs.items():
        if name != "LR":
            assert value > 0.8, aucs  # all but DIN reach 1.0; DIN also carries a history of noise
