"""The paper-scale path of chapter 3 (book/03_ncf.ipynb), run on a tiny ML-1M-shaped data set.

MovieLens 1M cannot be downloaded here, so the test zips a small set of files in ML-1M's format,
serves it to the package's verified download (as tests/test_loaders.py does), and then executes
the notebook with ``RECSYS_LESSON_SCALE=paper``: the same cells, the ML-1M loader and the
paper settings (batch 256, Adam at 0.001, factors 8 to 64, with and without pre-training). Only
the number of seeds and epochs is shortened, and the hidden check cells are left out, since they
assert what the real data shows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from recsys_lesson.data import download
from recsys_lesson.data.movielens import load_movielens
from recsys_lesson.data.registry import DATASETS
from recsys_lesson.notebook import SCALE_VARIABLE

NOTEBOOK = Path(__file__).resolve().parents[1] / "book" / "03_ncf.ipynb"
NUM_USERS, NUM_ITEMS = 30, 130  # every user keeps more than 99 items never rated, as the sampled protocol needs
SHORTER = {  # paper settings -> the same code path with fewer seeds and epochs
    "SEEDS = (0, 1, 2, 3, 4) if PAPER": "SEEDS = (0, 1) if PAPER",
    "EPOCHS = 10 if PAPER": "EPOCHS = 2 if PAPER",
    "REPRO = dict(epochs=20,": "REPRO = dict(epochs=2,",
}


def tiny_ml1m_files(seed: int = 0) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    ratings = []
    for user in range(1, NUM_USERS + 1):
        # two taste groups, so that there is something to learn
        liked = np.arange(1 + user % 2, NUM_ITEMS + 1, 2)
        items = rng.choice(liked, size=int(rng.integers(8, 25)), replace=False)
        times = 978_300_000 + np.sort(rng.choice(100_000, size=len(items), replace=False))
        ratings += [f"{user}::{item}::{int(rng.integers(1, 6))}::{t}" for item, t in zip(items, times)]
    genres = ["Drama", "Comedy", "Action|Thriller", "Children's|Animation"]
    movies = [f"{i}::Movie {i} ({1990 + i % 10})::{genres[i % 4]}" for i in range(1, NUM_ITEMS + 1)]
    ages = [1, 18, 25, 35, 45, 50, 56]
    users = [f"{u}::{'MF'[u % 2]}::{ages[u % 7]}::{u % 21}::{10000 + u}" for u in range(1, NUM_USERS + 1)]
    return {"ml-1m/README": "tiny stand-in\n", "ml-1m/ratings.dat": "\n".join(ratings) + "\n",
            "ml-1m/movies.dat": "\n".join(movies) + "\n", "ml-1m/users.dat": "\n".join(users) + "\n"}


@pytest.fixture
def tiny_ml1m_home(tmp_path, monkeypatch) -> Path:
    """A data folder holding a verified tiny ML-1M (with its SHA256SUMS manifest)."""
    archive = tmp_path / "ml-1m.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, text in tiny_ml1m_files().items():
            zf.writestr(name, text.encode("latin-1"))
    data = archive.read_bytes()
    monkeypatch.setitem(DATASETS, "ml-1m", dataclasses.replace(
        DATASETS["ml-1m"], sha256=hashlib.sha256(data).hexdigest(), size=len(data)))
    monkeypatch.setattr(download, "_download", lambda url, destination, expected_size=None: shutil.copyfile(archive, destination))
    home = tmp_path / "home"
    ml = load_movielens("ml-1m", data_home=home)  # download, verify, extract, write the manifest
    assert len(ml.ratings) > 8 * NUM_USERS and (home / "ml-1m" / "SHA256SUMS").is_file()
    return home


def paper_scale_notebook() -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    settings = [cell for cell in nb.cells if cell.cell_type == "code" and "paper_scale()" in cell.source]
    assert len(settings) == 1
    for old, new in SHORTER.items():
        assert old in settings[0].source, f"the settings cell no longer contains {old!r}; update SHORTER"
        settings[0].source = settings[0].source.replace(old, new)
    nb.cells = [cell for cell in nb.cells
                if not ("remove-cell" in cell.metadata.get("tags", []) and "assert" in cell.source)]
    return nb


def outputs(nb) -> str:
    text = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text.append(output.get("text", ""))
            text.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(text)


def test_the_notebook_runs_its_paper_scale_path_on_a_tiny_ml1m(tiny_ml1m_home, tmp_path, monkeypatch):
    monkeypatch.setenv(SCALE_VARIABLE, "paper")
    monkeypatch.setenv("RECSYS_LESSON_DATA", str(tiny_ml1m_home))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = paper_scale_notebook()
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = outputs(nb)
    assert "data set: ml-1m" in text
    assert "MovieLens 1M, paper settings" in text
    repro = next(cell for cell in nb.cells if cell.cell_type == "code" and "repro_rows = {}" in cell.source)
    table = repro.outputs[-1]["data"]["text/plain"]
    for factors in (8, 16, 32, 64):  # every factor of the paper's Table 2, with and without pre-training
        assert f"\n{factors} " in table, table
    assert "with pre-training" in table and "without pre-training" in table
    assert "He et al. 2017, Table 2" in table and "this book: MovieLens 1M, paper settings" in table  # side by side
