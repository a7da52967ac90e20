"""The checkers of chapter 2's coding exercises: right answers pass, plausible wrong ones fail."""

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_lesson.checks import check
from recsys_lesson.checks.chapter02 import plateau_reference
from recsys_lesson.models.layers import FeaturesEmbedding

OFFSETS = "02_embeddings-ex-offsets"
PLATEAU = "02_dimension-ex-plateau"


def shared_lookup(table, features, field_dims):  # the solution of the notebook
    sizes = torch.as_tensor(field_dims)
    if (features < 0).any() or (features >= sizes).any():
        raise ValueError("every value of field f must lie in [0, field_dims[f]).")
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), sizes.cumsum(0)[:-1]])
    return table[features + offsets]


def with_the_package(table, features, field_dims):  # right: FeaturesEmbedding holds the same table
    layer = FeaturesEmbedding(field_dims, table.shape[1])
    with torch.no_grad():
        layer.weight.copy_(table)
        return layer(features)


def no_range_check(table, features, field_dims):  # wrong: silently reads another field's rows
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), torch.as_tensor(field_dims).cumsum(0)[:-1]])
    return table[features + offsets]


def inclusive_offsets(table, features, field_dims):  # wrong: offsets include the field's own size
    shared_lookup(table, features, field_dims)
    return table[(features + torch.as_tensor(field_dims).cumsum(0)).clamp(max=len(table) - 1)]


def no_offsets(table, features, field_dims):  # wrong: every field reads from row 0 on
    shared_lookup(table, features, field_dims)
    return table[features]


def index_error(table, features, field_dims):  # wrong: the wrong kind of error
    if (features >= torch.as_tensor(field_dims)).any() or (features < 0).any():
        raise IndexError("out of range")
    return shared_lookup(table, features, field_dims)


@pytest.mark.parametrize("answer", [shared_lookup, with_the_package])
def test_offsets_right_answers_pass(answer):
    assert check(OFFSETS, answer, quiet=True).passed


@pytest.mark.parametrize("answer", [no_range_check, inclusive_offsets, no_offsets, index_error, None, 3])
def test_offsets_wrong_answers_fail(answer):
    result = check(OFFSETS, answer, quiet=True)
    assert not result.passed and "not yet" in result.message


def plateau_dimension(runs, tolerance):  # the solution of the notebook
    means = runs.groupby("dim")["valid sampled"].mean()
    return int(min(d for d in means.index if means[d] >= means.max() - tolerance))


def plateau_by_loop(runs, tolerance):  # a slower right answer
    dims = sorted(set(runs["dim"]))
    means = {d: np.mean([v for dd, v in zip(runs["dim"], runs["valid sampled"]) if dd == d]) for d in dims}
    best = max(means.values())
    for d in dims:
        if means[d] >= best - tolerance:
            return d


def plateau_by_max(runs, tolerance):  # wrong: the best seed instead of the mean
    best = runs.groupby("dim")["valid sampled"].max()
    return int(min(d for d in best.index if best[d] >= best.max() - tolerance))


def best_dimension(runs, tolerance):  # wrong: the best, not the smallest on the plateau
    return int(runs.groupby("dim")["valid sampled"].mean().idxmax())


def first_row_within(runs, tolerance):  # wrong: single runs instead of means, and in row order
    best = runs.groupby("dim")["valid sampled"].mean().max()
    return int(runs.loc[runs["valid sampled"] >= best - tolerance, "dim"].iloc[0])


def as_float(runs, tolerance):  # wrong type
    return float(plateau_dimension(runs, tolerance))


@pytest.mark.parametrize("answer", [plateau_dimension, plateau_by_loop, plateau_reference])
def test_plateau_right_answers_pass(answer):
    assert check(PLATEAU, answer, quiet=True).passed


@pytest.mark.parametrize("answer", [plateau_by_max, best_dimension, first_row_within, as_float, None])
def test_plateau_wrong_answers_fail(answer):
    assert not check(PLATEAU, answer, quiet=True).passed


def test_plateau_reference_on_a_worked_case():
    runs = pd.DataFrame({"dim": [8, 8, 16, 16, 32, 32], "seed": [0, 1] * 3,
                         "valid sampled": [0.30, 0.32, 0.40, 0.38, 0.41, 0.39]})
    # means over the seeds: 0.31, 0.39 and 0.40
    assert plateau_reference(runs, tolerance=0.015) == 16
    assert plateau_reference(runs, tolerance=0.005) == 32
    assert plateau_reference(runs, tolerance=0.1) == 8
