"""cuekit: visually grounded privileged-teacher distillation for vision-language models."""

__version__ = "0.1.0"
