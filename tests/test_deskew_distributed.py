"""Deskew in chunks of planes on dask equals one deskew (issue 25, item 3)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_invprob.deconvolution.deskew import deskew, deskewed_shape
from napari_invprob.distributed import deskew_distributed

pytest.importorskip("distributed")

GEOMETRY = {"angle": 31.5, "step": 0.3, "pixel_size": 0.104}


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as c:
        yield c


@pytest.mark.parametrize("direction", [1, -1])
def test_a_chunked_run_equals_one_run_bit_for_bit(client, direction):
    rng = np.random.default_rng(0)
    stack = rng.poisson(110, (23, 9, 30)).astype(np.uint16)
    stack[5:12, 2:6, 10:20] += 900
    before = stack.copy()
    single = deskew(stack, **GEOMETRY, direction=direction)
    calls = []
    chunked = deskew_distributed(stack, **GEOMETRY, direction=direction, scheduler=client, chunk_planes=4,
                                 progress=lambda done, total: calls.append((done, total)))
    np.testing.assert_array_equal(chunked, single)
    assert chunked.dtype == np.float32
    np.testing.assert_array_equal(stack, before)
    assert calls[0] == (0, 6) and calls[-1] == (6, 6)


def test_a_lazy_stack_is_read_chunk_by_chunk_into_out(client):
    dask_array = pytest.importorskip("dask.array")
    stack = np.random.default_rng(1).normal(100.0, 5.0, (17, 6, 24)).astype(np.float32)
    lazy = dask_array.from_array(stack, chunks=(3, 6, 24))
    out = np.full(deskewed_shape(stack.shape, **GEOMETRY), np.nan, np.float32)
    result = deskew_distributed(lazy, **GEOMETRY, scheduler=client, chunk_planes=5, out=out)
    assert result is out
    np.testing.assert_array_equal(out, deskew(stack, **GEOMETRY))


@pytest.mark.parametrize(
    ("change", "message"),
    [({"angle": 90}, "between 0 and 90"), ({"step": 0}, "step must be > 0"), ({"chunk_planes": 0}, "chunk_planes"),
     ({"out": np.zeros((2, 2, 2), np.float32)}, "out has shape"), ({"scheduler": "local:0"}, "no workers")],
)
def test_bad_input_is_refused_before_any_task(change, message):
    stack = np.zeros((4, 3, 5), np.float32)
    with pytest.raises(ValueError, match=message):
        deskew_distributed(stack, **{**GEOMETRY, "scheduler": "local:1", **change})
