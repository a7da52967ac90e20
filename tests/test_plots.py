"""Projections, the neighbour-agreement number against a slow loop and its chance level, and
the plots' titles, labels and legends."""

import importlib.util

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from recsys_lesson.plots import (  # noqa: E402
    chance_agreement,
    neighbour_agreement,
    plot_comparison,
    plot_curves,
    plot_projection,
    project,
)


@pytest.fixture(autouse=True)
def close_figures_and_use_one_thread():
    """On a busy two-core machine, OpenMP threads waiting for each other can make a t-SNE of
    60 points take ten seconds instead of a fifth of one; these inputs are tiny anyway."""
    with threadpool_limits(1):
        yield
    plt.close("all")


def clusters(num_per_label=20, num_labels=3, dim=5, spread=0.1, seed=0):
    """Well-separated Gaussian blobs, one per label."""
    rng = np.random.default_rng(seed)
    centres = 10 * np.eye(num_labels, dim)
    labels = np.repeat([f"genre {c}" for c in range(num_labels)], num_per_label)
    vectors = centres[np.repeat(np.arange(num_labels), num_per_label)] + spread * rng.normal(size=(len(labels), dim))
    return vectors, labels


def slow_neighbour_agreement(vectors, labels, k):
    """The definition, one point at a time, with distances computed by hand."""
    shares = []
    for i in range(len(vectors)):
        distances = np.linalg.norm(vectors - vectors[i], axis=1)
        distances[i] = np.inf
        nearest = np.argsort(distances, kind="stable")[:k]
        shares.append(np.mean([labels[j] == labels[i] for j in nearest]))
    return float(np.mean(shares))


def test_neighbour_agreement_is_one_on_separated_clusters():
    vectors, labels = clusters()
    assert neighbour_agreement(vectors, labels, k=10) == 1.0
    assert neighbour_agreement(torch.as_tensor(vectors), list(labels), k=19) == 1.0
    # k = 20 reaches one point of another cluster for every point: 19 / 20.
    assert neighbour_agreement(vectors, labels, k=20) == pytest.approx(19 / 20)


def test_neighbour_agreement_equals_the_slow_definition():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(40, 3))
    labels = rng.integers(0, 3, 40)
    for k in (1, 5, 39):
        assert neighbour_agreement(vectors, labels, k=k) == pytest.approx(slow_neighbour_agreement(vectors, labels, k))


def test_random_labels_agree_at_chance_level():
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(2000, 8))
    labels = rng.choice(["drama", "comedy", "horror"], size=2000, p=[0.6, 0.3, 0.1])
    chance = chance_agreement(labels)
    assert chance == pytest.approx(sum((np.mean(labels == c)) ** 2 for c in ("drama", "comedy", "horror")))
    assert chance == pytest.approx(0.6**2 + 0.3**2 + 0.1**2, abs=0.03)
    assert neighbour_agreement(vectors, labels, k=10) == pytest.approx(chance, abs=0.03)


def test_chance_agreement_worked_examples():
    assert chance_agreement(["a", "a", "b", "b"]) == 0.5
    assert chance_agreement([1, 2, 3, 4]) == 0.25
    assert chance_agreement(["only"] * 5) == 1.0
    assert chance_agreement(["a", None, None, "a"]) == 0.5  # a missing label is a label too


def test_neighbour_agreement_bad_input():
    vectors, labels = clusters()
    with pytest.raises(ValueError, match="60 vectors but 59 labels"):
        neighbour_agreement(vectors, labels[:-1])
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, n - 1\] = \[1, 59\]"):
        neighbour_agreement(vectors, labels, k=60)
    with pytest.raises(ValueError, match="k must be"):
        neighbour_agreement(vectors, labels, k=0)
    with pytest.raises(ValueError, match="2-D array"):
        neighbour_agreement(vectors[:, 0], labels)
    with pytest.raises(ValueError, match="NaN"):
        neighbour_agreement(np.full((60, 2), np.nan), labels)
    with pytest.raises(ValueError, match="1-D"):
        neighbour_agreement(vectors, np.zeros((60, 2)))
    with pytest.raises(ValueError, match="empty"):
        chance_agreement([])


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_project_gives_two_columns_and_is_seeded(method):
    vectors, labels = clusters()  # n = 60
    points = project(vectors, method=method, seed=0)
    assert points.shape == (60, 2) and points.dtype == np.float64
    assert np.allclose(project(vectors, method=method, seed=0), points)
    # Clusters this far apart stay apart in the picture.
    assert neighbour_agreement(points, labels, k=5) == 1.0


