"""Two versions of the Draw page against each other: strokes take turns in one browser.

    git worktree add /tmp/before main
    python -m bench.bench_draw_ab --data ../shared/data/mnist.npz --a /tmp/before [--strokes 25]

Both versions are served at once (`--a` and `--b` are project folders, say a worktree of main and
this one), and each stroke goes to one then the other, in alternating order, with a trivial
app's click between (`bench/trivial_app.py`, the baseline). On this shared host, separate runs of
`bench_draw` moved by more than a change to the page did; taking turns, both versions meet the
same noise. Times as in `bench_draw`: mouse-up to the prediction on screen, timed in the page.
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.bench_draw import Timed, open_page, stroke
from bench.browser import ROOT, launch_chromium, start_app, stop_app
from bench.cli import bench_parser


def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--a", type=Path, required=True, help="the first version's project folder")
    p.add_argument("--b", type=Path, default=ROOT, help="the second's (default: this one)")
    p.add_argument("--strokes", type=int, default=25)
    args = p.parse_args()
    env = {**os.environ}
    if args.data:
        env["MNIST_NPZ"] = str(Path(args.data).resolve())
    folders = {"a": args.a.resolve(), "b": args.b.resolve()}
    servers = {name: start_app(env, cwd=folder) for name, folder in folders.items()}
    trivial, trivial_url = start_app(env, script="bench/trivial_app.py")
    timed = {
        name: Timed(f"{name} ({folders[name]}): stroke", servers[name][0].pid) for name in "ab"
    }
    clicks = Timed("baseline: trivial app, click → new count", trivial.pid)
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            pages = {
                n: open_page(browser, f"{url}/draw", "canvas.upper-canvas")
                for n, (_s, url) in servers.items()
            }
            boxes = {
                n: page.locator("canvas.upper-canvas").bounding_box() for n, page in pages.items()
            }
            click_page = open_page(browser, trivial_url, "button")
            button = click_page.get_by_role("button", name="Add one")
            for name, page in pages.items():  # warm-up: the first stroke loads code and caches
                Timed("warm-up", servers[name][0].pid).measure(
                    page, "Prediction", lambda page=page, name=name: stroke(page, boxes[name], 0)
                )
            for k in range(args.strokes):
                for name in "ab" if k % 2 == 0 else "ba":
                    page = pages[name]
                    page.bring_to_front()
                    timed[name].measure(
                        page,
                        "Prediction",
                        lambda page=page, name=name, k=k: stroke(page, boxes[name], k + 1),
                    )
                click_page.bring_to_front()
                clicks.measure(click_page, "Count", button.click)
            browser.close()
    finally:
        for process, _url in servers.values():
            stop_app(process)
        stop_app(trivial)
    for result in (*timed.values(), clicks):
        print(result.report())


if __name__ == "__main__":
    main()
