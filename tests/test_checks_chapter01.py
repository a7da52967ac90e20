"""The checkers of chapter 1's coding exercises: right answers pass, plausible wrong ones fail."""

import numpy as np
import pytest
import torch

from recsys_lesson.checks import check
from recsys_lesson.checks.chapter01 import centred_cosine_reference
from recsys_lesson.models.neighbors import cosine_similarity

CENTRED = "01_classics-ex-centred"
ROTATION = "01_limits-ex-rotation"


def centred_cosine(matrix):  # the solution of the notebook
    rated = matrix > 0
    counts = rated.sum(axis=0)
    item_means = np.where(counts > 0, matrix.sum(axis=0) / np.maximum(counts, 1), 0.0)
    centred = np.where(rated, matrix - item_means, 0.0)
    return cosine_similarity(centred.T)


def centred_cosine_loop(matrix):  # a slow right answer, returning a torch tensor
    num_items = matrix.shape[1]
    out = torch.zeros(num_items, num_items, dtype=torch.float64)
    columns = []
    for i in range(num_items):
        rated = matrix[:, i] != 0
        column = np.zeros(len(matrix))
        if rated.any():
            column[rated] = matrix[rated, i] - matrix[rated, i].mean()
        columns.append(column)
    for i in range(num_items):
        for j in range(num_items):
            norm = np.linalg.norm(columns[i]) * np.linalg.norm(columns[j])
            out[i, j] = float(columns[i] @ columns[j] / norm) if norm > 0 else 0.0
    return out


def raw_cosine(matrix):  # wrong: no centring
    return cosine_similarity(np.asarray(matrix).T)


def centred_everywhere(matrix):  # wrong: the missing cells are centred too
    rated = matrix > 0
    means = matrix.sum(axis=0) / np.maximum(rated.sum(axis=0), 1)
    return cosine_similarity((matrix - means).T)


def mean_over_all_users(matrix):  # wrong: the item mean counts missing cells as 0
    return cosine_similarity(np.where(matrix > 0, matrix - matrix.mean(axis=0), 0.0).T)


def nan_for_zero_columns(matrix):  # wrong: 0 / 0 left as NaN
    rated = matrix > 0
    means = matrix.sum(axis=0) / np.maximum(rated.sum(axis=0), 1)
    centred = np.where(rated, matrix - means, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = centred / np.linalg.norm(centred, axis=0)
    return unit.T @ unit


@pytest.mark.parametrize("answer", [centred_cosine, centred_cosine_loop, centred_cosine_reference])
def test_centred_right_answers_pass(answer):
    assert check(CENTRED, answer, quiet=True).passed


@pytest.mark.parametrize("answer", [raw_cosine, centred_everywhere, mean_over_all_users, nan_for_zero_columns,
                                    lambda m: np.eye(m.shape[1]), None, "cosine"])
def test_centred_wrong_answers_fail(answer):
    assert not check(CENTRED, answer, quiet=True).passed


def test_centred_reference_against_pearson_on_fully_rated_columns():
    # With every cell rated, the item-centred cosine is the Pearson correlation of the columns.
    matrix = np.random.default_rng(1).integers(1, 6, size=(50, 6)).astype(float)
    assert np.allclose(centred_cosine_reference(matrix), np.corrcoef(matrix.T))


def rotate(user_vectors, item_vectors, seed):  # the solution of the notebook
    gaussian = np.random.default_rng(seed).normal(size=(user_vectors.shape[1],) * 2)
    rotation, _ = np.linalg.qr(gaussian)  # (dim, dim), orthogonal
    return user_vectors @ rotation, item_vectors @ rotation


def rotate_torch(user_vectors, item_vectors, seed):  # right, with torch
    generator = torch.Generator().manual_seed(seed)
    rotation, _ = torch.linalg.qr(torch.randn(user_vectors.shape[1], user_vectors.shape[1], generator=generator,
                                              dtype=torch.float64))
    return torch.as_tensor(user_vectors) @ rotation, torch.as_tensor(item_vectors) @ rotation


def scale_and_inverse(user_vectors, item_vectors, seed):  # wrong: keeps the scores, not a rotation
    return 2.0 * user_vectors, item_vectors / 2.0


def rotate_users_only(user_vectors, item_vectors, seed):  # wrong: the scores change
    return rotate(user_vectors, item_vectors, seed)[0], item_vectors


def identity(user_vectors, item_vectors, seed):  # wrong: nothing rotated
    return user_vectors.copy(), item_vectors.copy()


def fixed_rotation(user_vectors, item_vectors, seed):  # wrong: ignores the seed
    return rotate(user_vectors, item_vectors, 0)


def transpose_on_items(user_vectors, item_vectors, seed):  # wrong: R for users, R^T for items
    gaussian = np.random.default_rng(seed).normal(size=(user_vectors.shape[1],) * 2)
    rotation, _ = np.linalg.qr(gaussian)
    return user_vectors @ rotation, item_vectors @ rotation.T


@pytest.mark.parametrize("answer", [rotate, rotate_torch])
def test_rotation_right_answers_pass(answer):
    assert check(ROTATION, answer, quiet=True).passed


@pytest.mark.parametrize("answer", [scale_and_inverse, rotate_users_only, identity, fixed_rotation, transpose_on_items,
                                    lambda p, q, s: p, None])
def test_rotation_wrong_answers_fail(answer):
    result = check(ROTATION, answer, quiet=True)
    assert not result.passed and "not yet" in result.message
