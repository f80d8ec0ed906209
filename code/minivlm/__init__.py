"""minivlm: vision-language models from scratch, for the VLM Foundations course book.

One concept per module, in layers; a module imports only from the layers above it, so the
models never depend on the data they are trained on.

Building blocks
    minivlm.cnn          convolution, the convolutional layer, max pooling, receptive fields
    minivlm.attention    scaled dot-product and multi-head attention, the causal and padding
                         masks, heads split and merged, eager or fused ("attn_implementation")
    minivlm.positional   sinusoidal encodings, their shift matrices, the frequencies RoPE uses
    minivlm.transformer  the pre-norm encoder block and its MLP, shared by ViT, CLIP, projectors
Models (configs with named presets; `tiny` is always the book's own small model)
    minivlm.vit          the Vision Transformer and `patchify`
    minivlm.llama        a LLaMA-style decoder-only language model and the next-token loss
    minivlm.clip         CLIP: image and text towers and the contrastive loss
    minivlm.projectors   linear, MLP, patch-merger and Q-Former projectors from vision to language
    minivlm.llava        LLaVA: a vision tower, a projector and a language model
    minivlm.quantize     int8 weights and activations
Data (no download)
    minivlm.data         photographs and the scene world: objects, scenes, captions, tokenizer
    minivlm.conversation LLaVA's conversation format, turns to one training sequence
Training and measuring
    minivlm.train        fixed-step training loops
    minivlm.distributed  one batch over many processes: ranks, shards, DDP, the all-gather
    minivlm.metrics      accuracy, intervals, retrieval, the modality gap, CHAIR, POPE, ...
    minivlm.cost         FLOPs, memory kept for backward, time
Recipes and exercises
    minivlm.recipes      the recipes that train the book's models, their weights, their spread
    minivlm.exercises    checkers for the book's exercises, one module per chapter
Utilities
    minivlm.hub, minivlm.testing, minivlm.viz, minivlm.diagrams
                         network check, comparisons, plotting, diagrams drawn from the models

Adding a chapter's model and its checker:
1. The model goes in a module of its own in the models layer: a config dataclass with named
   presets (a `tiny` for the book, the published ones by their papers' names) whose
   parameter counts a test checks, built from the building blocks, not a copy of them.
2. Validation sits in one `_check_*` call at the top of a function, with the helpers of
   `minivlm._checks`; errors name what was expected and what came.
3. Equivalence with the reference implementation goes in tests/test_<module>.py, on a tiny
   model built from a config with random weights (nothing is downloaded).
4. The recipe that trains it goes in minivlm.recipes: a frozen dataclass, a fixed number of
   steps, fixed seeds; it alone ties the model to the data (vocabulary, special tokens).
5. The checker goes in minivlm/exercises/<chapter>.py, with the reference taken from the
   package and the named mistakes computed beside it; its tests in
   tests/exercises/test_<chapter>.py, one per mistake it names.
"""

# The edition of the book and its package, in calendar versioning: the year and month it was
# published in (a correction within the month adds a third number, 2026.11.1). The book's
# pages, its PDF, CITATION.cff and the errata page show it; tests/test_edition.py checks
# that they agree with what is written here.
__version__ = "2026.11"
__date__ = "2026-11-30"  # the day this edition was published
