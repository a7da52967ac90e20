"""The core of recsys_lesson.checks: pass, "not yet", None, exceptions as hints, unknown names."""

import pytest

from recsys_lesson import checks
from recsys_lesson.checks import Result, check, checker, names


def _square_of_three(answer):
    return answer == 9


def _pair(answer):
    if len(answer) != 2:  # raises on an answer without a length
        return False, "give exactly two numbers."
    return True


@pytest.fixture(autouse=True)
def registered():
    """Two checkers for these tests only, removed afterwards so the book's registry stays clean."""
    names()  # load the chapter modules first
    checker("test-core-square", hint="square the number.")(_square_of_three)
    checker("test-core-detail", hint="a list of two numbers.")(_pair)
    yield
    for name in ("test-core-square", "test-core-detail"):
        checks._CHECKERS.pop(name, None)


def test_a_right_answer_passes_and_prints(capsys):
    result = check("test-core-square", 9)
    assert isinstance(result, Result) and result.passed and bool(result)
    assert result.name == "test-core-square"
    assert capsys.readouterr().out.strip() == "[test-core-square] pass: well done."


def test_a_wrong_answer_is_not_yet_with_the_hint(capsys):
    result = check("test-core-square", 8)
    assert not result
    out = capsys.readouterr().out
    assert "not yet" in out and "square the number." in out and out.strip() == result.message
    assert "9" not in out  # the expected answer is not revealed


def test_none_is_not_yet_and_says_what_to_do():
    result = check("test-core-square", None, quiet=True)
    assert not result and "replace `None`" in result.message


def test_a_checker_message_is_shown():
    result = check("test-core-detail", [1, 2, 3], quiet=True)
    assert not result and "give exactly two numbers." in result.message and "a list of two numbers." in result.message
    assert check("test-core-detail", (1, 2), quiet=True)


def test_an_exception_in_the_checker_becomes_a_hint():
    result = check("test-core-detail", 5, quiet=True)  # len(5) raises TypeError
    assert not result
    assert "could not be checked" in result.message and "TypeError" in result.message


def test_quiet_prints_nothing(capsys):
    check("test-core-square", 8, quiet=True)
    assert capsys.readouterr().out == ""


def test_an_unknown_name_raises_key_error_listing_the_known_ones():
    with pytest.raises(KeyError, match="no checker is called 'no-such-exercise'.*test-core-square"):
        check("no-such-exercise", 1)


def test_names_is_sorted_and_loads_every_chapter_module():
    listed = names()
    assert listed == sorted(listed)
    assert {"test-core-square", "03_ncf-ex-sampled-metrics", "04_autoencoders-ex-kl", "05_wide_deep-ex-fm-identity"} <= set(listed)


def test_registering_a_second_function_under_one_name_is_refused():
    def other(answer):
        return True

    with pytest.raises(ValueError, match="two checkers"):
        checker("test-core-square", hint="")(other)
    assert checks._CHECKERS["test-core-square"].function is _square_of_three
