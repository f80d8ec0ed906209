"""minivlm: vision-language models from scratch, for the VLM Foundations course book.

One concept per module:

- minivlm.cnn          convolution, the convolutional layer, max pooling, receptive fields
- minivlm.attention    scaled dot-product and multi-head attention
- minivlm.positional   sinusoidal positional encodings and their shift matrices
- minivlm.transformer  the pre-norm transformer block shared by ViT and CLIP
- minivlm.vit          the Vision Transformer
- minivlm.llama        a LLaMA-style decoder-only language model
- minivlm.clip         CLIP: image and text towers and the contrastive loss
- minivlm.projectors   linear, MLP and Q-Former projectors from vision to language
- minivlm.llava        LLaVA: a vision tower, a projector and a language model
- minivlm.data         data that needs no download: photographs and the scene world
- minivlm.train        fixed-step training loops; minivlm.metrics: evaluation metrics
- minivlm.recipes      the recipes that train the book's models, their weights, their spread
- minivlm.exercises    checkers for the book's exercises
- minivlm.hub, minivlm.testing, minivlm.viz   network check, comparisons, plotting
"""

__version__ = "0.1.0"
