"""Helpers for the book's notebooks: the paper-scale switch, Colab detection, and `glue`.

Every chapter reads one environment variable, ``RECSYS_LESSON_SCALE``: unset (or ``small``)
runs the defaults that finish in about two minutes on two CPU cores; ``paper`` runs the
paper-scale settings meant for a GPU.
"""

from __future__ import annotations

import os
import sys

SCALE_VARIABLE = "RECSYS_LESSON_SCALE"


def paper_scale() -> bool:
    """True when ``RECSYS_LESSON_SCALE=paper``; raises on a value it does not know."""
    value = os.environ.get(SCALE_VARIABLE, "small").strip().lower()
    if value not in ("small", "paper"):
        raise ValueError(f"{SCALE_VARIABLE} must be 'small' or 'paper', got {value!r}.")
    return value == "paper"


def on_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def plain(value):
    """NumPy and torch scalars as Python numbers, so that `{glue:text}` can format them."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


def glue(name: str, value, display: bool = False) -> None:
    """Make `value` citable from the prose as ``{glue:text}`name```.

    Uses myst-nb's glue when it is installed (building the book); elsewhere (Colab) it does
    nothing, so the notebook runs the same. It returns None, so a cell ending in `glue(...)`
    shows no stray output.
    """
    value = plain(value)
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return None
    myst_glue(name, value, display=display)
    return None
