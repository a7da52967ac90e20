"""A click generator with known ground truth.

Chapter 1 uses it to show what each model family can and cannot capture: the true click logit
contains a conjunction of several binary item features (by default "sci-fi and action and
blockbuster"), which a logistic regression (additive) and a factorisation machine (pairwise)
cannot express, while an MLP can. Because the generator knows every click's true probability,
:meth:`Synthetic.bayes_auc` gives the best AUC any model can reach on the same rows.

The true logit of user u clicking item i is

    logit = global_bias + latent_scale * (b_u + b_i + <p_u, q_i>)
            + sum_f w_f x_if                                   (small linear feature effects)
            + A[age_u, genres_i] + G[gender_u, genres_i]       (pairwise user x genre tastes)
            + interaction_strength * prod_{f in interaction} x_if   (the conjunction)

and the label is Bernoulli(sigmoid(logit)).

Note that the conjunction depends on the item only: a model given item ids can absorb it into a
per-item bias. It is a lesson about models that see features, not ids. And the latent terms
(``latent_scale``, 1 by default) are invisible in the side features: with them, no model of the
features alone can reach the Bayes AUC; ``latent_scale=0`` removes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pandas as pd

GENRES = ("sci-fi", "action", "drama", "comedy", "romance", "thriller")
FEATURE_NAMES = GENRES + ("blockbuster",)
# P(item has the feature); an item drawn with no genre gets one genre at random
FEATURE_PROBS = {
    "sci-fi": 0.35,
    "action": 0.4,
    "drama": 0.35,
    "comedy": 0.3,
    "romance": 0.2,
    "thriller": 0.25,
    "blockbuster": 0.45,
}
# small additive effect of each item feature on the logit
FEATURE_EFFECTS = {
    "sci-fi": 0.1,
    "action": 0.15,
    "drama": -0.1,
    "comedy": 0.05,
    "romance": -0.05,
    "thriller": 0.0,
    "blockbuster": 0.3,
}
NUM_AGE_GROUPS = 5
# AGE_GENRE[a, g]: extra logit for age group a (0 youngest .. 4 oldest) on genre g
AGE_GENRE = np.array(
    [  # sci-fi action drama comedy romance thriller
        [0.3, 0.5, -0.3, 0.3, -0.2, 0.0],
        [0.2, 0.3, -0.1, 0.2, 0.0, 0.1],
        [0.0, 0.0, 0.1, 0.0, 0.1, 0.1],
        [-0.2, -0.2, 0.3, -0.1, 0.2, 0.1],
        [-0.3, -0.4, 0.5, -0.2, 0.3, 0.0],
    ]
)
# GENDER_GENRE[s, g]: extra logit for gender s (0 or 1) on genre g
GENDER_GENRE = np.array(
    [
        [0.1, 0.2, -0.1, 0.0, -0.3, 0.1],
        [-0.1, -0.2, 0.1, 0.0, 0.3, -0.1],
    ]
)
GLOBAL_BIAS = -1.3
BIAS_SCALE = 0.3  # standard deviation of the user and item biases
FACTOR_VARIANCE = 0.6  # variance of <p_u, q_i>, whatever dim is
START_TIME = 978_307_200  # 2001-01-01 00:00:00 UTC, in seconds
MEAN_GAP = 3_600  # mean seconds between one user's consecutive interactions


@dataclass
class Synthetic:
    """A synthetic click data set and the truth that generated it.

    ``users``: DataFrame (user, age_group 0..4, gender 0/1). ``items``: DataFrame (item, one 0/1
    int column per name in ``feature_names``). ``interactions``: DataFrame (user, item, timestamp,
    label 0/1, prob = true click probability, logit = true logit), sorted by user then time.
    ``user_factors`` (num_users, dim), ``item_factors`` (num_items, dim), ``user_bias``
    (num_users,), ``item_bias`` (num_items,): the latent truth. ``interaction``: the features in
    the conjunction, ``interaction_strength`` its weight in the logit.
    """

    users: pd.DataFrame
    items: pd.DataFrame
    interactions: pd.DataFrame
    user_factors: np.ndarray
    item_factors: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray
    feature_names: tuple
    interaction: tuple
    interaction_strength: float

    @property
    def num_users(self) -> int:
        return len(self.users)

    @property
    def num_items(self) -> int:
        return len(self.items)

    def conjunction_mask(self, items_or_rows) -> np.ndarray:
        """Bool array: whether each item (or the item of each row) has every feature in
        ``interaction``.

        Accepts a frame with all the feature columns (such as ``items``), a frame with an
        ``item`` column (such as ``interactions``), or an array of item indices.
        """
        names = list(self.interaction)
        if isinstance(items_or_rows, pd.DataFrame):
            if all(name in items_or_rows.columns for name in names):
                return items_or_rows[names].to_numpy().astype(bool).all(axis=1)
            if "item" not in items_or_rows.columns:
                raise ValueError(
                    f"conjunction_mask needs a frame with the feature columns {names} or an 'item' "
                    f"column; got columns {list(items_or_rows.columns)}"
                )
            items_or_rows = items_or_rows["item"].to_numpy()
        items = np.asarray(items_or_rows)
        if items.dtype.kind not in "iu":
            raise ValueError(f"conjunction_mask expects item indices, got dtype {items.dtype}")
        if items.size and (items.min() < 0 or items.max() >= self.num_items):
            raise ValueError(f"item indices must lie in [0, {self.num_items}), found [{items.min()}, {items.max()}]")
        item_has = self.items[names].to_numpy().astype(bool).all(axis=1)  # (num_items,)
        return item_has[items]

    def bayes_auc(self, frame: Optional[pd.DataFrame] = None) -> float:
        """AUC of the true click probability against the sampled labels on ``frame``'s rows
        (default: all interactions). Range [0.5, 1] in expectation.

        Scoring by the true probability maximises the expected AUC, so this is the ceiling for
        any model on these rows, up to sampling noise: on a finite sample, another score can
        beat it by chance by a small margin (shrinking like 1 / sqrt(number of rows)).
        """
        from sklearn.metrics import roc_auc_score

        frame = self.interactions if frame is None else frame
        missing = [c for c in ("label", "prob") if c not in frame.columns]
        if missing:
            raise ValueError(f"bayes_auc needs the columns 'label' and 'prob'; {missing} missing")
        labels = frame["label"].to_numpy()
        if len(np.unique(labels)) < 2:
            raise ValueError("bayes_auc needs rows of both labels (0 and 1); AUC is undefined otherwise")
        return float(roc_auc_score(labels, frame["prob"].to_numpy()))


def make_synthetic(
    num_users: int = 2000,
    num_items: int = 500,
    dim: int = 8,
    interactions_per_user: int = 40,
    interaction: Sequence[str] = ("sci-fi", "action", "blockbuster"),
    interaction_strength: float = 3.0,
    seed: int = 0,
    latent_scale: float = 1.0,
) -> Synthetic:
    """Generate users, items and clicks whose true probabilities are known.

    Each user is shown ``interactions_per_user`` distinct random items at increasing timestamps;
    each shown item is clicked with probability sigmoid(logit) (module docstring). ``interaction``
    names the binary item features (from ``FEATURE_NAMES``) whose conjunction adds
    ``interaction_strength`` to the logit. With the defaults about 6% of items carry the
    conjunction (0.35 * 0.4 * 0.45) and about a third of shown items are clicked.
    """
    if isinstance(interaction, str):
        interaction = (interaction,)
    interaction = tuple(interaction)
    unknown = [name for name in interaction if name not in FEATURE_NAMES]
    if unknown or not interaction:
        raise ValueError(
            f"interaction must name one or more of the features {list(FEATURE_NAMES)}; "
            f"got unknown {unknown}" if unknown else "interaction must name at least one feature"
        )
    if len(set(interaction)) != len(interaction):
        raise ValueError(f"interaction names a feature twice: {list(interaction)}")
    for name, value in (("num_users", num_users), ("num_items", num_items), ("dim", dim),
                        ("interactions_per_user", interactions_per_user)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")
    if interactions_per_user > num_items:
        raise ValueError(
            f"interactions_per_user={interactions_per_user} exceeds num_items={num_items}: each user "
            f"is shown distinct items"
        )
    if not np.isfinite(interaction_strength):
        raise ValueError(f"interaction_strength must be finite, got {interaction_strength}")
    if not np.isfinite(latent_scale) or latent_scale < 0:
        raise ValueError(f"latent_scale must be a finite number >= 0, got {latent_scale}")

    rng = np.random.default_rng(seed)
    # items: binary features, at least one genre each
    probs = np.array([FEATURE_PROBS[name] for name in FEATURE_NAMES])
    features = (rng.random((num_items, len(FEATURE_NAMES))) < probs).astype(np.int64)  # (num_items, F)
    no_genre = features[:, : len(GENRES)].sum(axis=1) == 0
    features[np.flatnonzero(no_genre), rng.integers(0, len(GENRES), no_genre.sum())] = 1
    items = pd.DataFrame(features, columns=list(FEATURE_NAMES))
    items.insert(0, "item", np.arange(num_items, dtype=np.int64))

    # users: side features
    age_group = rng.integers(0, NUM_AGE_GROUPS, num_users)
    gender = rng.integers(0, 2, num_users)
    users = pd.DataFrame(
        {"user": np.arange(num_users, dtype=np.int64), "age_group": age_group.astype(np.int64),
         "gender": gender.astype(np.int64)}
    )

    # latent truth
    factor_std = (FACTOR_VARIANCE / dim) ** 0.25  # so that Var <p_u, q_i> = FACTOR_VARIANCE
    user_factors = rng.normal(0.0, factor_std, (num_users, dim))
    item_factors = rng.normal(0.0, factor_std, (num_items, dim))
    user_bias = rng.normal(0.0, BIAS_SCALE, num_users)
    item_bias = rng.normal(0.0, BIAS_SCALE, num_items)
    # scale after drawing, so that every other draw is the same whatever latent_scale is;
    # the factors take sqrt(latent_scale) each, so that <p_u, q_i> is scaled by latent_scale
    user_bias, item_bias = latent_scale * user_bias, latent_scale * item_bias
    user_factors = np.sqrt(latent_scale) * user_factors
    item_factors = np.sqrt(latent_scale) * item_factors

    # impressions: each user sees interactions_per_user distinct items, at increasing times
    shown = np.argsort(rng.random((num_users, num_items)), axis=1)[:, :interactions_per_user]
    user = np.repeat(np.arange(num_users, dtype=np.int64), interactions_per_user)
    item = shown.reshape(-1).astype(np.int64)  # (num_users * interactions_per_user,)
    start = START_TIME + rng.integers(0, 180 * 86_400, num_users)
    gaps = 1 + rng.exponential(MEAN_GAP, (num_users, interactions_per_user)).astype(np.int64)
    timestamp = (start[:, None] + np.cumsum(gaps, axis=1)).reshape(-1).astype(np.int64)

    genres = features[:, : len(GENRES)]  # (num_items, num_genres)
    effects = np.array([FEATURE_EFFECTS[name] for name in FEATURE_NAMES])
    conjunction = features[:, [FEATURE_NAMES.index(name) for name in interaction]].all(axis=1)
    logit = (
        GLOBAL_BIAS
        + user_bias[user]
        + item_bias[item]
        + np.einsum("nd,nd->n", user_factors[user], item_factors[item])
        + features[item] @ effects
        + (AGE_GENRE[age_group[user]] * genres[item]).sum(axis=1)
        + (GENDER_GENRE[gender[user]] * genres[item]).sum(axis=1)
        + interaction_strength * conjunction[item]
    )
    prob = 1.0 / (1.0 + np.exp(-logit))
    label = (rng.random(len(logit)) < prob).astype(np.int64)
    interactions = pd.DataFrame(
        {"user": user, "item": item, "timestamp": timestamp, "label": label, "prob": prob, "logit": logit}
    )
    return Synthetic(
        users=users,
        items=items,
        interactions=interactions,
        user_factors=user_factors,
        item_factors=item_factors,
        user_bias=user_bias,
        item_bias=item_bias,
        feature_names=FEATURE_NAMES,
        interaction=interaction,
        interaction_strength=float(interaction_strength),
    )
