"""The student copy: solutions out, exercises in, order kept, nothing overwritten by accident.

The last test executes one real student notebook (chapter 0, the fastest) to show that a copy
still runs from top to bottom and that its exercise cells report "not yet".
"""

import re
from pathlib import Path

import nbformat
import pytest

from recsys_lesson.student import (
    SolutionLayoutError,
    directives,
    main,
    strip_solutions,
    student_notebook,
    write_student_copy,
)

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
FASTEST = "00_data.ipynb"  # about a minute on two CPU cores


def md(text):
    return nbformat.v4.new_markdown_cell(text)


def code(text, tags=()):
    cell = nbformat.v4.new_code_cell(text)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def small_notebook():
    """Every layout the tool must handle, in one notebook."""
    cells = [
        code("x = 1", tags=["remove-cell"]),
        md("# Title\n\nProse before the exercises.\n\n## Exercises\n\n"
           "```{exercise} (conceptual) Why\n:label: t-ex-why\n\nWhy is it so?\n```\n\n"
           "```{solution} t-ex-why\n:class: dropdown\n\nBECAUSE-SECRET.\n```\n\nText after the solution."),
        md("```{exercise} (coding) Square\n:label: t-ex-square\n\nSquare x.\n```"),
        code('# Exercise t-ex-square: replace None with your answer, then run this cell.\nanswer = None\nprint("not yet")',
             tags=["exercise"]),
        md("```{solution-start} t-ex-square\n:class: dropdown\n```"),
        code("answer = x ** 2  # CODE-SECRET", tags=["solution"]),
        md("Some explanation inside the gated solution: GATED-SECRET."),
        code("assert answer == 1", tags=["solution"]),
        md("```{solution-end}\n```"),
        md("```{exercise} (experiment) Longer\n:label: t-ex-long\n\nTry it.\n```\n\n"
           "````{solution} t-ex-long\n:class: dropdown\n\n```python\nNESTED-SECRET = 1\n```\n\nStill secret.\n````"),
        md(":::{exercise} (experiment) Colons\n:label: t-ex-colon\n\nWith colons.\n:::\n\n"
           ":::{solution} t-ex-colon\nCOLON-SECRET\n:::"),
        code("y = 2  # the last cell"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", text="an old output")]
    nb.cells[-1].execution_count = 7
    return nb


def all_text(nb):
    return "\n".join(cell.source for cell in nb.cells)


def test_directives_finds_top_level_blocks_and_nested_fences():
    text = ("a\n```{exercise} Title\n:label: x-1\nbody\n```\n"
            "````{solution} x-1\n```python\ncode\n```\n````\n```python\nplain\n```\n:::{note}\nhi\n:::")
    blocks = directives(text)
    assert [(b.name, b.argument, b.label) for b in blocks] == [
        ("exercise", "Title", "x-1"), ("solution", "x-1", None), ("", "", None), ("note", "", None)]
    assert (blocks[1].first, blocks[1].last) == (5, 9)  # the inner ``` does not close the ````
    assert blocks[1].body == "```python\ncode\n```"


def test_solutions_are_removed_and_everything_else_is_kept_in_order():
    nb = small_notebook()
    result = strip_solutions(nb, "small")
    text = all_text(result.notebook)
    assert "SECRET" not in text
    assert "{solution" not in text and "{solution-start}" not in text and "{solution-end}" not in text
    assert result.exercises == ["t-ex-why", "t-ex-square", "t-ex-long", "t-ex-colon"]
    assert result.solutions_removed == 4
    for kept in ["Prose before the exercises.", "Why is it so?", "Text after the solution.", "Square x.",
                 "answer = None", "Try it.", "With colons.", "y = 2"]:
        assert kept in text, kept
    positions = [text.index(s) for s in ["x = 1", "Why is it so?", "Text after", "Square x.", "answer = None", "Try it.", "y = 2"]]
    assert positions == sorted(positions)
    assert [c.cell_type for c in result.notebook.cells] == ["code", "markdown", "markdown", "code", "markdown", "markdown", "code"]
    exercise_cells = [c for c in result.notebook.cells if "exercise" in c.metadata.get("tags", [])]
    assert len(exercise_cells) == 1 and "answer = None" in exercise_cells[0].source
    assert result.notebook.cells[0].metadata["tags"] == ["remove-cell"]  # other tags are kept


def test_outputs_are_cleared_and_the_input_is_unchanged():
    nb = small_notebook()
    before = nbformat.writes(nb)
    result = strip_solutions(nb)
    assert nbformat.writes(nb) == before
    last = result.notebook.cells[-1]
    assert last.outputs == [] and last.execution_count is None
    nbformat.validate(result.notebook)


def test_a_solution_cell_outside_a_gate_is_removed_too():
    nb = nbformat.v4.new_notebook(cells=[code("keep = 1"), code("SECRET = 2", tags=["solution"])])
    assert all_text(strip_solutions(nb).notebook) == "keep = 1"


@pytest.mark.parametrize("cells, message", [
    ([md("```{solution-end}\n```")], "without a {solution-start}"),
    ([md("```{solution-start} a\n```"), code("x = 1")], "never closed"),
    ([md("```{solution-start} a\n```"), md("```{solution-start} b\n```"), md("```{solution-end}\n```")], "inside the solution of 'a'"),
])
def test_unbalanced_gates_are_refused(cells, message):
    with pytest.raises(SolutionLayoutError, match=re.escape(message)):
        strip_solutions(nbformat.v4.new_notebook(cells=cells))


@pytest.fixture
def book(tmp_path):
    folder = tmp_path / "book"
    folder.mkdir()
    nbformat.write(small_notebook(), folder / "a.ipynb")
    nbformat.write(nbformat.v4.new_notebook(cells=[md("Only prose.")]), folder / "b.ipynb")
    (folder / "page.md").write_text("# not a notebook\n")
    return folder


def test_writes_one_copy_per_notebook_and_nothing_else(book, tmp_path, capsys):
    out = tmp_path / "student"
    assert main([str(out), "--book", str(book)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.ipynb", "b.ipynb"]
    assert "SECRET" not in (out / "a.ipynb").read_text()
    printed = capsys.readouterr().out
    assert "a.ipynb: 4 exercises kept, 4 solutions removed" in printed and "2 notebooks" in printed


@pytest.mark.parametrize("inside", [".", "sub"])
def test_refuses_to_write_into_the_book_folder(book, inside, capsys):
    before = sorted(p.name for p in book.rglob("*"))
    with pytest.raises(ValueError, match="into the book folder"):
        write_student_copy(book / inside, book)
    assert main([str(book / inside), "--book", str(book)]) == 2
    assert "error: refusing to write the student copy into the book folder" in capsys.readouterr().err
    assert sorted(p.name for p in book.rglob("*")) == before


def test_refuses_to_overwrite_unless_forced(book, tmp_path):
    out = tmp_path / "student"
    out.mkdir()
    (out / "a.ipynb").write_text("my own work")
    with pytest.raises(FileExistsError, match="a.ipynb.*--force"):
        write_student_copy(out, book)
    assert (out / "a.ipynb").read_text() == "my own work"
    assert not (out / "b.ipynb").exists()  # nothing is written when anything would be overwritten
    assert main([str(out), "--book", str(book)]) == 2
    write_student_copy(out, book, force=True)
    assert "t-ex-square" in (out / "a.ipynb").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["a.ipynb", "b.ipynb"]  # no temporary files left


def test_a_broken_notebook_stops_everything_before_writing(book, tmp_path):
    nbformat.write(nbformat.v4.new_notebook(cells=[md("```{solution-start} a\n```")]), book / "c.ipynb")
    out = tmp_path / "student"
    with pytest.raises(SolutionLayoutError):
        write_student_copy(out, book)
    assert not out.exists()


def test_clear_errors_for_a_missing_or_empty_book(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        write_student_copy(tmp_path / "out", tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no notebooks"):
        write_student_copy(tmp_path / "out", tmp_path / "empty")


# --- the real book ---------------------------------------------------------------------------

NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))


def exercise_labels(nb):
    return [b.label for c in nb.cells if c.cell_type == "markdown" for b in directives(c.source) if b.name == "exercise"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_solution_survives_in_the_student_copy_of_the_book(path):
    original = nbformat.read(path, as_version=4)
    copy = student_notebook(path).notebook
    for cell in copy.cells:
        assert "solution" not in cell.metadata.get("tags", []), f"{path.name}: a solution cell survived"
        if cell.cell_type == "markdown":
            names = {b.name for b in directives(cell.source)}
            assert not names & {"solution", "solution-start", "solution-end"}, f"{path.name}: {cell.source[:200]}"
    assert exercise_labels(copy) == exercise_labels(original), f"{path.name}: an exercise was lost"
    exercise_cells = [c.source for c in original.cells if "exercise" in c.metadata.get("tags", [])]
    assert [c.source for c in copy.cells if "exercise" in c.metadata.get("tags", [])] == exercise_cells
    kept = [c.source for c in original.cells if c.cell_type == "code" and "solution" not in c.metadata.get("tags", [])]
    assert [c.source for c in copy.cells if c.cell_type == "code"] == kept, f"{path.name}: a code cell was lost"


def test_a_student_copy_of_a_real_chapter_runs_and_its_exercises_say_not_yet(tmp_path):
    nbclient = pytest.importorskip("nbclient")
    out = tmp_path / "student"
    write_student_copy(out, BOOK)
    nb = nbformat.read(out / FASTEST, as_version=4)
    exercise_cells = [c for c in nb.cells if "exercise" in c.metadata.get("tags", [])]
    assert exercise_cells, f"{FASTEST} has no exercise cell to check"
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(out)}}).execute()
    for cell in exercise_cells:
        printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert "not yet" in printed, printed


def test_the_module_runs_from_the_command_line(book, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "cli"
    done = subprocess.run([sys.executable, "-m", "recsys_lesson.student", str(out), "--book", str(book)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "2 notebooks" in done.stdout and (out / "a.ipynb").exists()
