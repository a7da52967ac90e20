"""Bandit policies of chapter 8: index formulas against slow references, regret shapes, bad input."""

import math

import numpy as np
import pytest

from recsys_lesson.bandits import (
    UCB1, EpsilonGreedy, FixedArm, ThompsonSampling, beta_posterior, simulate, ucb_index,
)

PROBS = np.array([0.05, 0.1, 0.15, 0.2, 0.3])


def slow_ucb(successes, counts, t, c=2.0):
    out = []
    for s, n in zip(successes, counts):
        out.append(math.inf if n == 0 else s / n + math.sqrt(c * math.log(t) / n))
    return out


def test_ucb_index_matches_the_formula_written_out():
    rng = np.random.default_rng(0)
    for _ in range(20):
        counts = rng.integers(0, 30, 6)
        successes = np.floor(rng.random(6) * (counts + 1)).clip(max=counts)
        t = int(counts.sum()) + 1
        for c in (0.5, 2.0):
            np.testing.assert_allclose(ucb_index(successes, counts, t, c), slow_ucb(successes, counts, t, c))


def test_ucb_index_worked_example_and_batched_shape():
    # one arm: 3 clicks in 4 shows, round 9, c = 2 -> 0.75 + sqrt(2 ln 9 / 4)
    assert ucb_index([3], [4], 9)[0] == pytest.approx(0.75 + math.sqrt(2 * math.log(9) / 4))
    batch = ucb_index(np.zeros((3, 4)), np.ones((3, 4)), 5)
    assert batch.shape == (3, 4)


def test_beta_posterior_equals_one_update_per_click():
    rng = np.random.default_rng(1)
    clicks = rng.random(50) < 0.3
    alpha, beta = 2.0, 3.0
    for click in clicks:  # the slow way: one conjugate update per observation
        alpha, beta = alpha + click, beta + (1 - click)
    a, b = beta_posterior([clicks.sum()], [len(clicks)], prior_alpha=2.0, prior_beta=3.0)
    assert (a[0], b[0]) == (alpha, beta)


def test_regret_of_ucb_and_thompson_is_sublinear_and_epsilon_greedy_linear():
    horizon, eps = 4000, 0.1
    results = {name: simulate(policy, PROBS, horizon, num_runs=40, seed=3)
               for name, policy in [("eps", EpsilonGreedy(eps)), ("ucb", UCB1()), ("ts", ThompsonSampling())]}
    half = horizon // 2
    for name in ("ucb", "ts"):
        regret = results[name].mean_regret
        assert regret[-1] - regret[half - 1] < 0.8 * regret[half - 1], name  # the second half costs less
    # epsilon-greedy keeps exploring: at least eps * (mean gap) regret per round, in the second half too
    floor = eps * np.mean(PROBS.max() - PROBS)
    regret = results["eps"].mean_regret
    assert regret[-1] - regret[half - 1] > 0.8 * floor * half
    assert results["ts"].mean_regret[-1] < regret[-1]
    assert results["ts"].best_arm_share[-500:].mean() > 0.8


def test_regret_is_cumulative_and_the_fixed_best_arm_has_none():
    result = simulate(FixedArm(int(PROBS.argmax())), PROBS, 100, num_runs=3)
    assert (result.regret == 0).all()
    worst = simulate(FixedArm(0), PROBS, 100, num_runs=2)
    np.testing.assert_allclose(worst.regret[:, -1], 100 * (PROBS.max() - PROBS[0]))
    result = simulate(UCB1(), PROBS, 200, num_runs=5, seed=0)
    assert (np.diff(result.regret, axis=1) >= 0).all()
    assert result.choices.shape == result.clicks.shape == (5, 200)
    assert set(np.unique(result.choices[:, :5][0])) == set(range(len(PROBS)))  # every arm tried once first


def test_same_seed_same_result():
    a = simulate(ThompsonSampling(), PROBS, 300, num_runs=4, seed=7)
    b = simulate(ThompsonSampling(), PROBS, 300, num_runs=4, seed=7)
    assert (a.choices == b.choices).all() and (a.clicks == b.clicks).all()


def test_clicks_follow_the_probabilities():
    result = simulate(EpsilonGreedy(1.0), PROBS, 2000, num_runs=20, seed=0)  # pure exploration
    for arm, p in enumerate(PROBS):
        shown = result.choices == arm
        assert abs(result.clicks[shown].mean() - p) < 0.02


@pytest.mark.parametrize("call, message", [
    (lambda: simulate(UCB1(), [0.2, 1.5], 10), r"\[0, 1\]"),
    (lambda: simulate(UCB1(), [], 10), "non-empty"),
    (lambda: simulate(UCB1(), [0.2], 0), "horizon"),
    (lambda: EpsilonGreedy(1.5), "epsilon"),
    (lambda: UCB1(c=-1), "c must"),
    (lambda: ThompsonSampling(prior_alpha=0), "prior"),
    (lambda: ucb_index([3], [2], 3), "more successes"),
    (lambda: ucb_index([1], [2], 0), "t must"),
    (lambda: ucb_index([1, 2], [2], 3), "differ in shape"),
    (lambda: simulate(FixedArm(9), [0.1, 0.2], 5), "does not exist"),
])
def test_bad_input_says_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()
