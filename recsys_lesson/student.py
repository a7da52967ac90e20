"""The student copy of the book: every chapter notebook with its solutions removed.

    python -m recsys_lesson.student OUTDIR [--book BOOKDIR] [--force]

writes ``OUTDIR/<name>.ipynb`` for every ``BOOKDIR/*.ipynb`` (``BOOKDIR`` defaults to ``book``
in the current folder). What is removed, following the layout described in
`recsys_lesson.checks`:

- markdown ``{solution}`` blocks (fenced with backticks or colons, the rest of the cell is kept);
- everything from a ``{solution-start}`` block to the matching ``{solution-end}`` block, across
  cells: the two markers, the code cells between them (tagged ``solution``) and any text;
- any other code cell tagged ``solution``, wherever it is;
- every output and execution count (an output could show a solution's result).

Everything else is kept in order: the prose, the ``{exercise}`` blocks, the learner's exercise
cells (tagged ``exercise``, which call ``check`` and report "not yet" until answered), and the
hidden check cells, so a copy still runs from top to bottom. The tool refuses to write into the
book folder (or a folder inside it) and, unless ``--force`` is given, to overwrite any existing
file; it checks every notebook and every target before it writes anything. Nothing else is
copied. The teachers' page (book/teachers.md) shows how to hand the copy out.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import nbformat

__all__ = ["Directive", "SolutionLayoutError", "StudentNotebook", "directives", "strip_solutions", "student_notebook", "write_student_copy", "main"]

# An opening fence: up to three spaces, three or more backticks or colons, then an optional info
# string. A directive's info string is ``{name} argument``.
_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|:{3,})(?P<info>.*)$")
_DIRECTIVE = re.compile(r"^\s*\{(?P<name>[A-Za-z][\w-]*)\}\s*(?P<argument>.*?)\s*$")
_LABEL = re.compile(r"^\s*:label:\s*(?P<label>\S+)\s*$")


class SolutionLayoutError(ValueError):
    """A notebook's solution markers are not balanced, so it cannot be stripped safely."""


@dataclass(frozen=True)
class Directive:
    """A top-level fenced block of a markdown text: lines ``first`` to ``last`` (inclusive).

    ``name`` is the directive's name (``exercise``, ``solution``, ...), or ``""`` for a plain
    code block; ``argument`` is what follows ``{name}`` on the opening line; ``label`` is the
    value of a ``:label:`` option, if any.
    """

    name: str
    argument: str
    label: Optional[str]
    first: int
    last: int
    body: str


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return (
        len(line) - len(line.lstrip(" ")) <= 3
        and len(stripped) >= len(fence)
        and set(stripped) == {fence[0]}
    )


def directives(text: str) -> list[Directive]:
    """The top-level fenced blocks of a MyST markdown text, in order.

    A block closes at a line of the same fence character, at least as long as the opening fence
    (so a ```` ```` ```` block may hold ```` ``` ```` code inside). An unclosed block runs to the
    end of the text, as in CommonMark.
    """
    lines = text.split("\n")
    blocks: list[Directive] = []
    index = 0
    while index < len(lines):
        match = _OPEN.match(lines[index])
        if not match or (match["fence"][0] == "`" and "`" in match["info"]):
            index += 1
            continue
        fence, first = match["fence"], index
        index += 1
        while index < len(lines) and not _closes(lines[index], fence):
            index += 1
        body = "\n".join(lines[first + 1 : index])  # up to the closing fence, or to the end if unclosed
        last = min(index, len(lines) - 1)
        directive = _DIRECTIVE.match(match["info"])
        label = next((m["label"] for m in map(_LABEL.match, body.split("\n")) if m), None)
        blocks.append(Directive(
            name=directive["name"] if directive else "",
            argument=directive["argument"] if directive else "",
            label=label,
            first=first,
            last=last,
            body=body,
        ))
        index += 1
    return blocks


@dataclass
class StudentNotebook:
    """A notebook with its solutions removed, and what was removed."""

    notebook: nbformat.NotebookNode
    solutions_removed: int = 0
    cells_removed: int = 0
    exercises: list[str] = field(default_factory=list)


