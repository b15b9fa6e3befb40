"""The widgets' worker machinery on fake solvers: thinning iterates to frames, one worker at a time, Stop."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from napari_invprob.napari.widgets._frames import Reference, display_range, frames
from napari_invprob.napari.widgets._plot import log_ticks
from napari_invprob.napari.widgets._runner import Job, SolveRunner, Task
from napari_invprob.solvers.base import Clock, Iterate


def fake_solver(n_iter=50, delay=0.0, shape=(16, 16), nan_at=None, active=None):
    """Yields iterates that approach 1 (objective 1/k), mutating one tensor in place like real solvers."""
    clock = Clock()
    x = torch.zeros(shape)
    token = object()
    if active is not None:
        active.append(token)
    try:
        for k in range(1, n_iter + 1):
            if delay:
                time.sleep(delay)
            x.add_(1.0 / n_iter)
            if nan_at == k:
                x[0, 0] = float("nan")
            yield Iterate(k, x, 1.0 / k, None, clock())
    finally:
        if active is not None:
            active.remove(token)


def test_fast_stream_is_thinned_but_loses_no_objective_and_ends_on_the_last_iterate():
    shown = list(frames(fake_solver(n_iter=3000), min_interval=0.05))
    assert 1 <= len(shown) < 3000
    assert shown[-1].iteration == 3000
    np.testing.assert_allclose(shown[-1].image, 1.0, rtol=1e-4)
    objectives = [it for frame in shown for it, _ in frame.objectives]
    assert objectives == list(range(1, 3001))


def test_slow_stream_shows_every_iterate_as_a_detached_copy():
    shown = list(frames(fake_solver(n_iter=4, delay=0.06), min_interval=0.05))
    assert [frame.iteration for frame in shown] == [1, 2, 3, 4]
    assert shown[0].image.max() == pytest.approx(0.25)  # not overwritten by later in-place steps


def test_reference_scores_come_with_the_last_frame():
    reference = Reference(np.ones((16, 16), np.float32), data_range=1.0)
    shown = list(frames(fake_solver(n_iter=200), reference=reference))
    assert shown[-1].iteration == 200 and shown[-1].psnr > 60 and shown[-1].ssim > 0.99


def test_divergence_is_reported_with_the_iteration():
    with pytest.raises(ValueError, match="NaN or Inf at iteration 3"):
        list(frames(fake_solver(n_iter=5, delay=0.06, nan_at=3)))


def test_display_range_ignores_outliers_and_is_never_empty():
    image = np.zeros((100, 100), np.float32)
    image[0, 0] = 1e6
    assert display_range(image) == (0.0, 1.0)
    ramp = np.linspace(0, 1, 10_000, dtype=np.float32)
    low, high = display_range(ramp)
    assert 0 < low < 0.01 and 0.99 < high < 1


def test_log_ticks_are_few_and_cover_the_range():
    for low, high in [(0.03, 1.0), (1e-6, 1e4), (2.0, 3.0)]:
        ticks = log_ticks(low, high)
        assert 1 <= len(ticks) <= 6
        values = [10**p for p, _ in ticks]
        assert min(values) <= high * 1.5 and max(values) >= low / 1.5


class Recorder:
    def __init__(self):
        self.frames, self.done, self.errors = [], [], []
        self.runner = SolveRunner(
            lambda job, frame: self.frames.append((job.context["name"], frame)),
            lambda job, stopped: self.done.append((job.context["name"], stopped)),
            lambda job, exc: self.errors.append((job.context["name"], exc)),
        )

    def job(self, name, **solver):
        return Job(lambda: fake_solver(**solver), context={"name": name})


def test_stop_ends_the_worker_quickly_and_keeps_the_last_iterate(qtbot):
    rec = Recorder()
    rec.runner.start(rec.job("a", n_iter=100_000, delay=0.002))
    qtbot.waitUntil(lambda: len(rec.frames) >= 3, timeout=5000)
    rec.runner.stop()
    qtbot.waitUntil(lambda: bool(rec.done), timeout=2000)
    assert rec.runner.last_stop_latency < 0.5
    assert rec.done == [("a", True)] and not rec.runner.running
    last = rec.frames[-1][1]
    assert 3 <= last.iteration < 100_000
    np.testing.assert_allclose(last.image, last.iteration / 100_000, rtol=1e-3)


def test_a_new_job_supersedes_the_running_one_without_overlap(qtbot):
    rec, active, overlap = Recorder(), [], []
    watcher = threading.Thread(target=lambda: [overlap.append(len(active)) or time.sleep(0.001) for _ in range(800)])
    watcher.start()
    rec.runner.start(rec.job("old", n_iter=100_000, delay=0.002, active=active))
    qtbot.waitUntil(lambda: bool(rec.frames), timeout=5000)
    worker = rec.runner.start(rec.job("new", n_iter=20, active=active))
    assert rec.runner.worker is worker
    qtbot.waitUntil(lambda: ("new", False) in rec.done, timeout=5000)
    watcher.join()
    assert rec.done == [("old", True), ("new", False)]
    assert max(overlap) <= 1
    assert rec.frames[-1] == ("new", rec.frames[-1][1]) and rec.frames[-1][1].iteration == 20


def test_solver_errors_reach_the_error_slot(qtbot):
    rec = Recorder()
    rec.runner.start(rec.job("bad", n_iter=5, delay=0.06, nan_at=2))
    qtbot.waitUntil(lambda: bool(rec.done), timeout=5000)
    assert [name for name, _ in rec.errors] == ["bad"]
    assert "iteration 2" in str(rec.errors[0][1])
    assert [frame.iteration for _, frame in rec.frames] == [1]


def test_a_runtime_error_of_a_solver_or_task_ends_its_run_with_the_error(qtbot):
    """torch raises RuntimeError (out of memory among others); superqt alone would end without a word."""
    def failing(**kwargs):
        yield from fake_solver(n_iter=1)
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory")

    rec = Recorder()
    rec.runner.start(Job(failing, context={"name": "oom"}))
    qtbot.waitUntil(lambda: bool(rec.done), timeout=5000)
    assert [(name, str(exc)) for name, exc in rec.errors] == [("oom", "DefaultCPUAllocator: can't allocate memory")]
    task_errors, task_done = [], []
    rec.runner.start(Task(failing, on_error=task_errors.append, on_done=lambda: task_done.append(True)))
    qtbot.waitUntil(lambda: bool(task_done), timeout=5000)
    assert "can't allocate memory" in str(task_errors[0]) and not rec.runner.running


def test_stop_closes_the_solvers_generator_in_the_worker(qtbot):
    rec, active = Recorder(), []
    rec.runner.start(rec.job("a", n_iter=100_000, delay=0.002, active=active))
    qtbot.waitUntil(lambda: len(rec.frames) >= 2, timeout=5000)
    rec.runner.stop()
    qtbot.waitUntil(lambda: bool(rec.done), timeout=2000)
    assert active == []  # its finally ran before the run was reported done


def test_in_place_frames_show_the_array_itself_and_only_when_the_iteration_changes():
    volume = torch.zeros(4, 4)

    def filling():
        for k in range(1, 5):
            for _ in range(50):  # iterations of the running part: nothing new to show
                time.sleep(0.001)
                yield Iterate(k - 1, volume, None, None, 0.0)
            volume[k - 1] = k
            yield Iterate(k, volume, None, None, 0.0)

    shown = list(frames(filling(), min_interval=0.0, in_place=True))
    assert [frame.iteration for frame in shown] == [0, 1, 2, 3, 4]
    assert all(np.shares_memory(frame.image, volume.numpy()) for frame in shown)


def test_solver_warnings_reach_the_warning_slot(qtbot):
    warned = []

    def warning_solver():
        import warnings

        warnings.warn("λ picked from the data: 0.01", UserWarning)
        yield from fake_solver(n_iter=3)

    runner = SolveRunner(lambda *a: None, lambda *a: None, lambda *a: None, lambda job, msg: warned.append(msg))
    runner.start(Job(warning_solver))
    qtbot.waitUntil(lambda: not runner.running, timeout=5000)
    assert warned == ["λ picked from the data: 0.01"]


def test_workers_leave_a_core_for_the_gui_and_restore_the_thread_count(qtbot):
    from napari_invprob.napari.widgets._runner import solver_threads

    assert solver_threads(1) == 1 and solver_threads(2) == 1 and solver_threads(16) == 15
    seen = []

    def counting_solver():
        seen.append(torch.get_num_threads())
        yield from fake_solver(n_iter=2)

    before = torch.get_num_threads()
    runner = SolveRunner(lambda *a: None, lambda *a: None, lambda *a: None)
    runner.start(Job(counting_solver))
    qtbot.waitUntil(lambda: not runner.running, timeout=5000)
    assert seen == [min(before, solver_threads())]
    assert torch.get_num_threads() == before


def test_a_side_task_runs_through_the_same_runner_one_at_a_time(qtbot):
    """An alignment or a choice of λ (a Task) runs as solves run: its messages and result reach its own
    callbacks, a solve started meanwhile waits for it to end, and Stop ends it without a result."""
    rec, seen = Recorder(), []

    def steps(n, delay):
        for k in range(n):
            time.sleep(delay)
            yield f"step {k}"
        return "result"

    task = Task(steps, (3, 0.01), on_message=seen.append, on_result=lambda r: seen.append(("result", r)),
                on_done=lambda: seen.append("done"))
    rec.runner.start(task)
    assert rec.runner.running
    qtbot.waitUntil(lambda: "done" in seen, timeout=5000)
    assert seen == ["step 0", "step 1", "step 2", ("result", "result"), "done"] and not rec.runner.running
    assert not rec.done and not rec.frames  # the solves' callbacks saw nothing of it

    seen.clear()
    rec.runner.start(Task(steps, (100_000, 0.002), on_result=lambda r: seen.append("result"),
                          on_done=lambda: seen.append("done")))
    rec.runner.start(rec.job("after", n_iter=5))  # supersedes the task once it has stopped
    qtbot.waitUntil(lambda: ("after", False) in rec.done, timeout=5000)
    assert seen == ["done"]  # stopped: no result
