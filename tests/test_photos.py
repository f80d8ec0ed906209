"""minivlm.data.photos: the bundled photograph and the BT.601 grayscale conversion."""

from __future__ import annotations

import pytest
import torch

from minivlm.data import PHOTOS, load_photo, to_grayscale


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    return load_photo()


def test_load_photo_shape_dtype_range(photo):
    assert photo.shape == (3, 600, 512)
    assert photo.dtype == torch.float32
    assert photo.min() >= 0.0 and photo.max() <= 1.0
    # a real photograph, not a constant: it uses most of the range
    assert photo.min() < 0.05 and photo.max() > 0.95 and photo.std() > 0.1
    # values are bytes / 255
    torch.testing.assert_close(photo * 255, (photo * 255).round(), atol=1e-4, rtol=0)


def test_load_photo_is_deterministic(photo):
    assert torch.equal(load_photo("grace_hopper"), photo)
    assert torch.equal(load_photo(size=64), load_photo(size=64))
    assert "grace_hopper" in PHOTOS


@pytest.mark.parametrize("size", [224, 32, 1, 700])
def test_load_photo_resized(size):
    image = load_photo(size=size)
    assert image.shape == (3, size, size) and image.dtype == torch.float32
    assert image.min() >= 0.0 and image.max() <= 1.0


def test_load_photo_resize_is_a_centre_crop(photo):
    # at the side of the square crop the resize is the identity: the centre 512 x 512
    top = (600 - 512) // 2
    torch.testing.assert_close(
        load_photo(size=512), photo[:, top : top + 512, :], atol=1e-6, rtol=0
    )
    # a downscaled image keeps the mean colour of the crop
    small = load_photo(size=128)
    torch.testing.assert_close(
        small.mean(dim=(1, 2)),
        photo[:, top : top + 512].mean(dim=(1, 2)),
        atol=5e-3,
        rtol=0,
    )


@pytest.mark.parametrize("name", ["nope", "Grace_Hopper", ""])
def test_load_photo_unknown_name(name):
    with pytest.raises(
        ValueError, match=rf"unknown photo {name!r}; expected one of \['grace_hopper'\]"
    ):
        load_photo(name)


@pytest.mark.parametrize("size", [0, -3, 2.5, "224", True])
def test_load_photo_bad_size(size):
    with pytest.raises(ValueError, match=r"size must be a positive integer, got "):
        load_photo(size=size)


def test_to_grayscale_bt601_weights():
    image = torch.zeros(3, 2, 3)
    image[0, 0, 0] = 1.0  # pure red
    image[1, 0, 1] = 1.0  # pure green
    image[2, 0, 2] = 1.0  # pure blue
    image[:, 1, 0] = 1.0  # white
    image[:, 1, 1] = 0.5  # mid grey
    image[:, 1, 2] = torch.tensor([0.2, 0.4, 0.6])
    gray = to_grayscale(image)
    expected = torch.tensor(
        [[[0.299, 0.587, 0.114], [1.0, 0.5, 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6]]]
    )
    assert gray.shape == (1, 2, 3)
    torch.testing.assert_close(gray, expected, atol=1e-6, rtol=0)


def test_to_grayscale_on_the_photo(photo):
    gray = to_grayscale(photo)
    assert gray.shape == (1, 600, 512) and gray.dtype == torch.float32
    assert gray.min() >= 0.0 and gray.max() <= 1.0 + 1e-6
    r, g, b = photo
    torch.testing.assert_close(gray[0], 0.299 * r + 0.587 * g + 0.114 * b, atol=1e-6, rtol=0)


def test_to_grayscale_keeps_dtype():
    image = torch.rand(3, 4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    gray = to_grayscale(image)
    assert gray.dtype == torch.float64
    expected = (0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2])[None]
    torch.testing.assert_close(gray, expected, atol=1e-15, rtol=0)


@pytest.mark.parametrize(
    "bad, got",
    [
        (torch.zeros(4, 5, 5), r"\(4, 5, 5\)"),
        (torch.zeros(1, 3, 5, 5), r"\(1, 3, 5, 5\)"),
        (torch.zeros(5, 5, 3), r"\(5, 5, 3\)"),
        ([[0.0]], "list"),
    ],
)
def test_to_grayscale_errors(bad, got):
    with pytest.raises(ValueError, match=r"expected an RGB image of shape \(3, H, W\), got " + got):
        to_grayscale(bad)
