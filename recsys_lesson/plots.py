"""Plots shared by the chapters: learning curves, and comparisons of models.

Each function draws into a Matplotlib axes (a new one when `ax` is None) and returns it,
with a title and labelled axes.
"""

from __future__ import annotations

from typing import Optional

import matplotlib.pyplot as plt


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
