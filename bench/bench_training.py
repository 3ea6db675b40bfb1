"""Cost of progress reporting: `mnist_core.train` against bare `model.fit`, same model and data.

    python -m bench.bench_training --data ../shared/data/mnist.npz [--preset codelab] [--repeats 3]
    python -m bench.bench_training --data ... --bare-once   # one bare fit, as JSON (for others)

Both run in this process, interleaved, so machine noise hits both alike; the ratio is the figure.
"""

import argparse
import json
import os
import statistics
import time

import keras

from mnist_core.config import PRESETS, TrainConfig
from mnist_core.data import MnistData, load_mnist
from mnist_core.engine.model import build_model
from mnist_core.engine.training import fit_arrays, train


def bare_fit(config: TrainConfig, data: MnistData) -> float:
    """Seconds for plain model.fit on the same split, no callbacks, compiled as by default."""
    (x, y), val = fit_arrays(config, data)
    model = build_model(config)
    # Keras's defaults (one training step per call), as a plain script would compile it.
    model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"])
    keras.utils.set_random_seed(config.seed)
    start = time.perf_counter()
    model.fit(
        x, y, batch_size=config.batch_size, epochs=config.epochs, validation_data=val, verbose=0
    )
    return time.perf_counter() - start


def reported_fit(config: TrainConfig, data: MnistData) -> tuple[float, int]:
    """Seconds for mnist_core.train with a progress consumer, and how many reports it got."""
    events = []
    result = train(build_model(config), config, data, on_progress=events.append)
    return result.fit_seconds, len(events)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("MNIST_NPZ"))
    p.add_argument("--preset", default="codelab", choices=sorted(PRESETS))
    p.add_argument("--batch-size", type=int, help="override, e.g. 32 for many small batches")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--bare-once", action="store_true", help="print one bare fit's seconds")
    args = p.parse_args()
    data = load_mnist(args.data)
    config = PRESETS[args.preset].fit_to(len(data.y_train))
    if args.batch_size:
        config = config.replace(batch_size=args.batch_size)
    if args.bare_once:  # a fresh process, like the CLI's: its first fit traces the model
        print(json.dumps({"fit_seconds": bare_fit(config, data)}))
        return
    reported_fit(config.replace(epochs=1), data)  # warm-up: imports, kernels, first traces
    bare, ours, reports = [], [], 0
    for _ in range(args.repeats):
        bare.append(bare_fit(config, data))
        seconds, reports = reported_fit(config, data)
        ours.append(seconds)
    b, o = statistics.median(bare), statistics.median(ours)
    print(
        f"preset {args.preset}, batch {config.batch_size}, {config.train_size:,} images, "
        f"{config.epochs} epochs, {args.repeats} repeats"
    )
    print(f"bare model.fit          median {b:7.2f} s   runs {[round(t, 2) for t in bare]}")
    print(f"mnist_core.train        median {o:7.2f} s   runs {[round(t, 2) for t in ours]}")
    print(f"progress reports per run: {reports}")
    print(f"ratio train / bare fit: {o / b:.3f}  (target: under 1.05)")


if __name__ == "__main__":
    main()
