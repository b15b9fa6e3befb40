"""The chunk engine as a generator (solve_in_chunks_iter): same answer as reconstruct, progress, early stop."""

import itertools
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
import torch
from _chunk_gates import gate_the_lead

from napari_invprob import project, reconstruct
from napari_invprob.tomography import chunks
from napari_invprob.tomography.reconstruct import METHODS

ANGLES = np.linspace(-60.0, 60.0, 11)


def _series(seed=0):
    """24 slices (along x) of 7x7 pixels (z, y), each with something in it."""
    rng = np.random.default_rng(seed)
    volume = np.zeros((7, 7, 24), np.float32)
    volume[2:5] = 0.5 + 0.5 * rng.random((3, 7, 24))
    return project(volume, ANGLES, tilt_axis="x", device="cpu")


@pytest.fixture
def small_chunks(monkeypatch):
    """At most 6x7x11 pixels or bins per chunk: the 24 slices of 7x7 (11 angles of 7 bins) make four chunks
    of six."""
    monkeypatch.setattr(chunks, "SOLVE_CHUNK_ELEMENTS", 6 * 7 * 11)
    monkeypatch.setattr(chunks, "MIN_CHUNK_SLICES", 1)


@pytest.fixture
def counted(monkeypatch):
    """SIRT whose iterations are counted as the solvers make them (all chunks together), each taking at
    least 2 ms as a real one would."""
    made = []
    spec = METHODS["sirt"]

    def counting(problem, **kwargs):
        for iterate in spec.solver(problem, **kwargs):
            time.sleep(0.002)
            made.append(iterate.iteration)
            yield iterate

    monkeypatch.setitem(METHODS, "sirt", replace(spec, solver=counting))
    return made


def _plan(series, method="sirt", n_iter=10):
    return chunks.make_plan(series, ANGLES, method=method, n_iter=n_iter, tilt_axis="x", device="cpu",
                            background="none", contrast="dark-field")


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("method", ["sirt", "tv"])
def test_the_generator_ends_with_reconstructs_volume_bit_for_bit(small_chunks, method, workers):
    series = _series()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        expected = reconstruct(series, ANGLES, method=method, n_iter=10, tilt_axis="x", device="cpu",
                               background="none", contrast="dark-field")
        torch.set_num_threads(1 if workers == 1 else 2)  # one worker computes on the caller's threads
        steps = list(chunks.solve_in_chunks_iter(_plan(series, method), workers=workers))
        assert torch.get_num_threads() == (1 if workers == 1 else 2)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(steps[-1].output, expected)
    done = [step.chunks_done for step in steps]
    assert done == sorted(done) and done[-1] == steps[-1].n_chunks == 4
    assert [step.slices_done for step in steps if step.chunks_done] == [6 * step.chunks_done for step in steps
                                                                          if step.chunks_done]
    assert steps[-1].n_slices == 24
    assert all(step.output is steps[0].output for step in steps)  # one output, filled in place


def test_progress_counts_every_iteration_of_every_chunk(small_chunks, counted):
    steps = list(chunks.solve_in_chunks_iter(_plan(_series(), n_iter=5), workers=2))
    assert len(counted) == 4 * 5
    assert steps[-1].iterations == len(counted)
    assert len(steps) == 4 * 5 + 4  # one per iteration, one per finished chunk


@pytest.mark.parametrize("workers", [1, 2])
def test_closing_the_generator_stops_the_running_chunks_within_an_iteration(small_chunks, counted, workers):
    threads = torch.get_num_threads()
    steps = chunks.solve_in_chunks_iter(_plan(_series(), n_iter=200), workers=workers)
    seen = next(step for step in steps if step.iterations >= 30)
    before = len(counted)
    steps.close()
    assert torch.get_num_threads() == threads
    assert len(counted) - before <= workers  # each running chunk ends its iteration in progress, no more
    assert before - seen.iterations <= 2 * workers  # the progress keeps up with the chunks
    assert seen.chunks_done == 0 and not seen.output.any()  # unfinished chunks leave zeros


def test_a_stop_event_ends_the_generator_and_keeps_the_finished_chunks(small_chunks, counted):
    stop = threading.Event()
    kept = None
    for step in chunks.solve_in_chunks_iter(_plan(_series(), n_iter=20), workers=2, stop=stop):
        kept = step
        if step.chunks_done == 1:
            stop.set()
    assert kept.chunks_done < kept.n_chunks
    assert len(counted) <= 20 * kept.chunks_done + 2 * 20  # the running chunks stopped early
    full = reconstruct(_series(), ANGLES, method="sirt", n_iter=20, tilt_axis="x", device="cpu",
                       background="none", contrast="dark-field")
    finished = np.flatnonzero(kept.output.any(axis=(0, 1)))  # slices along x of the finished chunks
    assert len(finished) == kept.slices_done
    np.testing.assert_array_equal(kept.output[..., finished], full[..., finished])


