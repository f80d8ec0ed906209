"""What the assignments add to the checkers (make assignments): quick_check, the public test a
student runs with grader.check, and named_mistakes, the instructors' list of what a checker
names."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from minivlm import cnn, exercises, metrics
from minivlm.exercises import challenges

from .checker_asserts import fails, passes, raises


def _receptive_field(kernels, strides):
    return cnn.receptive_field([cnn.Layer(k, s) for k, s in zip(kernels, strides)])[-1]


# a right answer of every kind a checker expects: a tensor, a number, a dict, a pair
RIGHT = [
    (exercises.check_conv2d, cnn.conv2d),
    (exercises.check_receptive_field, _receptive_field),
    (exercises.check_modality_gap, metrics.modality_gap),
    (exercises.check_winoground, metrics.winoground_scores),
    (exercises.check_int8_quantize, challenges._int8_per_row),
]


@pytest.mark.parametrize("checker, right", RIGHT, ids=lambda x: getattr(x, "__name__", ""))
def test_quick_check_passes_a_right_answer(capsys, checker, right):
    result = exercises.quick_check(checker, right)
    passes(capsys, result)
    assert "runs and returns an answer of the expected kind on one case" in result.message


def test_quick_check_looks_at_the_kind_of_the_answer_not_its_values(capsys):
    # wrong values of the right shape pass the public test; the checker (hidden test) fails them
    def doubled(x, w, b=None, stride=1, padding=0):
        return 2 * F.conv2d(x, w, b, stride, padding)

    passes(capsys, exercises.quick_check(exercises.check_conv2d, doubled))
    fails(capsys, exercises.check_conv2d(doubled), "wrong values")


def test_quick_check_says_what_is_missing(capsys):
    conv = exercises.check_conv2d
    fails(capsys, exercises.quick_check(conv, lambda *a, **k: None), "got NoneType")
    fails(capsys, exercises.quick_check(conv, raises), "raised RuntimeError: not implemented yet")
    fails(
        capsys,
        exercises.quick_check(conv, lambda x, w, b=None, stride=1, padding=0: x),
        "returned shape (2, 3, 9, 11), expected (2, 4, 7, 10)",
    )
    fails(
        capsys,
        exercises.quick_check(exercises.check_receptive_field, lambda k, s: "seven"),
        "should return a number, got str",
    )
    fails(
        capsys,
        exercises.quick_check(exercises.check_winoground, lambda S: {"text": 0.5}),
        "without the keys ['image', 'group']",
    )
    fails(
        capsys,
        exercises.quick_check(exercises.check_int8_quantize, lambda W: W),
        "should return 2 values, got Tensor",
    )


def test_quick_check_rejects_what_is_not_a_function():
    with pytest.raises(TypeError, match="a checker and the function to check, got str and int"):
        exercises.quick_check("check_conv2d", 3)


def test_quick_check_leaves_the_checker_as_it_was(capsys):
    exercises.quick_check(exercises.check_conv2d, cnn.conv2d)
    capsys.readouterr()
    passes(capsys, exercises.check_conv2d(cnn.conv2d))
    assert "on 4 cases" in str(exercises.check_conv2d(cnn.conv2d))  # the full run again


CHECKERS = sorted(n for n in exercises.__all__ if n.startswith("check_"))


@pytest.mark.parametrize("name", CHECKERS)
def test_named_mistakes_lists_what_the_checker_names(capsys, name):
    hints = exercises.named_mistakes(getattr(exercises, name))
    assert hints and len(hints) == len(set(hints))
    assert all(isinstance(h, str) and len(h) > 10 for h in hints)
    assert capsys.readouterr().out == ""  # nothing printed, no student function called


def test_named_mistakes_of_two_checkers():
    conv = exercises.named_mistakes(exercises.check_conv2d)
    assert [h.split(":")[0] for h in conv] == ["the kernel is flipped", "the bias b_d is missing"]
    int8 = exercises.named_mistakes(exercises.check_int8_quantize)
    # the scale's mistakes and the rounding's, which the comparator tries only later
    assert any(h.startswith("one scale for the whole matrix") for h in int8)
    assert any(h.startswith("q is rounded down") for h in int8)


def test_quick_check_wants_the_shape_not_only_the_size(capsys):
    def flat(x, w, b=None, stride=1, padding=0):
        return F.conv2d(x, w, b, stride, padding).flatten(2)  # (N, D, H_out * W_out)

    fails(capsys, exercises.quick_check(exercises.check_conv2d, flat), "returned shape (2, 4, 70)")


# own_work ------------------------------------------------------------------------------


def test_own_work_refuses_a_function_that_calls_the_package_or_pytorch(capsys):
    def through_pytorch(x, w, b=None, stride=1, padding=0):
        return F.conv2d(x, w, b, stride, padding)

    def through_the_package(x, w, b=None, stride=1, padding=0):
        return cnn.conv2d(x, w, b, stride, padding)

    for fn in (through_pytorch, through_the_package):
        fails(capsys, exercises.own_work(exercises.check_conv2d, fn), "calls conv2d", "your own")
    fails(capsys, exercises.own_work(exercises.check_conv2d, F.conv2d), "not a Python function")


def test_own_work_accepts_the_books_solution_and_a_helper_of_the_students(capsys):
    def my_conv2d(x, weight, bias=None, stride=1, padding=0):
        k_h, k_w = weight.shape[-2:]
        x = F.pad(x, (padding,) * 4)
        windows = x.unfold(2, k_h, stride).unfold(3, k_w, stride)
        return torch.einsum("nchwmk,dcmk->ndhw", windows, weight)

    passes(capsys, exercises.own_work(exercises.check_conv2d, my_conv2d))
    # a nested function is read too, and a global the student defined is theirs
    namespace = {"F": F}
    exec(
        "def receptive_field(k, s):\n    return 1\n"
        "def mine(k, s):\n    return receptive_field(k, s)\n"
        "def nested(x, p):\n    def pool(y):\n        return F.max_pool2d(y, p)\n    return pool(x)\n",
        namespace,
    )
    passes(capsys, exercises.own_work(exercises.check_receptive_field, namespace["mine"]))
    fails(capsys, exercises.own_work(exercises.check_max_pool2d, namespace["nested"]), "max_pool2d")


@pytest.mark.parametrize("name", CHECKERS)
def test_every_checker_names_what_computes_its_answer(name):
    assert getattr(exercises, name).references
