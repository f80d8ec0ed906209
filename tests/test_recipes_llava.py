"""The LLaVA recipe trains what the chapter says, and the shipped models are its output."""

import dataclasses

import pytest
import torch

from minivlm.data import make_split, sample_scenes
from minivlm.recipes import llava as recipe
from minivlm.recipes.clip import load_book_clip
from minivlm.recipes.llava import LLaVARecipe


@pytest.fixture(scope="module")
def clip():
    return load_book_clip()


@pytest.fixture(scope="module")
def test_split():
    return make_split(600, (1, 3), seed=999)


def test_short_recipe_learns_to_count_and_answers_after_stage_2(clip, test_split):
    short = LLaVARecipe.chapter(stage1_steps=50, stage2_steps=300, n_scenes=3000)
    trained = recipe.train_llava(short, clip, progress=False, test=test_split)
    first, second = trained.scores["stage 1"], trained.scores["stage 2"]
    # after stage 1 the model describes instead of answering: no answer is a caption
    assert first["overall"] < 0.1, first
    # counting needs no binding and is learnt first; chance is 1/3
    assert second["count"] > 0.6, second
    assert all(len(r) > 0 for r in trained.replies["stage 2"])


def test_recipe_is_deterministic(clip):
    tiny = LLaVARecipe.chapter(stage1_steps=3, stage2_steps=3, n_scenes=200)
    a = recipe.train_llava(tiny, clip, progress=False)
    b = recipe.train_llava(tiny, clip, progress=False)
    assert a.history["stage 2"].loss == b.history["stage 2"].loss
    for (name, p), q in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(p, q), name


def test_stage_one_trains_the_projector_only(clip):
    tiny = LLaVARecipe.chapter(stage1_steps=3, stage2_steps=1, n_scenes=200)
    before = recipe.build(tiny, clip).state_dict()
    trained = recipe.train_llava(dataclasses.replace(tiny), clip, progress=False)
    after = trained.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("vision_tower."))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("projector."))


def test_save_and_load_round_trip(clip, tmp_path):
    tiny = LLaVARecipe.chapter(stage1_steps=2, stage2_steps=2, n_scenes=100)
    trained = recipe.train_llava(tiny, clip, progress=False)
    recipe.save(trained, tmp_path / "llava.pt")
    loaded = recipe.load(tmp_path / "llava.pt", clip)
    assert loaded.recipe == tiny
    images = make_split(4, (1, 3), seed=5).images
    questions = ["how many objects are there ?"] * 4
    assert recipe.answer(loaded, images, questions) == recipe.answer(trained, images, questions)


@pytest.mark.parametrize(
    "name",
    [
        "book",
        "linear",
        "mlp",
        "merge",
        "qformer",
        "blind",
        "biased",
        "bias_050",
        "bias_090",
        "bias_100",
    ],
)
def test_shipped_models_come_from_their_recipes(name, clip):
    trained = recipe.load_variant(name, clip)
    assert trained.recipe == recipe.variants()[name][0]
    assert len(trained.history["stage 2"].loss) == trained.recipe.stage2_steps


def test_book_llava_answers_held_out_questions(clip, test_split):
    scores = recipe.evaluate(recipe.load_variant("book", clip), test_split)
    for kind in ("colour", "shape", "exists", "count"):
        assert scores[kind] > 0.9, scores
    blind = recipe.evaluate(recipe.load_variant("blind", clip), test_split)
    assert blind["colour"] < 0.35 and blind["shape"] < 0.35, blind


def test_variants_differ_from_their_base_recipe_in_one_field_only():
    table = recipe.variants()
    base = {"book": recipe.LLaVARecipe.book(), "chapter": recipe.LLaVARecipe.chapter()}
    expected = {
        "linear": ("chapter", "projector"),
        "merge": ("chapter", "projector"),
        "qformer": ("chapter", "projector"),
        "blind": ("chapter", "blind"),
        "biased": ("book", "bias"),
        "bias_050": ("chapter", "bias"),
        "bias_090": ("chapter", "bias"),
        "bias_100": ("chapter", "bias"),
    }
    for name, (origin, field) in expected.items():
        r = table[name][0]
        changed = [f for f in r.__dataclass_fields__ if getattr(r, f) != getattr(base[origin], f)]
        assert changed == [field], (name, changed)
    assert table["biased"][0].bias == (("circle", "square"), 1.0)
    assert [table[f"bias_{k}"][0].bias[1] for k in ("050", "090", "100")] == [0.5, 0.9, 1.0]
    assert table["mlp"][0] == base["chapter"]  # the complete run of the chapter's recipe


def test_unknown_variant():
    with pytest.raises(ValueError, match="name must be one of"):
        recipe.load_variant("huge")


def test_training_world_draws_the_training_split_without_rendering_it():
    r = recipe.LLaVARecipe.chapter(n_scenes=50, bias=(("circle", "square"), 1.0), seed=3)
    split = make_split(**recipe.training_world(r))
    scenes = sample_scenes(**recipe.training_world(r)).to_scenes()
    assert scenes == split.scenes and len(scenes) == 50
    assert recipe.training_world(recipe.LLaVARecipe.chapter())["bias"] is None


def test_per_caption_losses_average_to_the_split_losses(clip):
    trained = recipe.load_variant("mlp", clip)
    split = make_split(40, (1, 3), seed=31)
    whole, each = recipe.caption_losses(trained, split)
    tokens = torch.tensor([len(c.split()) + 1 for c in split.captions], dtype=torch.float64)
    for name, value in whole.items():
        assert each[name].shape == (40,)
        # the split's loss is the mean over all tokens: each caption weighs by its tokens
        weighted = (each[name].double() * tokens).sum() / tokens.sum()
        assert weighted.item() == pytest.approx(value, abs=1e-5), name
    # the scene's own image makes most captions cheaper than another scene's does
    assert (each["own image"] < each["another image"]).float().mean() > 0.5
