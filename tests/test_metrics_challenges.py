import math

import pytest
import torch

from minivlm.data.scenes import Object, Scene
from minivlm.data.text import parse_caption
from minivlm.metrics import chair, modality_gap, pointing_game, pope, winoground_scores

# Modality gap


def test_modality_gap_orthogonal_constant_embeddings_is_sqrt_2():
    # Lengths differ, but every image points along x and every text along y.
    images = torch.tensor([[2.0, 0.0], [5.0, 0.0]])
    texts = torch.tensor([[0.0, 3.0]])
    assert modality_gap(images, texts) == pytest.approx(math.sqrt(2))


def test_modality_gap_is_between_centroids_not_pairs():
    # The image centroid is the origin; the text centroid is (0, 1).
    images = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    texts = torch.tensor([[0.0, 1.0], [0.0, 7.0]])
    assert modality_gap(images, texts) == pytest.approx(1.0)
    assert modality_gap(images, images) == pytest.approx(0.0)


def test_modality_gap_errors():
    with pytest.raises(ValueError, match=r"last dimension 2.*got shape \(1, 3\)"):
        modality_gap(torch.ones(2, 2), torch.ones(1, 3))
    with pytest.raises(ValueError, match=r"2-D.*got shape \(2,\)"):
        modality_gap(torch.ones(2), torch.ones(1, 2))
    with pytest.raises(TypeError, match="floating-point.*torch.int64"):
        modality_gap(torch.ones(2, 2, dtype=torch.long), torch.ones(1, 2))
    with pytest.raises(ValueError, match=r"at least one embedding, got shape \(0, 2\)"):
        modality_gap(torch.ones(2, 2), torch.ones(0, 2))


# Pointing game


def test_pointing_game_patch_grid_over_image():
    # A 4 x 4 grid over 32 x 32 pixels: cell (i, j) has centre (8j + 4, 8i + 4).
    saliency = torch.zeros(3, 4, 4)
    saliency[0, 1, 2] = 1.0  # centre (20, 12)
    saliency[1, 3, 0] = 1.0  # centre (4, 28)
    saliency[2, 0, 0] = 1.0  # centre (4, 4)
    boxes = torch.tensor(
        [
            [16, 8, 24, 16],  # hit
            [0, 0, 4, 32],  # miss: x1 = 4 is excluded
            [4, 4, 5, 5],  # hit: x0 = 4 and y0 = 4 are included
        ]
    )
    assert pointing_game(saliency, boxes, image_size=32) == pytest.approx(2 / 3)
    assert pointing_game(saliency, boxes.float(), image_size=(32, 32)) == pytest.approx(2 / 3)


def test_pointing_game_rectangular_image_is_height_then_width():
    saliency = torch.zeros(1, 2, 4)
    saliency[0, 1, 3] = 1.0  # centre (28, 12) in a 16-high, 32-wide image
    boxes = torch.tensor([[24, 8, 32, 16]])
    assert pointing_game(saliency, boxes, image_size=(16, 32)) == 1.0
    assert pointing_game(saliency, boxes, image_size=(32, 16)) == 0.0  # centre (14, 24)


def test_pointing_game_at_image_resolution():
    saliency = torch.zeros(2, 5, 5)
    saliency[:, 2, 3] = 1.0  # pixel row 2, column 3
    boxes = torch.tensor([[3, 2, 4, 3], [4, 2, 5, 3]])
    assert pointing_game(saliency, boxes) == 0.5


def test_pointing_game_ties_take_the_first_maximum():
    saliency = torch.ones(1, 4, 4)  # every cell ties: the point is cell (0, 0)
    assert pointing_game(saliency, torch.tensor([[0, 0, 8, 8]]), image_size=32) == 1.0
    assert pointing_game(saliency, torch.tensor([[8, 0, 32, 32]]), image_size=32) == 0.0


