"""minivlm.data.scenes: sampling rules, rendering against the ground truth, splits."""

from __future__ import annotations

import itertools

import pytest
import torch

from minivlm.data import (
    COLOUR_RGB,
    COLOURS,
    LABELS,
    RADII,
    SHAPES,
    Object,
    Scene,
    SceneBatch,
    latin_held_out,
    make_split,
    near_twins,
    parse_caption,
    render,
    sample_scenes,
)
from minivlm.data.scenes import GAP, MIN_DX


@pytest.fixture(scope="module")
def split():
    return make_split(600, (1, 3), seed=11)


def _rgb(colour: str) -> torch.Tensor:
    return torch.tensor(COLOUR_RGB[colour])


def test_vocabulary():
    assert len(SHAPES) == 5 and len(COLOURS) == 6 and len(LABELS) == 30
    assert len(set(LABELS)) == 30 and LABELS[7] == (COLOURS[1], SHAPES[2])  # colour-major
    rgb = torch.stack([_rgb(c) for c in COLOURS])
    distances = torch.cdist(rgb, rgb) + torch.eye(len(COLOURS)) * 10
    assert distances.min() >= 1.0  # any two colours differ by a full channel


def test_every_label_is_visually_distinct():
    smallest = min(lo for lo, _ in RADII.values())
    scenes = [Scene([Object(shape, colour, 16.0, 16.0, smallest)]) for colour, shape in LABELS]
    images = render(scenes).flatten(1)  # (30, 3, 32, 32) -> (30, 3072)
    distances = torch.cdist(images, images) + torch.eye(30) * 100
    # the closest pair differs in at least a dozen pixels by a full channel
    assert distances.min() > 12**0.5
    # same colour, different shape: the masks themselves differ in many pixels
    masks = images.view(30, 3, -1).amax(1)  # (30, 3072) -> (30, 3, 1024) -> (30, 1024)
    for shape_a, shape_b in itertools.combinations(range(5), 2):
        assert (masks[shape_a] != masks[shape_b]).sum() >= 12


def test_same_seed_same_split_different_seed_different():
    a = make_split(200, (1, 3), seed=5)
    b = make_split(200, (1, 3), seed=5)
    c = make_split(200, (1, 3), seed=6)
    assert torch.equal(a.images, b.images) and a.captions == b.captions
    assert torch.equal(a.batch.cx, b.batch.cx) and a.scenes == b.scenes
    assert not torch.equal(a.images, c.images) and a.captions != c.captions
    gen = torch.Generator().manual_seed(5)
    assert torch.equal(make_split(200, (1, 3), seed=gen).images, a.images)


def test_render_shape_dtype_range(split):
    assert split.images.shape == (600, 3, 32, 32) and split.images.dtype == torch.float32
    assert split.images.min() == 0.0 and split.images.max() == 1.0
    assert len(split) == 600 and split[3][0].shape == (3, 32, 32)
    assert split[3][1] == split.captions[3]


def test_objects_inside_sorted_apart_distinct(split):
    for scene in split.scenes:
        objects = scene.objects
        assert len({o.shape for o in objects}) == len(objects)
        assert len({o.colour for o in objects}) == len(objects)
        for o in objects:
            assert o.radius <= o.cx <= 32 - o.radius and o.radius <= o.cy <= 32 - o.radius
            x0, y0, x1, y1 = o.box
            assert 0 <= x0 < x1 <= 32 and 0 <= y0 < y1 <= 32
        for a, b in zip(objects, objects[1:]):
            assert b.cx - a.cx >= MIN_DX - 1e-4  # left to right, never ambiguous
        for a, b in itertools.combinations(objects, 2):
            distance = ((a.cx - b.cx) ** 2 + (a.cy - b.cy) ** 2) ** 0.5
            assert distance >= a.radius + b.radius + GAP - 1e-3


def test_radii_follow_the_count(split):
    for scene in split.scenes:
        lo, hi = RADII[len(scene)]
        assert all(lo - 1e-4 <= o.radius <= hi + 1e-4 for o in scene.objects)


