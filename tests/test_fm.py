"""The factorisation machine's O(k·n) identity against the O(k·n²) double loop, LR/FM/DNN against
their formulas, and a small task with a pairwise XOR that LR cannot learn and FM and DNN can."""

import itertools

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from recsys_lesson.models.dnn import DNN
from recsys_lesson.models.fm import FactorizationMachine, LogisticRegression, fm_pairwise
from recsys_lesson.train import fit


def naive_pairwise(embeddings):
    """Σ_{i<j} <v_i, v_j>, one field pair at a time."""
    batch, num_fields, _ = embeddings.shape
    total = torch.zeros(batch, dtype=embeddings.dtype)
    for i, j in itertools.combinations(range(num_fields), 2):
        total += (embeddings[:, i] * embeddings[:, j]).sum(dim=-1)
    return total


@pytest.mark.parametrize("shape", [(1, 2, 1), (5, 3, 4), (7, 10, 8), (3, 1, 5), (4, 26, 16)])
def test_fm_pairwise_equals_the_double_loop(shape):
    generator = torch.Generator().manual_seed(sum(shape))
    embeddings = torch.randn(*shape, generator=generator)
    fast = fm_pairwise(embeddings)
    assert fast.shape == (shape[0],)
    assert torch.allclose(fast, naive_pairwise(embeddings), atol=1e-5)


def test_fm_pairwise_worked_examples():
    v1, v2 = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([4.0, 5.0, -6.0])
    two = torch.stack([v1, v2])[None]  # (1, 2, 3)
    assert fm_pairwise(two).item() == pytest.approx(4 + 10 - 18)  # the dot product v1 · v2
    three = torch.tensor([[[1.0], [2.0], [3.0]]])  # 1·2 + 1·3 + 2·3
    assert fm_pairwise(three).item() == pytest.approx(11.0)
    assert fm_pairwise(torch.ones(2, 1, 4)).tolist() == [0.0, 0.0]  # one field: no pairs


def test_fm_pairwise_bad_shape():
    with pytest.raises(ValueError, match=r"\(batch, num_fields, dim\), got shape \(3, 4\)"):
        fm_pairwise(torch.zeros(3, 4))


FIELD_DIMS = (4, 3, 5)


def test_fm_is_linear_term_plus_pairwise_dots():
    torch.manual_seed(0)
    model = FactorizationMachine(FIELD_DIMS, dim=3, init_std=0.5)
    with torch.no_grad():
        model.linear.weight.weight.normal_()
        model.linear.bias.fill_(-0.25)
    features = torch.tensor([[3, 0, 4], [1, 2, 0]])
    offsets = [0, 4, 7]
    for row in range(2):
        rows = [offsets[f] + int(features[row, f]) for f in range(3)]
        v = model.embedding.weight[rows]  # (num_fields, dim)
        expected = -0.25 + model.linear.weight.weight[rows, 0].sum() + v[0] @ v[1] + v[0] @ v[2] + v[1] @ v[2]
        assert model(features)[row].item() == pytest.approx(expected.item(), abs=1e-5)
    assert model.num_parameters == 12 * 3 + 12 + 1


def test_logistic_regression_is_the_linear_term():
    model = LogisticRegression(FIELD_DIMS)
    with torch.no_grad():
        model.linear.weight.weight.copy_(torch.arange(12.0)[:, None])
        model.linear.bias.fill_(1.0)
    assert model(torch.tensor([[3, 0, 4]])).tolist() == [1.0 + 3 + 4 + 11]
    assert model.num_parameters == 13


def test_dnn_is_an_mlp_on_the_concatenated_embeddings():
    torch.manual_seed(1)
    model = DNN(FIELD_DIMS, dim=2, hidden=(5,))
    features = torch.tensor([[3, 0, 4], [1, 2, 0], [0, 0, 0]])
    rows = [[0 + int(features[r, 0]), 4 + int(features[r, 1]), 7 + int(features[r, 2])] for r in range(3)]
    x = torch.stack([model.embedding.weight[row].reshape(-1) for row in rows])  # (batch, num_fields * dim)
    first, last = model.mlp.layers[0], model.mlp.layers[2]
    slow = (torch.relu(x @ first.weight.T + first.bias) @ last.weight.T + last.bias).squeeze(-1)
    assert model(features).shape == (3,)
    assert torch.allclose(model(features), slow, atol=1e-6)
    assert model.mlp.input_dim == 6
    with pytest.raises(ValueError, match="field 1 holds index 3"):
        model(torch.tensor([[0, 3, 0]]))


@pytest.mark.parametrize("make", [lambda: LogisticRegression(FIELD_DIMS), lambda: FactorizationMachine(FIELD_DIMS),
                                  lambda: DNN(FIELD_DIMS, batch_norm=True, dropout=0.1)])
def test_models_return_one_logit_per_row(make):
    model = make().eval()
    assert model(torch.tensor([[3, 0, 4], [1, 2, 0]])).shape == (2,)


def xor_problem(num_rows, seed):
    """Three fields; the label is the XOR of the parities of fields 0 and 1 (field 2 is noise),
    flipped for 5% of rows. Every field value alone has a click rate of one half."""
    rng = np.random.default_rng(seed)
    field_dims = (6, 6, 4)
    features = np.stack([rng.integers(0, d, num_rows) for d in field_dims], axis=1)
    labels = (features[:, 0] % 2) ^ (features[:, 1] % 2)
    labels = np.where(rng.random(num_rows) < 0.05, 1 - labels, labels)
    return field_dims, torch.as_tensor(features), torch.as_tensor(labels, dtype=torch.float32)


@pytest.fixture
def one_thread():
    """Tiny batches train faster on one thread; on a busy two-core machine, two OpenMP threads
    can make a single BCE call on 256 rows take milliseconds instead of microseconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_fm_and_dnn_learn_a_pairwise_xor_that_lr_cannot(one_thread):
    field_dims, features, labels = xor_problem(3000, seed=0)
    _, test_features, test_labels = xor_problem(2000, seed=1)
    auc = {}
    for name, model in [("LR", LogisticRegression(field_dims)), ("FM", FactorizationMachine(field_dims, dim=4)),
                        ("DNN", DNN(field_dims, dim=4, hidden=(32, 16)))]:
        history = fit(model, {"features": features, "labels": labels}, epochs=10, batch_size=256, lr=0.02,
                      device="cpu", progress=False, seed=0)
        assert history.train_loss[-1] < history.train_loss[0] or name == "LR"
        auc[name] = roc_auc_score(test_labels.numpy(), model.predict_logits(test_features).numpy())
    assert auc["LR"] < 0.6
    assert auc["FM"] > 0.9
    assert auc["DNN"] > 0.9
    assert auc["FM"] - auc["LR"] > 0.3
