"""A readable reference BERT in PyTorch, matching Hugging Face Transformers v5."""

__version__ = "0.1.0"
