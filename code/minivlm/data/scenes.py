"""The scene world: small RGB images of one to three coloured shapes, with exact ground truth.

Every split is drawn from a seed, so it is the same tensor on every machine, and every object
is known exactly: shape, colour, centre, radius and box. Captions, questions and answers are
written from this ground truth by `minivlm.data.text`.

The shapes, colours, labels, Object and Scene are defined in `minivlm.data.objects` (with
the geometry: pixel coordinates, every shape inside its disc) and importable from here.
Rendering has no anti-aliasing, so an object's pixels hold its exact colour.

Rules of a sampled scene, so that every question has one answer:
- objects lie inside the image and do not overlap (their discs are at least GAP apart);
- their centres are at least MIN_DX apart horizontally, so "left of" is never ambiguous;
- no two objects share a shape and no two share a colour, so "the square" and "the red
  object" each name one object;
- objects are listed left to right (increasing cx).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from .._checks import check_int, check_tensor, is_int, is_number, pair
from .objects import (
    COLOURS,
    CROSS_ARM,
    CROSS_HALF_WIDTH,
    LABELS,
    MAX_OBJECTS,
    SHAPES,
    SQRT3,
    SQUARE_HALF,
    Object,
    Scene,
    as_generator,
)
from .text import captions

# Saturated primaries and secondaries on black: any two differ by a full channel.
COLOUR_RGB = {
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "yellow": (1.0, 1.0, 0.0),
    "magenta": (1.0, 0.0, 1.0),
    "cyan": (0.0, 1.0, 1.0),
}
BACKGROUND_RGB = (0.0, 0.0, 0.0)

REFERENCE_SIZE = 32  # RADII, GAP and MIN_DX are in pixels of a 32 x 32 image; they scale
# Radius range by object count: big single objects make shapes easy to read; three objects
# must be smaller to fit side by side.
RADII = {1: (8.0, 12.0), 2: (7.0, 10.0), 3: (6.0, 8.0)}
GAP = 1.0  # the least distance between the discs of two objects
MIN_DX = 3.0  # the least horizontal distance between two centres
MAX_ROUNDS = 100  # rejection-sampling rounds before giving up
_POOL_MAX = 1 << 21  # candidates drawn in one round, at most


@dataclass
class SceneBatch:
    """Scenes as tensors, the form that sampling and rendering work on.

    shapes, colours (B, K) long: indices into SHAPES and COLOURS, -1 in empty slots;
    cx, cy, radii (B, K) float32 pixels, 0 in empty slots; counts (B,) long.
    Slots 0 .. counts - 1 hold the objects left to right; K is the largest count.
    """

    shapes: torch.Tensor
    colours: torch.Tensor
    cx: torch.Tensor
    cy: torch.Tensor
    radii: torch.Tensor
    counts: torch.Tensor

    def __post_init__(self):
        for name in ("shapes", "colours", "counts"):
            t = getattr(self, name)
            check_tensor(t, name, dim=1 if name == "counts" else 2, floating=False)
            if t.dtype != torch.long:
                raise TypeError(f"{name} must be a long tensor, got dtype {t.dtype}")
        for name in ("cx", "cy", "radii"):
            check_tensor(getattr(self, name), name, dim=2, shape_doc="(B, K)")
        B, K = self.shapes.shape
        for name in ("colours", "cx", "cy", "radii"):
            if getattr(self, name).shape != (B, K):
                raise ValueError(
                    f"{name} must have the shape of shapes {(B, K)}, "
                    f"got {tuple(getattr(self, name).shape)}"
                )
        if self.counts.shape != (B,):
            raise ValueError(f"counts must have shape {(B,)}, got {tuple(self.counts.shape)}")
        filled = torch.arange(K) < self.counts[:, None]  # (B, K): True in used slots
        bad = (self.counts < 1) | (self.counts > K)
        bad |= ((self.shapes >= 0) != filled).any(1) | ((self.colours >= 0) != filled).any(1)
        bad |= (self.shapes >= len(SHAPES)).any(1) | (self.colours >= len(COLOURS)).any(1)
        bad |= ((self.radii <= 0) & filled).any(1)
        for index in (self.shapes, self.colours):
            ordered = index.sort(dim=1).values
            bad |= ((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)).any(1)
        if bool(bad.any()):
            rows = bad.nonzero().flatten()[:5].tolist()
            raise ValueError(
                "every scene needs 1 to K objects in its first `counts` slots, with distinct "
                "shape and distinct colour indices and positive radii (-1 in empty slots); "
                f"rows {rows} do not"
            )

    @property
    def label_ids(self) -> torch.Tensor:
        """(B,) long: the index into LABELS of each scene's first object (its only one in a
        single-object batch): colour * len(SHAPES) + shape, LABELS being colour-major."""
        return self.colours[:, 0] * len(SHAPES) + self.shapes[:, 0]

    def __len__(self) -> int:
        return self.shapes.shape[0]

    @classmethod
    def from_scenes(cls, scenes) -> SceneBatch:
        """Pack a list of Scene into tensors."""
        if isinstance(scenes, Scene):
            scenes = [scenes]
        if not isinstance(scenes, (list, tuple)) or not scenes:
            raise TypeError(f"scenes must be a non-empty list of Scene, got {scenes!r:.80}")
        if not all(isinstance(s, Scene) for s in scenes):
            raise TypeError("scenes must be a list of Scene, got other items in the list")
        K = max(len(s) for s in scenes)
        empty = [(-1, -1, 0.0, 0.0, 0.0)]
        rows = [
            [
                (SHAPES.index(o.shape), COLOURS.index(o.colour), o.cx, o.cy, o.radius)
                for o in s.objects
            ]
            + empty * (K - len(s))
            for s in scenes
        ]
        table = torch.tensor(rows, dtype=torch.float64)  # (B, K, 5): one column per field
        return cls(
            shapes=table[..., 0].long(),
            colours=table[..., 1].long(),
            cx=table[..., 2].float(),
            cy=table[..., 3].float(),
            radii=table[..., 4].float(),
            counts=torch.tensor([len(s) for s in scenes]),
        )

    def to_scenes(self) -> list[Scene]:
        """Unpack into a list of Scene (Python objects: slower than the tensors)."""
        shapes, colours = self.shapes.tolist(), self.colours.tolist()
        cx, cy, radii = self.cx.tolist(), self.cy.tolist(), self.radii.tolist()
        scenes = []
        for b, n in enumerate(self.counts.tolist()):
            fields = zip(shapes[b][:n], colours[b][:n], cx[b][:n], cy[b][:n], radii[b][:n])
            objects = (Object(SHAPES[s], COLOURS[c], x, y, r) for s, c, x, y, r in fields)
            scenes.append(Scene(tuple(objects)))
        return scenes


# ---------------------------------------------------------------------------- rendering
# Each mask takes u (M, 1, S) and v (M, S, 1), pixel offsets from the centre in radii, and
# broadcasts them to (M, S, S): one full-size operation per comparison.


def _circle(u, v):
    return u * u + v * v <= 1.0


def _square(u, v):
    return (u.abs() <= SQUARE_HALF) & (v.abs() <= SQUARE_HALF)


def _triangle(u, v):
    # apex at (0, -1), base at v = 0.5; the sides have slope sqrt(3)
    return (v <= 0.5) & (v >= SQRT3 * u.abs() - 1.0)


def _cross(u, v):
    au, av = u.abs(), v.abs()
    arm = (au <= CROSS_ARM) & (av <= CROSS_ARM)
    return arm & ((au <= CROSS_HALF_WIDTH) | (av <= CROSS_HALF_WIDTH))


def _diamond(u, v):
    return u.abs() + v.abs() <= 1.0


_MASKS = (_circle, _square, _triangle, _cross, _diamond)  # in the order of SHAPES
_PALETTE = torch.tensor([BACKGROUND_RGB] + [COLOUR_RGB[c] for c in COLOURS])  # (7, 3)
_CHUNK = 2048  # images rendered together: keeps the (M, S, S) masks in cache


def render(scenes, image_size: int = REFERENCE_SIZE, noise: float = 0.0, seed=0) -> torch.Tensor:
    """Draw scenes (a SceneBatch or a list of Scene) as (B, 3, S, S) float32 in [0, 1].

    Vectorised over the batch: for each shape, the masks of every object of that shape are
    computed at once from coordinate grids. noise > 0 adds Gaussian pixel noise of that
    standard deviation (then clamps to [0, 1]), drawn from seed (an int or torch.Generator).
    """
    batch = scenes if isinstance(scenes, SceneBatch) else SceneBatch.from_scenes(scenes)
    check_int(image_size, "image_size", minimum=8)
    _check_noise(noise)
    B, K = batch.shapes.shape
    S = image_size
    centres = torch.arange(S, dtype=torch.float32) + 0.5  # pixel centres, (S,)
    paint = torch.zeros(B, S, S, dtype=torch.uint8)  # palette index per pixel, 0 = background
    for start in range(0, B, _CHUNK):
        stop = min(start + _CHUNK, B)
        canvas = paint[start:stop]  # a view: writing to it writes to paint
        shapes = batch.shapes[start:stop].reshape(-1)  # (b, K) -> (b * K,)
        for s, mask_fn in enumerate(_MASKS):
            slot = (shapes == s).nonzero().flatten()  # flat slot indices holding shape s
            if slot.numel() == 0:
                continue
            image = slot // K  # each image holds each shape at most once: no repeats here
            r = batch.radii[start:stop].reshape(-1)[slot].view(-1, 1, 1)  # (M,) -> (M, 1, 1)
            cx = batch.cx[start:stop].reshape(-1)[slot].view(-1, 1, 1)  # (M,) -> (M, 1, 1)
            cy = batch.cy[start:stop].reshape(-1)[slot].view(-1, 1, 1)  # (M,) -> (M, 1, 1)
            u = (centres.view(1, 1, S) - cx) / r  # (S,) -> (1, 1, S); u is (M, 1, S)
            v = (centres.view(1, S, 1) - cy) / r  # (S,) -> (1, S, 1); v is (M, S, 1)
            colour = batch.colours[start:stop].reshape(-1)[slot] + 1  # palette row, (M,)
            ink = mask_fn(u, v).to(torch.uint8)  # (M, S, S): 1 inside the shape
            ink = ink * colour.to(torch.uint8).view(-1, 1, 1)  # (M,) -> (M, 1, 1)
            canvas[image] = torch.maximum(canvas[image], ink)  # keeps earlier shapes' pixels
    images = _PALETTE[paint.long()].permute(0, 3, 1, 2)  # (B, S, S, 3) -> (B, 3, S, S)
    images = images.contiguous()
    if noise > 0:
        rng = as_generator(seed)
        images = (images + noise * torch.randn(images.shape, generator=rng)).clamp_(0.0, 1.0)
    return images


# ---------------------------------------------------------------------------- sampling


def latin_held_out(offset: int = 0) -> frozenset[tuple[str, str]]:
    """Six (colour, shape) pairs to hold out: colour i with shape (2 i + offset) mod 5.

    Every colour is held out once and every shape once or twice, so each word is still seen
    in training, only some combinations are not. The offsets 0 to 4 give five disjoint sets
    that cover all 30 labels (five folds).
    """
    if not is_int(offset, 0) or offset >= len(SHAPES):
        raise ValueError(f"offset must be an integer in 0..{len(SHAPES) - 1}, got {offset!r}")
    return frozenset(
        (colour, SHAPES[(2 * i + offset) % len(SHAPES)]) for i, colour in enumerate(COLOURS)
    )


def sample_scenes(
    n: int,
    n_objects=(1, MAX_OBJECTS),
    *,
    seed=0,
    image_size: int = REFERENCE_SIZE,
    radii: dict | None = None,
    held_out=None,
    held_out_mode: str = "exclude",
    bias: dict | None = None,
) -> SceneBatch:
    """Draw n random scenes as a SceneBatch, deterministically from seed.

    n_objects: an int, or an inclusive range (lo, hi); counts are balanced exactly (they
        cycle through lo..hi and are then shuffled).
    seed: an int, or a torch.Generator to continue a stream.
    radii: {count: (min, max)} in pixels of this image size; default RADII scaled by
        image_size / 32.
    held_out: a set of (colour, shape) pairs. held_out_mode "exclude" never draws them (a
        training split); "only" draws nothing else (a compositional test split).
    bias: {(shape, companion): p}. A scene of two or more objects that holds `shape` but not
        `companion` is redrawn with probability p: with p = 1 every such scene that has a
        circle also has a square, a co-occurrence a captioner may learn to hallucinate.
        Single-object scenes are left alone.

    Labels are drawn uniformly from the allowed pairs, radii and x uniformly, y uniformly
    among the heights that stay clear of the objects already placed; draws that break a rule
    are thrown away (vectorised rejection sampling). Two or three large discs often cannot
    fit, so crowded scenes keep fewer large radii: at 32 x 32 the mean radius is about 7.7 for
    two objects and 6.7 for three.
    """
    check_int(n, "n")
    check_int(image_size, "image_size", minimum=16)
    lo, hi = _count_range(n_objects)
    allowed = _allowed_labels(held_out, held_out_mode)
    rules = _bias_rules(bias)
    ranges = _radius_ranges(radii, image_size, lo, hi)
    for k in range(lo, hi + 1):
        _check_feasible(allowed, k)
    rng = as_generator(seed)

    counts = lo + torch.arange(n) % (hi - lo + 1)
    counts = counts[torch.randperm(n, generator=rng)]  # balanced counts in random order
    shapes = torch.full((n, hi), -1, dtype=torch.long)
    colours = torch.full((n, hi), -1, dtype=torch.long)
    cx, cy, r = (torch.zeros(n, hi) for _ in range(3))
    for k in range(lo, hi + 1):
        rows = (counts == k).nonzero().flatten()
        if rows.numel() == 0:
            continue
        label = _draw_labels(rows.numel(), k, allowed, rules, rng)  # (m, k)
        x, y, rad = _draw_places(rows.numel(), k, ranges[k], image_size, rng)  # (m, k) each
        order = x.argsort(dim=1)  # left to right
        shapes[rows, :k] = (label % len(SHAPES)).gather(1, order)
        colours[rows, :k] = (label // len(SHAPES)).gather(1, order)
        cx[rows, :k], cy[rows, :k] = x.gather(1, order), y.gather(1, order)
        r[rows, :k] = rad.gather(1, order)
    return SceneBatch(shapes, colours, cx, cy, r, counts)


def _draw_labels(m, k, allowed, rules, rng) -> torch.Tensor:
    """(m, k) label indices (colour * 5 + shape) with distinct shapes and distinct colours."""
    allowed_t = torch.tensor(sorted(allowed))
    active = rules if k >= 2 else []  # a lone object cannot have a companion

    def draw(count):
        label = allowed_t[torch.randint(len(allowed_t), (count, k), generator=rng)]  # (count, k)
        shape, colour = label % len(SHAPES), label // len(SHAPES)
        ok = _distinct(shape) & _distinct(colour)
        for (a, b), p in active:
            has_a, has_b = (shape == a).any(1), (shape == b).any(1)
            redraw = torch.rand(count, generator=rng) < p
            ok &= ~(has_a & ~has_b & redraw)
        return (label,), ok

    return _keep_valid(m, draw)[0]


def _draw_places(m, k, radius_range, size, rng):
    """(m, k) centres x, y and radii: discs inside the image, GAP apart, centres MIN_DX apart
    in x. Radii and x are uniform; each y is then uniform over the heights where its disc
    clears the discs already placed (a row is redrawn when no height is left)."""
    r_lo, r_hi = radius_range
    scale = size / REFERENCE_SIZE

    def draw(count):
        rad = r_lo + (r_hi - r_lo) * torch.rand(count, k, generator=rng)
        x = rad + (size - 2 * rad) * torch.rand(count, k, generator=rng)  # disc inside: [r, S - r]
        u = torch.rand(count, k, generator=rng)
        y = torch.zeros(count, k)
        ok = torch.ones(count, dtype=torch.bool)
        for j in range(k):
            dx = x[:, j : j + 1] - x[:, :j]  # (count, j): to the objects already placed
            reach = rad[:, j : j + 1] + rad[:, :j] + GAP * scale  # least centre distance
            # discs clear each other unless |dy| < half, the half-height of a forbidden band
            half = (reach * reach - dx * dx).clamp(min=0).sqrt()
            ok &= (dx.abs() >= MIN_DX * scale).all(1)
            y[:, j], fits = _uniform_outside(
                rad[:, j], size - rad[:, j], y[:, :j] - half, y[:, :j] + half, u[:, j]
            )
            ok &= fits
        return (x, y, rad), ok

    return _keep_valid(m, draw)


def _uniform_outside(a, b, band_lo, band_hi, u):
    """A point uniform in [a, b] minus the open bands (band_lo, band_hi), and whether any is
    left. a, b, u (m,) with u uniform in [0, 1); band_lo, band_hi (m, J) -> (m,), (m,)."""
    band_lo = torch.minimum(band_lo, b[:, None]).maximum(a[:, None])  # clip bands to [a, b]
    band_hi = torch.minimum(band_hi, b[:, None]).maximum(a[:, None])
    band_lo, order = band_lo.sort(dim=1)
    band_hi = band_hi.gather(1, order)
    # free pieces, bottom to top: [start_i, stop_i) with start_i the highest band end so far
    starts = torch.cat([a[:, None], band_hi], dim=1).cummax(dim=1).values  # (m, J + 1)
    stops = torch.cat([band_lo, b[:, None]], dim=1)  # (m, J + 1)
    length = (stops - starts).clamp(min=0)
    total = length.sum(dim=1)
    t = u * total  # distance along the free pieces laid end to end
    cum = length.cumsum(dim=1)
    piece = (cum <= t[:, None]).sum(dim=1).clamp(max=length.shape[1] - 1)[:, None]  # (m, 1)
    offset = t - (cum.gather(1, piece) - length.gather(1, piece)).squeeze(1)
    return starts.gather(1, piece).squeeze(1) + offset, total > 0


def _keep_valid(m, draw):
    """The first m valid rows of draw(count) -> (tuple of (count, ...) tensors, ok (count,)).

    Draws pools sized from the acceptance rate seen so far, so even a rate of a few percent
    takes a handful of vectorised rounds.
    """
    pools, have, tried = [], 0, 0
    for _ in range(MAX_ROUNDS):
        rate = max(have / tried, 1e-3) if tried else 1.0
        count = min(int((m - have) / rate * 1.2) + 16, _POOL_MAX)
        tensors, ok = draw(count)
        pools.append(tuple(t[ok] for t in tensors))
        have, tried = have + int(ok.sum()), tried + count
        if have >= m:
            return tuple(torch.cat(parts)[:m] for parts in zip(*pools))
        if have == 0 and tried >= _POOL_MAX:
            break  # nothing fits: the radii are too large for the image
    raise RuntimeError(
        f"only {have} of {m} scenes met the placement rules after {tried} draws: "
        f"radii too large for the image?"
    )


def _distinct(index: torch.Tensor) -> torch.Tensor:
    """(m, k) -> (m,): True where a row has no repeated value."""
    sorted_index = index.sort(dim=1).values
    return (sorted_index[:, 1:] != sorted_index[:, :-1]).all(dim=1)


def _check_feasible(allowed, k) -> None:
    """Some k allowed labels must have distinct shapes and colours, or sampling never ends."""
    pairs = [divmod(i, len(SHAPES)) for i in allowed]  # (colour, shape) indices
    for combo in itertools.combinations(pairs, k):
        if len({c for c, _ in combo}) == k and len({s for _, s in combo}) == k:
            return
    raise ValueError(
        f"no {k} allowed (colour, shape) pairs have distinct colours and shapes: "
        f"allowed are {[LABELS[i] for i in sorted(allowed)]}"
    )


def _count_range(n_objects) -> tuple[int, int]:
    lo, hi = pair(n_objects, "n_objects", 1)
    if not lo <= hi <= MAX_OBJECTS:
        raise ValueError(f"n_objects must lie in 1..{MAX_OBJECTS} with lo <= hi, got {n_objects!r}")
    return lo, hi


def _allowed_labels(held_out, mode) -> set[int]:
    """Indices into LABELS that sampling may use."""
    if mode not in ("exclude", "only"):
        raise ValueError(f"held_out_mode must be 'exclude' or 'only', got {mode!r}")
    if held_out is None:
        held_out = ()
    if isinstance(held_out, (str, bytes)) or not hasattr(held_out, "__iter__"):
        raise TypeError(f"held_out must be a set of (colour, shape) pairs, got {held_out!r}")
    held = set()
    for label in held_out:
        if not (isinstance(label, tuple) and label in LABELS):
            raise ValueError(f"held_out pairs must be (colour, shape) from LABELS, got {label!r}")
        held.add(LABELS.index(label))
    if mode == "only":
        if not held:
            raise ValueError("held_out_mode='only' needs a non-empty held_out set")
        return held
    return set(range(len(LABELS))) - held


def _bias_rules(bias) -> list[tuple[tuple[int, int], float]]:
    if bias is None:
        return []
    if not isinstance(bias, dict):
        raise TypeError(f"bias must be a dict {{(shape, companion): p}}, got {type(bias).__name__}")
    rules = []
    for key, p in bias.items():
        ok = isinstance(key, tuple) and len(key) == 2 and all(s in SHAPES for s in key)
        if not ok or key[0] == key[1]:
            raise ValueError(f"bias keys must be pairs of two different shapes, got {key!r}")
        if not is_number(p) or not 0.0 <= p <= 1.0:
            raise ValueError(f"bias probabilities must be numbers in [0, 1], got {p!r}")
        rules.append(((SHAPES.index(key[0]), SHAPES.index(key[1])), float(p)))
    return rules


def _radius_ranges(radii, size, lo, hi) -> dict[int, tuple[float, float]]:
    scale = size / REFERENCE_SIZE
    if radii is None:
        return {k: (a * scale, b * scale) for k, (a, b) in RADII.items()}
    if not isinstance(radii, dict):
        raise TypeError(f"radii must be a dict {{count: (min, max)}}, got {type(radii).__name__}")
    out = {}
    for k in range(lo, hi + 1):
        pair = radii.get(k)
        ok = (
            isinstance(pair, (tuple, list))
            and len(pair) == 2
            and all(is_number(v) for v in pair)
            and 0 < pair[0] <= pair[1] < size / 2
        )
        if not ok:
            raise ValueError(
                f"radii[{k}] must be (min, max) with 0 < min <= max < {size / 2}, got {pair!r}"
            )
        out[k] = (float(pair[0]), float(pair[1]))
    return out


def _check_noise(noise) -> None:
    if not is_number(noise) or not noise >= 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")


def near_twins(scenes, reference, tolerance: float = 1.0) -> list[bool]:
    """For each scene, whether `reference` holds a near twin of it: the same objects, left to
    right, each centre and radius within `tolerance` pixels of its own.

    Held-out scenes are new draws from the training distribution, not new images of a new
    kind: a test scene may differ from a training scene by less than a pixel everywhere.
    This says which ones do. scenes, reference: lists of Scene.
    """
    _check_near_twins(scenes, reference, tolerance)
    by_labels: dict[tuple, list[torch.Tensor]] = {}
    for s in reference:  # group by the objects' labels: only those can be twins
        by_labels.setdefault(s.labels, []).append(_geometry(s))
    stacked = {labels: torch.stack(rng) for labels, rng in by_labels.items()}  # (M, k, 3)
    return [
        s.labels in stacked
        and bool(((stacked[s.labels] - _geometry(s)).abs() <= tolerance).all(-1).all(-1).any())
        for s in scenes
    ]


def _check_near_twins(scenes, reference, tolerance) -> None:
    for name, value in (("scenes", scenes), ("reference", reference)):
        if not isinstance(value, (list, tuple)) or not all(isinstance(s, Scene) for s in value):
            raise TypeError(f"{name} must be a list of Scene, got {type(value).__name__}")
    if not is_number(tolerance) or not tolerance >= 0:
        raise ValueError(f"tolerance must be a number of pixels >= 0, got {tolerance!r}")


def _geometry(scene: Scene) -> torch.Tensor:
    """(k, 3) float64: cx, cy and radius of each object, left to right."""
    return torch.tensor([(o.cx, o.cy, o.radius) for o in scene.objects], dtype=torch.float64)


# ---------------------------------------------------------------------------- splits


@dataclass
class SceneSplit:
    """A rendered split: images (B, 3, S, S), the scenes as tensors (batch) and as objects
    (scenes), and one caption per image. split[i] is (image (3, S, S), caption)."""

    images: torch.Tensor
    batch: SceneBatch
    scenes: list[Scene]
    captions: list[str]

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, str]:
        return self.images[i], self.captions[i]

    @property
    def labels(self) -> torch.Tensor:
        """(B,) long: index into LABELS of each image's object, the zero-shot target.
        Only for splits of single-object scenes."""
        if bool((self.batch.counts != 1).any()):
            raise ValueError("labels needs a split of single-object scenes (n_objects=1)")
        return self.batch.label_ids


def make_split(
    n: int,
    n_objects=(1, MAX_OBJECTS),
    *,
    seed=0,
    image_size: int = REFERENCE_SIZE,
    held_out=None,
    held_out_mode: str = "exclude",
    bias: dict | None = None,
    noise: float = 0.0,
    caption_style: str = "list",
) -> SceneSplit:
    """Sample n scenes (see sample_scenes), render them, caption them. Same seed, same split.

    caption_style: "list" ("two objects : red circle , blue square") or "relation"
    ("a red circle left of a blue square"); see minivlm.data.text.caption.
    """
    rng = as_generator(seed)
    batch = sample_scenes(
        n,
        n_objects,
        seed=rng,
        image_size=image_size,
        held_out=held_out,
        held_out_mode=held_out_mode,
        bias=bias,
    )
    images = render(batch, image_size, noise=noise, seed=rng)
    scenes = batch.to_scenes()
    return SceneSplit(images, batch, scenes, captions(scenes, caption_style))
