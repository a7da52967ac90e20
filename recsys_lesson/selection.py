"""Feature selection: scores that rank the fields of a CTR task. Chapter 6.

Each function scores *fields* (a column of codes, or a group of columns such as a one-hot block
or a bag), because a field is what one keeps or drops:

- `chi2_by_field`: Pearson's chi-squared statistic of each field's contingency table against
  the labels, from scikit-learn's ``chi2`` on the one-hot columns, summed per field.
- `correlation_ratio`: η, the correlation between the labels and the field's target encoding.
- `l1_path`: how many weights of each field L1-regularised logistic regression keeps, along a
  path of regularisation strengths (scikit-learn's ``LogisticRegression``, liblinear solver).
- `permutation_importance`: how much a trained model's metric drops when a field's columns are
  shuffled, the algorithm of ``sklearn.inspection.permutation_importance`` (the tests check the
  two agree) with groups of columns permuted together.

Mutual information (``sklearn.feature_selection.mutual_info_classif``) and a tree model's
importances (``GradientBoostingClassifier.feature_importances_``) are used from scikit-learn
directly.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd
import sklearn
from sklearn.feature_selection import chi2
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import OneHotEncoder

Groups = Union[Mapping[str, Sequence[int]], Sequence[Sequence[int]]]


def _codes_and_labels(codes, labels) -> tuple[np.ndarray, np.ndarray]:
    codes = np.asarray(codes)
    labels = np.asarray(labels)
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-d array (rows, fields) of category codes, got shape {codes.shape}")
    if labels.ndim != 1 or len(labels) != len(codes):
        raise ValueError(f"labels must be 1-d with one entry per row: {len(codes)} rows, labels of shape {labels.shape}")
    if len(codes) == 0:
        raise ValueError("no rows to score")
    if len(np.unique(labels)) < 2:
        raise ValueError("labels hold one class only; a score against them is undefined")
    return codes, labels


def _named_groups(groups: Groups) -> dict[str, list[int]]:
    if isinstance(groups, Mapping):
        named = {str(name): [int(c) for c in columns] for name, columns in groups.items()}
    else:
        named = {str(g): [int(c) for c in columns] for g, columns in enumerate(groups)}
    if not named or any(len(columns) == 0 for columns in named.values()):
        raise ValueError("groups must name at least one group, each with at least one column")
    return named


def chi2_by_field(codes, labels) -> np.ndarray:
    """Pearson's chi-squared statistic of every field (column of `codes`) against the labels:

        χ²_f = Σ_{v, y} (O_{vy} − E_{vy})² / E_{vy},   E_{vy} = n_v · n_y / n,

    over the field's values v and the label values y. scikit-learn's ``chi2`` computes the terms of
    one value (one one-hot column); summed over the field's columns they give χ²_f, which equals
    ``scipy.stats.chi2_contingency(table, correction=False)``'s statistic. Larger: more dependent;
    it grows with the number of rows, and with the number of values (its degrees of freedom are
    values − 1). codes: (n, num_fields) category codes; labels: (n,). Returns (num_fields,).
    """
    codes, labels = _codes_and_labels(codes, labels)
    one_hot = OneHotEncoder(handle_unknown="ignore").fit(codes)
    statistic, _ = chi2(one_hot.transform(codes), labels)
    field_of_column = np.repeat(np.arange(codes.shape[1]), [len(c) for c in one_hot.categories_])
    return np.bincount(field_of_column, weights=np.nan_to_num(statistic), minlength=codes.shape[1])


def correlation_ratio(codes, labels) -> np.ndarray:
    """η of every field: the correlation between the labels and the field's target encoding
    (each row replaced by the mean label of its value),

        η_f = sqrt( Σ_v n_v (ȳ_v − ȳ)² / Σ_i (y_i − ȳ)² ),

    the share of the labels' variance explained by the field, square-rooted. Range [0, 1]; for a
    two-valued field it is |Pearson's r|. Computed on the rows given (in-sample, so a field with
    many rare values scores high by chance). codes: (n, num_fields); labels: (n,).
    Returns (num_fields,).
    """
    codes, labels = _codes_and_labels(codes, labels)
    y = labels.astype(np.float64)
    total = ((y - y.mean()) ** 2).sum()
    out = np.zeros(codes.shape[1])
    for f in range(codes.shape[1]):
        _, inverse, counts = np.unique(codes[:, f], return_inverse=True, return_counts=True)
        means = np.bincount(inverse, weights=y) / counts
        out[f] = np.sqrt((counts * (means - y.mean()) ** 2).sum() / total)
    return out


def _l1_logistic(C: float, seed: int) -> LogisticRegression:
    """L1-regularised logistic regression in the spelling of the installed scikit-learn
    (``penalty="l1"`` was deprecated in 1.8 for ``l1_ratio=1``)."""
    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    if (major, minor) >= (1, 8):
        return LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", random_state=seed, max_iter=1000)
    return LogisticRegression(C=C, penalty="l1", solver="liblinear", random_state=seed, max_iter=1000)


def l1_path(matrix, labels, groups: Groups, Cs: Sequence[float], seed: int = 0) -> pd.DataFrame:
    """Fit L1-regularised logistic regression,

        min_w  ‖w‖₁ + C Σ_i log(1 + exp(−(2y_i − 1)(wᵀx_i + b))),

    once per C in `Cs` and count, for each group of columns (a field's one-hot block), how many
    of its weights are not zero. Small C: strong regularisation, every weight is zero; as C
    grows, the most useful fields enter first. matrix: (n, columns) dense or sparse inputs
    (scale numeric columns first); groups: {name: column indices}. Returns a DataFrame with one
    row per C (the index) and one column per group. `l1_entry` reads the order of entry.
    """
    named = _named_groups(groups)
    labels = np.asarray(labels)
    if matrix.shape[0] != len(labels):
        raise ValueError(f"matrix has {matrix.shape[0]} rows but labels has {len(labels)}")
    if len(Cs) == 0 or any(C <= 0 for C in Cs):
        raise ValueError(f"Cs must be a non-empty list of positive numbers, got {list(Cs)}")
    rows = []
    for C in Cs:
        weights = _l1_logistic(float(C), seed).fit(matrix, labels).coef_[0]
        rows.append({name: int(np.count_nonzero(weights[columns])) for name, columns in named.items()})
    return pd.DataFrame(rows, index=pd.Index([float(C) for C in Cs], name="C"))


def l1_entry(path: pd.DataFrame) -> pd.Series:
    """The smallest C of `path` (from `l1_path`) at which each group has a non-zero weight;
    infinity for a group that never enters. Smaller means more useful."""
    ordered = path.sort_index()
    entered = ordered.gt(0)
    return pd.Series({name: (float(entered.index[entered[name].to_numpy().argmax()]) if entered[name].any() else np.inf)
                      for name in path.columns}, name="C at entry")


def permutation_importance(
    score_fn: Callable[[np.ndarray], np.ndarray],
    features,
    labels,
    groups: Groups,
    n_repeats: int = 5,
    seed: int = 0,
    metric: Callable[[np.ndarray, np.ndarray], float] = roc_auc_score,
) -> pd.DataFrame:
    """Permutation importance of each group of columns (Breiman, 2001): the drop of
    ``metric(labels, score_fn(features))`` when the rows of the group's columns are shuffled,
    which breaks their link with the labels and keeps their distribution. One row per group:
    ``importance`` (mean drop over `n_repeats` shuffles) and ``std``.

    The shuffles are those of ``sklearn.inspection.permutation_importance(..., random_state=seed)``
    (the tests compare them on single columns): a seed drawn once from ``RandomState(seed)``
    seeds every group's own ``RandomState``, whose repeated ``shuffle`` of the row order permutes
    the (already permuted) columns again. A group's columns move together, so a bag of genres or
    a one-hot block keeps its rows intact. score_fn: features (n, columns) -> scores (n,), for
    example ``lambda x: model.predict_logits(x).numpy()``. Larger: the model relies more on it;
    near 0 or below: it does not (or another field stands in for it).
    """
    features = np.asarray(features)
    labels = np.asarray(labels)
    named = _named_groups(groups)
    if features.ndim != 2 or len(features) != len(labels):
        raise ValueError(f"features must be (n, columns) with one label per row; got {features.shape} and {labels.shape}")
    if int(n_repeats) != n_repeats or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive integer, got {n_repeats!r}")
    baseline = float(metric(labels, np.asarray(score_fn(features))))
    group_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    rows = []
    for name, columns in named.items():
        random_state = np.random.RandomState(group_seed)
        permuted = features.copy()
        order = np.arange(len(features))
        drops = []
        for _ in range(int(n_repeats)):
            random_state.shuffle(order)
            permuted[:, columns] = permuted[order][:, columns]
            drops.append(baseline - float(metric(labels, np.asarray(score_fn(permuted)))))
        rows.append({"group": name, "importance": float(np.mean(drops)), "std": float(np.std(drops))})
    return pd.DataFrame(rows).set_index("group")