def test_pointing_game_errors():
    with pytest.raises(ValueError, match=r"3-D.*got shape \(4, 4\)"):
        pointing_game(torch.ones(4, 4), torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"last dimension 4.*got shape \(1, 3\)"):
        pointing_game(torch.ones(1, 4, 4), torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"one box per map \(2\), got 1"):
        pointing_game(torch.ones(2, 4, 4), torch.zeros(1, 4))
    with pytest.raises(TypeError, match="integer or floating-point.*torch.bool"):
        pointing_game(torch.ones(1, 4, 4), torch.zeros(1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="image_size.*got 0"):
        pointing_game(torch.ones(1, 4, 4), torch.zeros(1, 4), image_size=0)


# CHAIR


def test_chair_hand_case():
    descriptions = [
        "a red circle and a green square",  # green square: the square is blue
        "a yellow triangle . a triangle",  # both right
        "a circle and a cross",  # bare shapes: the circle exists, the cross does not
    ]
    objects = [
        [("red", "circle"), ("blue", "square")],
        Scene([Object("triangle", "yellow", 16.0, 16.0, 8.0)]).labels,
        [("blue", "circle")],
    ]
    result = chair([parse_caption(d) for d in descriptions], objects)
    assert result == {"chair_i": 2 / 6, "chair_s": 2 / 3, "mentions": 6, "hallucinated": 2}


def test_chair_two_descriptions_and_no_mentions():
    objects = [[("red", "circle")], [("cyan", "diamond")]]
    result = chair([[("red", "circle")], [("blue", "circle")]], objects)
    assert result == {"chair_i": 0.5, "chair_s": 0.5, "mentions": 2, "hallucinated": 1}
    empty = chair([[]], [[("red", "circle")]])
    assert empty == {"chair_i": 0.0, "chair_s": 0.0, "mentions": 0, "hallucinated": 0}


def test_chair_errors():
    with pytest.raises(ValueError, match="same length, got 2 and 1"):
        chair([[], []], [[("red", "circle")]])
    with pytest.raises(ValueError, match="at least one description, got 0"):
        chair([], [])
    with pytest.raises(TypeError, match="must be lists, got str and list"):
        chair("a red circle", [[("red", "circle")]])
    with pytest.raises(TypeError, match=r"objects must be a list of \(colour, shape\), got 'red'"):
        chair([[("red", "circle")]], ["red"])
    with pytest.raises(TypeError, match=r"mentions must be a list of \(colour or None, shape\)"):
        chair(["a red circle"], [[("red", "circle")]])


# POPE


def test_pope_hand_counts():
    answers = ["yes", "yes", "no", "no", " Yes ", "maybe"]
    truths = ["yes", "no", "yes", "no", "yes", "no"]
    # said yes: 0, 1, 4 (tp 0 and 4); "maybe" is wrong even though the truth is "no".
    result = pope(answers, truths)
    expected = {"accuracy": 0.5, "precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "yes_ratio": 0.5}
    assert result == pytest.approx(expected)


def test_pope_always_yes_and_always_no():
    truths = ["yes", "no", "no", "no"]
    always_yes = pope(["yes"] * 4, truths)
    assert always_yes == pytest.approx(
        {"accuracy": 0.25, "precision": 0.25, "recall": 1.0, "f1": 0.4, "yes_ratio": 1.0}
    )
    always_no = pope(["no"] * 4, truths)
    assert always_no == pytest.approx(
        {"accuracy": 0.75, "precision": 0.0, "recall": 0.0, "f1": 0.0, "yes_ratio": 0.0}
    )


def test_pope_errors():
    with pytest.raises(ValueError, match="same length, got 2 and 1"):
        pope(["yes", "no"], ["yes"])
    with pytest.raises(ValueError, match="'yes' or 'no', got 'Yes'"):
        pope(["yes"], ["Yes"])
    with pytest.raises(TypeError, match="must be str, got bool"):
        pope([True], ["yes"])
    with pytest.raises(ValueError, match="at least one answer, got 0"):
        pope([], [])


# Winoground


def test_winoground_scores_hand_case():
    similarity = torch.tensor(
        [
            [[0.9, 0.1], [0.2, 0.8]],  # both right: group
            [[0.5, 0.6], [0.1, 0.9]],  # each image prefers its caption; caption 0 prefers image 1
            [[0.5, 0.1], [0.6, 0.9]],  # the transpose: image score only
        ]
    )
    result = winoground_scores(similarity)
    assert result == pytest.approx({"text": 2 / 3, "image": 2 / 3, "group": 1 / 3})


def test_winoground_ties_fail():
    all_equal = torch.full((1, 2, 2), 0.5)
    assert winoground_scores(all_equal) == {"text": 0.0, "image": 0.0, "group": 0.0}
    # Image 0 likes both captions equally: the text score fails, the image score holds.
    one_tie = torch.tensor([[[0.9, 0.1], [0.9, 0.95]]])
    assert winoground_scores(one_tie) == {"text": 0.0, "image": 1.0, "group": 0.0}


def test_winoground_errors():
    with pytest.raises(ValueError, match=r"\(N, 2, 2\) with N >= 1, got shape \(1, 2, 3\)"):
        winoground_scores(torch.ones(1, 2, 3))
    with pytest.raises(ValueError, match=r"3-D.*got shape \(2, 2\)"):
        winoground_scores(torch.ones(2, 2))
    with pytest.raises(TypeError, match="floating-point.*torch.int64"):
        winoground_scores(torch.ones(1, 2, 2, dtype=torch.long))
