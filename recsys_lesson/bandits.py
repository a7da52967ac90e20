"""Multi-armed bandits for cold start (chapter 8): epsilon-greedy, UCB1 and Thompson sampling.

The setting of the chapter's simulation: in each round t = 1 .. T a new user arrives, about whom
nothing is known; the system shows one of K items (the *arms*), and the user clicks with the
item's probability p_k, which the system does not know (a stationary Bernoulli bandit). A
policy decides which arm to show from the clicks it has seen so far. Its (pseudo-)regret after
T rounds is what it lost against always showing the best arm:

    R(T) = Σ_{t=1..T} (p* − p_{a_t}),    p* = max_k p_k .

A policy here is a rule, not a state: ``policy.select(successes, counts, t, rng)`` reads the
clicks and the shows of every arm so far, arrays of shape (num_runs, num_arms), and returns one
arm per run. `simulate` keeps that state and runs many independent simulations at once (one
row per run), so a regret curve averaged over 100 runs costs one vectorised loop over T.

Every policy first shows each arm once (an arm never shown has an infinite index), breaking
ties at random.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, Union

import numpy as np

__all__ = [
    "ucb_index",
    "beta_posterior",
    "EpsilonGreedy",
    "UCB1",
    "ThompsonSampling",
    "FixedArm",
    "BanditResult",
    "simulate",
]

Generator = np.random.Generator


def _state(successes, counts) -> tuple[np.ndarray, np.ndarray]:
    successes = np.asarray(successes, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    if successes.shape != counts.shape:
        raise ValueError(f"successes and counts differ in shape: {successes.shape} vs {counts.shape}")
    if (counts < 0).any() or (successes < 0).any():
        raise ValueError("successes and counts must be >= 0")
    if (successes > counts).any():
        raise ValueError("an arm cannot have more successes (clicks) than counts (shows)")
    return successes, counts


def ucb_index(successes, counts, t: int, c: float = 2.0) -> np.ndarray:
    """The UCB1 index of every arm (Auer et al., 2002): mean + sqrt(c · ln t / n).

    successes, counts: clicks and shows per arm, same shape (num_arms,) or (num_runs, num_arms).
    t: the round about to be played (t >= 1, the number of shows so far plus one).
    c: exploration weight; c = 2 is UCB1 as published. An arm never shown gets +inf.
    Returns an array of the shape of `counts`.
    """
    successes, counts = _state(successes, counts)
    if int(t) != t or t < 1:
        raise ValueError(f"t must be an integer >= 1, got {t!r}")
    if not np.isfinite(c) or c < 0:
        raise ValueError(f"c must be a finite number >= 0, got {c!r}")
    shown = counts > 0
    safe = np.where(shown, counts, 1.0)
    index = successes / safe + np.sqrt(c * math.log(t) / safe)
    return np.where(shown, index, np.inf)


def beta_posterior(successes, counts, prior_alpha: float = 1.0, prior_beta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Parameters (alpha, beta) of each arm's Beta posterior over its click probability.

    With a Beta(prior_alpha, prior_beta) prior and Bernoulli clicks, the posterior after s
    clicks in n shows is Beta(prior_alpha + s, prior_beta + n − s). The default prior Beta(1, 1)
    is uniform on [0, 1]. Its mean (alpha / (alpha + beta)) starts at the prior mean and tends
    to the observed click rate s / n.
    """
    successes, counts = _state(successes, counts)
    if not (prior_alpha > 0 and prior_beta > 0 and np.isfinite(prior_alpha) and np.isfinite(prior_beta)):
        raise ValueError(f"the prior's parameters must be finite and > 0, got ({prior_alpha!r}, {prior_beta!r})")
    return prior_alpha + successes, prior_beta + counts - successes


def _argmax_random_ties(values: np.ndarray, rng: Generator) -> np.ndarray:
    """Index of the largest value of each row; ties (infinities included) broken uniformly at random."""
    is_max = values == values.max(axis=1, keepdims=True)  # (runs, arms)
    return np.argmax(np.where(is_max, rng.random(values.shape), -1.0), axis=1)


class Policy(Protocol):
    def select(self, successes: np.ndarray, counts: np.ndarray, t: int, rng: Generator) -> np.ndarray: ...


class EpsilonGreedy:
    """With probability epsilon show an arm drawn uniformly (explore), else the arm with the best
    observed click rate (exploit). A fixed epsilon keeps exploring at the same rate forever, so
    its regret grows linearly in T (about epsilon · mean gap per round)."""

    def __init__(self, epsilon: float = 0.1):
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must lie in [0, 1], got {epsilon!r}")
        self.epsilon = float(epsilon)

    def __repr__(self) -> str:
        return f"EpsilonGreedy(epsilon={self.epsilon:g})"

    def select(self, successes, counts, t, rng):
        means = np.where(counts > 0, successes / np.maximum(counts, 1), np.inf)  # untried arms first
        greedy = _argmax_random_ties(means, rng)
        explore = rng.random(len(counts)) < self.epsilon
        return np.where(explore, rng.integers(0, counts.shape[1], len(counts)), greedy)


