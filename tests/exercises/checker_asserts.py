"""Assertions shared by the tests of minivlm.exercises: a checker prints one line and
returns a CheckResult that says pass or fail, and names the mistake when it fails."""

from minivlm.exercises import CheckResult


def one_line(capsys, result: CheckResult) -> str:
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.endswith("\n"), out
    assert out.strip() == str(result)
    assert out.startswith("correct: " if result else "not yet: ")
    return out


def passes(capsys, result):
    assert isinstance(result, CheckResult)
    assert result and result.passed is True
    one_line(capsys, result)


def fails(capsys, result, *phrases):
    assert isinstance(result, CheckResult)
    assert not result and result.passed is False
    one_line(capsys, result)
    for phrase in phrases:
        assert phrase in result.message, (phrase, result.message)


def raises(*args, **kwargs):
    raise RuntimeError("not implemented yet")
