"""Chapter 6's feature engineering code against scikit-learn, SciPy and slow references: the
hashing trick, collision rates, the coverage table, re-encoding a task, max pooling, the models
that read numbers and one-hot vectors, and the feature-selection scores."""

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from scipy.stats import chi2_contingency
from sklearn.feature_extraction import FeatureHasher
from sklearn.inspection import permutation_importance as sklearn_permutation_importance
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.utils import murmurhash3_32

from recsys_lesson.ctr_data import CTRPart, CTRTask
from recsys_lesson.features import (
    Categorical, Cross, FieldEncoder, Hashed, Numeric, collision_rate, coverage_report, expected_collision_rate,
    hashed_index, reencode_task,
)
from recsys_lesson.models.dense import OneHotMLP, TabularMLP
from recsys_lesson.models.din import DIN, max_pooling
from recsys_lesson.selection import chi2_by_field, correlation_ratio, l1_entry, l1_path, permutation_importance
from recsys_lesson.train import fit

# ---------------------------------------------------------------------------- hashing


def test_hashed_index_is_feature_hasher_and_the_murmurhash_formula():
    values = list(range(1, 300)) + ["a", "b", "Drama"]
    got = hashed_index(values, 97, "item_id")
    slow = [abs(murmurhash3_32(f"item_id={v}", seed=0)) % 97 for v in values]
    hasher = FeatureHasher(n_features=97, input_type="string", alternate_sign=False)
    from_sklearn = [hasher.transform([[f"item_id={v}"]]).indices[0] for v in values]
    assert got.tolist() == slow == from_sklearn
    assert got.dtype == np.int64 and got.min() >= 0 and got.max() < 97
    # without a name the bare value is hashed; a missing value hashes as "<missing>"
    assert hashed_index(["x"], 1000).tolist() == [abs(murmurhash3_32("x", seed=0)) % 1000]
    missing = hashed_index(pd.Series([None, np.nan, "<missing>"], dtype=object), 50, "c")
    assert len(set(missing.tolist())) == 1
    assert hashed_index([], 8).shape == (0,)


def test_hashed_index_rejects_bad_bucket_counts():
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="num_buckets"):
            hashed_index([1, 2], bad)


def test_collision_rate_worked_example_and_limits():
    # buckets of five distinct values: 0 and 3 are shared (by two values each), 7 is alone
    assert collision_rate([0, 0, 3, 3, 7]) == pytest.approx(4 / 5)
    assert collision_rate([4, 1, 9]) == 0.0
    assert collision_rate([2, 2, 2]) == 1.0
    with pytest.raises(ValueError, match="non-empty"):
        collision_rate([])


def test_expected_collision_rate_formula_and_random_assignment():
    assert expected_collision_rate(1, 10) == 0.0  # a single value never collides
    assert expected_collision_rate(2, 4) == pytest.approx(1 / 4)
    assert expected_collision_rate(3, 4) == pytest.approx(1 - (3 / 4) ** 2)
    rng = np.random.default_rng(0)
    n, buckets = 500, 2000
    simulated = np.mean([collision_rate(rng.integers(0, buckets, n)) for _ in range(200)])
    assert simulated == pytest.approx(expected_collision_rate(n, buckets), abs=0.01)
    measured = collision_rate(hashed_index(np.arange(n), buckets, "id"))  # hashing behaves like random assignment
    assert measured == pytest.approx(expected_collision_rate(n, buckets), abs=0.06)
    with pytest.raises(ValueError, match="num_buckets"):
        expected_collision_rate(3, 0)


def test_hashed_spec_in_a_field_encoder_needs_no_vocabulary():
    train = pd.DataFrame({"user_id": [10, 11, 10], "city": ["a", "b", "a"]})
    encoder = FieldEncoder([Hashed("user_id", 16), Categorical("city"), Cross(("user_id", "city"))]).fit(train)
    assert encoder.field_names == ["user_id", "city", "user_id x city"]
    assert encoder.field_dims[0] == 16
    test = pd.DataFrame({"user_id": [10, 999], "city": ["a", "a"]})
    out = encoder.transform(test)
    assert out[:, 0].tolist() == hashed_index(test["user_id"], 16, "user_id").tolist()  # an unseen id gets a bucket too
    assert out[0, 2] > 0  # (10, a) was seen: the cross of a hashed field has its own vocabulary
    with pytest.raises(ValueError, match="num_buckets"):
        FieldEncoder([Hashed("user_id", 0)])


# ---------------------------------------------------------------------------- coverage and re-encoding


