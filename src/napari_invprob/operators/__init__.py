"""Linear forward models with exact adjoints (PyTorch, float32, any device, batched)."""

from .base import Identity, LinearOperator
from .convolution import Convolution
from .gradient import Gradient
from .gradient_and_identity import GradientAndIdentity
from .projector import ParallelBeamProjector
from .sampling import Mask, Subsample

__all__ = [
    "Convolution",
    "Gradient",
    "GradientAndIdentity",
    "Identity",
    "LinearOperator",
    "Mask",
    "ParallelBeamProjector",
    "Subsample",
]
