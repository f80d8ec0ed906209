"""minivlm: vision-language models from scratch, for the VLM Foundations course book."""
__version__ = "0.1.0"
