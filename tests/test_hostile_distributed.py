"""Hostile input through the distributed calls (issue 18): no hang, refused before any cluster starts.

Each row names the reproduction and what the call must do instead. The servers are plain TCP servers on
127.0.0.1 (no dask): one that accepts and stays silent (a web server waiting for a request), one that
sends a banner, and a port nobody listens on.
"""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest
from _servers import DEADLINE_S, PlainServer

from napari_invprob import distributed as nd
from napari_invprob.distributed import tiles, tilt_series

pytest.importorskip("distributed")

def _refused_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as server:
        return server.getsockname()[1]


@pytest.fixture(params=["silent", "banner", "refused"])
def bad_address(request):
    """``tcp://127.0.0.1:PORT`` where PORT is no dask scheduler."""
    if request.param == "refused":
        yield f"tcp://127.0.0.1:{_refused_port()}"
        return
    server = PlainServer(b"HTTP/1.0 400 Bad Request\r\nServer: demo\r\n\r\n" if request.param == "banner" else b"")
    yield f"tcp://127.0.0.1:{server.port}"
    server.close()


# rows 1-3: a plain HTTP server hung the client; a banner gave MemoryError; a refused port took 33 s
def test_an_address_that_is_no_dask_scheduler_fails_fast_with_a_connection_error(bad_address):
    image, psf = np.ones((32, 32), np.float32), np.ones((3, 3), np.float32)
    start = time.monotonic()
    with pytest.raises(ConnectionError, match="cannot reach the dask scheduler at tcp://127.0.0.1") as error:
        nd.deconvolve_distributed(image, psf, scheduler=bad_address, method="landweber", n_iter=1)
    assert time.monotonic() - start < DEADLINE_S
    assert "allocate" not in str(error.value)


# row 3: port 99999 was not rejected up front; row 17: local:1000 on 2 cores started hundreds of workers
SCHEDULER_ROWS = {
    "port above 65535": ("tcp://127.0.0.1:99999", "a port is a number from 1 to 65535"),
    "port 0": ("tcp://127.0.0.1:0", "a port is a number from 1 to 65535"),
    "port not a number": ("tcp://head-node:http", "a port is a number from 1 to 65535"),
    "more workers than cores": ("local:1000", "asks for 1000 worker processes"),
}


@pytest.mark.parametrize("row", list(SCHEDULER_ROWS))
def test_impossible_schedulers_are_refused_at_once(row):
    scheduler, message = SCHEDULER_ROWS[row]
    with pytest.raises(ValueError, match=message):
        nd.check_scheduler(scheduler)


def test_a_sensible_worker_count_and_ports_pass():
    nd.check_scheduler(f"local:{nd.MAX_WORKERS_ANYWHERE}")
    for address in ("tcp://127.0.0.1:1", "tcp://127.0.0.1:65535", "tcp://[::1]:8786", "tcp://head-node",
                    "inproc://192.168.0.1/123/4"):
        nd.check_scheduler(address)


@pytest.fixture
def no_cluster(monkeypatch):
    """Fail the test if a call starts a cluster or connects to one."""

    def refuse(scheduler):
        raise AssertionError(f"a cluster ({scheduler}) was started before the input was checked")

    for module in (tiles, tilt_series):  # each job imports the cluster's open_client
        monkeypatch.setattr(module, "open_client", refuse)


IMAGE = np.random.default_rng(0).random((64, 64), dtype=np.float32)
PSF = np.ones((5, 5), np.float32)
NAN_IMAGE = IMAGE.copy()
NAN_IMAGE[40, 50] = np.nan