def test_coverage_report_worked_example():
    train = pd.DataFrame({"user": [1, 2, 2, None], "price": [1.0, 5.0, 3.0, np.nan],
                          "tags": [["a"], ["a", "b"], [], ["b"]]})
    test = pd.DataFrame({"user": [2, 3, None, 1], "price": [4.0, 6.0, 0.5, np.nan],
                         "tags": [["a"], ["c"], ["a", "b"], None]})
    report = coverage_report(train, test, numeric=["price"])
    assert report["kind"].tolist() == ["categorical", "numeric", "multi-valued"]
    assert report["distinct (train)"].tolist() == [2, 3, 2]
    assert report.loc["user", "top share %"] == pytest.approx(50.0)  # user 2 holds two of four rows
    assert report["missing train %"].tolist() == pytest.approx([25.0, 25.0, 25.0])  # an empty list is missing
    assert report["missing test %"].tolist() == pytest.approx([25.0, 25.0, 25.0])
    # user: 2 and 1 seen; price: only 4.0 lies in [1, 5]; tags: ["a"] and ["a", "b"] are known
    assert report["test coverage %"].tolist() == pytest.approx([50.0, 25.0, 50.0])
    with pytest.raises(ValueError, match="not reported"):
        coverage_report(train, test, ["user"], numeric=["price"])
    with pytest.raises(ValueError, match="non-empty"):
        coverage_report(train.iloc[:0], test)


def small_task():
    rng = np.random.default_rng(0)
    frames = [pd.DataFrame({"user_id": rng.integers(0, 20, n), "item_id": rng.integers(0, 30, n),
                            "age": rng.uniform(18, 60, n)}) for n in (200, 50, 50)]
    encoder = FieldEncoder([Categorical("user_id"), Categorical("item_id"), Numeric("age", bins=4)]).fit(frames[0])
    parts = [CTRPart(encoder.transform(f), (f["age"].to_numpy() > 40).astype(np.float32), np.zeros((len(f), 3), np.int64), f)
             for f in frames]
    return CTRTask("toy", encoder, *parts, base_fields=[0, 1, 2], user_field=0, item_field=1, history_length=3)


def test_reencode_task_keeps_rows_and_labels_and_refits_the_encoder():
    task = small_task()
    hashed = reencode_task(task, [Hashed("item_id", 8), Categorical("user_id", min_count=5), Numeric("age", bins=2)])
    assert hashed.field_names == ["item_id", "user_id", "age"]
    assert hashed.user_field == 1 and hashed.item_field == 0 and hashed.base_fields == [0, 1, 2]
    assert hashed.field_dims[0] == 8
    for old, new in zip((task.train, task.valid, task.test), (hashed.train, hashed.valid, hashed.test)):
        assert np.array_equal(old.labels, new.labels) and new.frame is old.frame
        assert new.history is None
        assert new.features[:, 0].tolist() == hashed_index(old.frame["item_id"], 8, "item_id").tolist()
    assert hashed.history_length == 0
    assert reencode_task(task, [Numeric("age", bins=2)]).user_field is None


# ---------------------------------------------------------------------------- max pooling


def test_max_pooling_equals_the_loop_and_ignores_padding():
    torch.manual_seed(0)
    history = torch.randn(5, 4, 3)
    mask = torch.tensor([[1, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 1]], dtype=torch.bool)
    history[~mask] = 100.0  # padding that would win an unmasked maximum
    pooled = max_pooling(history, mask)
    for b in range(5):
        kept = history[b][mask[b]]
        expected = kept.max(dim=0).values if len(kept) else torch.zeros(3)
        assert torch.allclose(pooled[b], expected)
    assert torch.equal(pooled[2], torch.zeros(3))  # an empty history pools to zeros
    assert torch.equal(max_pooling(history, mask.float()), pooled)  # a 0/1 float mask works too


