"""Checkers for the exercises of chapter 2: *Embeddings* (book/02_embeddings.ipynb) and
*Choosing the dimension* (book/02_dimension.ipynb).

Each checker calls the learner's function on fresh random inputs and compares it with a
reference computed here, so it can say "not yet" without printing the expected answer.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import torch

from . import checker

__all__ = ["plateau_reference"]


@checker(
    "02_embeddings-ex-offsets",
    hint="field f starts at row o_f = n_0 + ... + n_(f-1) of the shared table; check 0 <= x_f < n_f "
    "for every field before adding the offsets.",
)
def check_shared_lookup(answer: Callable) -> tuple[bool, str]:
    if not callable(answer):
        return False, "the answer should be a function shared_lookup(table, features, field_dims), not a value."
    generator = torch.Generator().manual_seed(3)
    field_dims = [7, 3, 5, 2]
    table = torch.randn(sum(field_dims), 4, generator=generator)  # (17, 4)
    features = torch.stack([torch.randint(0, n, (25,), generator=generator) for n in field_dims], dim=1)  # (25, 4)
    offsets = torch.tensor([0, 7, 10, 15])
    want = table[features + offsets]  # (25, 4 fields, 4)
    got = torch.as_tensor(answer(table.clone(), features.clone(), list(field_dims)))
    if tuple(got.shape) != tuple(want.shape):
        return False, f"expected the shape (rows, fields, dim) = {tuple(want.shape)}, got {tuple(got.shape)}."
    if not torch.allclose(got.to(want.dtype), want):
        return False, "the vectors are not the rows of the shared table that the fields' values point to."
    for name, bad in (("an index equal to its field's size", [[0, 3, 0, 0]]), ("a negative index", [[0, 0, -1, 0]])):
        try:
            answer(table.clone(), torch.tensor(bad), list(field_dims))
        except ValueError:
            continue
        except Exception as error:
            return False, f"{name} raised {type(error).__name__}; raise ValueError with a clear message instead."
        return False, f"{name} was accepted: it reads a row of another field; raise ValueError instead."
    return True, ""


def plateau_reference(runs: pd.DataFrame, tolerance: float) -> int:
    """The smallest dimension whose validation NDCG@10 (sampled), averaged over seeds, is within
    `tolerance` of the best dimension's average (chapter 2, *Choosing the dimension*).

    runs: one row per (dim, seed) with the columns ``dim``, ``seed`` and ``valid sampled``.
    """
    means = runs.groupby("dim")["valid sampled"].mean()
    return int(min(d for d in means.index if means[d] >= means.max() - tolerance))


def _runs(curve: dict[int, list[float]], seed: int) -> pd.DataFrame:
    rows = [{"dim": dim, "seed": s, "valid sampled": value}
            for dim, values in curve.items() for s, value in enumerate(values)]
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)  # rows in any order


@checker(
    "02_dimension-ex-plateau",
    hint="average `valid sampled` over the seeds of each dimension first; then keep the dimensions whose "
    "mean is at least the best mean minus the tolerance, and return the smallest of them.",
)
def check_plateau(answer: Callable) -> tuple[bool, str]:
    if not callable(answer):
        return False, "the answer should be a function plateau_dimension(runs, tolerance), not a value."
    cases = [
        # a curve that climbs and levels off; one lucky seed at d=8 (its max is near the best)
        ({4: [0.20, 0.22], 8: [0.28, 0.395], 16: [0.38, 0.40], 32: [0.40, 0.41], 64: [0.41, 0.40]}, 0.02),
        # the best dimension is not the largest; three seeds
        ({4: [0.10, 0.12, 0.11], 16: [0.30, 0.31, 0.29], 64: [0.36, 0.35, 0.37], 256: [0.33, 0.32, 0.34]}, 0.005),
        # a wide tolerance reaches down the curve
        ({2: [0.20, 0.21], 4: [0.30, 0.31], 8: [0.33, 0.34], 16: [0.35, 0.35]}, 0.06),
    ]
    for number, (curve, tolerance) in enumerate(cases):
        runs = _runs(curve, seed=number)
        got = answer(runs.copy(), tolerance)
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, np.integer)):
            return False, f"return the dimension as an int, not {type(got).__name__}."
        if int(got) != plateau_reference(runs, tolerance):
            return False, f"the dimension returned for test table {number + 1} of {len(cases)} is not the plateau's first."
    return True, ""
