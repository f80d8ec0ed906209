"""The harness under every checker.

A checker builds Cases: fixed inputs, the package's answer on them, and the answer each usual
mistake gives. run calls the student's function on each case and hands the answer to a
comparator; the comparator returns when the answer is right and raises Wrong, with what went
wrong in words, when it is not. diagnose is the comparators' common core: right answer, else
the first named mistake that gives the same answer, else a plain description of the error.

Three more functions serve the assignments (make assignments): quick_check runs a student's
function on the checker's first case and looks only at the kind of its answer (the public test a
student runs with grader.check); own_work refuses a function that calls one that computes the
answer already, the package's or PyTorch's (named on each checker with @references); and
named_mistakes lists every mistake a checker can name (the instructors' page).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field

import torch

from .._checks import is_number

# a checker's mistakes: hint -> the answer that mistake gives, in the form of the expected one
Mistakes = dict[str, object]


@dataclass
class CheckResult:
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"CheckResult(passed={self.passed})"

    def __str__(self) -> str:
        return ("correct: " if self.passed else "not yet: ") + self.message


class Wrong(Exception):
    """Raised by a comparator: the message says what is wrong with the student's answer."""


Comparator = Callable[[str, object, object, Mistakes], None]


@dataclass(frozen=True)
class Case:
    """One fixed input: name says which in messages; call runs the student's function on it.

    compare, when given, replaces run's comparator for this case only (a comparator that
    needs the case's inputs to word its messages).
    """

    name: str
    call: Callable[[], object]
    expected: object
    mistakes: Mistakes = field(default_factory=dict)
    compare: Comparator | None = None


# how run calls a checker's cases: None (check them), "quick" (quick_check) or a list that
# collects the hints of the mistakes the comparators try (named_mistakes)
_mode: ContextVar[str | list[str] | None] = ContextVar("mode", default=None)


def report(passed: bool, message: str) -> CheckResult:
    """The one line a checker prints, and the result it returns."""
    result = CheckResult(passed, message)
    print(result)
    return result


def run(
    label: str,
    cases: Sequence[Case],
    compare: Comparator | None = None,
    unit: str = "cases",
    verb: str = "agrees",
) -> CheckResult:
    """Report the first case the student's function gets wrong, or that it gets all right.

    compare defaults to compare_tensors; on success the line is
    "<label> <verb> with the reference on <len(cases)> <unit>".
    """
    if not cases or not all(isinstance(case, Case) for case in cases):
        kinds = [type(case).__name__ for case in cases]
        raise TypeError(f"cases must be a non-empty sequence of Case, got {kinds}")
    mode = _mode.get()
    if isinstance(mode, list):  # named_mistakes: the right answers go through every comparator
        for case in cases:
            (case.compare or compare or compare_tensors)(
                case.name, case.expected, case.expected, case.mistakes
            )
        return CheckResult(True, "")
    if mode == "quick":
        return _quick(label, cases[0])
    for case in cases:
        try:
            got = case.call()
        except Exception as error:  # the student's code failed: say how
            return report(False, f"{case.name} raised {type(error).__name__}: {error}")
        try:
            (case.compare or compare or compare_tensors)(
                case.name, got, case.expected, case.mistakes
            )
        except Wrong as problem:
            return report(False, str(problem))
    return report(True, f"{label} {verb} with the reference on {len(cases)} {unit}")


def diagnose(
    name: str,
    got,
    expected,
    mistakes: Mistakes,
    same: Callable[[object, object], bool],
    unknown: Callable[[], str],
) -> None:
    """Return when got is the expected answer; otherwise raise Wrong with "<name>: <hint>" for
    the first mistake whose answer got reproduces, or with unknown() when it reproduces none."""
    mode = _mode.get()
    if isinstance(mode, list):
        mode.extend(hint for hint in mistakes if hint not in mode)
    if same(got, expected):
        return
    for hint, wrong in mistakes.items():
        if same(got, wrong):
            raise Wrong(f"{name}: {hint}")
    raise Wrong(unknown())