def test_pca_matches_the_top_singular_vectors():
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(30, 4)) * np.array([5.0, 2.0, 0.5, 0.1])
    centred = vectors - vectors.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ vt[:2].T
    points = project(vectors, "pca")
    assert np.allclose(np.abs(points), np.abs(expected), atol=1e-8)  # up to the sign of each axis


@pytest.mark.skipif(importlib.util.find_spec("umap") is None, reason="umap-learn is not installed")
def test_project_umap_on_a_tiny_input():
    vectors, _ = clusters(num_per_label=10)  # the first call compiles with numba (tens of seconds)
    assert project(vectors, method="umap", seed=0).shape == (30, 2)


def test_project_bad_input():
    vectors, _ = clusters()
    with pytest.raises(ValueError, match="known methods: pca, tsne, umap"):
        project(vectors, method="mds")
    with pytest.raises(ValueError, match="at least 3 vectors of at least 2 dimensions"):
        project(vectors[:, :1])
    with pytest.raises(ValueError, match="2-D array"):
        project(vectors[0])


def test_project_without_umap_says_what_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_umap(name, *args, **kwargs):
        if name == "umap":
            raise ImportError("No module named 'umap'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_umap)
    with pytest.raises(ImportError, match="pip install umap-learn"):
        project(clusters()[0], method="umap")


def test_plot_projection_colours_the_most_frequent_labels():
    rng = np.random.default_rng(4)
    labels = np.array(["a"] * 30 + ["b"] * 20 + ["c"] * 5 + ["d"] * 3 + ["e"] * 2)
    points = rng.normal(size=(60, 2))
    ax = plot_projection(points, labels, title="Movies by genre", max_legend=2)
    assert ax.get_title() == "Movies by genre"
    assert ax.get_xlabel() and ax.get_ylabel()
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["other (10)", "a (30)", "b (20)"]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 60
    grey = ax.collections[0].get_facecolor()[0][:3]
    assert np.allclose(grey, matplotlib.colors.to_rgb("lightgrey"))
    ax = plot_projection(points, labels, max_legend=8)
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "a (30)"  # every label shown: no "other"
    assert plot_projection(points).get_legend() is None


def test_plot_projection_bad_input():
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plot_projection(np.zeros((5, 3)), ["a"] * 5)
    with pytest.raises(ValueError, match="5 vectors but 4 labels"):
        plot_projection(np.zeros((5, 2)), ["a"] * 4)
    with pytest.raises(ValueError, match="max_legend"):
        plot_projection(np.zeros((5, 2)), ["a"] * 5, max_legend=0)


def test_plot_curves_draws_one_labelled_line_per_series():
    fig, ax = plt.subplots()
    out = plot_curves([4, 8, 16], {"FM": [0.7, 0.75, 0.76], "LR": [0.7, 0.7, 0.7]}, ax=ax,
                      xlabel="embedding dimension", ylabel="test AUC", title="AUC against dim", logx=True)
    assert out is ax
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("AUC against dim", "embedding dimension", "test AUC")
    assert ax.get_xscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["FM", "LR"]
    assert list(ax.get_lines()[0].get_ydata()) == [0.7, 0.75, 0.76]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["FM", "LR"]
    # Learning curves of different lengths (early stopping) take one x per series.
    ax = plot_curves({"FM": [1, 2, 3], "DNN": [1, 2]}, {"FM": [0.5, 0.4, 0.3], "DNN": [0.6, 0.5]},
                     xlabel="epoch", ylabel="training loss", title="Learning curves")
    assert [len(line.get_xdata()) for line in ax.get_lines()] == [3, 2]
    assert ax.get_xscale() == "linear"


def test_plot_curves_bad_input():
    with pytest.raises(ValueError, match="'LR' has 2 values but its x has 3"):
        plot_curves([1, 2, 3], {"LR": [0.1, 0.2]}, xlabel="x", ylabel="y", title="t")
    with pytest.raises(ValueError, match="No x values for series 'DNN'"):
        plot_curves({"FM": [1]}, {"DNN": [0.1]}, xlabel="x", ylabel="y", title="t")
    with pytest.raises(ValueError, match="series is empty"):
        plot_curves([1], {}, xlabel="x", ylabel="y", title="t")
    with pytest.raises(TypeError):
        plot_curves([1], {"LR": [0.1]})  # a plot needs its title and axis labels


def test_existing_plots_keep_working():
    ax = plot_comparison(["FM", "LR"], [0.8, 0.7], errors=[0.01, 0.02], xlabel="AUC", title="Models")
    assert ax.get_title() == "Models" and ax.get_xlabel() == "AUC"
