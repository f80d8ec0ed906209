"""minivlm: vision-language models from scratch, for the VLM Foundations course book.

One concept per module:

- minivlm.cnn          convolution, the convolutional layer, max pooling, receptive fields
- minivlm.attention    scaled dot-product and multi-head attention
- minivlm.positional   sinusoidal positional encodings and their shift matrices
- minivlm.transformer  the pre-norm transformer block shared by ViT and CLIP
- minivlm.vit          the Vision Transformer
- minivlm.llama        a LLaMA-style decoder-only language model
- minivlm.clip         CLIP: image and text towers and the contrastive loss
- minivlm.data         data that needs no download
- minivlm.exercises    checkers for the book's exercises
- minivlm.testing, minivlm.viz   comparison and plotting helpers
"""

__version__ = "0.1.0"