def as_output(value):
    """Accept a tensor, or a tuple whose first element is the tensor (output, weights)."""
    return value[0] if isinstance(value, (tuple, list)) and value else value


def close(atol: float, rtol: float = 1e-5) -> Callable[[torch.Tensor, torch.Tensor], bool]:
    """Tensors of one shape whose values agree as torch.allclose(got, other, rtol, atol) says."""

    def same(got: torch.Tensor, other: torch.Tensor) -> bool:
        if got.shape != other.shape:
            return False
        return torch.allclose(got, other.to(got.dtype), rtol=rtol, atol=atol)

    return same


def compare_tensors(
    name: str, got, expected: torch.Tensor, mistakes: Mistakes, atol: float = 1e-4
) -> None:
    """The student's answer should be a tensor (or (tensor, ...)) close to expected."""
    got = as_output(got)
    if not isinstance(got, torch.Tensor):
        raise Wrong(f"{name} should return a torch.Tensor, got {type(got).__name__}")
    got = got.detach().to(expected.dtype)

    def unknown() -> str:
        # a mistake that changes the shape (overlapping pooling windows) was named first
        if got.shape != expected.shape:
            return f"{name} returned shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        error = (got - expected).abs().max().item()
        return f"{name} returned the right shape but wrong values (largest error {error:.3g})"

    diagnose(name, got, expected, mistakes, close(atol), unknown)


def compare_scalars(name: str, got, expected: torch.Tensor, mistakes: Mistakes) -> None:
    """compare_tensors for a loss or a metric: a 0-d tensor, or a Python number."""
    got = as_output(got)
    if is_number(got):
        got = torch.tensor(float(got))
    compare_tensors(name, got, expected, mistakes, atol=1e-5)


def numbers_in(got, keys: Sequence[str], fn: str) -> dict[str, float]:
    """The values of a dict the student's function fn returned, each a number (or a one-element
    tensor); raise Wrong when it is not a dict, lacks one of keys, or holds something else."""
    listed = ", ".join(repr(k) for k in keys)
    if not isinstance(got, dict):
        raise Wrong(f"{fn} should return a dict with keys {listed}, got {type(got).__name__}")
    missing = [k for k in keys if k not in got]
    if missing:
        needed = ", ".join(repr(k) for k in keys[:-1]) + f" and {keys[-1]!r}"
        raise Wrong(
            f"the dict returned by {fn} lacks the key{'s' if len(missing) > 1 else ''} "
            + ", ".join(repr(k) for k in missing)
            + f"; it needs {needed}"
        )
    values = {}
    for k in keys:
        v = got[k]
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            v = v.item()
        if not is_number(v):
            raise Wrong(f"{fn}[{k!r}] should be a number, got {type(v).__name__}")
        values[k] = float(v)
    return values


def compare_dicts(
    name: str,
    got,
    expected: dict[str, float],
    mistakes: Mistakes,
    fn: str,
    noun: str = "value",
    tol: float = 1e-6,
) -> None:
    """The student's fn should return a dict with expected's keys and values (within tol);
    each mistake's answer is such a dict too. noun names a value in messages ("score")."""
    keys = tuple(expected)
    values = numbers_in(got, keys, fn)

    def same(a: dict, b: dict) -> bool:
        return all(abs(a[k] - b[k]) <= tol for k in keys)

    def unknown() -> str:
        k = next(k for k in keys if abs(values[k] - expected[k]) > tol)
        return f"{name}: the {k} {noun} is {values[k]:.4g}, expected {expected[k]:.4g}"

    diagnose(name, values, expected, mistakes, same, unknown)


def pair_in(got, fn: str, names: str) -> tuple:
    """The two elements of the pair the student's fn returned; names says which: "(q, scale)"."""
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Wrong(f"{fn} should return a pair {names}, got {type(got).__name__}")
    return tuple(got)


