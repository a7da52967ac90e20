"""The checker of chapter 4's coding exercise passes a right answer and fails plausible wrong ones."""

import torch

from recsys_lesson.checks import check
from recsys_lesson.models.autoencoders import MultVAE

LABEL = "04_autoencoders-ex-kl"


def kl(mu, logvar):
    return 0.5 * (logvar.exp() + mu.pow(2) - 1 - logvar).sum(-1)


def test_right_answers_pass():
    assert check(LABEL, kl, quiet=True)
    assert check(LABEL, lambda mu, logvar: kl(mu, logvar).numpy(), quiet=True)  # a NumPy array is fine too


def test_the_right_answer_agrees_with_the_package():
    mu, logvar = torch.randn(6, 4), torch.randn(6, 4)
    assert torch.allclose(kl(mu, logvar).mean(), MultVAE.kl(mu, logvar))


def test_wrong_answers_fail():
    wrong = [
        lambda mu, logvar: (logvar.exp() + mu.pow(2) - 1 - logvar).sum(-1),  # no 1/2
        lambda mu, logvar: 0.5 * (logvar + mu.pow(2) - 1 - logvar.log()).sum(-1),  # logvar taken for the variance
        lambda mu, logvar: 0.5 * (logvar.exp() + mu.pow(2) - 1 - logvar).mean(-1),  # mean over dimensions
        lambda mu, logvar: 0.5 * (logvar.exp() + mu.pow(2) - logvar).sum(-1),  # not zero at the prior
        MultVAE.kl,  # averaged over the batch: one number instead of one per row
    ]
    for answer in wrong:
        result = check(LABEL, answer, quiet=True)
        assert not result and "not yet" in result.message


def test_a_batch_mean_is_told_about_the_shape():
    assert "shape" in check(LABEL, MultVAE.kl, quiet=True).message


def test_not_a_function_fails():
    assert not check(LABEL, 0.5, quiet=True)