def test_max_pooling_sends_the_gradient_only_to_the_winners():
    history = torch.tensor([[[1.0, 5.0], [3.0, 2.0], [9.0, 9.0]], [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]], requires_grad=True)
    mask = torch.tensor([[True, True, False], [False, False, False]])
    max_pooling(history, mask).sum().backward()
    expected = torch.tensor([[[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]])
    assert torch.equal(history.grad, expected)
    assert torch.isfinite(history.grad).all()


def test_din_with_max_pooling_reads_only_the_real_history():
    torch.manual_seed(0)
    model = DIN([5, 7], item_field=1, history_length=3, dim=4, hidden=(8,), pooling="max").eval()
    features = torch.tensor([[1, 2, 0, 3, 4], [2, 6, 0, 0, 0]])  # fields, then the history (0 = empty slot)
    with torch.no_grad():
        vectors = model.embedding(features[:, :2])  # (2, 2, 4)
        items = model.embedding.weight[model.embedding.offsets[1] + torch.tensor([3, 4])]  # (2, 4)
        pooled = torch.stack([items.max(dim=0).values, torch.zeros(4)])  # the second row has an empty history
        expected = model.mlp(torch.cat([vectors.flatten(1), pooled], dim=1))
        assert torch.allclose(model(features), expected, atol=1e-6)
    with pytest.raises(ValueError, match="'max'"):
        DIN([5, 7], item_field=1, history_length=3, pooling="sum")
    with pytest.raises(ValueError, match="pools by the max"):
        model.attention_weights(features)


# ---------------------------------------------------------------------------- dense inputs


def test_tabular_mlp_is_the_formula_in_both_forms():
    torch.manual_seed(0)
    numeric, features = torch.randn(6, 3), torch.tensor([[0, 1], [2, 0], [1, 1], [0, 0], [2, 1], [1, 0]])
    lr = TabularMLP(3, [3, 2], hidden=())
    with torch.no_grad():
        for p in lr.parameters():
            p.normal_()
        table = lr.linear.weight.weight[:, 0]
        expected = numeric @ lr.numeric_weight.weight[0] + lr.linear.bias + table[features[:, 0]] + table[3 + features[:, 1]]
        assert torch.allclose(lr(numeric, features), expected, atol=1e-6)
    mlp = TabularMLP(3, [3, 2], dim=4, hidden=(5,))
    with torch.no_grad():
        inputs = torch.cat([numeric, mlp.embedding(features).flatten(1)], dim=1)  # numbers first, then the fields' vectors
        assert torch.allclose(mlp(numeric, features), mlp.mlp(inputs), atol=1e-6)
    only_numbers = TabularMLP(3, hidden=())
    assert only_numbers(numeric).shape == (6,)
    only_fields = TabularMLP(0, [3, 2], hidden=(4,))
    assert only_fields.predict_logits(None, features).shape == (6,)


def test_tabular_mlp_learns_a_threshold_on_standardised_numbers():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 2)).astype(np.float32)
    labels = (x[:, 0] > 0.3).astype(np.float32)
    model = TabularMLP(2, hidden=(16,))
    data = {"numeric": torch.tensor(x), "labels": torch.tensor(labels)}
    fit(model, data, epochs=20, batch_size=256, lr=1e-2, progress=False, device="cpu")
    assert roc_auc_score(labels, model.predict_logits(x).numpy()) > 0.99