def strip_solutions(notebook: nbformat.NotebookNode, name: str = "notebook") -> StudentNotebook:
    """A copy of ``notebook`` without solutions (see the module docstring); the input is unchanged.

    Raises `SolutionLayoutError` for a ``{solution-end}`` without a start, a ``{solution-start}``
    inside another one, or one that is never closed: stripping such a notebook could leave a
    solution in, or remove part of the chapter.
    """
    result = StudentNotebook(copy.deepcopy(notebook))
    gate: Optional[str] = None  # the label of the open {solution-start}, if any
    kept = []
    for number, cell in enumerate(result.notebook.cells):
        where = f"{name}, cell {number}"
        if cell.cell_type != "markdown":
            if gate is not None or "solution" in cell.get("metadata", {}).get("tags", []):
                result.cells_removed += 1
                continue
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
            kept.append(cell)
            continue
        lines = cell.source.split("\n")
        keep = [True] * len(lines)
        position = 0  # lines before this one are decided

        def mark(stop: int, flag: bool) -> None:
            nonlocal position
            keep[position:stop] = [flag] * (stop - position)
            position = stop

        for block in directives(cell.source):
            mark(block.first, gate is None)  # the text before the block
            if block.name == "solution-start":
                if gate is not None:
                    raise SolutionLayoutError(f"{where}: a {{solution-start}} opens inside the solution of {gate!r}; close that one first")
                gate = block.argument or "?"
                result.solutions_removed += 1
                mark(block.last + 1, False)
            elif block.name == "solution-end":
                if gate is None:
                    raise SolutionLayoutError(f"{where}: a {{solution-end}} without a {{solution-start}} before it")
                gate = None
                mark(block.last + 1, False)
            elif block.name == "solution" and gate is None:
                result.solutions_removed += 1
                mark(block.last + 1, False)
            else:
                if block.name == "exercise" and gate is None:
                    result.exercises.append(block.label or block.argument)
                mark(block.last + 1, gate is None)
        mark(len(lines), gate is None)
        text = "\n".join(line for line, flag in zip(lines, keep) if flag)
        text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
        if not text.strip():
            result.cells_removed += 1
            continue
        cell.source = text
        kept.append(cell)
    if gate is not None:
        raise SolutionLayoutError(f"{name}: the {{solution-start}} of {gate!r} is never closed by a {{solution-end}}")
    result.notebook.cells = kept
    return result


def student_notebook(path: Path) -> StudentNotebook:
    """`strip_solutions` of the notebook stored at ``path``."""
    path = Path(path)
    return strip_solutions(nbformat.read(path, as_version=4), name=path.name)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def write_student_copy(outdir, book="book", force: bool = False) -> list[tuple[Path, StudentNotebook]]:
    """Write the student copy of every ``book/*.ipynb`` into ``outdir``; return what was written.

    Refuses (ValueError) to write into the book folder or a folder inside it, and
    (FileExistsError) to replace an existing file unless ``force``. Every notebook is stripped
    and every target checked before the first file is written; each file is written to a
    temporary name and then moved into place.
    """
    book, outdir = Path(book).resolve(), Path(outdir).resolve()
    if not book.is_dir():
        raise ValueError(f"the book folder {book} does not exist; pass the folder of the chapter notebooks with --book")
    sources = sorted(book.glob("*.ipynb"))
    if not sources:
        raise ValueError(f"{book} holds no notebooks (*.ipynb); pass the book's folder with --book")
    if _inside(outdir, book):
        raise ValueError(f"refusing to write the student copy into the book folder {book}: choose another folder, e.g. ./student")
    if outdir.exists() and not outdir.is_dir():
        raise ValueError(f"{outdir} exists and is not a folder")
    stripped = [(outdir / source.name, student_notebook(source)) for source in sources]
    existing = [str(target) for target, _ in stripped if target.exists()]
    if existing and not force:
        raise FileExistsError(
            f"refusing to overwrite {len(existing)} existing file(s): {', '.join(existing)}; "
            "choose an empty folder, or pass --force to replace them"
        )
    outdir.mkdir(parents=True, exist_ok=True)
    for target, result in stripped:
        handle, temporary = tempfile.mkstemp(dir=outdir, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                nbformat.write(result.notebook, file)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return stripped


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recsys_lesson.student",
        description="Write a copy of every chapter notebook with the solutions removed, for learners.",
    )
    parser.add_argument("outdir", help="folder for the student copy (created if needed), e.g. student")
    parser.add_argument("--book", default="book", help="folder of the chapter notebooks (default: book)")
    parser.add_argument("--force", action="store_true", help="replace files that already exist in OUTDIR")
    args = parser.parse_args(argv)
    try:
        written = write_student_copy(args.outdir, args.book, force=args.force)
    except (ValueError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for target, result in written:
        print(f"wrote {target}: {len(result.exercises)} exercises kept, {result.solutions_removed} solutions removed")
    total = sum(result.solutions_removed for _, result in written)
    print(f"{len(written)} notebooks, {total} solutions removed, in {Path(args.outdir).resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