@pytest.fixture
def failing_sirt(monkeypatch):
    """SIRT whose solver fails at its first iterate."""
    def failing(problem, **kwargs):
        raise RuntimeError("solver failed")
        yield  # a generator, as solvers are

    monkeypatch.setitem(METHODS, "sirt", replace(METHODS["sirt"], solver=failing))


def test_an_error_in_a_chunk_ends_the_generator_with_it(small_chunks, failing_sirt):
    with pytest.raises(RuntimeError, match="solver failed"):
        list(chunks.solve_in_chunks_iter(_plan(_series()), workers=2))


def test_the_chunk_of_a_given_slice_comes_first_then_the_nearest(small_chunks):
    series = _series()
    expected = reconstruct(series, ANGLES, method="sirt", n_iter=10, tilt_axis="x", device="cpu",
                           background="none", contrast="dark-field")
    order, threads = [], torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # one worker computes on the caller's threads
        for step in chunks.solve_in_chunks_iter(_plan(series), workers=1, first=14):
            if step.chunks_done > len(order):
                order.append(np.flatnonzero(step.output.any(axis=(0, 1))).tolist())
    finally:
        torch.set_num_threads(threads)
    assert [len(filled) for filled in order] == [6, 12, 18, 24]
    assert order[0] == list(range(12, 18)) and set(order[1]) - set(order[0]) in ({*range(6, 12)}, {*range(18, 24)})
    np.testing.assert_array_equal(step.output, expected)


@pytest.mark.parametrize("method", ["sirt", "tv"])
def test_the_lockstep_stream_side_by_side_ends_with_reconstructs_volume_bit_for_bit(monkeypatch, method):
    """reconstruct_iter's chunks advance on a pool, one torch thread each, as reconstruct solves them: the
    last iterate is the same volume to the last bit, and every iterate is the whole volume."""
    monkeypatch.setattr(chunks, "MAX_CHUNK_ELEMENTS", 6 * 7 * 11)
    monkeypatch.setattr(chunks, "SOLVE_CHUNK_ELEMENTS", 6 * 7 * 11)
    monkeypatch.setattr(chunks, "MIN_CHUNK_SLICES", 1)
    series = _series()
    plan = _plan(series, method)
    assert len(list(plan.chunks(chunks.MAX_CHUNK_ELEMENTS))) == 4
    iterates = [it.x.clone() for it in chunks.stream(plan, workers=2)]
    assert len(iterates) == 10 and all(x.shape == (7, 7, 24) for x in iterates)
    expected = chunks.solve_in_chunks(plan)
    np.testing.assert_array_equal(iterates[-1].numpy(), expected)
    one_by_one = [it.x for it in chunks.stream(plan, workers=1)]
    torch.testing.assert_close(one_by_one[-1], iterates[-1], rtol=1e-5, atol=1e-6)


@pytest.fixture
def lockstep_chunks(monkeypatch):
    """The lockstep stream's chunks as the solving ones: four of six slices."""
    monkeypatch.setattr(chunks, "MAX_CHUNK_ELEMENTS", 6 * 7 * 11)
    monkeypatch.setattr(chunks, "SOLVE_CHUNK_ELEMENTS", 6 * 7 * 11)
    monkeypatch.setattr(chunks, "MIN_CHUNK_SLICES", 1)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("method", ["sirt", "tv"])
def test_the_slab_in_view_is_solved_ahead_and_the_stream_ends_with_the_same_volume(lockstep_chunks, monkeypatch,
                                                                                  method, workers):
    """stream(first=) solves the chunk of slice ``first`` on a thread of its own: the first iterate past
    iteration 1 already holds that chunk's last iterate while the others are at 2; the stream still
    yields every iteration of the others, and its last iterate is the same volume as without ``first``."""
    series = _series()
    plan = _plan(series, method)
    expected = chunks.solve_in_chunks(plan)
    lead_rows = gate_the_lead(monkeypatch)
    iterates = [it for it in chunks.stream(plan, workers=workers, first=14)]
    assert lead_rows == [slice(12, 18)]
    assert [it.iteration for it in iterates] == list(range(1, 11))
    np.testing.assert_array_equal(iterates[-1].x.numpy(), expected)
    second = iterates[1].x.numpy()
    np.testing.assert_array_equal(second[..., 12:18], expected[..., 12:18])  # the slab in view: done
    assert not np.allclose(second[..., :12], expected[..., :12], atol=1e-4)  # the others: at iteration 2
    assert all(it.residual is not None for it in iterates)