# ---------------------------------------------------------------------------------------
# The assignments' public tests and the instructors' list of mistakes
# ---------------------------------------------------------------------------------------


def quick_check(checker: Callable[[Callable], CheckResult], fn: Callable) -> CheckResult:
    """Run fn on the first case of checker and say whether its answer is of the expected kind:
    a tensor of the expected shape, a number, a dict with the expected keys, a pair. The values
    are not compared: that is the checker's work (the assignment's hidden test)."""
    _check_callables("quick_check", checker, fn)
    token = _mode.set("quick")
    try:
        return checker(fn)
    finally:
        _mode.reset(token)


def named_mistakes(checker: Callable[[Callable], CheckResult]) -> list[str]:
    """The hint of every mistake that checker recognises, in the order it tries them."""
    hints: list[str] = []
    token = _mode.set(hints)
    try:
        checker(_never_called)
    finally:
        _mode.reset(token)
    return hints


def references(*names: str):
    """Mark a checker with the names of the functions that compute its answer already (the
    package's, PyTorch's): own_work refuses a student's function that calls one of them."""

    def mark(checker):
        checker.references = names
        return checker

    return mark


def own_work(checker: Callable[[Callable], CheckResult], fn: Callable) -> CheckResult:
    """Whether fn computes the answer itself: it must not call a function that checker names
    with @references, as a global or an attribute (cnn.conv2d, F.conv2d). A global the student
    defined under that name is their own work."""
    _check_callables("own_work", checker, fn)
    name = getattr(fn, "__name__", "the function")
    code = getattr(fn, "__code__", None)
    if code is None:  # a builtin or a C function: nothing of the student's to read
        return report(False, f"{name} is not a Python function of your own")
    called = []
    for used in sorted(set(getattr(checker, "references", ())) & _names(code)):
        value = getattr(fn, "__globals__", {}).get(used)
        module = getattr(value, "__module__", None) or ""
        mine = value is not None and not module.startswith(("minivlm", "torch"))
        if not mine:
            called.append(used)
    if called:
        return report(
            False,
            f"{name} calls {' and '.join(called)}, which computes the answer already: the "
            f"exercise asks for your own",
        )
    return report(True, f"{name} computes its answer itself")


def _check_callables(what: str, checker, fn) -> None:
    if not callable(checker) or not callable(fn):
        raise TypeError(
            f"{what} expects a checker and the function to check, got "
            f"{type(checker).__name__} and {type(fn).__name__}"
        )


def _names(code) -> set[str]:
    """The global and attribute names a code object reads, with its nested functions'."""
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _names(const)
    return names


def _never_called(*args, **kwargs):
    raise AssertionError("named_mistakes does not call the student's function")


def _quick(label: str, case: Case) -> CheckResult:
    try:
        got = case.call()
    except Exception as error:
        return report(False, f"{case.name} raised {type(error).__name__}: {error}")
    problem = _kind_problem(got, case.expected)
    if problem:
        return report(False, f"{case.name} {problem}")
    return report(True, f"{label} runs and returns an answer of the expected kind on one case")


def _kind_problem(got, expected) -> str | None:
    """What is wrong with the kind of got, an answer to a case whose answer is expected."""
    if isinstance(expected, torch.Tensor):
        got = as_output(got)
        if expected.dim() == 0 and is_number(got):
            return None
        if not isinstance(got, torch.Tensor):
            return f"should return a torch.Tensor, got {type(got).__name__}"
        if got.shape != expected.shape and not (expected.dim() == 0 and got.numel() == 1):
            return f"returned shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"should return a dict, got {type(got).__name__}"
        missing = [k for k in expected if k not in got]
        return f"returned a dict without the keys {missing}" if missing else None
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"should return {len(expected)} values, got {type(got).__name__}"
        return None
    if is_number(expected):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            return None
        return None if is_number(got) else f"should return a number, got {type(got).__name__}"
    return None
