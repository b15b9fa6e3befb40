"""Simulated measurements for trying methods on data with a known answer (float32 NumPy in and out)."""

from ._blur import blur
from ._project import project

__all__ = ["blur", "project"]
