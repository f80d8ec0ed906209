"""What the scene world is made of: its shapes, colours and labels, Object and Scene, and the
random generator every seeded draw starts from.

Both halves of the world build on this module: `text` writes words about scenes, and
`scenes` samples, renders and captions them. Imports point one way: scenes -> text -> objects
(and scenes -> objects).

Geometry. Coordinates are pixels, x to the right and y downwards. Pixel (row i, column j)
covers [j, j + 1) x [i, i + 1) and belongs to an object when its centre (j + 0.5, i + 0.5) lies
inside the shape. Every shape fits in the disc of radius `radius` around (cx, cy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._checks import is_int, is_number

SHAPES = ("circle", "square", "triangle", "cross", "diamond")
COLOURS = ("red", "green", "blue", "yellow", "magenta", "cyan")
# The 30 classes of zero-shot classification, colour-major: index = colour * 5 + shape.
LABELS = tuple((colour, shape) for colour in COLOURS for shape in SHAPES)
MAX_OBJECTS = 3

# Shape sizes in units of the radius r (u = dx / r, v = dy / r); rendering draws these.
SQUARE_HALF = 0.7  # inside the disc: the corners sit at 0.7 * sqrt(2) = 0.99 r
CROSS_ARM, CROSS_HALF_WIDTH = 0.95, 0.3  # arm corners at sqrt(0.95^2 + 0.3^2) = 0.996 r
SQRT3 = math.sqrt(3.0)
# Extent of each shape (u0, v0, u1, v1); the triangle is the equilateral one in the unit disc.
_EXTENTS = {
    "circle": (-1.0, -1.0, 1.0, 1.0),
    "square": (-SQUARE_HALF, -SQUARE_HALF, SQUARE_HALF, SQUARE_HALF),
    "triangle": (-SQRT3 / 2, -1.0, SQRT3 / 2, 0.5),
    "cross": (-CROSS_ARM, -CROSS_ARM, CROSS_ARM, CROSS_ARM),
    "diamond": (-1.0, -1.0, 1.0, 1.0),
}


@dataclass(frozen=True)
class Object:
    """One shape: its class, colour, centre (cx, cy) and radius, in pixels."""

    shape: str
    colour: str
    cx: float
    cy: float
    radius: float

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}, got {self.shape!r}")
        if self.colour not in COLOURS:
            raise ValueError(f"colour must be one of {COLOURS}, got {self.colour!r}")
        for name in ("cx", "cy", "radius"):
            value = getattr(self, name)
            if not is_number(value):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value!r}")
        if self.radius <= 0:
            raise ValueError(f"radius must be positive, got {self.radius!r}")

    @property
    def label(self) -> tuple[str, str]:
        """(colour, shape), the zero-shot class."""
        return (self.colour, self.shape)

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1): the pixel columns x0 <= j < x1 and rows y0 <= i < y1 whose centres
        fall in the shape's extent. Every pixel of the object is inside; end-exclusive, so
        image[:, y0:y1, x0:x1] is the crop."""
        u0, v0, u1, v1 = _EXTENTS[self.shape]
        r = self.radius
        x0 = math.ceil(self.cx + u0 * r - 0.5)
        y0 = math.ceil(self.cy + v0 * r - 0.5)
        x1 = math.floor(self.cx + u1 * r - 0.5) + 1
        y1 = math.floor(self.cy + v1 * r - 0.5) + 1
        return (x0, y0, x1, y1)


@dataclass(frozen=True)
class Scene:
    """The objects of one image, sorted left to right. Shapes are distinct, and so are colours."""

    objects: tuple[Object, ...]

    def __post_init__(self):
        objects = tuple(self.objects) if isinstance(self.objects, (list, tuple)) else None
        if objects is None or not all(isinstance(o, Object) for o in objects):
            raise TypeError(f"objects must be a list or tuple of Object, got {self.objects!r}")
        if not 1 <= len(objects) <= MAX_OBJECTS:
            raise ValueError(f"a scene holds 1 to {MAX_OBJECTS} objects, got {len(objects)}")
        shapes = [o.shape for o in objects]
        colours = [o.colour for o in objects]
        if len(set(shapes)) < len(shapes) or len(set(colours)) < len(colours):
            raise ValueError(
                f"objects of a scene must have distinct shapes and distinct colours, got "
                f"{[o.label for o in objects]}"
            )
        # frozen dataclass: set the sorted tuple through object.__setattr__
        object.__setattr__(self, "objects", tuple(sorted(objects, key=lambda o: o.cx)))

    def __len__(self) -> int:
        return len(self.objects)

    @property
    def labels(self) -> tuple[tuple[str, str], ...]:
        """(colour, shape) of each object, left to right."""
        return tuple(o.label for o in self.objects)

    def has(self, colour: str, shape: str) -> bool:
        return (colour, shape) in self.labels

    def with_swapped_colours(self, i: int = 0, j: int = 1) -> Scene:
        """The same scene with the colours of objects i and j exchanged (Winoground pairs)."""
        n = len(self.objects)
        if not (is_int(i, 0) and is_int(j, 0) and i < n and j < n and i != j):
            raise ValueError(f"i and j must be distinct object indices below {n}, got {i}, {j}")
        objects = list(self.objects)
        a, b = objects[i], objects[j]
        objects[i] = Object(a.shape, b.colour, a.cx, a.cy, a.radius)
        objects[j] = Object(b.shape, a.colour, b.cx, b.cy, b.radius)
        return Scene(tuple(objects))


def as_generator(seed) -> torch.Generator:
    """A CPU generator from an int seed, or the generator itself (to continue its stream)."""
    if isinstance(seed, torch.Generator):
        return seed
    if not is_int(seed, 0):
        raise TypeError(f"seed must be an int >= 0 or a torch.Generator, got {seed!r}")
    return torch.Generator().manual_seed(seed)
