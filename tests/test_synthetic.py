"""Tests for recsys_lesson.data.synthetic: the generator's truth is what it says it is."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from recsys_lesson.data import synthetic
from recsys_lesson.data.synthetic import FEATURE_NAMES, GENRES, Synthetic, make_synthetic


@pytest.fixture(scope="module")
def data() -> Synthetic:
    return make_synthetic(seed=0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_shapes_and_columns(data):
    assert list(data.users.columns) == ["user", "age_group", "gender"]
    assert list(data.items.columns) == ["item", *FEATURE_NAMES]
    assert list(data.interactions.columns) == ["user", "item", "timestamp", "label", "prob", "logit"]
    assert (data.num_users, data.num_items) == (2000, 500)
    assert data.user_factors.shape == (2000, 8) and data.item_factors.shape == (500, 8)
    assert len(data.interactions) == 2000 * 40
    assert data.users["age_group"].between(0, 4).all() and data.users["gender"].isin([0, 1]).all()
    assert data.items[list(FEATURE_NAMES)].isin([0, 1]).all().all()
    assert (data.items[list(GENRES)].sum(axis=1) >= 1).all()  # every item has a genre
    assert set(data.interactions["label"].unique()) == {0, 1}
    for column in ("user", "item", "timestamp", "label"):
        assert data.interactions[column].dtype == np.int64


def test_each_user_sees_distinct_items_in_increasing_time(data):
    per_user = data.interactions.groupby("user")
    assert (per_user["item"].nunique() == 40).all()
    assert (per_user["timestamp"].apply(lambda t: (np.diff(t.to_numpy()) > 0).all())).all()


def test_reproducible_with_seed():
    a, b, c = make_synthetic(300, 100, seed=3), make_synthetic(300, 100, seed=3), make_synthetic(300, 100, seed=4)
    for name in ("users", "items", "interactions"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert np.array_equal(a.user_factors, b.user_factors)
    assert not a.interactions["label"].equals(c.interactions["label"])


def test_prob_is_sigmoid_of_logit(data):
    frame = data.interactions
    assert np.allclose(frame["prob"], sigmoid(frame["logit"]), rtol=1e-12, atol=1e-15)


def test_logit_matches_slow_reference(data):
    """Recompute some rows' logits term by term from the stored truth and the module's tables."""
    users = data.users.set_index("user")
    items = data.items.set_index("item")
    rows = data.interactions.sample(200, random_state=0)
    for row in rows.itertuples():
        user, item = users.loc[row.user], items.loc[row.item]
        logit = synthetic.GLOBAL_BIAS + data.user_bias[row.user] + data.item_bias[row.item]
        logit += float(np.dot(data.user_factors[row.user], data.item_factors[row.item]))
        for name in FEATURE_NAMES:
            logit += synthetic.FEATURE_EFFECTS[name] * item[name]
        for g, genre in enumerate(GENRES):
            logit += synthetic.AGE_GENRE[user["age_group"], g] * item[genre]
            logit += synthetic.GENDER_GENRE[user["gender"], g] * item[genre]
        if all(item[name] == 1 for name in data.interaction):
            logit += data.interaction_strength
        assert row.logit == pytest.approx(logit, abs=1e-9)


def test_base_rates_are_sensible():
    for seed in range(4):
        data = make_synthetic(seed=seed)
        assert 0.2 <= data.interactions["label"].mean() <= 0.5
        assert 0.03 <= data.conjunction_mask(data.items).mean() <= 0.10


def test_conjunction_raises_clicks(data):
    mask = data.conjunction_mask(data.interactions)
    labels = data.interactions["label"].to_numpy()
    assert 0.02 < mask.mean() < 0.12
    assert labels[mask].mean() > labels[~mask].mean() + 0.3


def test_interaction_strength_zero_removes_the_effect(data):
    flat = make_synthetic(seed=0, interaction_strength=0.0)
    mask = data.conjunction_mask(data.interactions)
    # same seed, same everything else: the logits differ by exactly the conjunction term
    difference = data.interactions["logit"] - flat.interactions["logit"]
    assert np.allclose(difference, 3.0 * mask)
    gap = data.interactions["prob"][mask].mean() - data.interactions["prob"][~mask].mean()
    flat_gap = flat.interactions["prob"][mask].mean() - flat.interactions["prob"][~mask].mean()
    assert gap > 0.4 and abs(flat_gap) < 0.2


def test_conjunction_mask_accepts_items_rows_and_indices(data):
    by_item = data.conjunction_mask(data.items)
    expected = (data.items["sci-fi"] == 1) & (data.items["action"] == 1) & (data.items["blockbuster"] == 1)
    assert np.array_equal(by_item, expected.to_numpy())
    rows = data.interactions
    assert np.array_equal(data.conjunction_mask(rows), by_item[rows["item"].to_numpy()])
    assert np.array_equal(data.conjunction_mask(np.array([0, 1, 2])), by_item[:3])
    with pytest.raises(ValueError, match="feature columns"):
        data.conjunction_mask(pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match=r"\[0, 500\)"):
        data.conjunction_mask(np.array([500]))


def test_any_number_of_named_features():
    single = make_synthetic(300, 100, interaction="blockbuster", seed=1)
    assert single.interaction == ("blockbuster",)
    assert np.array_equal(single.conjunction_mask(single.items), single.items["blockbuster"].to_numpy() == 1)
    four = make_synthetic(300, 100, interaction=("drama", "comedy", "romance", "thriller"), seed=1)
    expected = (four.items[["drama", "comedy", "romance", "thriller"]] == 1).all(axis=1).to_numpy()
    assert np.array_equal(four.conjunction_mask(four.items), expected)


def test_bayes_auc(data):
    auc = data.bayes_auc()
    frame = data.interactions
    assert 0.5 < auc < 1
    assert auc == pytest.approx(roc_auc_score(frame["label"], frame["prob"]))
    # a score that knows everything but the conjunction does worse
    mask = data.conjunction_mask(frame)
    without = roc_auc_score(frame["label"], frame["logit"] - data.interaction_strength * mask)
    assert auc > without + 0.01
    subset = frame.iloc[:5000]
    assert data.bayes_auc(subset) == pytest.approx(roc_auc_score(subset["label"], subset["prob"]))


def test_bayes_auc_errors(data):
    with pytest.raises(ValueError, match="both labels"):
        data.bayes_auc(data.interactions[data.interactions["label"] == 1])
    with pytest.raises(ValueError, match="prob"):
        data.bayes_auc(data.interactions.drop(columns="prob"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"interaction": ("sci-fi", "horror")}, r"unknown \['horror'\]"),
        ({"interaction": ("western",)}, "blockbuster"),  # the message lists the valid names
        ({"interaction": ()}, "at least one"),
        ({"interaction": ("action", "action")}, "twice"),
        ({"num_users": 0}, "num_users"),
        ({"num_items": 2.5}, "num_items"),
        ({"dim": 0}, "dim"),
        ({"interactions_per_user": 600}, "exceeds num_items=500"),
        ({"interaction_strength": float("nan")}, "interaction_strength"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_synthetic(**kwargs)


def test_latent_scale_scales_only_the_latent_terms(data):
    flat = make_synthetic(seed=0, latent_scale=0.0)
    half = make_synthetic(seed=0, latent_scale=0.5)
    frame = data.interactions
    users, items = frame["user"].to_numpy(), frame["item"].to_numpy()
    latent = (data.user_bias[users] + data.item_bias[items]
              + np.einsum("nd,nd->n", data.user_factors[users], data.item_factors[items]))
    # every other draw is the same: the logits differ by exactly the scaled latent term
    assert np.allclose(frame["logit"] - flat.interactions["logit"], latent)
    assert np.allclose(frame["logit"] - half.interactions["logit"], 0.5 * latent)
    pd.testing.assert_frame_equal(flat.items, data.items)
    pd.testing.assert_frame_equal(flat.users, data.users)
    assert np.array_equal(flat.interactions["item"], frame["item"])
    # the stored truth is scaled with it
    assert np.allclose(half.user_bias, 0.5 * data.user_bias) and np.allclose(half.item_bias, 0.5 * data.item_bias)
    assert np.allclose(half.user_factors @ half.item_factors.T, 0.5 * data.user_factors @ data.item_factors.T)
    assert not flat.user_bias.any() and not flat.item_factors.any()


def test_without_latent_terms_the_probability_is_a_function_of_the_features():
    flat = make_synthetic(num_users=500, num_items=200, seed=2, latent_scale=0.0)
    rows = flat.interactions.merge(flat.users, on="user").merge(flat.items, on="item")
    columns = ["age_group", "gender", *FEATURE_NAMES]
    spread = rows.groupby(columns)["prob"].agg(lambda p: p.max() - p.min())
    assert spread.max() < 1e-12  # rows with the same features share one click probability
    # so a model that knows that function per feature cell reaches the Bayes AUC (up to how
    # rounding breaks ties between rows of the same cell)
    cell_prob = rows.groupby(columns)["prob"].transform("mean")
    assert roc_auc_score(rows["label"], cell_prob) == pytest.approx(flat.bayes_auc(rows), abs=1e-4)
    # with the latent terms (the default) it cannot: users who share features differ
    full = make_synthetic(num_users=500, num_items=200, seed=2)
    rows = full.interactions.merge(full.users, on="user").merge(full.items, on="item")
    cell_prob = rows.groupby(columns)["prob"].transform("mean")
    assert roc_auc_score(rows["label"], cell_prob) < full.bayes_auc(rows) - 0.05


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf")])
def test_invalid_latent_scale(value):
    with pytest.raises(ValueError, match="latent_scale"):
        make_synthetic(num_users=10, num_items=10, interactions_per_user=5, latent_scale=value)