def test_pixels_agree_with_the_ground_truth(split):
    for image, scene in zip(split.images, split.scenes):
        covered = torch.zeros(32, 32, dtype=torch.bool)
        for o in scene.objects:
            # the pixel at the centre holds the object's colour
            assert torch.equal(image[:, int(o.cy), int(o.cx)], _rgb(o.colour))
            # its pixels (its colour is unique in the scene) lie in its box, tight to 1 px
            own = (image == _rgb(o.colour).view(3, 1, 1)).all(0)  # (3,) -> (3, 1, 1)
            rows, cols = own.nonzero(as_tuple=True)
            x0, y0, x1, y1 = o.box
            assert x0 <= cols.min() and cols.max() < x1 and y0 <= rows.min() and rows.max() < y1
            assert cols.min() - x0 <= 1 and x1 - 1 - cols.max() <= 1
            assert rows.min() - y0 <= 1 and y1 - 1 - rows.max() <= 1
            covered |= own
        # everything else is background, and no other colour appears
        assert (image[:, ~covered] == 0).all()


def test_captions_agree_with_the_ground_truth(split):
    for scene, text in zip(split.scenes, split.captions):
        assert parse_caption(text) == list(scene.labels)
        cx = [o.cx for o in scene.objects]
        assert cx == sorted(cx)


def test_counts_are_balanced():
    batch = sample_scenes(300, (1, 3), seed=0)
    assert torch.bincount(batch.counts).tolist() == [0, 100, 100, 100]
    assert (sample_scenes(50, 2, seed=0).counts == 2).all()


def test_scene_batch_round_trip(split):
    batch = SceneBatch.from_scenes(split.scenes)
    for name in ("shapes", "colours", "cx", "cy", "radii", "counts"):
        assert torch.equal(getattr(batch, name), getattr(split.batch, name))
    assert torch.equal(render(split.scenes[:50]), split.images[:50])


def test_scene_sorts_and_swaps():
    right = Object("circle", "red", 24.0, 10.0, 6.0)
    left = Object("square", "blue", 8.0, 20.0, 6.0)
    scene = Scene([right, left])
    assert scene.objects == (left, right) and scene.has("red", "circle")
    swapped = scene.with_swapped_colours()
    assert swapped.labels == (("red", "square"), ("blue", "circle"))
    with pytest.raises(ValueError, match="distinct"):
        scene.with_swapped_colours(0, 0)


def test_latin_held_out():
    held = latin_held_out()
    assert len(held) == 6
    assert sorted(c for c, _ in held) == sorted(COLOURS)  # every colour held out once
    assert {s for _, s in held} == set(SHAPES)  # every shape at least once
    folds = [latin_held_out(k) for k in range(5)]
    assert set().union(*folds) == set(LABELS) and sum(len(f) for f in folds) == 30
    with pytest.raises(ValueError, match="offset"):
        latin_held_out(5)


def test_held_out_pairs_never_in_training_only_in_test():
    held = latin_held_out()
    train = make_split(3000, (1, 3), seed=1, held_out=held)
    seen = {label for scene in train.scenes for label in scene.labels}
    assert not seen & held and len(seen) == 24
    test = make_split(300, (1, 3), seed=2, held_out=held, held_out_mode="only")
    seen = {label for scene in test.scenes for label in scene.labels}
    assert seen == held
    single = make_split(60, 1, seed=3, held_out=held, held_out_mode="only")
    assert {LABELS[i] for i in single.labels.tolist()} == held


def _co_occurrence(batch: SceneBatch, a: str, b: str) -> float:
    """P(shape b in the scene | shape a in the scene), over scenes of two or more objects."""
    shapes = batch.shapes[batch.counts >= 2]
    has_a = (shapes == SHAPES.index(a)).any(1)
    has_b = (shapes == SHAPES.index(b)).any(1)
    return (has_a & has_b).sum().item() / has_a.sum().item()


