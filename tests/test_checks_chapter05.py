"""The checker of chapter 5's coding exercise passes a right answer and fails plausible wrong ones."""

import torch

from recsys_lesson.checks import check
from recsys_lesson.models.fm import fm_pairwise

LABEL = "05_wide_deep-ex-fm-identity"


def pairwise_loop(vectors):
    total = torch.zeros(vectors.shape[0])
    for f in range(vectors.shape[1]):
        for g in range(f + 1, vectors.shape[1]):
            total += (vectors[:, f] * vectors[:, g]).sum(dim=1)
    return total


def test_right_answers_pass():
    assert check(LABEL, pairwise_loop, quiet=True)
    assert check(LABEL, fm_pairwise, quiet=True)  # the O(kn) identity gives the same numbers


def test_wrong_answers_fail():
    wrong = [
        lambda v: v.sum(dim=1).pow(2).sum(dim=1),  # the squares of each field are left in
        lambda v: 2 * pairwise_loop(v),  # every pair counted twice
        lambda v: pairwise_loop(v).sum(),  # summed over the batch
        lambda v: (v.sum(dim=1).pow(2) - v.pow(2).sum(dim=1)).sum(dim=1),  # the identity without its 1/2
    ]
    for answer in wrong:
        result = check(LABEL, answer, quiet=True)
        assert not result and "not yet" in result.message


def test_not_a_function_fails():
    assert not check(LABEL, torch.zeros(3), quiet=True)
