"""The book's notebooks: stored clean, Colab-ready, in the table of contents, with hidden checks.

nbmake executes every notebook (see pyproject.toml); these tests check what execution cannot.
This module runs before the notebooks (tests/ comes first in testpaths), so under CI's
``--overwrite`` it still sees the notebooks as committed.
"""

import ast
import re
from collections import Counter
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml

from recsys_lesson import notebook
from recsys_lesson.checks import names as checker_names
from recsys_lesson.student import directives

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
    assert "{exercise}" in text, f"{path.name}: no exercise"
    assert "{solution}" in text or "{solution-start}" in text, f"{path.name}: no solution"


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


# --- exercises, checkers and solutions (the layout of recsys_lesson/checks/__init__.py) -------

KINDS = ("conceptual", "coding", "experiment")
CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([^"']+)["']\s*,\s*answer\s*\)""")


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def blocks(nb, name):
    """(cell index, block) of every top-level {name} block of the notebook's markdown."""
    return [(i, b) for i, c in enumerate(nb.cells) if c.cell_type == "markdown" for b in directives(c.source) if b.name == name]


def exercises(nb):
    return [b for _, b in blocks(nb, "exercise")]


def kind_of(exercise):
    """The kind an exercise states in its title or the first line of its text, if any."""
    first_line = next((line for line in exercise.body.split("\n") if line.strip() and not line.lstrip().startswith(":")), "")
    found = [kind for kind in KINDS if f"({kind})" in f"{exercise.argument} {first_line}".lower()]
    return found[0] if len(found) == 1 else None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_ends_with_three_labelled_exercises(path):
    nb = nbformat.read(path, as_version=4)
    found = exercises(nb)
    assert len(found) >= 3, f"{path.name}: {len(found)} exercises, at least three expected"
    for exercise in found:
        assert exercise.label, f"{path.name}: an exercise has no :label: ({exercise.body[:60]!r})"
        assert exercise.label.startswith(f"{path.stem}-ex-"), f"{path.name}: label {exercise.label!r} should start with {path.stem}-ex-"
    headings = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and re.search(r"^## Exercises\s*$", c.source, re.M)]
    first = min(i for i, _ in blocks(nb, "exercise"))
    assert headings and headings[-1] <= first, f"{path.name}: the exercises should follow a '## Exercises' heading"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_states_its_kind_and_every_kind_is_there(path):
    nb = nbformat.read(path, as_version=4)
    kinds = {}
    for exercise in exercises(nb):
        kinds[exercise.label] = kind_of(exercise)
        assert kinds[exercise.label], (f"{path.name}: exercise {exercise.label} should say its kind, "
                                       f"'(conceptual)', '(coding)' or '(experiment)', in its title or first line")
    assert set(KINDS) <= set(kinds.values()), f"{path.name}: expected one exercise of each kind {KINDS}, got {kinds}"
    checked = {m for c in nb.cells if "exercise" in tags(c) for m in CHECK_CALL.findall(c.source)}
    for label, kind in kinds.items():
        assert (kind == "coding") == (label in checked), (
            f"{path.name}: {label} is a {kind} exercise; coding exercises, and only they, have a checked exercise cell")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercise_cells_call_a_registered_checker_of_an_exercise_of_the_notebook(path):
    nb = nbformat.read(path, as_version=4)
    labels = {e.label for e in exercises(nb)}
    registered = set(checker_names())
    for cell in nb.cells:
        if "exercise" not in tags(cell):
            continue
        assert cell.cell_type == "code", f"{path.name}: a cell tagged 'exercise' must be a code cell"
        calls = CHECK_CALL.findall(cell.source)
        assert len(calls) == 1, f"{path.name}: an exercise cell must call check(label, answer) once:\n{cell.source}"
        assert re.search(r"^answer = None\b", cell.source, re.M), f"{path.name}: the exercise cell should start from `answer = None`"
        assert calls[0] in registered, f"{path.name}: no checker is registered for {calls[0]!r} (recsys_lesson/checks/chapterNN.py)"
        assert calls[0] in labels, f"{path.name}: the exercise cell checks {calls[0]!r}, which is no {{exercise}} label of this notebook"
        assert "remove-cell" not in tags(cell) and "solution" not in tags(cell), f"{path.name}: the learner's cell must stay visible"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solutions_are_balanced_and_each_exercise_has_one(path):
    nb = nbformat.read(path, as_version=4)
    labels = [e.label for e in exercises(nb)]
    solved = [b.argument for _, b in blocks(nb, "solution")]
    gate, gate_cells = None, []
    for index, cell in enumerate(nb.cells):
        names = [b for b in directives(cell.source) if b.name in ("solution-start", "solution-end")] if cell.cell_type == "markdown" else []
        for block in names:
            if block.name == "solution-start":
                assert gate is None, f"{path.name}, cell {index}: {{solution-start}} inside the solution of {gate}"
                assert ":class: dropdown" in block.body, f"{path.name}, cell {index}: a gated solution should be a dropdown"
                gate, gate_cells = block.argument, []
                solved.append(gate)
            else:
                assert gate is not None, f"{path.name}, cell {index}: {{solution-end}} without a {{solution-start}}"
                code_cells = [c for c in gate_cells if c.cell_type == "code"]
                assert code_cells, f"{path.name}: the gated solution of {gate} holds no code cell"
                assert all("solution" in tags(c) for c in code_cells), f"{path.name}: untagged code in the solution of {gate}"
                assert re.search(rf"""assert check\(\s*["']{re.escape(gate)}["']\s*,\s*answer\s*\)""", code_cells[-1].source), (
                    f"{path.name}: the solution of {gate} should end with assert check({gate!r}, answer)")
                gate = None
        if not names and gate is not None:
            gate_cells.append(cell)
        if cell.cell_type == "code" and "solution" in tags(cell):
            assert gate is not None, f"{path.name}, cell {index}: a cell tagged 'solution' outside {{solution-start}} ... {{solution-end}}"
    assert gate is None, f"{path.name}: the solution of {gate} is never closed"
    assert Counter(solved) == Counter(labels), f"{path.name}: every exercise needs exactly one solution: {Counter(solved)} vs {labels}"


def test_exercise_labels_are_unique_across_the_book_and_every_checker_is_used():
    labels = Counter(e.label for path in NOTEBOOKS for e in exercises(nbformat.read(path, as_version=4)))
    assert not [label for label, count in labels.items() if count > 1], f"exercise labels used twice: {labels.most_common(3)}"
    checked = {m for path in NOTEBOOKS for c in nbformat.read(path, as_version=4).cells if "exercise" in tags(c)
               for m in CHECK_CALL.findall(c.source)}
    unused = set(checker_names()) - checked
    assert not unused, f"checkers that no notebook's exercise cell calls: {sorted(unused)}"


def assigned_names(tree):
    """Names a cell binds: assignments, loop and with targets, functions, classes, imports."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nothing_after_a_solution_uses_a_name_only_the_solution_defined(path):
    # The student copy removes the solutions, so such a cell would fail there.
    nb = nbformat.read(path, as_version=4)
    defined, from_solutions = set(), set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or cell.source.lstrip().startswith(("%", "!")):
            continue
        tree = ast.parse(cell.source)
        if "solution" in tags(cell):
            from_solutions |= assigned_names(tree) - defined
            continue
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        leaked = (used & from_solutions) - defined - assigned_names(tree)
        assert not leaked, f"{path.name}, cell {index} uses {sorted(leaked)}, defined only in a solution above it"
        defined |= assigned_names(tree)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_settings_prose_links_to_the_gpu_page(path):
    nb = nbformat.read(path, as_version=4)
    settings = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "paper_scale()" in c.source)
    prose = "\n".join(c.source for c in nb.cells[:settings] if c.cell_type == "markdown")
    assert "{doc}`gpu`" in prose or "{ref}`gpu" in prose, f"{path.name}: link the settings' prose to {{doc}}`gpu`"


def test_the_gpu_page_and_the_teachers_page_cover_every_notebook_and_exercise():
    # book/gpu.md says what the paper-scale switch changes per chapter; book/teachers.md lists
    # each chapter's measured time (benchmarks/chapter_times.py) and each exercise's level.
    gpu = (ROOT / "book" / "gpu.md").read_text()
    teachers = (ROOT / "book" / "teachers.md").read_text()
    for path in NOTEBOOKS:
        assert f"{{doc}}`{path.stem}`" in gpu, f"book/gpu.md: no row says what paper scale changes in {path.name}"
        assert f"| {path.name} |" in teachers, f"book/teachers.md: no measured time for {path.name}"
        for exercise in exercises(nbformat.read(path, as_version=4)):
            row = f"{{ref}}`{exercise.label} <{exercise.label}>`"
            assert row in teachers, f"book/teachers.md: the table of exercises lacks {exercise.label}"
