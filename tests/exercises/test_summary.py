"""The checker of the summary (minivlm.exercises.summary) accepts the package's answer, names
each mistake, and says what is wrong with an answer of the wrong kind."""

from __future__ import annotations

import pytest

from minivlm import cost, exercises
from minivlm.vit import ViTConfig

from .checker_asserts import fails as _fails
from .checker_asserts import passes as _passes
from .checker_asserts import raises as _raises


def package_cost(image_size, patch_size, width):
    """The package's answer: N from ViTConfig, the attention products from cost.vit_flops
    (which counts the class token and every layer: one layer, without it, is the exercise)."""
    N = ViTConfig(image_size=image_size, patch_size=patch_size).n_patches
    config = ViTConfig(
        image_size=image_size, patch_size=patch_size, width=width, depth=1, n_heads=1
    )
    with_class_token = cost.vit_flops(config)["attention"]
    assert with_class_token == 4 * (N + 1) ** 2 * width
    return N, with_class_token * N**2 // (N + 1) ** 2


def test_check_image_cost_accepts_the_package(capsys):
    _passes(capsys, exercises.check_image_cost(package_cost))
    # whole numbers as floats are whole numbers
    _passes(
        capsys, exercises.check_image_cost(lambda s, p, d: tuple(map(float, package_cost(s, p, d))))
    )


def test_check_image_cost_accepts_numpy_and_torch_whole_numbers(capsys):
    import numpy as np
    import torch

    _passes(capsys, exercises.check_image_cost(lambda *a: tuple(map(np.int64, package_cost(*a)))))
    _passes(
        capsys, exercises.check_image_cost(lambda *a: tuple(map(torch.tensor, package_cost(*a))))
    )


def test_llava_15_gives_576_tokens():
    assert package_cost(336, 14, 4096) == (576, 4 * 576**2 * 4096)


@pytest.mark.parametrize(
    ("wrong", "phrase"),
    [
        (lambda s, p, d: (s // p, 4 * (s // p) ** 2 * d), "patches along one side"),
        (lambda s, p, d: ((s // p) ** 2 + 1, 4 * ((s // p) ** 2 + 1) ** 2 * d), "class token"),
        (lambda s, p, d: ((s // p) ** 2, 2 * (s // p) ** 4 * d), "one of the two products"),
        (lambda s, p, d: ((s // p) ** 2, (s // p) ** 4 * d), "leaves out the factor 4"),
    ],
    ids=["one-side", "class-token", "one-product", "no-factor"],
)
def test_check_image_cost_names_each_mistake(capsys, wrong, phrase):
    _fails(capsys, exercises.check_image_cost(wrong), phrase, "a 224 x 224 image")


def test_check_image_cost_other_failures(capsys):
    _fails(capsys, exercises.check_image_cost(_raises), "raised RuntimeError: not implemented yet")
    _fails(capsys, exercises.check_image_cost(lambda s, p, d: 196), "should return a pair")
    _fails(capsys, exercises.check_image_cost(lambda s, p, d: (196.5, 1)), "whole number")
    # right N, flops of no mistake the checker knows: it says both
    _fails(
        capsys,
        exercises.check_image_cost(lambda s, p, d: ((s // p) ** 2, 3)),
        "got N = 196 and 3 flops, expected 196 and",
    )


def test_check_image_cost_lists_its_mistakes():
    named = exercises.named_mistakes(exercises.check_image_cost)
    assert len(named) == 4 and named[1].startswith("the class token is counted")


def test_check_image_cost_refuses_a_function_that_calls_the_package():
    def calls_the_package(s, p, d):
        N = ViTConfig(image_size=s, patch_size=p).n_patches
        return N, 4 * N * N * d

    def own(s, p, d):
        n = (s // p) ** 2
        return n, 4 * n * n * d

    assert not exercises.own_work(exercises.check_image_cost, calls_the_package)
    assert exercises.own_work(exercises.check_image_cost, own)
    assert exercises.quick_check(exercises.check_image_cost, own)
    assert not exercises.quick_check(exercises.check_image_cost, lambda s, p, d: 196)
