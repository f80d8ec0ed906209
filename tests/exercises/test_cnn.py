"""The checkers of the CNN chapter (minivlm.exercises.cnn) accept the package's solution and
name each mistake; CheckResult prints and reads as pass or fail."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from minivlm import cnn, exercises
from minivlm.exercises import CheckResult

from .checker_asserts import fails as _fails
from .checker_asserts import passes as _passes
from .checker_asserts import raises as _raises


def test_check_result_str_and_bool():
    assert bool(CheckResult(True, "fine")) and str(CheckResult(True, "fine")) == "correct: fine"
    assert not CheckResult(False, "x") and str(CheckResult(False, "x")) == "not yet: x"


# conv2d ------------------------------------------------------------------------------


def test_check_conv2d_accepts_the_package(capsys):
    _passes(capsys, exercises.check_conv2d(cnn.conv2d))
    _passes(capsys, exercises.check_conv2d(F.conv2d))


def test_check_conv2d_flipped_kernel(capsys):
    def flipped(x, w, b=None, stride=1, padding=0):
        return cnn.conv2d(x, w.flip(-2, -1), b, stride=stride, padding=padding)

    _fails(
        capsys,
        exercises.check_conv2d(flipped),
        "the kernel is flipped",
        "cross-correlation",
    )


def test_check_conv2d_missing_bias(capsys):
    def no_bias(x, w, b=None, stride=1, padding=0):
        return cnn.conv2d(x, w, None, stride=stride, padding=padding)

    _fails(capsys, exercises.check_conv2d(no_bias), "the bias b_d is missing")


def test_check_conv2d_other_failures(capsys):
    _fails(
        capsys,
        exercises.check_conv2d(_raises),
        "raised RuntimeError: not implemented yet",
    )
    _fails(
        capsys,
        exercises.check_conv2d(lambda x, w, b=None, stride=1, padding=0: 0.0),
        "should return a torch.Tensor, got float",
    )
    # ignoring the stride: right on the stride-1 cases, wrong shape afterwards
    _fails(
        capsys,
        exercises.check_conv2d(
            lambda x, w, b=None, stride=1, padding=0: cnn.conv2d(x, w, b, padding=padding)
        ),
        "stride=2",
        "returned shape",
    )
    _fails(
        capsys,
        exercises.check_conv2d(
            lambda x, w, b=None, stride=1, padding=0: 2 * F.conv2d(x, w, b, stride, padding)
        ),
        "right shape but wrong values",
    )


# max_pool2d --------------------------------------------------------------------------


def test_check_max_pool2d_accepts_the_package(capsys):
    _passes(capsys, exercises.check_max_pool2d(cnn.max_pool2d))


def test_check_max_pool2d_average_pooling(capsys):
    _fails(
        capsys,
        exercises.check_max_pool2d(lambda x, p: F.avg_pool2d(x, p)),
        "average pooling",
    )


def test_check_max_pool2d_overlapping_windows(capsys):
    _fails(
        capsys,
        exercises.check_max_pool2d(lambda x, p: F.max_pool2d(x, p, stride=1)),
        "the windows overlap",
    )


def test_check_max_pool2d_other_failures(capsys):
    _fails(
        capsys,
        exercises.check_max_pool2d(_raises),
        "max_pool2d with p=2",
        "raised RuntimeError",
    )
    _fails(
        capsys,
        exercises.check_max_pool2d(lambda x, p: F.max_pool2d(x, p, ceil_mode=True)),
        "8x9 input returned shape (2, 3, 4, 5), expected (2, 3, 4, 4)",
    )
    _fails(
        capsys,
        exercises.check_max_pool2d(lambda x, p: -F.max_pool2d(-x, p)),
        "wrong values",
    )


# receptive_field ---------------------------------------------------------------------


def _package_receptive_field(kernels, strides):
    return cnn.receptive_field([cnn.Layer(k, s) for k, s in zip(kernels, strides)])[-1]


def test_check_receptive_field_accepts_the_package(capsys):
    _passes(capsys, exercises.check_receptive_field(_package_receptive_field))
    _passes(
        capsys,
        exercises.check_receptive_field(lambda k, s: torch.tensor(_package_receptive_field(k, s))),
    )


def test_check_receptive_field_forgotten_jumps(capsys):
    def no_jumps(kernels, strides):
        return 1 + sum(k - 1 for k in kernels)

    _fails(
        capsys,
        exercises.check_receptive_field(no_jumps),
        "kernels [7, 3, 3, 3], strides [2, 2, 1, 1]: got 13, expected 27",
        "the jump",
    )


def test_check_receptive_field_other_failures(capsys):
    def jumps_after(kernels, strides):  # multiplies in the current stride too early
        r, j = 1, 1
        for k, s in zip(kernels, strides):
            j *= s
            r += (k - 1) * j
        return r

    result = exercises.check_receptive_field(jumps_after)
    _fails(capsys, result, "got", "expected 27")
    assert "jump" not in result.message  # no hint for a mistake it does not know
    _fails(
        capsys,
        exercises.check_receptive_field(_raises),
        "receptive_field raised RuntimeError",
    )
