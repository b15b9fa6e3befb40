"""``python -m napari_invprob``: the ``napari-invprob`` command line."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