#: row 16: a cluster started, each tile was retried and logged, and the error came after seconds
BEFORE_ANY_CLUSTER = {
    "unknown method": (dict(method="bogus"), ValueError, "unknown deconvolution method 'bogus'"),
    "unknown option": (dict(method="admm-tv", colour="red"), TypeError, "unknown option"),
    "option of the wrong type": (dict(rho="abc"), TypeError, "option rho must be a number"),
    "negative lam": (dict(lam=-1.0), ValueError, "lam must be a finite number >= 0"),
    "lam beyond float32": (dict(lam=1e39), ValueError, "float32"),
    "nonneg not a bool": (dict(nonneg="maybe"), TypeError, "nonneg must be True or False"),
    "NaN data": (dict(image=NAN_IMAGE), ValueError, "NaN"),
    "zero PSF": (dict(psf=np.zeros((5, 5), np.float32)), ValueError, "psf"),
    "masked image": (dict(image=np.ma.masked_less(IMAGE, 0.1)), ValueError, "masked array"),
}


@pytest.mark.parametrize("row", list(BEFORE_ANY_CLUSTER))
def test_bad_deconvolution_input_is_refused_before_any_cluster_starts(no_cluster, row):
    keywords, error, words = BEFORE_ANY_CLUSTER[row]
    keywords = dict(keywords)
    image, psf = keywords.pop("image", IMAGE), keywords.pop("psf", PSF)
    with pytest.raises(error, match=words):
        nd.deconvolve_distributed(image, psf, scheduler="local:1", tile_shape=32, **keywords)


# row 17: workers were orphaned when the parent died
SCRIPT = """
import os, sys, time
from napari_invprob.distributed import open_client
if __name__ == "__main__":
    with open_client("local:2") as client:
        print(*client.run(os.getpid).values(), flush=True)
        time.sleep(120)
"""


def test_local_workers_die_with_their_parent(tmp_path):
    import signal
    import subprocess
    import sys

    psutil = pytest.importorskip("psutil")
    script = tmp_path / "parent.py"
    script.write_text(SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    try:
        workers = [int(pid) for pid in parent.stdout.readline().split()]
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert len(workers) == 2
    deadline = time.monotonic() + DEADLINE_S
    alive = workers
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
        time.sleep(0.2)
    for pid in alive:  # do not leave them behind if the test fails
        psutil.Process(pid).kill()
    assert not alive, f"worker processes {alive} outlived their parent"


SERIES = np.zeros((5, 4, 8), np.float32)
SERIES[:, 1:3, 3:5] = 1.0
SERIES_ANGLES = np.linspace(-60, 60, 5)

#: row 16: reconstruct_distributed started a cluster and sent every chunk before these were refused
RECONSTRUCT_BEFORE_ANY_CLUSTER = {
    "unknown method": (dict(method="bogus"), ValueError, "unknown reconstruction method 'bogus'"),
    "unknown option": (dict(method="sirt", colour="red"), TypeError, "unknown option"),
    "negative lam": (dict(method="tv", lam=-1.0), ValueError, "lam"),
    "lam beyond float32": (dict(method="tv", lam=1e39), ValueError, "float32"),
    "zero iterations": (dict(method="sirt", n_iter=0), ValueError, "n_iter"),
    "nonneg not a bool": (dict(method="sirt", nonneg="maybe"), TypeError, "nonneg must be True or False"),
    "repeated angles": (dict(angles=[-60, -30, 0, 30, -60]), ValueError, "repeated projection angles"),
}


@pytest.mark.parametrize("row", list(RECONSTRUCT_BEFORE_ANY_CLUSTER))
def test_bad_reconstruction_input_is_refused_before_any_cluster_starts(no_cluster, row):
    keywords, error, words = RECONSTRUCT_BEFORE_ANY_CLUSTER[row]
    keywords = dict(keywords)
    angles = keywords.pop("angles", SERIES_ANGLES)
    with pytest.raises(error, match=words):
        nd.reconstruct_distributed(SERIES, angles, scheduler="local:1", **keywords)


# row 8, distributed face: angles in radians are warned about here, not only in the workers' logs
def test_angles_in_radians_are_warned_about_before_any_cluster_starts(no_cluster):
    with pytest.warns(UserWarning, match="as angles in radians would"):
        with pytest.raises(AssertionError, match="was started before"):  # the check passed: the cluster is next
            nd.reconstruct_distributed(SERIES, np.deg2rad(SERIES_ANGLES), scheduler="local:1", method="sirt")
