"""Real photographs that ship with matplotlib, as float tensors."""

from __future__ import annotations

import matplotlib.cbook
import matplotlib.image
import torch
import torch.nn.functional as F

from .._checks import check_int

# name -> file in matplotlib's sample data
PHOTOS = {"grace_hopper": "grace_hopper.jpg"}


def load_photo(name: str = "grace_hopper", size: int | None = None) -> torch.Tensor:
    """A (3, H, W) float32 RGB tensor with values in [0, 1].

    With size, the photograph is centre-cropped to a square and resized to size x size
    (antialiased bilinear), the usual preprocessing of vision transformers.
    """
    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; expected one of {sorted(PHOTOS)}")
    path = matplotlib.cbook.get_sample_data(PHOTOS[name], asfileobj=False)
    pixels = torch.from_numpy(matplotlib.image.imread(path).copy())  # (H, W, 3) uint8
    image = pixels.permute(2, 0, 1).float() / 255.0  # (H, W, 3) -> (3, H, W)
    if size is None:
        return image
    check_int(size, "size")
    _, H, W = image.shape
    side = min(H, W)
    top, left = (H - side) // 2, (W - side) // 2
    square = image[:, top : top + side, left : left + side]
    resized = F.interpolate(
        square[None],
        size=(size, size),
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )
    return resized[0].clamp(0.0, 1.0)


def to_grayscale(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) RGB -> (1, H, W) luma with the ITU-R BT.601 weights."""
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 3:
        got = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"expected an RGB image of shape (3, H, W), got {got}")
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=image.dtype)
    return (image * weights.view(3, 1, 1)).sum(dim=0, keepdim=True)  # (3,) -> (3, 1, 1) per channel
