"""A/B tests of two recommenders: a simulated experiment and the two-proportion z-test. Chapter 7.

An online A/B test sends each visitor at random to arm A or arm B and compares the share of
visitors who click (the click-through rate, CTR) in each arm. This module

- simulates such a test from a held-out log (`simulate_ab_test`): each visitor is a user drawn
  from the log; under each arm the user clicks with a probability given per user (for example
  1 when that arm's top-k list contains the user's next held-out item, else 0);
- tests whether the two CTRs differ (`two_proportion_z_test`), with a confidence interval of
  the difference;
- says how many visitors per arm a test needs to detect a given difference
  (`required_sample_size`, `power`).

All of them use the normal approximation to the binomial, which is good when every arm has at
least a few dozen clicks and non-clicks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

__all__ = ["ABTestResult", "two_proportion_z_test", "required_sample_size", "power", "simulate_ab_test"]


@dataclass(frozen=True)
class ABTestResult:
    """Outcome of an A/B test of click-through rates; ``difference`` is CTR(B) − CTR(A)."""

    n_a: int
    n_b: int
    clicks_a: int
    clicks_b: int
    ctr_a: float
    ctr_b: float
    difference: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    confidence: float

    def significant(self, alpha: float = 0.05) -> bool:
        """Whether the two-sided test rejects "equal CTRs" at level `alpha`."""
        return self.p_value < alpha


def _count(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or int(value) != value:
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def _rate(value, name: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} is a click-through rate in [0, 1], got {value}")
    return value


def _check_level(alpha: float, name: str = "alpha") -> float:
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"{name} must lie in (0, 1), got {alpha}")
    return alpha


def two_proportion_z_test(clicks_a: int, n_a: int, clicks_b: int, n_b: int, confidence: float = 0.95) -> ABTestResult:
    """Two-sided two-proportion z-test of H0: CTR(A) = CTR(B).

        p̂ = (c_A + c_B) / (n_A + n_B)                      (pooled rate under H0)
        z  = (c_B / n_B − c_A / n_A) / sqrt(p̂ (1 − p̂) (1 / n_A + 1 / n_B))
        p-value = 2 (1 − Φ(|z|)),

    which equals Pearson's chi-squared test of the 2 × 2 table (clicks, non-clicks) × (A, B)
    without continuity correction (χ² = z²). The confidence interval of the difference is
    Wald's, with the unpooled standard error sqrt(p_A (1 − p_A) / n_A + p_B (1 − p_B) / n_B).
    When neither arm has a click (or both click always) z is 0 and the p-value 1.
    """
    n_a, n_b = _count(n_a, "n_a"), _count(n_b, "n_b")
    clicks_a, clicks_b = _count(clicks_a, "clicks_a"), _count(clicks_b, "clicks_b")
    if n_a < 1 or n_b < 1:
        raise ValueError(f"each arm needs at least one visitor, got n_a={n_a} and n_b={n_b}")
    for clicks, n, arm in ((clicks_a, n_a, "A"), (clicks_b, n_b, "B")):
        if not 0 <= clicks <= n:
            raise ValueError(f"arm {arm} has {clicks} clicks for {n} visitors; clicks must lie in [0, visitors]")
    confidence = _check_level(confidence, "confidence")
    ctr_a, ctr_b = clicks_a / n_a, clicks_b / n_b
    difference = ctr_b - ctr_a
    pooled = (clicks_a + clicks_b) / (n_a + n_b)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    z = difference / se_pooled if se_pooled > 0 else 0.0
    p_value = float(2 * norm.sf(abs(z)))
    se = math.sqrt(ctr_a * (1 - ctr_a) / n_a + ctr_b * (1 - ctr_b) / n_b)
    half_width = float(norm.ppf(0.5 + confidence / 2)) * se
    return ABTestResult(n_a, n_b, clicks_a, clicks_b, ctr_a, ctr_b, difference, float(z), p_value,
                        difference - half_width, difference + half_width, confidence)


def power(ctr_a: float, ctr_b: float, n: int, alpha: float = 0.05) -> float:
    """Probability that the two-sided z-test at level `alpha` detects CTRs `ctr_a` and `ctr_b` with
    `n` visitors in each arm (normal approximation, ignoring the far tail):

        power = Φ((|p_B − p_A| sqrt(n) − z_{1−α/2} sqrt(2 p̄ (1 − p̄))) / sqrt(p_A (1 − p_A) + p_B (1 − p_B))),

    with p̄ = (p_A + p_B) / 2. Range (0, 1).
    """
    ctr_a, ctr_b = _rate(ctr_a, "ctr_a"), _rate(ctr_b, "ctr_b")
    n = _count(n, "n")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    alpha = _check_level(alpha)
    mean = (ctr_a + ctr_b) / 2
    spread = math.sqrt(ctr_a * (1 - ctr_a) + ctr_b * (1 - ctr_b))
    if spread == 0:
        return 1.0 if ctr_a != ctr_b else alpha
    numerator = abs(ctr_b - ctr_a) * math.sqrt(n) - norm.ppf(1 - alpha / 2) * math.sqrt(2 * mean * (1 - mean))
    return float(norm.cdf(numerator / spread))


def required_sample_size(ctr_a: float, ctr_b: float, alpha: float = 0.05, target_power: float = 0.8) -> int:
    """Visitors per arm for the two-sided z-test at level `alpha` to detect CTRs `ctr_a` and
    `ctr_b` with probability `target_power` (Fleiss' formula without continuity correction):

        n = ( z_{1−α/2} sqrt(2 p̄ (1 − p̄)) + z_{power} sqrt(p_A (1 − p_A) + p_B (1 − p_B)) )² / (p_B − p_A)²,

    rounded up; `power` of the result is at least `target_power`.
    """
    ctr_a, ctr_b = _rate(ctr_a, "ctr_a"), _rate(ctr_b, "ctr_b")
    alpha = _check_level(alpha)
    target_power = _check_level(target_power, "target_power")
    if ctr_a == ctr_b:
        raise ValueError("ctr_a equals ctr_b: no finite test can detect a difference of 0")
    mean = (ctr_a + ctr_b) / 2
    root = (norm.ppf(1 - alpha / 2) * math.sqrt(2 * mean * (1 - mean))
            + norm.ppf(target_power) * math.sqrt(ctr_a * (1 - ctr_a) + ctr_b * (1 - ctr_b)))
    return max(1, math.ceil(root**2 / (ctr_b - ctr_a) ** 2))


def simulate_ab_test(
    click_a,
    click_b,
    num_visitors: int | None = None,
    share_b: float = 0.5,
    seed: int = 0,
    confidence: float = 0.95,
) -> ABTestResult:
    """Simulate an A/B test from per-user click probabilities, then test it.

    click_a, click_b: (num_users,) probabilities in [0, 1] that user u clicks when shown arm A's
        (or B's) recommendations; 0/1 values make the click deterministic (for example: the
        arm's top-k list contains u's next held-out item).
    num_visitors: None sends every user once (a random share `share_b` of them to B); a number
        draws that many visitors from the users with replacement, as if more users like them
        arrived, to see what a larger test would show.
    Each visitor goes to B with probability `share_b` (at least one visitor per arm is
    enforced by redrawing), then clicks with the probability of its arm. Seeded by `seed`.
    """
    click_a = np.asarray(click_a, dtype=np.float64)
    click_b = np.asarray(click_b, dtype=np.float64)
    if click_a.ndim != 1 or click_a.shape != click_b.shape or click_a.size < 2:
        raise ValueError(
            f"click_a and click_b must be 1-d arrays of the same length (one entry per user, at least 2), "
            f"got shapes {click_a.shape} and {click_b.shape}"
        )
    for values, name in ((click_a, "click_a"), (click_b, "click_b")):
        if np.isnan(values).any() or values.min() < 0 or values.max() > 1:
            raise ValueError(f"{name} must hold click probabilities in [0, 1]")
    share_b = float(share_b)
    if not 0.0 < share_b < 1.0:
        raise ValueError(f"share_b must lie in (0, 1), got {share_b}")
    rng = np.random.default_rng(seed)
    if num_visitors is None:
        visitors = np.arange(click_a.size)
    else:
        num_visitors = _count(num_visitors, "num_visitors")
        if num_visitors < 2:
            raise ValueError(f"num_visitors must be at least 2 (one per arm), got {num_visitors}")
        visitors = rng.integers(0, click_a.size, size=num_visitors)
    to_b = rng.random(visitors.size) < share_b
    while to_b.all() or not to_b.any():  # an arm without visitors cannot be tested
        to_b = rng.random(visitors.size) < share_b
    probability = np.where(to_b, click_b[visitors], click_a[visitors])
    clicked = rng.random(visitors.size) < probability
    return two_proportion_z_test(int(clicked[~to_b].sum()), int((~to_b).sum()), int(clicked[to_b].sum()), int(to_b.sum()),
                                 confidence=confidence)
