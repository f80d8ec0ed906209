"""The small recipes that the Evolution and attention chapters train on their pages."""

import dataclasses

import pytest
import torch

from minivlm.recipes import charlm, digits, neighbours


def test_the_digits_split_is_fixed_and_stratified():
    X_train, y_train, X_test, y_test = digits.load_split()
    assert X_train.shape == (1347, 1, 8, 8) and X_test.shape == (450, 1, 8, 8)
    assert X_train.min() == 0 and X_train.max() == 1  # ink 0..16 divided by 16
    assert torch.bincount(y_test).tolist() == [45, 46, 44, 46, 45, 46, 45, 45, 43, 45]
    again = digits.load_split()
    assert torch.equal(again[0], X_train) and torch.equal(again[3], y_test)


def test_the_outside_inputs_are_eight_pages_of_digit_ink():
    inputs = digits.outside_inputs()
    assert list(inputs) == [
        "photograph",
        "photograph, negative",
        "blank page",
        "all ink",
        "noise 1",
        "noise 2",
        "letter A",
        "letter H",
    ]
    for name, image in inputs.items():
        assert image.shape == (8, 8) and image.min() >= 0 and image.max() <= 16, name
    assert inputs["letter A"].sum() == 16 * 18  # 18 inked pixels
    torch.testing.assert_close(
        inputs["photograph"] + inputs["photograph, negative"], torch.full((8, 8), 16.0)
    )


def test_digit_training_is_deterministic_and_learns():
    X_train, y_train, X_test, y_test = digits.load_split()
    recipe = digits.DigitsRecipe(steps=60)
    a, losses_a = digits.train(recipe, X_train, y_train)
    b, losses_b = digits.train(recipe, X_train, y_train)
    assert losses_a == losses_b
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not a.training
    figures = digits.confidences(a, X_test, y_test)
    assert figures["accuracy"] > 0.5  # chance is 0.1
    assert 0 <= figures["outside_over_90"] <= 8
    other, _ = digits.train(dataclasses.replace(recipe, seed=1), X_train, y_train)
    assert not torch.equal(other[0].weight, a[0].weight)


def test_the_character_vocabulary_round_trips_and_refuses_unknown_characters():
    poem = charlm.zen()
    assert poem.splitlines()[2] == "Beautiful is better than ugly." and len(poem.splitlines()) == 21
    assert charlm.HELD_OUT in poem
    vocab = charlm.CharVocabulary(poem)
    assert len(vocab) == 45
    assert vocab.decode(vocab.encode("Errors should")) == "Errors should"
    with pytest.raises(ValueError, match="vocabulary's characters, got \\['L', 'M'\\]"):
        vocab.encode("Language Models")


def test_the_character_model_starts_uniform_and_its_held_out_curve_is_recorded():
    poem = charlm.zen()
    vocab = charlm.CharVocabulary(poem)
    text = poem.replace(charlm.HELD_OUT + "\n", "")
    trained = charlm.train(charlm.CharLMRecipe(steps=30, eval_every=10), text, vocab)
    assert [step for step, _ in trained.held_curve] == [0, 10, 20, 30]
    assert len(trained.losses) == 30
    # small random weights: the first loss is about log V
    assert abs(trained.held_curve[0][1] - torch.tensor(45.0).log().item()) < 0.1
    assert trained.losses[-1] < trained.losses[0]
    probs = charlm.next_char_probs(trained, "If the ")
    assert probs.shape == (45,) and abs(probs.sum().item() - 1) < 1e-5
    assert charlm.complete(trained, "Beautiful", n=5).startswith("Beautiful")


def test_off_diagonal_mass_reads_the_neighbour_diagonals():
    n = 6
    left = torch.diag(torch.ones(n - 1), -1)  # every query attends to its left neighbour
    left[0, 0] = 1.0  # the first has none: it attends to itself
    assert neighbours.off_diagonal_mass(left, -1) == 1.0
    assert neighbours.off_diagonal_mass(left, 1) == 0.0
    half = 0.5 * (torch.diag(torch.ones(n - 1), -1) + torch.diag(torch.ones(n - 1), 1))
    assert neighbours.off_diagonal_mass(half, -1) == neighbours.off_diagonal_mass(half, 1) == 0.5