class UCB1:
    """Show the arm with the largest upper confidence bound `ucb_index` (Auer et al., 2002):
    optimism in the face of uncertainty; regret grows as log T."""

    def __init__(self, c: float = 2.0):
        if not np.isfinite(c) or c < 0:
            raise ValueError(f"c must be a finite number >= 0, got {c!r}")
        self.c = float(c)

    def __repr__(self) -> str:
        return f"UCB1(c={self.c:g})"

    def select(self, successes, counts, t, rng):
        return _argmax_random_ties(ucb_index(successes, counts, t, self.c), rng)


class ThompsonSampling:
    """Draw one click probability per arm from its `beta_posterior` and show the arm with the
    largest draw (Thompson, 1933): each arm is shown with the posterior probability that it is
    the best one."""

    def __init__(self, prior_alpha: float = 1.0, prior_beta: float = 1.0):
        beta_posterior(np.zeros(1), np.zeros(1), prior_alpha, prior_beta)  # validates the prior
        self.prior_alpha, self.prior_beta = float(prior_alpha), float(prior_beta)

    def __repr__(self) -> str:
        return f"ThompsonSampling(prior=Beta({self.prior_alpha:g}, {self.prior_beta:g}))"

    def select(self, successes, counts, t, rng):
        alpha, beta = beta_posterior(successes, counts, self.prior_alpha, self.prior_beta)
        return _argmax_random_ties(rng.beta(alpha, beta), rng)


class FixedArm:
    """Always show the same arm (for example the most popular item): no exploration at all."""

    def __init__(self, arm: int):
        if int(arm) != arm or arm < 0:
            raise ValueError(f"arm must be an integer >= 0, got {arm!r}")
        self.arm = int(arm)

    def __repr__(self) -> str:
        return f"FixedArm({self.arm})"

    def select(self, successes, counts, t, rng):
        if self.arm >= counts.shape[1]:
            raise ValueError(f"arm {self.arm} does not exist: the bandit has {counts.shape[1]} arms")
        return np.full(len(counts), self.arm)


@dataclass
class BanditResult:
    """What `simulate` records, one row per independent run.

    choices: (num_runs, horizon) the arm shown in each round; clicks: (num_runs, horizon) 0/1;
    regret: (num_runs, horizon) cumulative pseudo-regret Σ_{s<=t} (p* − p_{a_s}).
    """

    probs: np.ndarray
    choices: np.ndarray
    clicks: np.ndarray
    regret: np.ndarray

    @property
    def mean_regret(self) -> np.ndarray:
        """Cumulative regret averaged over the runs: (horizon,)."""
        return self.regret.mean(axis=0)

    @property
    def best_arm_share(self) -> np.ndarray:
        """Share of the runs showing the best arm in each round: (horizon,)."""
        return (self.probs[self.choices] == self.probs.max()).mean(axis=0)


def simulate(
    policy: Policy,
    probs,
    horizon: int,
    num_runs: int = 100,
    seed: Union[int, Generator, None] = 0,
) -> BanditResult:
    """Play `policy` on a stationary Bernoulli bandit with click probabilities `probs` (K,).

    Each of the `num_runs` independent runs plays `horizon` rounds: the policy picks an arm from
    the clicks and shows so far, the user clicks with probability ``probs[arm]``, and the arm's
    counts are updated. The runs share nothing but the seed's stream, so the same seed gives
    the same result.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 1 or len(probs) < 1:
        raise ValueError(f"probs must be a non-empty 1-D array of click probabilities, got shape {probs.shape}")
    if not np.isfinite(probs).all() or (probs < 0).any() or (probs > 1).any():
        raise ValueError("probs must hold probabilities in [0, 1]")
    for name, value in (("horizon", horizon), ("num_runs", num_runs)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    horizon, num_runs = int(horizon), int(num_runs)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    num_arms = len(probs)
    successes = np.zeros((num_runs, num_arms))
    counts = np.zeros((num_runs, num_arms))
    choices = np.empty((num_runs, horizon), dtype=np.int64)
    clicks = np.empty((num_runs, horizon), dtype=np.int8)
    rows = np.arange(num_runs)
    for t in range(1, horizon + 1):
        arms = np.asarray(policy.select(successes, counts, t, rng))  # (num_runs,)
        click = rng.random(num_runs) < probs[arms]
        counts[rows, arms] += 1
        successes[rows, arms] += click
        choices[:, t - 1] = arms
        clicks[:, t - 1] = click
    regret = np.cumsum(probs.max() - probs[choices], axis=1)
    return BanditResult(probs, choices, clicks, regret)