def test_bias_raises_co_occurrence():
    plain = sample_scenes(6000, (1, 3), seed=4)
    half = sample_scenes(6000, (1, 3), seed=4, bias={("circle", "square"): 0.5})
    full = sample_scenes(6000, (1, 3), seed=4, bias={("circle", "square"): 1.0})
    p_plain = _co_occurrence(plain, "circle", "square")
    p_half = _co_occurrence(half, "circle", "square")
    # two objects: 1/4 of circles have a square, three objects: 1/2; averaged about 3/8
    assert abs(p_plain - 0.375) < 0.04
    assert p_plain + 0.15 < p_half < 0.95
    assert _co_occurrence(full, "circle", "square") == 1.0
    # the reverse direction is not forced, and single objects are left alone
    assert _co_occurrence(full, "square", "circle") < 0.95
    assert (full.shapes[full.counts == 1, 0] == SHAPES.index("circle")).any()


def test_other_image_sizes_scale_the_geometry():
    split = make_split(40, (1, 3), seed=0, image_size=64)
    assert split.images.shape == (40, 3, 64, 64)
    for scene in split.scenes:
        lo, hi = RADII[len(scene)]
        assert all(2 * lo - 1e-3 <= o.radius <= 2 * hi + 1e-3 for o in scene.objects)
        assert all(o.radius <= o.cx <= 64 - o.radius for o in scene.objects)


def test_noise_is_seeded_and_clamped():
    batch = sample_scenes(20, 1, seed=0)
    clean = render(batch)
    noisy = render(batch, noise=0.1, seed=3)
    assert torch.equal(noisy, render(batch, noise=0.1, seed=3))
    assert not torch.equal(noisy, clean) and noisy.min() >= 0 and noisy.max() <= 1
    assert (noisy - clean).abs().mean() < 0.1


def test_labels_only_for_single_objects():
    single = make_split(30, 1, seed=0)
    assert single.labels.tolist() == [LABELS.index(s.objects[0].label) for s in single.scenes]
    with pytest.raises(ValueError, match="single-object"):
        _ = make_split(30, (1, 3), seed=0).labels


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n=0), ValueError, "n must be"),
        (dict(n_objects=(3, 1)), ValueError, "n_objects"),
        (dict(n_objects=4), ValueError, "n_objects"),
        (dict(n_objects="two"), ValueError, "n_objects"),
        (dict(seed=-1), TypeError, "seed"),
        (dict(seed=1.5), TypeError, "seed"),
        (dict(image_size=8), ValueError, "image_size"),
        (dict(held_out={("red", "hexagon")}), ValueError, "held_out pairs"),
        (dict(held_out="red circle"), TypeError, "held_out"),
        (dict(held_out_mode="train"), ValueError, "held_out_mode"),
        (dict(held_out_mode="only"), ValueError, "non-empty"),
        (
            dict(held_out={("red", "circle")}, held_out_mode="only", n_objects=2),
            ValueError,
            "distinct colours and shapes",
        ),
        (dict(bias={("circle", "circle"): 0.5}), ValueError, "bias keys"),
        (dict(bias={("circle", "square"): 2.0}), ValueError, "bias probabilities"),
        (dict(bias=[("circle", "square")]), TypeError, "bias"),
        (dict(radii={1: (20, 10)}, n_objects=1), ValueError, "radii"),
        (dict(radii={2: (5, 8)}, n_objects=(1, 2)), ValueError, r"radii\[1\]"),
    ],
)
def test_sample_scenes_rejects_bad_input(kwargs, error, match):
    kwargs = {"n": 10, **kwargs}
    with pytest.raises(error, match=match):
        sample_scenes(**kwargs)


def test_impossible_placement_fails_clearly():
    with pytest.raises(RuntimeError, match="radii too large"):
        sample_scenes(10, 3, seed=0, radii={3: (15.0, 15.5)})


