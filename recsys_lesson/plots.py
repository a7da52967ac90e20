"""Plots shared by the chapters: learning curves, comparisons of models, curves of sweeps, and
2-D projections of embeddings (with a number that says whether labels cluster).

Each plotting function draws into a Matplotlib axes (a new one when `ax` is None) and returns
it, with a title and labelled axes. `project`, `neighbour_agreement` and `chance_agreement`
compute numbers only; chapter 2 uses them to ask whether movie embeddings group by genre, both
in the full space and in each 2-D picture.
"""

from __future__ import annotations

import warnings
from typing import Mapping, Optional, Sequence, Union

import matplotlib.pyplot as plt
import numpy as np


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    return ax


def plot_learning_curve(history, metric: Optional[str] = None, ax=None, label: Optional[str] = None):
    """Training loss (or validation `metric`) against the epoch, for one `train.History`."""
    ax = _axes(ax)
    values = history.train_loss if metric is None else history.metric(metric)
    ax.plot(history.epochs, values, marker="o", markersize=3, label=label)
    if metric is not None and history.best_epoch is not None and history.monitor == metric:
        ax.axvline(history.best_epoch, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss" if metric is None else f"validation {metric}")
    ax.set_title("Learning curve")
    if label is not None:
        ax.legend()
    return ax


def plot_comparison(names, values, errors=None, ax=None, xlabel: str = "", title: str = "Comparison"):
    """Horizontal bars, one per model, with optional error bars (for example ± one std over seeds)."""
    ax = _axes(ax)
    ax.barh(list(names), list(values), xerr=errors, color="tab:blue", alpha=0.8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return ax


PROJECTION_METHODS = ("pca", "tsne", "umap")


def _as_matrix(vectors, name: str = "vectors") -> np.ndarray:
    if hasattr(vectors, "detach"):  # a torch tensor, possibly on a GPU
        vectors = vectors.detach().cpu().numpy()
    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n, dim), got shape {matrix.shape}.")
    if not np.isfinite(matrix).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return matrix


def _as_labels(labels, n: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """Labels (any hashable values; missing values count as one label) as integer codes
    (n,) and the distinct labels, so that ``uniques[codes]`` gives the labels back."""
    import pandas as pd

    if hasattr(labels, "detach"):
        labels = labels.detach().cpu().numpy()
    values = pd.Series(list(labels), dtype=object) if not isinstance(labels, pd.Series) else labels.astype(object)
    if len(values) and isinstance(values.iloc[0], (list, np.ndarray)):
        raise ValueError("labels must be 1-D: one hashable label per point.")
    if n is not None and len(values) != n:
        raise ValueError(f"There are {n} vectors but {len(values)} labels; give one label per vector.")
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return np.asarray(codes), np.asarray(uniques, dtype=object)


def project(vectors, method: str = "pca", seed: int = 0) -> np.ndarray:
    """Project `vectors` (n, dim) to 2-D: an array (n, 2).

    method: "pca" (scikit-learn PCA: linear, keeps global distances), "tsne" (scikit-learn
        t-SNE: keeps local neighbourhoods; perplexity min(30, (n - 1) / 3)) or "umap" (umap-learn,
        ``pip install umap-learn``; keeps local structure and more of the global one;
        n_neighbors min(15, n - 1)). The first UMAP call in a process spends about 20 s
        compiling with numba.
    seed: the random state of t-SNE, UMAP and PCA's randomised solver, so a rerun gives the same picture.
    """
    if method not in PROJECTION_METHODS:
        raise ValueError(f"Unknown projection method {method!r}; known methods: {', '.join(PROJECTION_METHODS)}.")
    matrix = _as_matrix(vectors)
    n, dim = matrix.shape
    if n < 3 or dim < 2:
        raise ValueError(f"A 2-D projection needs at least 3 vectors of at least 2 dimensions, got shape {matrix.shape}.")
    if method == "pca":
        from sklearn.decomposition import PCA

        points = PCA(n_components=2, random_state=seed).fit_transform(matrix)
    elif method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (n - 1) / 3)
        points = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(matrix)
    else:
        try:
            import umap
        except ImportError as error:
            raise ImportError("UMAP projections need the umap-learn package: pip install umap-learn") from error
        with warnings.catch_warnings():
            # A fixed random_state makes UMAP single-threaded, and it warns about that each time.
            warnings.filterwarnings("ignore", message=".*n_jobs value.*overridden.*")
            reducer = umap.UMAP(n_components=2, n_neighbors=min(15, n - 1), random_state=seed)
            points = reducer.fit_transform(matrix)
    return np.asarray(points, dtype=np.float64)


def neighbour_agreement(vectors, labels, k: int = 10) -> float:
    """Share of each point's k nearest neighbours (Euclidean, the point itself excluded) that
    carry its label, averaged over the points. Range [0, 1].

    1 means every neighbourhood is pure (labels form separate clusters). When labels have
    nothing to do with position the expected value is the chance level ``Σ_c p_c²``
    (`chance_agreement`), where p_c is the share of points with label c: compare against it,
    not against 0. (Exactly, excluding the point itself, chance is Σ_c n_c (n_c − 1) / (n (n − 1)),
    which approaches Σ_c p_c² as n grows.) Compute it on the full vectors and on each 2-D
    projection to see how much of the grouping a picture keeps or invents.

    vectors: (n, dim); labels: n hashable labels (strings, ints ...); 1 <= k < n.
    """
    from sklearn.neighbors import NearestNeighbors

    matrix = _as_matrix(vectors)
    n = len(matrix)
    codes, _ = _as_labels(labels, n)
    if int(k) != k or not 1 <= k < n:
        raise ValueError(f"k must be an integer in [1, n - 1] = [1, {n - 1}], got {k!r}.")
    index = NearestNeighbors(n_neighbors=int(k)).fit(matrix)
    # With no query points, kneighbors returns each fitted point's neighbours without itself.
    neighbours = index.kneighbors(n_neighbors=int(k), return_distance=False)  # (n, k)
    return float((codes[neighbours] == codes[:, None]).mean())


def chance_agreement(labels) -> float:
    """The `neighbour_agreement` expected when labels are unrelated to position: ``Σ_c p_c²``,
    where p_c is the share of points labelled c. Range (0, 1]; 1 / C for C equally common labels."""
    codes, _ = _as_labels(labels)
    if len(codes) == 0:
        raise ValueError("labels is empty.")
    shares = np.bincount(codes) / len(codes)
    return float((shares**2).sum())


def plot_projection(
    points2d,
    labels=None,
    ax=None,
    title: str = "Embedding projection",
    max_legend: int = 8,
    xlabel: str = "component 1",
    ylabel: str = "component 2",
):
    """Scatter of 2-D points (n, 2) coloured by label.

    The `max_legend` most frequent labels get their own colour and legend entry; the other
    labels are drawn in grey, underneath, as "other". With labels None every point has one colour.
    """
    points = _as_matrix(points2d, "points2d")
    if points.shape[1] != 2:
        raise ValueError(f"points2d must have shape (n, 2), got {points.shape}; project the vectors first with project().")
    if int(max_legend) != max_legend or max_legend < 1:
        raise ValueError(f"max_legend must be a positive integer, got {max_legend!r}.")
    ax = _axes(ax)
    size = 12 if len(points) <= 2000 else 4
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=size, alpha=0.7, color="tab:blue", linewidths=0)
    else:
        codes, uniques = _as_labels(labels, len(points))
        counts = np.bincount(codes)
        top = np.argsort(-counts, kind="stable")[: int(max_legend)]  # codes of the most frequent labels
        palette = plt.get_cmap("tab10" if len(top) <= 10 else "tab20")
        shown = np.isin(codes, top)
        if not shown.all():
            ax.scatter(points[~shown, 0], points[~shown, 1], s=size, alpha=0.35, color="lightgrey",
                       linewidths=0, label=f"other ({int((~shown).sum())})")
        for c, code in enumerate(top):
            mask = codes == code
            ax.scatter(points[mask, 0], points[mask, 1], s=size, alpha=0.8, color=palette(c % palette.N),
                       linewidths=0, label=f"{uniques[code]} ({counts[code]})")
        ax.legend(fontsize="small", markerscale=2, loc="best", frameon=False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return ax


def plot_curves(
    x: Union[Sequence[float], Mapping[str, Sequence[float]]],
    series: Mapping[str, Sequence[float]],
    ax=None,
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    logx: bool = False,
):
    """One labelled line per entry of `series` (name -> y values), for sweeps (AUC against the
    embedding dimension) and learning curves of several models.

    x: the shared x values, or a mapping name -> x values when the lines differ in length (for
        example learning curves cut by early stopping). logx: a logarithmic x axis.
    """
    if not series:
        raise ValueError("series is empty: give at least one {name: values} line.")
    ax = _axes(ax)
    for name, values in series.items():
        xs = x.get(name) if isinstance(x, Mapping) else x
        if xs is None:
            raise ValueError(f"No x values for series {name!r}.")
        if len(xs) != len(values):
            raise ValueError(f"Series {name!r} has {len(values)} values but its x has {len(xs)}.")
        ax.plot(list(xs), list(values), marker="o" if len(values) <= 30 else None, markersize=3, label=str(name))
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize="small", frameon=False)
    return ax
