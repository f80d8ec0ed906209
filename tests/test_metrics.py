import subprocess
import sys

import pytest
import torch

from minivlm.metrics import (
    accuracy,
    cosine_similarity_matrix,
    recall_at_k,
    wilson_interval,
    zero_shot_predict,
)


def test_cosine_similarity_matrix_hand_case():
    a = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[0.0, 2.0], [5.0, 0.0], [-1.0, -1.0]])
    s = cosine_similarity_matrix(a, b)
    r = 2**-0.5
    expected = torch.tensor([[0.0, 1.0, -r], [r, r, -1.0]])
    torch.testing.assert_close(s, expected)


def test_zero_shot_predict_uses_direction_not_length():
    classes = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    images = torch.tensor([[100.0, 1.0], [0.1, 0.2], [-1.0, 3.0]])
    assert zero_shot_predict(images, classes).tolist() == [0, 1, 1]


def test_accuracy():
    assert accuracy(torch.tensor([1, 2, 3, 4]), torch.tensor([1, 0, 3, 0])) == 0.5
    with pytest.raises(ValueError, match="same length, got 3 and 2"):
        accuracy(torch.tensor([1, 2, 3]), torch.tensor([1, 2]))


def test_recall_at_k_hand_case():
    s = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.1, 0.7], [0.3, 0.5, 0.2]])
    targets = torch.arange(3)
    assert recall_at_k(s, targets, 1) == pytest.approx(1 / 3)  # only query 0 ranks first
    assert recall_at_k(s, targets, 2) == pytest.approx(1 / 3)
    assert recall_at_k(s, targets, 3) == 1.0
    assert recall_at_k(s, torch.tensor([0, 2, 1]), 1) == 1.0


def test_recall_at_k_errors():
    s = torch.zeros(4, 3)
    with pytest.raises(ValueError, match="one entry per query \\(4\\), got 3"):
        recall_at_k(s, torch.arange(3), 1)
    with pytest.raises(ValueError, match="at most the number of items 3, got 5"):
        recall_at_k(s, torch.arange(4), 5)
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        recall_at_k(s, torch.arange(4), 0)
    with pytest.raises(ValueError, match="similarity must be 2-D"):
        recall_at_k(torch.zeros(4), torch.arange(4), 1)


def test_recall_at_k_with_a_relevance_matrix():
    s = torch.tensor([[0.9, 0.8, 0.1], [0.1, 0.2, 0.3]])
    relevant = torch.tensor([[False, True, False], [True, False, False]])
    assert recall_at_k(s, relevant, 1) == 0.0
    assert recall_at_k(s, relevant, 2) == 0.5  # query 0 finds item 1 second
    assert recall_at_k(s, relevant, 3) == 1.0
    with pytest.raises(ValueError, match="boolean \\(2, 3\\) relevance matrix"):
        recall_at_k(s, relevant.long(), 1)


@pytest.mark.parametrize("k, n", [(0, 10), (10, 10), (5, 10), (3, 7), (1917, 2000), (1, 1)])
def test_wilson_interval_matches_scipy(k, n):
    from scipy.stats import binomtest

    low, high = wilson_interval(k, n)
    reference = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert low == pytest.approx(reference.low, abs=1e-12)
    assert high == pytest.approx(reference.high, abs=1e-12)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_wilson_interval_hand_case_and_width():
    # 5 of 10 at 95%: centre 0.5, half-width 1.96 sqrt(0.025 + 1.96^2 / 400) / 1.384
    low, high = wilson_interval(5, 10)
    assert (low, high) == pytest.approx((0.236593, 0.763407), abs=1e-6)
    assert wilson_interval(50, 100)[1] - wilson_interval(50, 100)[0] > (
        wilson_interval(500, 1000)[1] - wilson_interval(500, 1000)[0]
    )
    assert wilson_interval(5, 10, confidence=0.5)[0] > low


def test_wilson_interval_errors():
    with pytest.raises(ValueError, match="successes must be at most n = 3, got 4"):
        wilson_interval(4, 3)
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="successes must be an integer >= 0, got -1"):
        wilson_interval(-1, 3)
    with pytest.raises(ValueError, match="confidence must be a float in \\(0, 1\\), got 95"):
        wilson_interval(1, 3, confidence=95)


def test_mcnemar_counts_only_the_discordant_items_and_matches_scipy_binomtest():
    from minivlm.metrics import mcnemar

    # 10 items both right, 3 only a, 12 only b, 5 both wrong
    a = [True] * 10 + [True] * 3 + [False] * 12 + [False] * 5
    b = [True] * 10 + [False] * 3 + [True] * 12 + [False] * 5
    r = mcnemar(a, b)
    assert (r["only_a"], r["only_b"]) == (3, 12)
    # two-sided exact binomial test of 3 successes in 15 at p = 1/2 (scipy.stats.binomtest)
    assert r["p_value"] == pytest.approx(0.03515625, abs=1e-12)
    assert mcnemar(b, a)["p_value"] == r["p_value"]
    # agreement adds nothing: the same discordant items among more agreements, the same p
    assert mcnemar(a + [True] * 100, b + [True] * 100)["p_value"] == r["p_value"]
    assert mcnemar([True, False], [True, False])["p_value"] == 1.0
    assert (
        mcnemar(torch.tensor([True, False, True]), torch.tensor([False, False, True]))["only_a"]
        == 1
    )
    # a symmetric split is no evidence at all
    assert mcnemar([True, False] * 5, [False, True] * 5)["p_value"] == 1.0


@pytest.mark.parametrize(
    "a, b, error, match",
    [
        ([True], [True, False], ValueError, "the same items, got 1 and 2"),
        ([1, 0], [True, False], TypeError, "a must be a non-empty list of bools"),
        ([], [], TypeError, "non-empty"),
        (torch.tensor([1, 0]), [True, False], TypeError, "1-D bool tensor"),
    ],
)
def test_mcnemar_bad_input(a, b, error, match):
    from minivlm.metrics import mcnemar

    with pytest.raises(error, match=match):
        mcnemar(a, b)


def test_metrics_do_not_import_the_data():
    """Metrics take what they measure as arguments: importing them loads no minivlm.data."""
    code = "import sys, minivlm.metrics; print('minivlm.data' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"
