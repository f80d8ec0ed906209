"""Evaluation metrics computed from embeddings and predictions."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._checks import check_int, check_tensor


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
    check_tensor(predictions, "predictions", dim=1, floating=False)
    check_tensor(labels, "labels", dim=1, floating=False)
    if predictions.shape != labels.shape:
        raise ValueError(
            f"predictions and labels must have the same length, got {predictions.shape[0]} "
            f"and {labels.shape[0]}"
        )
    return (predictions == labels).float().mean().item()


def recall_at_k(similarity: torch.Tensor, targets: torch.Tensor, k: int) -> float:
    """Recall@k of retrieval: the fraction of queries with a correct item among their k best.

    similarity: (N_queries, N_items), higher is better. targets: either (N_queries,), the
    index of each query's one correct item (image-to-text retrieval with one caption per
    image uses arange(N)), or a boolean (N_queries, N_items) matrix marking every correct
    item (several images can share a caption).
    """
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
    top_k = similarity.topk(k, dim=-1).indices  # (N_queries, k)
    if targets.dim() == 1:
        hits = (top_k == targets[:, None]).any(dim=-1)
    else:
        hits = targets.gather(1, top_k).any(dim=-1)  # is any of the k best a correct item?
    return hits.float().mean().item()