def test_tabular_mlp_bad_input():
    with pytest.raises(ValueError, match="at least one input"):
        TabularMLP(0, [])
    with pytest.raises(ValueError, match="num_numeric"):
        TabularMLP(-1)
    model = TabularMLP(3, [4])
    with pytest.raises(ValueError, match=r"\(batch, 3\)"):
        model(torch.zeros(2, 2), torch.zeros(2, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="pass `features`"):
        model(torch.zeros(2, 3))
    with pytest.raises(KeyError, match="numeric"):
        model.loss({"features": torch.zeros(2, 1, dtype=torch.long), "labels": torch.zeros(2)})


def test_one_hot_mlp_equals_a_linear_layer_on_the_explicit_one_hot_vector():
    torch.manual_seed(0)
    field_dims = [3, (4, 2), 2]  # a single-valued field, a bag of 2 slots over 4 values, another field
    model = OneHotMLP(field_dims, hidden=(5, 3))
    features = torch.tensor([[2, 1, 3, 0], [0, 0, 0, 1], [1, 2, 0, 1]])
    one_hot = torch.zeros(3, 9)
    for row, (a, s1, s2, b) in enumerate(features.tolist()):
        one_hot[row, a] = 1.0
        present = [v for v in (s1, s2) if v != 0]
        for v in present:
            one_hot[row, 3 + v] += 1.0 / len(present)  # a bag enters as its normalised multi-hot vector
        one_hot[row, 7 + b] = 1.0
    assert torch.allclose(model.one_hot(features), one_hot)
    linear = torch.nn.Linear(9, 5)
    with torch.no_grad():
        linear.weight.copy_(model.weight)
        linear.bias.copy_(model.bias)
        assert torch.allclose(model(features), model.mlp(torch.relu(linear(one_hot))), atol=1e-6)
    first_layer = 9 * 5 + 5
    assert model.num_parameters == first_layer + (5 * 3 + 3) + (3 + 1)
    assert model.weight.abs().max() <= 1 / 3  # nn.Linear's initial range, ±1/√V with V = 9
    with pytest.raises(ValueError, match="hidden layer"):
        OneHotMLP([3], hidden=())


# ---------------------------------------------------------------------------- selection


def codes_and_labels(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    strong = rng.integers(0, 4, n)
    weak = rng.integers(0, 3, n)
    noise = rng.integers(0, 5, n)
    logits = 1.5 * (strong - 1.5) + 0.4 * (weak - 1)
    labels = (rng.random(n) < 1 / (1 + np.exp(-logits))).astype(int)
    return np.stack([strong, weak, noise], axis=1), labels


def test_chi2_by_field_is_pearsons_statistic_of_the_contingency_table():
    codes, labels = codes_and_labels()
    got = chi2_by_field(codes, labels)
    for f in range(codes.shape[1]):
        table = pd.crosstab(codes[:, f], labels).to_numpy()
        assert got[f] == pytest.approx(chi2_contingency(table, correction=False)[0], rel=1e-9)
    assert got[0] > got[1] > got[2]


def test_correlation_ratio_is_the_correlation_with_the_target_encoding():
    codes, labels = codes_and_labels()
    got = correlation_ratio(codes, labels)
    for f in range(codes.shape[1]):
        means = pd.Series(labels).groupby(codes[:, f]).transform("mean").to_numpy()
        assert got[f] == pytest.approx(abs(np.corrcoef(means, labels)[0, 1]), rel=1e-9)
    binary = (codes[:, :1] >= 2).astype(int)
    assert correlation_ratio(binary, labels)[0] == pytest.approx(abs(np.corrcoef(binary[:, 0], labels)[0, 1]))
    assert 0 <= got.min() and got.max() <= 1
    with pytest.raises(ValueError, match="one class"):
        correlation_ratio(codes, np.zeros(len(codes)))
    with pytest.raises(ValueError, match="one entry per row"):
        correlation_ratio(codes, labels[:-1])


def test_l1_path_counts_the_weights_a_direct_fit_keeps_and_orders_the_fields():
    codes, labels = codes_and_labels()
    one_hot = np.eye(12)[np.c_[codes[:, 0], 4 + codes[:, 1], 7 + codes[:, 2]]].sum(axis=1)
    groups = {"strong": range(0, 4), "weak": range(4, 7), "noise": range(7, 12)}
    Cs = [1e-4, 1e-3, 3e-3, 1e-2, 1e-1, 10.0]
    path = l1_path(one_hot, labels, groups, Cs)
    assert list(path.columns) == ["strong", "weak", "noise"] and list(path.index) == Cs
    assert path.loc[1e-4].sum() == 0  # strong regularisation: every weight is zero
    l1 = {"l1_ratio": 1.0} if tuple(int(v) for v in sklearn.__version__.split(".")[:2]) >= (1, 8) else {"penalty": "l1"}
    direct = SklearnLogisticRegression(C=1e-2, solver="liblinear", max_iter=1000, **l1).fit(one_hot, labels).coef_[0]
    assert path.loc[1e-2].tolist() == [np.count_nonzero(direct[0:4]), np.count_nonzero(direct[4:7]), np.count_nonzero(direct[7:12])]
    entry = l1_entry(path)
    assert entry["strong"] < entry["weak"] <= entry["noise"]
    assert l1_entry(path.loc[[1e-4]])["strong"] == np.inf  # never enters within the path
    with pytest.raises(ValueError, match="positive"):
        l1_path(one_hot, labels, groups, [0.0])


class _Scores:
    """A fitted 'estimator' for scikit-learn's permutation_importance: the scores of a fixed function."""

    def __init__(self, function):
        self.function = function

    def fit(self, x, y):
        return self


def test_permutation_importance_equals_scikit_learns_on_single_columns():
    codes, labels = codes_and_labels()
    weights = np.array([1.5, 0.4, 0.0])
    score = lambda x: x @ weights  # noqa: E731
    ours = permutation_importance(score, codes, labels, {"strong": [0], "weak": [1], "noise": [2]}, n_repeats=4, seed=3)
    theirs = sklearn_permutation_importance(_Scores(score), codes, labels, n_repeats=4, random_state=3,
                                            scoring=lambda est, x, y: roc_auc_score(y, est.function(x)))
    assert np.allclose(ours["importance"].to_numpy(), theirs.importances_mean)
    assert np.allclose(ours["std"].to_numpy(), theirs.importances_std)
    assert ours.loc["noise", "importance"] == 0.0 and ours.loc["strong", "importance"] > ours.loc["weak", "importance"] > 0


def test_permutation_importance_moves_a_groups_columns_together():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 10, 500)
    features = np.c_[a, a, rng.integers(0, 10, 500)]  # columns 0 and 1 are one field spread over two columns
    labels = (a >= 5).astype(int)
    seen = []

    def score(x):
        seen.append(x.copy())
        return x[:, 0].astype(float)

    result = permutation_importance(score, features, labels, {"pair": [0, 1], "other": [2]}, n_repeats=2)
    assert all(np.array_equal(x[:, 0], x[:, 1]) for x in seen)  # rows of the group stay intact
    assert result.loc["pair", "importance"] > 0.3 and result.loc["other", "importance"] == 0.0
    with pytest.raises(ValueError, match="at least one column"):
        permutation_importance(score, features, labels, {"empty": []})
