"""What the benchmarks' command lines share: the description, and the MNIST file to read."""

from __future__ import annotations

import argparse
import os


def bench_parser(doc: str) -> argparse.ArgumentParser:
    """A parser described by the first line of `doc` (the benchmark's docstring), with --data:
    the MNIST .npz to read (default: $MNIST_NPZ)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("MNIST_NPZ"))
    return parser
