"""How a result was made: the one record behind a result layer's ``metadata`` in napari and the
command line's JSON sidecar, so either can be reproduced or reported the same way."""

from __future__ import annotations

from typing import Any

from .._version import __version__

#: The key of the version in every record; a layer whose metadata holds it was made by this plugin.
RESULT_MARK = "napari_invprob_version"


def provenance(problem: str, **fields: Any) -> dict[str, Any]:
    """The start of a record: the plugin's version, the problem, then ``fields`` in their order.

    Parameters
    ----------
    problem : str
        ``"deconvolution"``, ``"tomography"``, ``"alignment"``, ``"simulation"``, ``"denoising"``, ...
    **fields
        Method, parameters, source, ... as the caller records them.

    Returns
    -------
    dict
    """
    return {RESULT_MARK: __version__, "problem": problem, **fields}
