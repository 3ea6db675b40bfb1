"""What the benchmarks' command lines share: the description, the MNIST file to read, and how
memory growth is printed."""

from __future__ import annotations

import argparse
import os


def bench_parser(doc: str) -> argparse.ArgumentParser:
    """A parser described by the first line of `doc` (the benchmark's docstring), with --data:
    the MNIST .npz to read (default: $MNIST_NPZ)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("MNIST_NPZ"))
    return parser


def print_growth(title: str, series: list[float], target: str) -> None:
    """Resident MB after each of a series of runs, and how much it grew after the first."""
    growth = series[-1] - series[0]
    print(title)
    print("  " + " ".join(f"{mb:.0f}" for mb in series))
    print(
        f"after run 1: {series[0]:,.0f} MB, after run {len(series)}: {series[-1]:,.0f} MB, "
        f"growth {growth:+,.0f} MB ({growth / max(len(series) - 1, 1):+.1f} MB a run; "
        f"target {target})"
    )
