"""Single-image prediction latency: `mnist_core.predict` against Keras's `model.predict`.

python -m bench.bench_predict [--model models/default.keras] [--calls 200]
"""

import argparse
import statistics
import time

import numpy as np

from mnist_core.engine.model import load_model, predict
from mnist_core.engine.preprocess import image_to_mnist


def latencies(fn, image: np.ndarray, calls: int) -> list[float]:
    """Milliseconds per call, after three warm-up calls."""
    for _ in range(3):
        fn(image)
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        fn(image)
        out.append((time.perf_counter() - start) * 1000)
    return out


def describe(name: str, ms: list[float]) -> float:
    median, p95 = statistics.median(ms), float(np.percentile(ms, 95))
    print(f"{name:28s} median {median:7.2f} ms   p95 {p95:7.2f} ms")
    return median


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="models/default.keras")
    p.add_argument("--calls", type=int, default=200)
    args = p.parse_args()
    model = load_model(args.model)
    image = np.random.default_rng(0).random((1, 28, 28, 1)).astype(np.float32)
    print(f"{args.model}: {model.count_params():,} parameters, {args.calls} calls of one image")
    keras_ms = describe(
        "model.predict (baseline)",
        latencies(lambda x: model.predict(x, verbose=0), image, args.calls),
    )
    ours_ms = describe(
        "mnist_core.predict", latencies(lambda x: predict(model, x), image, args.calls)
    )
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255
    canvas[60:220, 130:150, :3] = 255  # a "1"
    describe("image_to_mnist (280×280)", latencies(image_to_mnist, canvas, args.calls))
    print(f"ratio model.predict / mnist_core.predict: {keras_ms / ours_ms:.1f}x")


if __name__ == "__main__":
    main()
