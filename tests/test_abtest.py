"""A/B test simulation and the two-proportion z-test, checked against scipy.stats and by simulation."""

import math

import numpy as np
import pytest
from scipy.stats import chi2_contingency, norm

from recsys_lesson.abtest import power, required_sample_size, simulate_ab_test, two_proportion_z_test


@pytest.mark.parametrize("clicks_a, n_a, clicks_b, n_b", [(120, 1000, 150, 1000), (30, 400, 18, 350), (5, 40, 9, 60)])
def test_z_test_equals_pearson_chi_squared(clicks_a, n_a, clicks_b, n_b):
    result = two_proportion_z_test(clicks_a, n_a, clicks_b, n_b)
    table = [[clicks_a, n_a - clicks_a], [clicks_b, n_b - clicks_b]]
    chi2, p_value, _, _ = chi2_contingency(table, correction=False)
    assert result.z**2 == pytest.approx(chi2, rel=1e-9)
    assert result.p_value == pytest.approx(p_value, rel=1e-9)
    assert np.sign(result.z) == np.sign(clicks_b / n_b - clicks_a / n_a)


def test_worked_example_and_confidence_interval():
    result = two_proportion_z_test(100, 1000, 130, 1000)
    pooled = 230 / 2000
    z = 0.03 / math.sqrt(pooled * (1 - pooled) * 2 / 1000)
    assert result.z == pytest.approx(z)
    assert result.ctr_a == 0.1 and result.ctr_b == 0.13 and result.difference == pytest.approx(0.03)
    half = norm.ppf(0.975) * math.sqrt(0.1 * 0.9 / 1000 + 0.13 * 0.87 / 1000)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.03 - half, 0.03 + half))
    assert result.p_value == pytest.approx(2 * norm.sf(z))
    assert result.significant(0.05) and not result.significant(0.01)  # p is about 0.035


def test_no_clicks_anywhere_is_no_evidence():
    result = two_proportion_z_test(0, 50, 0, 70)
    assert result.z == 0.0 and result.p_value == 1.0


@pytest.mark.parametrize("ctr_a, ctr_b", [(0.10, 0.11), (0.08, 0.12), (0.5, 0.45)])
def test_required_sample_size_is_the_smallest_with_enough_power(ctr_a, ctr_b):
    n = required_sample_size(ctr_a, ctr_b)
    assert power(ctr_a, ctr_b, n) >= 0.8 > power(ctr_a, ctr_b, n - 1)


def test_a_classic_sample_size():
    # 10% against 12%, alpha 0.05 two-sided, power 0.8: Fleiss' formula without correction gives 3841.
    pooled = 0.11
    root = norm.ppf(0.975) * math.sqrt(2 * pooled * (1 - pooled)) + norm.ppf(0.8) * math.sqrt(0.1 * 0.9 + 0.12 * 0.88)
    assert required_sample_size(0.10, 0.12) == math.ceil(root**2 / 0.02**2) == 3841


def test_simulated_power_and_false_alarms_match_the_theory():
    rng = np.random.default_rng(0)
    p_a, p_b = 0.10, 0.14
    n = required_sample_size(p_a, p_b)
    rejected = np.mean([
        two_proportion_z_test(rng.binomial(n, p_a), n, rng.binomial(n, p_b), n).significant() for _ in range(2000)])
    assert rejected == pytest.approx(0.8, abs=0.04)
    false_alarms = np.mean([
        two_proportion_z_test(rng.binomial(n, p_a), n, rng.binomial(n, p_a), n).significant() for _ in range(2000)])
    assert false_alarms == pytest.approx(0.05, abs=0.02)


def test_simulate_ab_test_with_deterministic_clicks():
    click_a = np.zeros(1000)
    click_b = np.ones(1000)
    result = simulate_ab_test(click_a, click_b, seed=3)
    assert result.n_a + result.n_b == 1000
    assert result.clicks_a == 0 and result.clicks_b == result.n_b
    assert abs(result.n_b - 500) < 80  # a fair coin per visitor
    assert result.p_value < 1e-10


def test_simulate_ab_test_probabilities_visitors_and_seed():
    rng = np.random.default_rng(1)
    click = rng.random(300) * 0.3
    first = simulate_ab_test(click, click, num_visitors=20000, share_b=0.25, seed=5)
    assert first == simulate_ab_test(click, click, num_visitors=20000, share_b=0.25, seed=5)
    assert first != simulate_ab_test(click, click, num_visitors=20000, share_b=0.25, seed=6)
    assert first.n_a + first.n_b == 20000 and first.n_b / 20000 == pytest.approx(0.25, abs=0.02)
    assert first.ctr_a == pytest.approx(click.mean(), abs=0.01)


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="clicks must lie"):
        two_proportion_z_test(11, 10, 1, 10)
    with pytest.raises(ValueError, match="at least one visitor"):
        two_proportion_z_test(0, 0, 1, 10)
    with pytest.raises(ValueError, match="whole number"):
        two_proportion_z_test(1.5, 10, 1, 10)
    with pytest.raises(ValueError, match="difference of 0"):
        required_sample_size(0.1, 0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        power(1.2, 0.1, 10)
    with pytest.raises(ValueError, match="same length"):
        simulate_ab_test([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="probabilities"):
        simulate_ab_test([0, 2], [0, 1])
    with pytest.raises(ValueError, match="share_b"):
        simulate_ab_test([0, 1], [0, 1], share_b=1.0)
