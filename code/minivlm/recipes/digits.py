"""The Evolution chapter's vision model of the unimodal era: a small convolutional
classifier of scikit-learn's handwritten digits, and the inputs outside its ontology.

The chapter trains it live; the spread of its figures over seeds and kernels is in
`minivlm.recipes.spread`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data import load_photo, to_grayscale
from ..metrics import accuracy


@dataclass(frozen=True)
class DigitsRecipe:
    steps: int = 400
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0


def load_split():
    """The 1,797 digits of scikit-learn as (X_train, y_train, X_test, y_test): images
    (N, 1, 8, 8) with ink in [0, 1], a fixed stratified split with a quarter held out."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32)  # (N, 8, 8), ink 0..16
    labels = torch.tensor(digits.target)
    train_idx, test_idx = train_test_split(
        torch.arange(len(labels)).numpy(), test_size=0.25, random_state=0, stratify=digits.target
    )
    # (N, 8, 8) -> (N, 1, 8, 8), ink divided by 16 into [0, 1]
    return (
        images[train_idx, None] / 16,
        labels[train_idx],
        images[test_idx, None] / 16,
        labels[test_idx],
    )


def build() -> nn.Sequential:
    """Two 3 x 3 convolutions with ReLU, a 2 x 2 max pooling, a linear layer to 10 scores."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),  # (N, 1, 8, 8) -> (N, 16, 8, 8)
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),  # -> (N, 32, 8, 8)
        nn.ReLU(),
        nn.MaxPool2d(2),  # -> (N, 32, 4, 4)
        nn.Flatten(),  # -> (N, 512)
        nn.Linear(32 * 4 * 4, 10),  # -> (N, 10): one score per label in Y
    )


def train(recipe: DigitsRecipe, X_train: torch.Tensor, y_train: torch.Tensor):
    """Cross-entropy, Adam, a fixed number of steps on batches drawn with a seeded
    generator: the same recipe gives the same model. Returns (classifier, losses)."""
    torch.manual_seed(recipe.seed)
    classifier = build()
    optimizer = torch.optim.Adam(classifier.parameters(), lr=recipe.lr)
    batches = torch.Generator().manual_seed(recipe.seed)
    losses = []
    for _ in range(recipe.steps):
        batch = torch.randint(len(y_train), (recipe.batch_size,), generator=batches)
        loss = F.cross_entropy(classifier(X_train[batch]), y_train[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return classifier.eval(), losses


def _drawn(rows: list[str]) -> torch.Tensor:
    """An 8 x 8 image from strings: '#' is full ink (16), '.' is none (0)."""
    return torch.tensor([[16.0 if c == "#" else 0.0 for c in row] for row in rows])


def _rescale(image: torch.Tensor) -> torch.Tensor:
    """Stretch an 8 x 8 image to the digits' ink range 0..16."""
    return 16 * (image - image.min()) / (image.max() - image.min())


def outside_inputs() -> dict[str, torch.Tensor]:
    """Eight 8 x 8 inputs that are not digits, with ink from 0 to 16 as the digits have: a
    photograph and its negative, a blank page, a page of ink, noise, two drawn letters."""
    photo = _rescale(to_grayscale(load_photo("grace_hopper", size=8))[0])  # (8, 8)
    noise = torch.Generator().manual_seed(1)
    return {
        "photograph": photo,
        "photograph, negative": 16 - photo,
        "blank page": torch.zeros(8, 8),
        "all ink": torch.full((8, 8), 16.0),
        "noise 1": 16 * torch.rand(8, 8, generator=noise),
        "noise 2": 16 * torch.rand(8, 8, generator=noise),
        "letter A": _drawn(
            [
                "...##...",
                "..#..#..",
                ".#....#.",
                ".#....#.",
                ".######.",
                ".#....#.",
                ".#....#.",
                "........",
            ]
        ),
        "letter H": _drawn(
            [
                ".#....#.",
                ".#....#.",
                ".#....#.",
                ".######.",
                ".#....#.",
                ".#....#.",
                ".#....#.",
                "........",
            ]
        ),
    }


@torch.no_grad()
def confidences(classifier: nn.Module, X_test: torch.Tensor, y_test: torch.Tensor) -> dict:
    """What the chapter measures of a trained classifier: test accuracy, the mean probability
    of the predicted label on the test digits and on the inputs outside the ontology."""
    test_probs = classifier(X_test).softmax(dim=-1)  # (N_test, 10)
    outside = torch.stack(list(outside_inputs().values()))[:, None] / 16  # (8, 1, 8, 8)
    outside_conf = classifier(outside).softmax(dim=-1).max(dim=-1).values  # (8,)
    test_conf = test_probs.max(dim=-1).values
    return {
        "accuracy": accuracy(test_probs.argmax(-1), y_test),
        "test_confidence": test_conf.mean().item(),
        "outside_confidence": outside_conf.mean().item(),
        "outside_over_90": float((outside_conf > 0.9).sum()),
        "outside_max": outside_conf.max().item(),
        "photo_confidence": outside_conf[0].item(),
        # the share of test digits on which the classifier is less sure than on the photograph
        "test_less_sure_than_photo": (test_conf < outside_conf[0]).float().mean().item(),
    }


def figures(seed: int) -> dict[str, float]:
    """The chapter's figures for one seed, for minivlm.recipes.spread."""
    X_train, y_train, X_test, y_test = load_split()
    classifier, _ = train(DigitsRecipe(seed=seed), X_train, y_train)
    return confidences(classifier, X_test, y_test)
