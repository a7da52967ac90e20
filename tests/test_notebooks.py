"""The book's notebooks: stored clean, Colab-ready, in the table of contents, with hidden checks.

nbmake executes every notebook (see pyproject.toml); these tests check what execution cannot.
This module runs before the notebooks (tests/ comes first in testpaths), so under CI's
``--overwrite`` it still sees the notebooks as committed.
"""

from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml

from recsys_lesson import notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            files.append(chapter["file"])
            files.extend(section["file"] for section in chapter.get("sections", []))
    return files


def test_there_are_notebooks():
    assert NOTEBOOKS, "book/ holds no notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a code cell has stored outputs; clear them before committing"
            assert cell.execution_count is None, f"{path.name}: a code cell has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_installs_the_package_only_on_colab(path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "code"
    assert '"google.colab" in sys.modules' in first.source
    assert "torch" not in first.source.split("pip")[-1], "the Colab cell must not reinstall torch"
    namespace = {}
    exec(compile(first.source, path.name, "exec"), namespace)  # outside Colab it does nothing


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_one_settings_cell_and_hidden_checks(path):
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    settings = [cell for cell in code if "paper_scale()" in cell.source]
    assert len(settings) == 1, f"{path.name}: expected one settings cell reading paper_scale()"
    hidden = [cell for cell in code if "remove-cell" in cell.metadata.get("tags", []) and "assert" in cell.source]
    assert hidden, f"{path.name}: no hidden check cell (tag remove-cell) asserts the prose's claims"
    text = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    assert "{exercise}" in text and "{solution}" in text, f"{path.name}: no exercise with a solution"


def test_every_notebook_is_in_the_table_of_contents_and_every_entry_exists():
    listed = toc_files()
    for path in NOTEBOOKS:
        assert f"book/{path.stem}" in listed, f"{path.name} is not in _toc.yml"
    for entry in listed:
        assert any((ROOT / f"{entry}{suffix}").exists() for suffix in (".md", ".ipynb")), f"{entry} is missing"


def test_paper_scale_switch(monkeypatch):
    monkeypatch.delenv(notebook.SCALE_VARIABLE, raising=False)
    assert notebook.paper_scale() is False
    monkeypatch.setenv(notebook.SCALE_VARIABLE, "paper")
    assert notebook.paper_scale() is True
    monkeypatch.setenv(notebook.SCALE_VARIABLE, "huge")
    with pytest.raises(ValueError, match="'small' or 'paper'"):
        notebook.paper_scale()


def test_glue_returns_its_value_and_colab_is_not_detected_here():
    assert notebook.on_colab() is False
    assert notebook.glue("answer", 42) is None
    value = notebook.plain(np.float64(0.25))
    assert type(value) is float and value == 0.25
    assert notebook.plain("text") == "text"
