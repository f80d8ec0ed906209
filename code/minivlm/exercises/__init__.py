"""Checkers for the book's exercises.

A checker calls the student's function on a few fixed cases, compares each answer with the
package's reference and, when they differ, tries the usual mistakes one by one so that it can
say which one was made. It prints one line and returns a CheckResult, which is truthy when
the solution is right. The calling, comparing and naming of mistakes is one harness
(_harness); the checkers live in one module per chapter:

- cnn: check_conv2d, check_max_pool2d, check_receptive_field
- attention: check_attention, check_sinusoidal, check_causal_mask
- evolution: check_info_nce, check_next_token_loss
- clip: check_patchify, check_recall_at_k
- llava: check_llava_labels, check_conversation_labels
- challenges: check_modality_gap, check_winoground, check_int8_quantize
- summary: check_image_cost

quick_check(checker, fn) runs fn on a checker's first case and looks only at the kind of its
answer (an assignment's public test); own_work(checker, fn) refuses a function that calls the
package's or PyTorch's own (an assignment's hidden test runs it before the checker);
named_mistakes(checker) lists the mistakes a checker names.
"""

from ._harness import CheckResult, named_mistakes, own_work, quick_check
from .attention import check_attention, check_causal_mask, check_sinusoidal
from .challenges import check_int8_quantize, check_modality_gap, check_winoground
from .clip import check_patchify, check_recall_at_k
from .cnn import check_conv2d, check_max_pool2d, check_receptive_field
from .evolution import check_info_nce, check_next_token_loss
from .llava import check_conversation_labels, check_llava_labels
from .summary import check_image_cost

__all__ = [
    "CheckResult",
    "check_attention",
    "check_causal_mask",
    "check_conv2d",
    "check_conversation_labels",
    "check_image_cost",
    "check_info_nce",
    "check_int8_quantize",
    "check_llava_labels",
    "check_max_pool2d",
    "check_modality_gap",
    "check_next_token_loss",
    "check_patchify",
    "check_recall_at_k",
    "check_receptive_field",
    "check_sinusoidal",
    "check_winoground",
    "named_mistakes",
    "own_work",
    "quick_check",
]
