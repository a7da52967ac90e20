"""The checker of chapter 3's coding exercise passes a right answer and fails plausible wrong ones."""

import numpy as np
import pytest

from recsys_lesson.checks import check

LABEL = "03_ncf-ex-sampled-metrics"


def sampled_hr_ndcg(scores, k):
    scores = np.asarray(scores, dtype=float)
    rank = 1 + (scores[:, :-1] >= scores[:, -1:]).sum(axis=1)  # ties count against the held-out item
    hit = rank <= k
    return float(hit.mean()), float(np.where(hit, 1 / np.log2(1 + rank), 0.0).mean())


def ties_in_favour(scores, k):  # a tie ranks the held-out item higher
    scores = np.asarray(scores, dtype=float)
    rank = 1 + (scores[:, :-1] > scores[:, -1:]).sum(axis=1)
    hit = rank <= k
    return float(hit.mean()), float(np.where(hit, 1 / np.log2(1 + rank), 0.0).mean())


def first_column(scores, k):  # the held-out item taken from the wrong column
    return sampled_hr_ndcg(np.asarray(scores)[:, ::-1], k)


def zero_based_discount(scores, k):  # 1 / log2(rank) with rank starting at 1 (a hit at rank 1 divides by 0)
    scores = np.asarray(scores, dtype=float)
    rank = 1 + (scores[:, :-1] >= scores[:, -1:]).sum(axis=1)
    hit = rank <= k
    with np.errstate(divide="ignore"):
        return float(hit.mean()), float(np.where(hit, 1 / np.log2(rank + 0.0), 0.0).mean())


def off_by_one_cutoff(scores, k):  # rank < k instead of rank <= k
    return sampled_hr_ndcg(scores, k - 1)


def test_right_answer_passes_and_says_so(capsys):
    assert check(LABEL, sampled_hr_ndcg)
    assert "pass" in capsys.readouterr().out


def test_worked_example_of_the_reference():
    scores = np.array([[0.1, 0.9, 0.5], [0.3, 0.2, 0.8], [0.5, 0.1, 0.5]])  # held-out item last: ranks 2, 1, 2 (tie)
    hr, ndcg = sampled_hr_ndcg(scores, k=1)
    assert hr == pytest.approx(1 / 3) and ndcg == pytest.approx(1 / 3)
    hr, ndcg = sampled_hr_ndcg(scores, k=2)
    assert hr == 1.0 and ndcg == pytest.approx((1 / np.log2(3) + 1 + 1 / np.log2(3)) / 3)


@pytest.mark.parametrize("wrong", [ties_in_favour, first_column, zero_based_discount, off_by_one_cutoff, sum])
def test_wrong_answers_fail(wrong):
    result = check(LABEL, wrong, quiet=True)
    assert not result and "not yet" in result.message


def test_the_message_about_ties_is_specific():
    assert "ties" in check(LABEL, ties_in_favour, quiet=True).message


def test_numbers_instead_of_a_function_fail_without_crashing():
    assert not check(LABEL, (0.6, 0.35), quiet=True)
    assert not check(LABEL, None, quiet=True)
