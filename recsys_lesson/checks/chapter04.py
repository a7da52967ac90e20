"""Checkers for the coding exercises of chapter 4, autoencoders.

``04_autoencoders-ex-kl``: the answer is a function ``kl(mu, logvar)`` returning, for each row,
KL(N(μ, diag σ²) ‖ N(0, I)) summed over the latent dimensions: a tensor of shape (batch,). The
checker compares it on fresh random inputs with `torch.distributions.kl_divergence`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.distributions import Normal, kl_divergence

from . import checker


def _reference(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    posterior = Normal(mu, torch.exp(0.5 * logvar))
    prior = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    return kl_divergence(posterior, prior).sum(-1)  # (batch,)


@checker(
    "04_autoencoders-ex-kl",
    hint="work out the KL divergence of N(mu, s^2) from N(0, 1) for one latent dimension from the two "
    "densities, then sum over the dimensions; logvar is log s^2 (neither s nor s^2), and the answer keeps "
    "one value per row (no mean over the batch).",
)
def kl_term(answer: Any):
    if not callable(answer):
        return False, "the answer should be a function kl(mu, logvar) returning one value per row."
    generator = torch.Generator().manual_seed(2018)
    zeros = torch.zeros(4, 3)
    got = torch.as_tensor(answer(zeros.clone(), zeros.clone())).double()
    if got.shape != (4,):
        return False, f"for mu and logvar of shape (4, 3) the answer should have shape (4,), one value per row; got {tuple(got.shape)}."
    if not torch.allclose(got, torch.zeros(4, dtype=torch.double), atol=1e-6):
        return False, "with mu = 0 and logvar = 0 the posterior is the prior, so the KL term must be 0."
    for batch, dim in ((16, 8), (5, 200)):
        mu = torch.randn(batch, dim, generator=generator)
        logvar = torch.randn(batch, dim, generator=generator)
        got = torch.as_tensor(answer(mu.clone(), logvar.clone())).double()
        if got.shape != (batch,):
            return False, f"for inputs of shape ({batch}, {dim}) the answer should have shape ({batch},); got {tuple(got.shape)}."
        if not torch.allclose(got, _reference(mu, logvar).double(), rtol=1e-4, atol=1e-4):
            return False, f"the values differ from KL(q || N(0, I)) on random mu and logvar of shape ({batch}, {dim})."
    return True
