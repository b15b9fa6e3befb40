"""Linear forward models with exact adjoints (PyTorch, float32, any device, batched)."""

from .base import Identity, LinearOperator

__all__ = ["Identity", "LinearOperator"]
