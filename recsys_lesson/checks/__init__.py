"""Answer checkers for the book's coding exercises: ``check("03_ncf-ex-negatives", answer)``.

How an exercise is laid out in a chapter notebook (the student copy relies on it):

1. A markdown cell with an ``{exercise}`` directive whose ``:label:`` is the checker's name.
2. For a coding exercise, a code cell tagged ``exercise``: the learner's cell. It assigns
   ``answer = None`` (the learner replaces ``None``) and calls ``check(label, answer)``.
   It must run without error as it stands; ``check`` then reports "not yet" with a hint.
3. The solution, hidden behind a toggle in the HTML: either a markdown ``{solution}`` block,
   or, when the solution is code, a markdown cell opening ``{solution-start} label`` (with
   ``:class: dropdown``), code cells tagged ``solution`` that compute the answer and call
   ``check`` (which passes), and a markdown cell ``{solution-end}``.

`python -m recsys_lesson.student` removes part 3 and keeps the rest. Nothing after a solution
may use a name the solution defined.

A checker computes what it needs itself (from the data, or from the answer's own behaviour on
a fresh case), so it can say pass or fail without printing the expected answer. Checkers live
in one module per chapter in this folder (``chapter03.py`` ...) and register themselves with
`checker`; they are imported on first use.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["check", "checker", "names", "Result"]

_CHECKERS: dict[str, "_Checker"] = {}
_loaded = False


@dataclass(frozen=True)
class _Checker:
    name: str
    hint: str
    function: Callable[[Any], Any]


@dataclass(frozen=True)
class Result:
    """What `check` found: ``passed`` and the message it printed."""

    name: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        """`check` has already printed the message; a notebook shows nothing more."""


def checker(name: str, hint: str) -> Callable:
    """Register ``function(answer)`` as the checker for exercise ``name``.

    The function returns True/False, or ``(passed, message)`` to say more about a wrong answer.
    It may raise on an answer of the wrong shape or type; `check` turns that into a hint.
    """

    def register(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
        if name in _CHECKERS and _CHECKERS[name].function.__qualname__ != function.__qualname__:
            raise ValueError(f"two checkers are registered for the exercise {name!r}")
        _CHECKERS[name] = _Checker(name, hint, function)
        return function

    return register


def _load() -> None:
    global _loaded
    if _loaded:
        return
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    _loaded = True


def names() -> list[str]:
    """The exercises that have a checker, sorted."""
    _load()
    return sorted(_CHECKERS)


def check(name: str, answer: Any, quiet: bool = False) -> Result:
    """Check a learner's ``answer`` to exercise ``name``; print pass, or "not yet" with a hint.

    Never raises for a wrong answer (``None``, a wrong type, a wrong shape are all "not yet"),
    so an exercise cell runs as the learner first finds it. An unknown name raises KeyError.
    """
    _load()
    if name not in _CHECKERS:
        raise KeyError(f"no checker is called {name!r}; known checkers: {', '.join(names())}")
    entry = _CHECKERS[name]
    if answer is None:
        passed, detail = False, "no answer yet: replace `None` with your answer and run the cell again."
    else:
        try:
            outcome = entry.function(answer)
        except Exception as error:  # a learner's answer of the wrong kind is a hint, not a crash
            outcome = (False, f"your answer could not be checked ({type(error).__name__}: {error}).")
        passed, detail = outcome if isinstance(outcome, tuple) else (bool(outcome), "")
        passed = bool(passed)
    if passed:
        message = f"[{name}] pass: well done."
    else:
        message = f"[{name}] not yet. {detail} Hint: {entry.hint}".replace("  ", " ")
    if not quiet:
        print(message)
    return Result(name, passed, message)
