"""What the deeper views cost on this machine: the map of digits (features and PCA at once,
t-SNE in the background), one filter's step on Draw, and the weights' histograms per epoch.

    python -m bench.bench_deeper --data ../shared/data/mnist.npz [--repeats 5]

The weights' cost is put beside one epoch of the codelab preset timed in the same run; its share
of a whole run is what `python -m bench.bench_training` measures against a bare fit.
"""

import statistics
import time
from pathlib import Path

from bench.cli import bench_parser
from mnist_core.config import PRESETS
from mnist_core.data import evaluation_indices, load_mnist
from mnist_core.engine import convolution_steps, digit_map, weight_watch
from mnist_core.engine.model import build_model, load_model
from mnist_core.engine.training import train

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "default.keras"


def _median_seconds(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    data = load_mnist(args.data)
    model = load_model(DEFAULT_MODEL)
    indices = evaluation_indices(data, digit_map.MAP_DIGITS)
    images, labels = data.x_test[indices], data.y_test[indices]

    digit_map.digit_map(model, images, labels, indices)  # warm-up: traces, sklearn's import
    pca = _median_seconds(lambda: digit_map.digit_map(model, images, labels, indices), args.repeats)
    mapped = digit_map.digit_map(model, images, labels, indices)
    start = time.perf_counter()
    digit_map.tsne_points(mapped.features)
    tsne = time.perf_counter() - start
    print(
        f"map of {len(indices):,} digits, default model: features + PCA {pca:.2f} s, "
        f"t-SNE {tsne:.1f} s (once per model, in the background)"
    )

    image = data.x_test[0] / 255
    layers = convolution_steps.conv_layers(model)

    def step() -> None:
        for layer in layers:
            maps = convolution_steps.layer_maps(model, layer, image)
            convolution_steps.conv_step(maps, 0, 0, 0)

    step()
    seconds = _median_seconds(step, args.repeats) / len(layers)
    print(f"one filter step on Draw (a layer's maps and the arithmetic): {seconds * 1000:.0f} ms")

    for name in ("codelab", "best"):
        config = PRESETS[name].fit_to(len(data.y_train))
        built = build_model(config)
        watch = weight_watch.WeightWatch(built)
        look = _median_seconds(lambda w=watch, m=built: w.look(m, 1), args.repeats)
        print(
            f"{name}: weights' histograms and changes per epoch {look * 1000:.1f} ms "
            f"({built.count_params():,} parameters)"
        )
    config = PRESETS["codelab"].fit_to(len(data.y_train)).replace(epochs=3)
    history = train(build_model(config), config, data).history
    epoch = statistics.median(e.seconds for e in history[1:])
    print(f"one codelab epoch after the first, for scale: {epoch:.2f} s")


if __name__ == "__main__":
    main()
