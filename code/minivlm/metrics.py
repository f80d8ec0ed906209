"""Evaluation metrics computed from embeddings and predictions."""

from __future__ import annotations

import math
from statistics import NormalDist

import torch
import torch.nn.functional as F

from ._checks import check_int, check_tensor, pair


def cosine_similarity_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, d) and (M, d) -> (N, M) cosine similarities: the dot products of unit vectors."""
    check_tensor(a, "a", dim=2, shape_doc="(N, d)")
    check_tensor(b, "b", dim=2, last=a.shape[-1], shape_doc="(M, d) with the d of a")
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T


def zero_shot_predict(image_features: torch.Tensor, class_features: torch.Tensor) -> torch.Tensor:
    """The index of the most similar class for each image: (N, d), (K, d) -> (N,).

    class_features holds one text embedding per class (for example the mean embedding of
    several prompts): the classifier's weights are written in words, not learnt from labels.
    """
    return cosine_similarity_matrix(image_features, class_features).argmax(dim=-1)


def accuracy(predictions: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction of predictions equal to their labels."""
    _check_accuracy(predictions, labels)
    return (predictions == labels).float().mean().item()


def _check_accuracy(predictions, labels) -> None:
    check_tensor(predictions, "predictions", dim=1, floating=False)
    check_tensor(labels, "labels", dim=1, floating=False)
    if predictions.shape != labels.shape:
        raise ValueError(
            f"predictions and labels must have the same length, got {predictions.shape[0]} "
            f"and {labels.shape[0]}"
        )


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion successes / n (Wilson, 1927).

    An accuracy measured on n test items is an estimate; two models whose intervals overlap
    may not differ at all. Wilson's interval stays inside [0, 1] and keeps its coverage near
    0 and 1, where the textbook p +- z sqrt(p(1-p)/n) collapses to a point. With z the
    normal quantile of the confidence (1.96 for 95%),

        centre = (p + z^2 / 2n) / (1 + z^2 / n),
        half-width = z sqrt(p(1 - p)/n + z^2 / 4n^2) / (1 + z^2 / n).
    """
    _check_wilson(successes, n, confidence)
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    p = successes / n
    denominator = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    # at 0 and n the bound is exactly 0 or 1; the formula leaves a rounding error there
    low = 0.0 if successes == 0 else centre - half
    high = 1.0 if successes == n else centre + half
    return low, high


def _check_wilson(successes, n, confidence) -> None:
    check_int(n, "n")
    check_int(successes, "successes", minimum=0)
    if successes > n:
        raise ValueError(f"successes must be at most n = {n}, got {successes}")
    if not isinstance(confidence, float) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a float in (0, 1), got {confidence!r}")


def mcnemar(a, b) -> dict:
    """McNemar's exact test of two models scored on the same items (McNemar, 1947).

    a, b: one bool per item, whether each model got it right (or showed some event). Two
    intervals that overlap do not show that two models are the same; and when both models
    answer the same questions, the items they agree on say nothing about which is better.
    The test looks only at the discordant items: only_a (a right, b wrong) and only_b.
    Under "no difference" each discordant item is a fair coin, so the two-sided p-value is
    min(1, 2 P(X <= min(only_a, only_b))) for X ~ Binomial(only_a + only_b, 1/2); 1.0 when
    there is no discordant item.
    """
    a, b = _check_mcnemar(a, b)
    only_a = sum(x and not y for x, y in zip(a, b))
    only_b = sum(y and not x for x, y in zip(a, b))
    n = only_a + only_b
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1))
    p = 1.0 if n == 0 else min(1.0, 2 * tail / 2**n)  # exact: Python's integers do not overflow
    return {"only_a": only_a, "only_b": only_b, "p_value": p}


def _check_mcnemar(a, b) -> tuple[list[bool], list[bool]]:
    a, b = _bools(a, "a"), _bools(b, "b")
    if len(a) != len(b):
        raise ValueError(f"a and b must score the same items, got {len(a)} and {len(b)}")
    return a, b


def _bools(x, name: str) -> list[bool]:
    if isinstance(x, torch.Tensor):
        if x.dim() != 1 or x.dtype != torch.bool:
            raise TypeError(
                f"{name} must be a 1-D bool tensor or a list of bools, got "
                f"{x.dtype} of shape {tuple(x.shape)}"
            )
        x = x.tolist()
    if not isinstance(x, (list, tuple)) or not x or not all(isinstance(v, bool) for v in x):
        raise TypeError(f"{name} must be a non-empty list of bools (one per item), got {x!r:.60}")
    return list(x)


def recall_at_k(similarity: torch.Tensor, targets: torch.Tensor, k: int) -> float:
    """Recall@k of retrieval: the fraction of queries with a correct item among their k best.

    similarity: (N_queries, N_items), higher is better. targets: either (N_queries,), the
    index of each query's one correct item (image-to-text retrieval with one caption per
    image uses arange(N)), or a boolean (N_queries, N_items) matrix marking every correct
    item (several images can share a caption).
    """
    _check_recall(similarity, targets, k)
    top_k = similarity.topk(k, dim=-1).indices  # (N_queries, k)
    if targets.dim() == 1:
        hits = (top_k == targets[:, None]).any(dim=-1)
    else:
        hits = targets.gather(1, top_k).any(dim=-1)  # is any of the k best a correct item?
    return hits.float().mean().item()


def _check_recall(similarity, targets, k) -> None:
    check_tensor(similarity, "similarity", dim=2, shape_doc="(N_queries, N_items)")
    check_tensor(targets, "targets", dim=(1, 2), floating=False)
    n_queries, n_items = similarity.shape
    if targets.shape[0] != n_queries:
        raise ValueError(
            f"targets must hold one entry per query ({n_queries}), got {targets.shape[0]}"
        )
    if targets.dim() == 2 and (targets.dtype != torch.bool or targets.shape[1] != n_items):
        raise ValueError(
            f"a 2-D targets must be a boolean ({n_queries}, {n_items}) relevance matrix, got "
            f"{targets.dtype} of shape {tuple(targets.shape)}"
        )
    check_int(k, "k")
    if k > n_items:
        raise ValueError(f"k must be at most the number of items {n_items}, got {k}")


# Fundamental challenges


def modality_gap(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor) -> float:
    """The distance between the centroids of the unit image and unit text embeddings.

    image_embeddings: (N, d); text_embeddings: (M, d). Both are L2-normalised first, so the
    gap lies in [0, 2]: 0 when the two clouds share a centre, 2 when they sit at opposite poles.
    Liang et al., 2022, "Mind the Gap: Understanding the Modality Gap in Multi-modal
    Contrastive Representation Learning".
    """
    _check_modality_gap(image_embeddings, text_embeddings)
    image_centre = F.normalize(image_embeddings, dim=-1).mean(dim=0)
    text_centre = F.normalize(text_embeddings, dim=-1).mean(dim=0)
    return (image_centre - text_centre).norm().item()


def _check_modality_gap(image_embeddings, text_embeddings) -> None:
    check_tensor(image_embeddings, "image_embeddings", dim=2, shape_doc="(N, d)")
    check_tensor(
        text_embeddings,
        "text_embeddings",
        dim=2,
        last=image_embeddings.shape[-1],
        shape_doc="(M, d) with the d of image_embeddings",
    )
    for name, t in (("image_embeddings", image_embeddings), ("text_embeddings", text_embeddings)):
        if t.shape[0] == 0:
            raise ValueError(f"{name} must hold at least one embedding, got shape {tuple(t.shape)}")


def pointing_game(
    saliency: torch.Tensor,
    boxes: torch.Tensor,
    image_size: int | tuple[int, int] | None = None,
) -> float:
    """The fraction of saliency maps whose maximum falls inside the object's box.

    saliency: (B, H, W) at image resolution, or (B, h, w) on a coarser grid (one value per
    patch) with image_size = S or (H, W) in pixels. boxes: (B, 4) in pixels, (x0, y0, x1, y1),
    end-exclusive, as `Object.box`. The first maximum of each map (row-major) is its point:
    cell (i, j) of an h x w grid stands for its centre ((j + 0.5) * W / w, (i + 0.5) * H / h),
    and it is a hit when x0 <= cx < x1 and y0 <= cy < y1.
    Zhang et al., 2018, "Top-down Neural Attention by Excitation Backprop".
    """
    _check_pointing(saliency, boxes)
    n, h, w = saliency.shape
    # Without image_size the map is the image: pixel (i, j) has centre (j + 0.5, i + 0.5).
    height, width = (h, w) if image_size is None else pair(image_size, "image_size", 1)
    flat = saliency.reshape(n, -1).argmax(dim=-1)  # the first maximum when there are ties
    i, j = flat // w, flat % w
    cx = (j.double() + 0.5) * width / w
    cy = (i.double() + 0.5) * height / h
    x0, y0, x1, y1 = boxes.double().unbind(dim=-1)
    hits = (x0 <= cx) & (cx < x1) & (y0 <= cy) & (cy < y1)
    return hits.float().mean().item()


def _check_pointing(saliency, boxes) -> None:
    check_tensor(saliency, "saliency", dim=3, shape_doc="(B, h, w)")
    check_tensor(boxes, "boxes", dim=2, last=4, shape_doc="(B, 4)", floating=False)
    if boxes.dtype == torch.bool or boxes.is_complex():
        raise TypeError(f"boxes must be an integer or floating-point tensor, got {boxes.dtype}")
    n, h, w = saliency.shape
    if n == 0 or h == 0 or w == 0:
        raise ValueError(f"saliency must hold at least one non-empty map, got shape {(n, h, w)}")
    if boxes.shape[0] != n:
        raise ValueError(f"boxes must hold one box per map ({n}), got {boxes.shape[0]}")


def chair(mentions: list, objects: list) -> dict:
    """CHAIR: how often a description names an object that is not in its image.

    mentions: for each of B descriptions, the objects it names, each (colour, shape), or
    (None, shape) for a bare shape: `minivlm.data.text.parse_caption` reads them from a text.
    objects: for each image, the (colour, shape) of every object in it (`Scene.labels`).
    A mention (colour, shape) is hallucinated when the image has no such object; a bare shape
    only when it has no object of that shape. CHAIR_i = hallucinated mentions / all mentions
    (0 when there are none); CHAIR_s = descriptions with a hallucination / all descriptions.
    Rohrbach et al., 2018, "Object Hallucination in Image Captioning".
    Returns {"chair_i", "chair_s", "mentions", "hallucinated"}.
    """
    _check_chair(mentions, objects)
    n_mentions = hallucinated = bad_descriptions = 0
    for named, present in zip(mentions, objects):
        labels = {tuple(o) for o in present}
        shapes = {shape for _, shape in labels}
        wrong = sum(
            (shape not in shapes) if colour is None else ((colour, shape) not in labels)
            for colour, shape in named
        )
        n_mentions += len(named)
        hallucinated += wrong
        bad_descriptions += wrong > 0
    return {
        "chair_i": hallucinated / n_mentions if n_mentions else 0.0,
        "chair_s": bad_descriptions / len(mentions),
        "mentions": n_mentions,
        "hallucinated": hallucinated,
    }


def _check_chair(mentions, objects) -> None:
    _check_aligned(mentions, objects, "mentions", "objects", "description")
    for name, lists, pair_doc in (
        ("mentions", mentions, "(colour or None, shape)"),
        ("objects", objects, "(colour, shape)"),
    ):
        for items in lists:
            if not isinstance(items, (list, tuple)) or not all(
                isinstance(o, (list, tuple)) and len(o) == 2 for o in items
            ):
                raise TypeError(f"each entry of {name} must be a list of {pair_doc}, got {items!r}")


def pope(answers: list[str], truths: list[str]) -> dict:
    """POPE: yes/no questions "is there a <object> in the image?" scored as a binary task.

    answers, truths: B strings; truths must be "yes" or "no", answers are compared after
    stripping spaces and lower-casing. "yes" is the positive class. An answer that is neither
    yes nor no is wrong and is not a yes. A yes-ratio far above the share of "yes" truths shows
    a model that agrees whatever it is asked. Precision and recall are 0 when undefined.
    Li et al., 2023, "Evaluating Object Hallucination in Large Vision-Language Models".
    Returns {"accuracy", "precision", "recall", "f1", "yes_ratio"}.
    """
    _check_pope(answers, truths)
    said = [a.strip().lower() for a in answers]
    tp = sum(a == "yes" and t == "yes" for a, t in zip(said, truths))
    predicted_yes = said.count("yes")
    actual_yes = truths.count("yes")
    precision = tp / predicted_yes if predicted_yes else 0.0
    recall = tp / actual_yes if actual_yes else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": sum(a == t for a, t in zip(said, truths)) / len(truths),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "yes_ratio": predicted_yes / len(said),
    }


def _check_pope(answers, truths) -> None:
    _check_aligned(answers, truths, "answers", "truths", "answer")
    for value in (*answers, *truths):
        if not isinstance(value, str):
            raise TypeError(f"answers and truths must be str, got {type(value).__name__}")
    bad = [t for t in truths if t not in ("yes", "no")]
    if bad:
        raise ValueError(f"truths must be 'yes' or 'no', got {bad[0]!r}")


def winoground_scores(similarity: torch.Tensor) -> dict:
    """Winoground's text, image and group scores.

    similarity: (N, 2, 2) with similarity[n, i, j] = s(caption i, image j) of example n, where
    caption 0 matches image 0 and caption 1 matches image 1. Text score: each image prefers its
    own caption; image score: each caption prefers its own image; group: both. Comparisons are
    strict, so a tie is a failure. Chance is 1/4, 1/4 and 1/6.
    Thrush et al., 2022, "Winoground: Probing Vision and Language Models for Visio-Linguistic
    Compositionality".
    Returns {"text", "image", "group"}, each a fraction of the N examples.
    """
    _check_winoground(similarity)
    c0i0, c0i1 = similarity[:, 0, 0], similarity[:, 0, 1]
    c1i0, c1i1 = similarity[:, 1, 0], similarity[:, 1, 1]
    text = (c0i0 > c1i0) & (c1i1 > c0i1)
    image = (c0i0 > c0i1) & (c1i1 > c1i0)
    return {
        "text": text.float().mean().item(),
        "image": image.float().mean().item(),
        "group": (text & image).float().mean().item(),
    }


def _check_winoground(similarity) -> None:
    check_tensor(similarity, "similarity", dim=3, shape_doc="(N, 2, 2)")
    if similarity.shape[1:] != (2, 2) or similarity.shape[0] == 0:
        raise ValueError(
            f"similarity must be (N, 2, 2) with N >= 1, got shape {tuple(similarity.shape)}"
        )


def _check_aligned(a, b, name_a: str, name_b: str, item: str) -> None:
    """a and b: two non-empty lists of the same length, one entry per item."""
    if not isinstance(a, (list, tuple)) or not isinstance(b, (list, tuple)):
        raise TypeError(
            f"{name_a} and {name_b} must be lists, got {type(a).__name__} and {type(b).__name__}"
        )
    if len(a) != len(b):
        raise ValueError(
            f"{name_a} and {name_b} must have the same length, got {len(a)} and {len(b)}"
        )
    if not a:
        raise ValueError(f"{name_a} must hold at least one {item}, got 0")
