"""A queue of different runs: how soon it empties with one training at a time or two at once.

    python -m bench.bench_queue --data ../shared/data/mnist.npz [--runs 10] [--rounds 2]

`--runs` codelab runs that differ only in their seed are queued at once on one server process,
as a class pressing Train on its own settings would, and trained through the app's
`TrainingJob` and `TrainingSlots`. Each mode runs in a fresh process pinned with `taskset`: one
core and two cores, one training slot and two. Two runs at once in one process share
TensorFlow's thread pool, so each gets part of it. Printed per mode: the time until the queue
is empty, the median time until a run is finished, the wait the page would show each run at the
moment it was queued against the wait it really had (within ±25 % is the goal), the same once
the first run finished (its time corrects the server's speed), and how many runs reached the
same test accuracy as their seed trained alone on as many cores (a run's result should not
depend on what trained beside it). The modes take turns for `--rounds` rounds, so a change in
the machine's load touches each of them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

MODES = [(1, 1), (1, 2), (2, 1), (2, 2)]  # (cores, training slots)


def worker(data_path: str | None, runs: int, limit: int) -> dict:
    """One mode in this process: the queue's times and each run's estimated and real wait."""
    from mnist_core.classroom.estimates import ServerSpeed, measure_speed
    from mnist_core.classroom.jobs import JobState, TrainingJob
    from mnist_core.classroom.queue import TrainingSlots
    from mnist_core.config import PRESETS
    from mnist_core.data import load_mnist

    data = load_mnist(data_path)
    speed = ServerSpeed(measure_speed(data))
    config = PRESETS["codelab"].fit_to(len(data.y_train))
    slots = TrainingSlots(limit)
    start = time.monotonic()
    jobs = []
    estimated = []
    for seed in range(1, runs + 1):
        run = config.replace(seed=seed)
        job = TrainingJob(
            f"seed {seed}", run, data, slots, estimated_seconds=speed.estimate(run), speed=speed
        ).start()
        while job.state is JobState.WAITING and slots.place(job) is None:
            time.sleep(0.005)  # queued (or already training): its wait is known now
        jobs.append(job)
        estimated.append(slots.wait_seconds(job, lambda other: other.remaining_seconds()))
    started: dict[int, float] = {}
    finished: dict[int, float] = {}
    later: dict[int, tuple[float | None, float]] = {}  # once the first run finished
    while len(finished) < runs:
        now = time.monotonic() - start
        for i, job in enumerate(jobs):
            if i not in started and job.state is not JobState.WAITING:
                started[i] = now
            if i not in finished and job.finished:
                finished[i] = now
                if len(finished) == 1:  # the server's speed is corrected by its first run
                    later = {
                        k: (slots.wait_seconds(other, lambda o: o.remaining_seconds()), now)
                        for k, other in enumerate(jobs)
                        if other.state is JobState.WAITING
                    }
        time.sleep(0.02)
    assert all(job.state is JobState.DONE for job in jobs), [j.error for j in jobs]
    return {
        "empty": max(finished.values()),
        "median_finished": statistics.median(finished.values()),
        "waits": [[estimated[i], started[i]] for i in range(runs)],
        "later_waits": [[est, started[k] - at] for k, (est, at) in later.items()],
        "accuracies": [job.evaluation.accuracy for job in jobs],
    }


def run_mode(cores: int, limit: int, args) -> dict:
    cpus = ",".join(str(c) for c in range(cores))
    command = [
        "taskset",
        "-c",
        cpus,
        sys.executable,
        "-m",
        "bench.bench_queue",
        "--worker",
        "--limit",
        str(limit),
        "--runs",
        str(args.runs),
    ]
    if args.data:
        command += ["--data", args.data]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def within(estimate: float | None, real: float, tolerance: float = 0.25) -> bool:
    """True when `estimate` is within ±tolerance of `real` (a wait under 2 s counts as met
    within 2 s: the time to notice a run started)."""
    if estimate is None:
        return False
    if real < 2:
        return abs(estimate - real) <= 2
    return abs(estimate / real - 1) <= tolerance


def _same_results(results: list[dict], alone: list[dict]) -> str:
    """How many runs reached the very test accuracy of the same seed trained alone on as many
    cores (a thread pool of another size rounds differently): a run's result should not
    depend on what trained beside it."""
    reference = alone[0]["accuracies"]
    same = sum(r["accuracies"][i] == reference[i] for r in results for i in range(len(reference)))
    return f"{same} of {len(results) * len(reference)}"


def _waits(results: list[dict], key: str) -> str:
    """How many estimated waits were within ±25 % of the real ones, and the median ratio of
    those long enough for a ratio to mean something (2 s or more)."""
    waits = [w for r in results for w in r[key]]
    good = sum(within(est, real) for est, real in waits)
    ratios = [est / real for est, real in waits if est is not None and real >= 2]
    ratio = f"{statistics.median(ratios):.2f}" if ratios else "–"
    return f"{good} of {len(waits)} | {ratio}"


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("MNIST_NPZ"))
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--limit", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.data, args.runs, args.limit)))
        return
    results: dict[tuple[int, int], list[dict]] = {mode: [] for mode in MODES}
    for round_ in range(args.rounds):
        for mode in MODES if round_ % 2 == 0 else MODES[::-1]:
            results[mode].append(run_mode(*mode, args))
            r = results[mode][-1]
            for key in ("waits", "later_waits"):
                waits = ", ".join(f"{_seconds(est)}/{real:.1f}" for est, real in r[key])
                print(f"  estimated/real {key}: {waits}", flush=True)
            print(
                f"round {round_ + 1}, {mode[0]} core(s), {mode[1]} slot(s): empty after "
                f"{r['empty']:.1f} s",
                flush=True,
            )
    print(f"\n{args.runs} codelab runs (seeds 1-{args.runs}) queued at once\n")
    print(
        "| cores | trainings at once | queue empty after | median run finished | "
        "vs one at a time | waits within ±25 %: at queueing | estimated / real | "
        "once a run finished | estimated / real | mean test accuracy | "
        "runs as one at a time |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for cores, limit in MODES:
        rs = results[(cores, limit)]
        empty = statistics.median(r["empty"] for r in rs)
        solo = statistics.median(r["empty"] for r in results[(cores, 1)])
        print(
            f"| {cores} | {limit} | {empty:.1f} s | "
            f"{statistics.median(r['median_finished'] for r in rs):.1f} s | "
            f"{empty / solo:.2f}× | {_waits(rs, 'waits')} | {_waits(rs, 'later_waits')} | "
            f"{statistics.mean(a for r in rs for a in r['accuracies']):.2%} | "
            f"{_same_results(rs, results[(cores, 1)])} |"
        )


if __name__ == "__main__":
    main()
