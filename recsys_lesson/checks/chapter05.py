"""Checkers for the coding exercises of chapter 5, Wide & Deep and its successors.

``05_wide_deep-ex-fm-identity``: the answer is a function ``pairwise(vectors)`` that maps field
vectors of shape (batch, num_fields, dim) to the factorisation machine's pairwise term
Σ_{f<g} <e_f, e_g>, one value per row. The checker compares it on fresh random inputs with an
explicit sum over the Gram matrix of each row.
"""

from __future__ import annotations

from typing import Any

import torch

from . import checker


def _reference(vectors: torch.Tensor) -> torch.Tensor:
    gram = vectors @ vectors.transpose(1, 2)  # (batch, num_fields, num_fields): <e_f, e_g>
    upper = torch.triu(torch.ones(gram.shape[1:], dtype=torch.bool), diagonal=1)  # f < g
    return gram[:, upper].sum(-1)  # (batch,)


@checker(
    "05_wide_deep-ex-fm-identity",
    hint="sum <e_f, e_g> over the pairs of DIFFERENT fields f < g, each pair once, separately for "
    "every row of the batch.",
)
def fm_pairwise_loop(answer: Any):
    if not callable(answer):
        return False, "the answer should be a function pairwise(vectors) returning one value per row."
    generator = torch.Generator().manual_seed(2017)
    for batch, num_fields, dim in ((4, 5, 3), (7, 9, 8)):
        vectors = torch.randn(batch, num_fields, dim, generator=generator)
        got = torch.as_tensor(answer(vectors.clone())).double()
        if got.shape != (batch,):
            return False, (f"for vectors of shape ({batch}, {num_fields}, {dim}) the answer should have shape "
                           f"({batch},), one value per row; got {tuple(got.shape)}.")
        if not torch.allclose(got, _reference(vectors).double(), rtol=1e-4, atol=1e-4):
            return False, f"the values differ from the pairwise term on random vectors of shape ({batch}, {num_fields}, {dim})."
    return True
