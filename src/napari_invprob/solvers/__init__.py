"""Iterative and direct solvers, each a generator of :class:`~napari_invprob.solvers.base.Iterate`."""

from .base import Clock, Iterate, last

__all__ = ["Clock", "Iterate", "last"]
