"""A rough forecast of a run's memory and time, to warn before a run that cannot fit or takes minutes.

The model is deliberately simple: memory is the arrays the solver keeps (a method-independent factor
times the image or volume, plus the projector's sparse matrix for tomography); time is iterations
times a cost per iteration, taken from the last run of the same method on the same shape when there
was one (measured), else from a per-element cost measured on a 2-core machine (assumed).
"""

from __future__ import annotations

from dataclasses import dataclass

import psutil

#: float32 arrays of the image's size a deconvolution solver keeps (x, splitting variables and
#: their duals for each gradient axis, complex spectra).
DECONVOLUTION_ARRAYS = 16
#: Seconds per image element per iteration of an iterative deconvolution (ADMM-TV on 2 CPU cores).
DECONVOLUTION_SECONDS = 40e-9
#: Volume-sized float32 arrays a tomography solver keeps (x, dual variables, gradients).
TOMOGRAPHY_ARRAYS = 12
#: Non-zeros per pixel and angle of the projector's sparse matrix, and bytes per non-zero (value and
#: column index, one matrix serving both directions on the CPU).
PROJECTOR_NNZ_PER_PIXEL_ANGLE = 2.0
PROJECTOR_BYTES_PER_NNZ = 8
#: Seconds per sparse-matrix non-zero per slice for an iteration (a forward and adjoint projection and the
#: solver's element-wise work), on one torch thread: streamed over 77x256x256, SIRT-50 took ~34 s (0.26 ns)
#: and TV-150 ~140 s (0.36 ns) on an idle 2-core machine.
TOMOGRAPHY_SECONDS_PER_NNZ = 0.4e-9

#: Warn when a run is forecast to take longer than this (seconds).
SLOW_RUN_SECONDS = 60.0
#: Refuse a run whose forecast memory exceeds this share of the memory available now.
MEMORY_SHARE = 0.8


@dataclass(frozen=True)
class Estimate:
    """Forecast of one run: peak memory in bytes and duration in seconds."""

    memory: float
    seconds: float

    def describe(self) -> str:
        """``"about 1.2 GiB and 3 min"``."""
        minutes = self.seconds / 60.0
        duration = f"{minutes:.0f} min" if minutes >= 1.5 else f"{self.seconds:.0f} s"
        return f"about {self.memory / 2**30:.2f} GiB and {duration}"


def deconvolution(n_elements: int, n_iter: int, seconds_per_iteration: float | None = None) -> Estimate:
    """Forecast a deconvolution of an image with ``n_elements`` values (channels included)."""
    per_iteration = seconds_per_iteration or DECONVOLUTION_SECONDS * n_elements
    return Estimate(4.0 * DECONVOLUTION_ARRAYS * n_elements, n_iter * per_iteration)


def tomography(
    n_angles: int, slice_pixels: int, n_slices: int, n_iter: float, seconds_per_iteration: float | None = None
) -> Estimate:
    """Forecast a reconstruction of ``n_slices`` slices of ``slice_pixels`` pixels from ``n_angles`` angles,
    ``n_iter`` iterations at full resolution (see ``problems.tomography_methods.run_cost``)."""
    nnz = PROJECTOR_NNZ_PER_PIXEL_ANGLE * n_angles * slice_pixels
    memory = 4.0 * TOMOGRAPHY_ARRAYS * slice_pixels * n_slices + PROJECTOR_BYTES_PER_NNZ * nnz
    per_iteration = seconds_per_iteration or TOMOGRAPHY_SECONDS_PER_NNZ * nnz * n_slices
    return Estimate(memory, n_iter * per_iteration)


def available_memory() -> int:
    """Bytes of memory available to a new run now."""
    return int(psutil.virtual_memory().available)


def verdict(estimate: Estimate) -> tuple[str, str] | None:
    """``("error", message)`` when the run cannot fit in memory, ``("warning", message)`` when it
    will take minutes, None when it is fine."""
    available = available_memory()
    if estimate.memory > MEMORY_SHARE * available:
        return (
            "error",
            f"this run needs {estimate.describe()}, but only {available / 2**30:.1f} GiB of memory is "
            "free: crop or bin the data, or use fewer slices",
        )
    if estimate.seconds > SLOW_RUN_SECONDS:
        return (
            "warning",
            f"this run will take {estimate.describe()}; it shows every iterate as it goes and Stop "
            "ends it at any time (fewer iterations or binned data make it faster)",
        )
    return None
