"""minivlm.viz: `claim`, a sentence of the prose checked against the run the page shows, and
`log_ticks`, the labels of a short log axis."""

import numpy as np
import pytest
import torch

from minivlm.viz import claim


@pytest.mark.parametrize("holds", [True, np.bool_(True), torch.tensor(True), torch.tensor([True])])
def test_a_claim_that_holds_is_printed_the_same_on_every_run(capsys, holds):
    claim("two heads beat one by more than 50 points", holds)
    assert capsys.readouterr().out == "checked: two heads beat one by more than 50 points\n"


def test_a_claim_that_fails_stops_the_cell_and_names_the_sentence(capsys):
    accuracy_one, accuracy_two = 0.12, 0.4
    with pytest.raises(
        AssertionError,
        match="the page says that two heads beat one by more "
        "than 50 points, and this run does not show it",
    ):
        claim("two heads beat one by more than 50 points", accuracy_two - accuracy_one > 0.5)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "holds", [1, 0.9, "yes", None, torch.tensor([True, True]), torch.tensor(1.0)]
)
def test_a_claim_needs_a_comparison(holds):
    with pytest.raises(TypeError, match="holds must be a bool \\(the comparison itself\\)"):
        claim("something", holds)


def test_a_claim_needs_a_sentence():
    with pytest.raises(TypeError, match="statement must be a non-empty str, got ''"):
        claim("", True)


def test_log_ticks_label_the_given_values_and_no_minor_tick():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from minivlm.viz import log_ticks

    fig, ax = plt.subplots()
    ax.loglog([256, 4096], [1, 10], "o")
    log_ticks(ax, [256, 1024, 4096])
    fig.canvas.draw()
    shown = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    minor = [t.get_text() for t in ax.xaxis.get_minorticklabels() if t.get_text()]
    assert shown == ["256", "1,024", "4,096"] and minor == []
    with pytest.raises(ValueError, match="axis must be 'x' or 'y', got 'z'"):
        log_ticks(ax, [1, 10], axis="z")
    plt.close(fig)