def test_objects_and_scenes_reject_bad_input():
    with pytest.raises(ValueError, match="shape must be one of"):
        Object("hexagon", "red", 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="colour must be one of"):
        Object("circle", "black", 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="radius must be positive"):
        Object("circle", "red", 1.0, 1.0, 0.0)
    with pytest.raises(TypeError, match="cx must be a number"):
        Object("circle", "red", "1", 1.0, 1.0)
    a = Object("circle", "red", 8.0, 8.0, 4.0)
    with pytest.raises(ValueError, match="distinct shapes and distinct colours"):
        Scene([a, Object("square", "red", 20.0, 8.0, 4.0)])
    with pytest.raises(ValueError, match="1 to 3 objects"):
        Scene([])
    with pytest.raises(TypeError, match="list or tuple of Object"):
        Scene([("red", "circle")])
    with pytest.raises(TypeError, match="list of Scene"):
        render([a])
    with pytest.raises(ValueError, match="noise"):
        render([Scene([a])], noise=-0.1)
    with pytest.raises(ValueError, match="image_size"):
        render([Scene([a])], image_size=0)


def test_scene_batch_rejects_inconsistent_tensors():
    batch = sample_scenes(4, (1, 3), seed=0)
    with pytest.raises(ValueError, match="rows"):
        SceneBatch(
            batch.shapes, batch.colours, batch.cx, batch.cy, batch.radii, torch.full((4,), 3)
        )
    with pytest.raises(TypeError, match="long"):
        SceneBatch(batch.shapes.int(), batch.colours, batch.cx, batch.cy, batch.radii, batch.counts)
    full = sample_scenes(4, 3, seed=0)
    twins = full.shapes.clone()
    twins[:, 1] = twins[:, 0]
    with pytest.raises(ValueError, match="distinct"):
        SceneBatch(twins, full.colours, full.cx, full.cy, full.radii, full.counts)
    with pytest.raises(ValueError, match="cx must have the shape"):
        SceneBatch(batch.shapes, batch.colours, batch.cx[:2], batch.cy, batch.radii, batch.counts)


def test_near_twins_within_the_tolerance_only():
    a = Scene((Object("circle", "red", 10.0, 12.0, 6.0), Object("square", "blue", 22.0, 20.0, 6.0)))
    shifted = Scene(
        (Object("circle", "red", 10.9, 11.1, 6.9), Object("square", "blue", 22.0, 20.0, 6.0))
    )
    beyond = Scene(
        (Object("circle", "red", 11.1, 12.0, 6.0), Object("square", "blue", 22.0, 20.0, 6.0))
    )
    other = Scene(
        (Object("circle", "green", 10.0, 12.0, 6.0), Object("square", "blue", 22.0, 20.0, 6.0))
    )
    alone = Scene((Object("circle", "red", 10.0, 12.0, 6.0),))
    assert near_twins([a, shifted, beyond, other, alone], [a]) == [True, True, False, False, False]
    assert near_twins([beyond], [a], tolerance=1.2) == [True]
    assert near_twins([a], []) == [False]
    # a split's scenes against a fresh draw of the same world: some twins, not all
    train = sample_scenes(3000, 1, seed=1).to_scenes()
    test = sample_scenes(300, 1, seed=2).to_scenes()
    twins = near_twins(test, train)
    assert 0 < sum(twins) < len(test)
    assert near_twins(test, test) == [True] * len(test)


@pytest.mark.parametrize(
    "args, error, match",
    [
        (("x", []), TypeError, "scenes must be a list of Scene, got str"),
        (([], [1]), TypeError, "reference must be a list of Scene"),
        (([], [], -1), ValueError, "tolerance must be a number of pixels >= 0, got -1"),
        (([], [], True), ValueError, "tolerance must be a number"),
    ],
)
def test_near_twins_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        near_twins(*args)


def test_label_ids_index_labels_colour_major():
    batch = sample_scenes(40, (1, 3), seed=5)
    firsts = [scene.objects[0].label for scene in batch.to_scenes()]
    assert batch.label_ids.tolist() == [LABELS.index(label) for label in firsts]
