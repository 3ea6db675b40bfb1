"""Server memory under repeated and concurrent training, in one process as the app runs it.

    python -m bench.bench_memory --data ../shared/data/mnist.npz [--runs 20] [--together 3]

First `--runs` codelab runs one after another, each a TrainingJob in its own worker thread,
every finished run kept (as a user's workspace keeps them): the resident memory after each run,
and the growth after the first. Then `--together` runs at once (as `--together` users would,
with that many training slots): the peak resident memory, sampled every 0.2 s.
"""

from __future__ import annotations

import gc
import os

from bench.bench_load import MemoryWatch, rss_mb
from bench.cli import bench_parser, print_growth
from mnist_core.classroom.jobs import JobState, TrainingJob
from mnist_core.classroom.queue import TrainingSlots
from mnist_core.config import PRESETS
from mnist_core.data import load_mnist


def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--together", type=int, default=3)
    args = p.parse_args()
    data = load_mnist(args.data)
    config = PRESETS["codelab"].fit_to(len(data.y_train))
    pid = os.getpid()
    kept, series = [], []
    for i in range(args.runs):
        job = TrainingJob(f"Run {i + 1}", config, data).start()
        job.join()
        assert job.state is JobState.DONE, job.error
        kept.append(job)
        gc.collect()
        series.append(rss_mb(pid))
    print_growth(
        f"{args.runs} codelab runs in a row, all kept: resident MB after each run", series, "≤ 100"
    )
    slots = TrainingSlots(args.together)
    watch = MemoryWatch(pid)
    jobs = [
        TrainingJob(f"Together {i + 1}", config, data, slots).start() for i in range(args.together)
    ]
    for job in jobs:
        job.join()
    peak = watch.stop()
    print(
        f"{args.together} runs at once: peak {peak:,.0f} MB, "
        f"{peak / series[0]:.2f}× the memory after the first run (target peak < 2,000 MB)"
    )


if __name__ == "__main__":
    main()
