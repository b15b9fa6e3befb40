"""A gate on the chunk engine's solvers that makes "the slab in view is solved ahead" testable whatever
the thread scheduling."""

from __future__ import annotations

import threading
import time

from napari_invprob.tomography import chunks


def gate_the_lead(monkeypatch, delay: float = 0.0) -> list[slice]:
    """Make ``Plan.chunks``' first chunk (the lead of ``chunks.stream(first=...)``) open a gate when it
    ends, and its other chunks wait at that gate before each iterate after their first (and then take at
    least ``delay`` seconds an iteration, so that a display sees several): a stream can then show them past
    iteration 1 only once the lead is done. Returns the list that receives the lead's rows when
    ``chunks()`` runs."""
    gate, lead_rows = threading.Event(), []
    original = chunks.Plan.chunks

    def leading(solver):
        yield from solver
        gate.set()

    def gated(solver):
        for iterate in solver:
            if iterate.iteration > 1:
                assert gate.wait(60), "the lead chunk never ended"
                time.sleep(delay)
            yield iterate

    def gated_chunks(plan, max_elements, first=0):
        for i, (rows, solver) in enumerate(original(plan, max_elements, first)):
            if i == 0:
                lead_rows.append(rows)
            yield rows, leading(solver) if i == 0 else gated(solver)

    monkeypatch.setattr(chunks.Plan, "chunks", gated_chunks)
    return lead_rows