def test_the_lead_describes_the_volume_it_shows(lockstep_chunks, monkeypatch):
    """An iterate's residual is ‖Ax − y‖ of the volume it holds, the lead's slab included."""
    series = _series()
    plan = _plan(series)
    gate_the_lead(monkeypatch)
    iterate = list(itertools.islice(chunks.stream(plan, workers=2, first=14), 2))[-1]
    volume = torch.as_tensor(iterate.x)
    misfit = project(volume.numpy(), ANGLES, tilt_axis="x", device="cpu") - plan.data
    assert iterate.residual == pytest.approx(float(np.linalg.norm(misfit)), rel=1e-3)


def test_closing_a_stream_with_a_lead_stops_it_and_restores_the_threads(lockstep_chunks, counted):
    threads = torch.get_num_threads()
    steps = chunks.stream(_plan(_series(), n_iter=200), workers=2, first=0)
    next(steps)
    steps.close()
    made = len(counted)
    time.sleep(0.05)
    assert len(counted) == made  # nothing runs on
    assert made < 4 * 200  # the lead stopped early too
    assert torch.get_num_threads() == threads


def test_an_error_in_the_lead_or_the_others_ends_the_stream_with_it(lockstep_chunks, failing_sirt):
    with pytest.raises(RuntimeError, match="solver failed"):
        list(chunks.stream(_plan(_series()), workers=2, first=14))


class _FakeGlibc:
    """Records glibc's malloc thresholds as mallopt sets them."""

    def __init__(self):
        self.thresholds = {}

    def mallopt(self, parameter, value):
        self.thresholds[parameter] = value
        return 1


def test_large_blocks_are_mapped_during_the_solve_only(monkeypatch, small_chunks):
    """The chunks' large arrays are mapped (freed memory goes back to the system) while the chunks are
    solved; afterwards glibc reuses large blocks again: left mapped, every later FFT array at 128³ was
    fresh pages and Richardson-Lucy's four FFTs took 25 ms instead of 10."""
    from napari_invprob._shared import memory as _memory

    libc = _FakeGlibc()
    monkeypatch.setattr(_memory, "_glibc", lambda: libc)
    mmap, trim = _memory._M_MMAP_THRESHOLD, _memory._M_TRIM_THRESHOLD
    plan = chunks.make_plan(_series(), ANGLES, method="sirt", n_iter=2, tilt_axis="x", device="cpu")
    during = []
    for _ in chunks.solve_in_chunks_iter(plan, workers=1):
        during.append(dict(libc.thresholds))
    mapped = {mmap: _memory.MMAP_THRESHOLD_BYTES, trim: _memory.MAPPED_TRIM_THRESHOLD_BYTES}
    assert during and all(seen == mapped for seen in during)
    assert libc.thresholds == {mmap: _memory.KEPT_MMAP_THRESHOLD_BYTES, trim: _memory.KEPT_TRIM_THRESHOLD_BYTES}
    # nested (two solves at once, e.g. two threads): restored when the last one ends
    libc.thresholds.clear()
    with _memory.large_blocks_mapped():
        with _memory.large_blocks_mapped():
            pass
        assert libc.thresholds == mapped
    assert libc.thresholds[mmap] == _memory.KEPT_MMAP_THRESHOLD_BYTES



def test_a_convolution_keeps_large_blocks_except_during_a_reconstruction(monkeypatch):
    """A convolution sets glibc to keep freed blocks (its FFT arrays are made and freed every iteration:
    left to glibc's own thresholds, Richardson-Lucy at 128³ faulted in up to 2900 fresh pages per
    iteration); not while a reconstruction maps them, whose end keeps them."""
    from napari_invprob._shared import memory as _memory
    from napari_invprob.operators import Convolution

    libc = _FakeGlibc()
    monkeypatch.setattr(_memory, "_glibc", lambda: libc)
    mmap, trim = _memory._M_MMAP_THRESHOLD, _memory._M_TRIM_THRESHOLD
    kept = {mmap: _memory.KEPT_MMAP_THRESHOLD_BYTES, trim: _memory.KEPT_TRIM_THRESHOLD_BYTES}
    _memory.keep_large_blocks.cache_clear()
    with _memory.large_blocks_mapped():
        Convolution(np.ones((3, 3)) / 9, (8, 8))
        assert libc.thresholds[mmap] == _memory.MMAP_THRESHOLD_BYTES
    assert libc.thresholds == kept
    libc.thresholds.clear()
    _memory.keep_large_blocks.cache_clear()
    Convolution(np.ones((3, 3)) / 9, (8, 8))
    assert libc.thresholds == kept
    _memory.keep_large_blocks.cache_clear()  # the next convolution sets the real glibc's
