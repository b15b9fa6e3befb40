"""``make demo``: napari with the lecture's blurred astronaut loaded.

Run ``python -m napari_invprob._demo`` for an interactive window, or with ``--screenshot PATH`` to
load the sample, save a screenshot of the whole window and exit (what ``make demo`` does when there
is no display).
"""

from __future__ import annotations

import argparse


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_invprob._demo", description=__doc__)
    parser.add_argument("--screenshot", metavar="PATH", help="save a screenshot of the window and exit")
    args = parser.parse_args(argv)

    import napari

    viewer = napari.Viewer(show=args.screenshot is None)
    viewer.open_sample("napari-invprob", "astronaut")
    if args.screenshot is None:
        napari.run()
        return 0
    viewer.window._qt_window.resize(1400, 900)
    viewer.window.show()
    image = viewer.screenshot(args.screenshot, canvas_only=False, flash=False)
    viewer.close()
    print(f"demo: saved a {image.shape[1]}x{image.shape[0]} screenshot of the napari window to {args.screenshot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
