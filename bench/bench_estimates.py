"""The Train page's time estimate against the measured time of the same runs.

    python -m bench.bench_estimates --data ../shared/data/mnist.npz [--n 8] [--bound 40]
    python -m bench.bench_estimates --data ... --fit --n 14 --bound 20 --save fit.json
    python -m bench.bench_estimates --refit fit.json [more.json ...]   # the cost constants

Like the app, it first times the speed probe (`measure_speed`) and estimates every run from that
one figure, corrected after each run as the app's ServerSpeed is (the runs being one server's
runs in a row; the "as the app" column); beside it, the probe's figure alone, and, to tell
the cost model's error from the machine's drifting load, a probe timed just before each run
(the "own probe" column). A run's measured time is what the Train
page's job spends before testing: building the network and training it, validation included.
Measured: the presets (`best` on 2 of its epochs, compared with the estimate for 2 epochs, to
keep the bench short) and two samples of random valid settings over every Train-page setting
whose estimate is at most `--bound` s (at a fixed probe time, SAMPLE_SPEED, so that the samples
do not depend on the machine's load): seed 0, drawn as `--fit` draws its sample (the same runs
with the fit's `--n` and `--bound`), and a validation sample no fit has seen, seed 1 (or
`--validation-seed`).
Last, the baseline ("run again"): every run again, in the same order, against its first time:
how far the same run's time moves on this machine in those minutes (another tenant's load), a
noise that no estimate made before a run can take out. The JSON line it ends with gives every
column's ratios for each group.
With `--lock FILE`, each run (and each probe) holds FILE (as `flock` does) while it runs, so that
other benchmarks sharing the machine and the same file do not overlap it.

`--fit` measures the seed-0 sample (`--seed` draws another) with 2 epochs each (with the
presets, `fast` on 22,000 and `best` on 11,000 digits, two networks with wide later conv layers,
two networks (one of wide 1×1 maps) with each activation and with batch norm, one augmented,
and two networks with small and large validation splits), each run right after its own probe
so that load changes cancel out, fits EPOCH_COSTS (second epochs) and SETUP_COSTS (the rest of
each run), non-negative, by least squares on the logarithms of the ratios estimate / measured,
and prints both tables for mnist_core/classroom/estimates.py. `--save` writes the measured runs (of
`--fit`, or of the bench itself), `--refit` fits again from such files (several: their runs
together).
"""

import contextlib
import fcntl
import json
import math
import time

import numpy as np
from scipy.optimize import least_squares, nnls

from bench.cli import bench_parser
from mnist_core import config as cfg
from mnist_core.classroom.estimates import (
    EPOCH_COSTS,
    SETUP_COSTS,
    SPEED_PROBE,
    ServerSpeed,
    cost_features,
    estimate_seconds,
    measure_speed,
    setup_features,
)
from mnist_core.config import PRESETS, ConfigError, TrainConfig, validate
from mnist_core.data import MnistData, load_mnist
from mnist_core.engine.model import build_model
from mnist_core.engine.training import train

GOAL = 0.25  # within ±25 % of the measured time
# `--bound` is in seconds at a probe epoch of this many seconds (this machine, quiet), not at
# the first probe's: a sample is then the same runs whatever the machine's load at the start.
SAMPLE_SPEED = 0.6
PRESET_WEIGHT = 3  # in the fit, a preset counts as 3 random runs: most visitors train one


def random_config(rng: np.random.Generator, available: int, epochs: int | None) -> TrainConfig:
    """Any settings the Train page offers (valid or not), with few epochs."""
    blocks = int(rng.integers(1, cfg.MAX_BLOCKS + 1))

    def pick(options):
        return options[int(rng.integers(len(options)))]

    def span(name):
        s = cfg.SPANS[name]
        return round(float(rng.choice(np.arange(s.low, s.high + s.step / 2, s.step))), 2)

    train_size = int(round(math.exp(rng.uniform(math.log(100), math.log(available))), -2))
    return TrainConfig(
        filters=tuple(pick(cfg.FILTERS) for _ in range(blocks)),
        kernel_sizes=tuple(pick(cfg.KERNELS) for _ in range(blocks)),
        strides=pick(cfg.STRIDES),
        padding=pick(cfg.PADDINGS),
        pooling=pick(cfg.POOLINGS),
        activation=pick(cfg.ACTIVATIONS),
        batch_norm=bool(rng.integers(2)),
        dropout=span("dropout") * int(rng.integers(2)),
        dense_units=pick(cfg.DENSE),
        optimizer=pick(cfg.OPTIMIZERS),
        learning_rate=pick(cfg.RATES),
        lr_schedule=pick(cfg.LR_SCHEDULES),
        batch_size=pick(cfg.BATCHES),
        epochs=epochs or int(rng.integers(1, 4)),
        train_size=max(train_size, 100),
        val_size=int(round(rng.uniform(0, available // 5), -2)) * int(rng.integers(2)),
        shift=span("shift") * int(rng.integers(2)),
        rotation=span("rotation") * int(rng.integers(2)),
        zoom=span("zoom") * int(rng.integers(2)),
        label_smoothing=span("label_smoothing") * int(rng.integers(2)),
    )


def sample(seed: int, n: int, bound: float, available: int, epochs=None) -> list:
    """`n` valid random configs whose estimate at SAMPLE_SPEED is at most `bound` seconds."""
    rng, picked = np.random.default_rng(seed), []
    while len(picked) < n:
        config = random_config(rng, available, epochs)
        try:
            validate(config, available)
        except ConfigError:
            continue
        if estimate_seconds(config, SAMPLE_SPEED) <= bound:
            picked.append(config)
    return picked


@contextlib.contextmanager
def cpu_lock(path: str | None):
    """Hold `path` exclusively (as `flock` does) while timing."""
    if not path:
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def timed_run(config: TrainConfig, data: MnistData) -> tuple[float, list[float]]:
    """Seconds to build and train `config`, and the seconds of each of its epochs."""
    start = time.perf_counter()
    result = train(build_model(config), config, data)
    return time.perf_counter() - start, [e.seconds for e in result.history]


def describe(config: TrainConfig) -> str:
    """The settings that matter for time, in one short line."""
    c = config
    aug = "".join(k for k, v in (("s", c.shift), ("r", c.rotation), ("z", c.zoom)) if v) or "-"
    return (
        f"{'/'.join(map(str, c.filters))} k{''.join(map(str, c.kernel_sizes))} s{c.strides} "
        f"{c.padding[0]} {c.pooling[:3]} {c.activation[:4]} bn{int(c.batch_norm)} "
        f"d{c.dense_units} {c.optimizer[:4]} b{c.batch_size} e{c.epochs} "
        f"n{c.train_size}+{c.val_size} aug:{aug}"
    )


COLUMNS = (
    ("one probe", "the probe alone"),
    ("as the app", "as the app: the probe corrected by the runs before"),
    ("own probe", "a probe right before each run"),
    ("run again", "baseline: the same run again after all the others, against its first time"),
)


def report(title: str, rows: list[tuple[str, float, dict[str, float]]]) -> dict[str, list]:
    """Each run's measured time and its estimates' ratios, then the share within the goal for
    each kind of estimate; returns the ratios of each kind."""
    columns = [(c, label) for c, label in COLUMNS if c in rows[0][2]]
    print(f"\n{title}")
    print(f"{'run':<72} {'measured':>9} " + " ".join(f"{c:>10}" for c, _label in columns))
    for name, measured, estimates in rows:
        ratios = " ".join(f"{estimates[c] / measured:10.2f}" for c, _label in columns)
        print(f"{name:<72} {measured:8.1f}s {ratios}")
    for column, label in columns:
        ratios = [estimates[column] / measured for _name, measured, estimates in rows]
        within = sum(abs(r - 1) <= GOAL for r in ratios)
        worst = max(ratios, key=lambda r: abs(math.log(r)))
        print(
            f"{label}: within ±{GOAL:.0%}: {within}/{len(rows)} ({within / len(rows):.0%}), "
            f"worst ratio {worst:.2f}  (goal: all within ±{GOAL:.0%}, ratios 0.75-1.25)"
        )
    return {c: [e[c] / measured for _name, measured, e in rows] for c, _label in columns}


def measure(args, data, speed) -> dict[str, dict[str, list[float]]]:
    """The presets and both samples against their estimates: from the first speed probe alone;
    as the app makes them, from that probe corrected by each finished run (ServerSpeed), the
    runs being one server's runs in a row; and from a probe right before each run (which tells
    the cost model's error from load drift). Then every run again, in the same order: how far
    the same run's time moves on this machine in the minutes between (the baseline)."""
    available = len(data.y_train)
    runs = [
        ("best (2 epochs)", c.replace(epochs=2)) if name == "best" else (name, c)
        for name, c in ((name, c.fit_to(available)) for name, c in PRESETS.items())
    ]
    groups = {"presets": runs}
    for seed, label, epochs in (
        (0, "seed 0, drawn as --fit draws", 2),
        (args.validation_seed, f"validation, seed {args.validation_seed}", None),
    ):
        configs = sample(seed, args.n, args.bound, available, epochs)
        groups[label] = [(describe(c), c) for c in configs]
    app, tables, records = ServerSpeed(speed), {}, []
    for title, group in groups.items():
        rows = tables[title] = []
        for name, config in group:
            estimates = {
                "one probe": estimate_seconds(config, speed),
                "as the app": app.estimate(config),
            }
            with cpu_lock(args.lock):
                probe = measure_speed(data)
                measured, run_epochs = timed_run(config, data)
            app.record(config, measured)
            estimates["own probe"] = estimate_seconds(config, probe)
            records.append(_record(config, probe, measured, run_epochs, 1))
            _save(args.save, records)
            rows.append((name, measured, estimates))
            print(
                f"  {name}: {estimates['as the app']:.1f} s estimated by the app "
                f"({estimates['one probe']:.1f} s by the probe alone), {measured:.1f} s measured",
                flush=True,
            )
        report(title, rows)
    print("\nThe same runs again, the baseline:", flush=True)
    for title, group in groups.items():
        for (name, config), (_name, measured, estimates) in zip(group, tables[title]):
            with cpu_lock(args.lock):
                estimates["run again"], _epochs = timed_run(config, data)
            print(f"  {name}: {estimates['run again']:.1f} s (first {measured:.1f} s)", flush=True)
    return {title: report(f"{title}, with the baseline", rows) for title, rows in tables.items()}


def fit(args, data) -> None:
    """Measure the seed-0 sample and fit both cost tables to it."""
    available = len(data.y_train)
    configs = [
        PRESETS["codelab"],
        PRESETS["fast"].replace(train_size=22000, val_size=2000),
        PRESETS["best"].replace(train_size=11000, val_size=2000),
    ]
    configs = [c.fit_to(available).replace(epochs=2) for c in configs]
    # Wide layers after the first: the sample's bound leaves out the runs where their MACs
    # dominate, and without them the fit cannot tell what those MACs cost.
    wide = TrainConfig(padding="same", pooling="none", batch_size=128, val_size=0, epochs=2)
    configs += [
        wide.replace(filters=(64, 64), kernel_sizes=(5, 5), train_size=1000),
        wide.replace(filters=(32, 128, 128), kernel_sizes=(3, 3, 3), train_size=500),
    ]
    # Networks with each activation, with batch norm, augmented: the sample mixes these with
    # everything else, and alone it cannot tell what each of them costs.
    maps = TrainConfig(
        filters=(32,),
        kernel_sizes=(3,),
        padding="same",
        batch_size=128,
        train_size=3000,
        val_size=0,
        epochs=2,
    )
    configs += [maps.replace(activation=a) for a in cfg.ACTIVATIONS]
    configs += [maps.replace(batch_norm=True), maps.replace(shift=0.1, rotation=10, zoom=0.1)]
    wide_maps = maps.replace(filters=(128,), kernel_sizes=(1,), pooling="none")
    configs += [wide_maps.replace(activation=a) for a in cfg.ACTIVATIONS]
    configs += [wide_maps.replace(batch_norm=True)]
    # The same networks validated on few and on many digits: what validation costs per image,
    # per value and once (the sample's validation sizes vary with everything else).
    tiny = TrainConfig(
        filters=(8,),
        kernel_sizes=(1,),
        strides=3,
        pooling="none",
        batch_size=128,
        train_size=500,
        epochs=2,
    )
    top = available // 5
    configs += [tiny.replace(val_size=v) for v in (0, 1000, top)] + [maps.replace(val_size=top)]
    configs += sample(args.seed, args.n, args.bound, available, epochs=2)
    records = []
    for i, config in enumerate(configs):
        with cpu_lock(args.lock):
            probe = measure_speed(data)
            total, epochs = timed_run(config, data)
        records.append(_record(config, probe, total, epochs, PRESET_WEIGHT if i < 3 else 1))
        print(f"  {describe(config)}: probe {probe:.2f} s, run {total:.1f} s {epochs}", flush=True)
        _save(args.save, records)
    print_fit(records)


def _record(config, probe: float, total: float, epochs: list[float], weight: int) -> dict:
    """One measured run, as `--save` writes it and `--refit` reads it."""
    return {
        "config": config.to_dict(),
        "probe": probe,
        "total": total,
        "epochs": epochs,
        "weight": weight,
    }


def _save(path: str | None, records: list[dict]) -> None:
    """Write the runs so far to `path`, if given: a bench stopped halfway still leaves its data."""
    if path:
        with open(path, "w") as f:
            json.dump(records, f)


def _fit_table(rows: list[dict], targets: list[float], weights: list[float]) -> dict[str, float]:
    """Non-negative costs per feature minimising the weighted squared log ratios estimate /
    measured."""
    names = list(rows[0])
    x = np.array([[row[n] for n in names] for row in rows], float)
    y = np.array(targets)
    w = np.sqrt(np.array(weights, float))
    scale = x.max(axis=0)
    scale[scale == 0] = 1
    x = x / scale
    # Ratios, not differences: a 2 s run counts as much as a 60 s one. Started from the
    # least-squares fit of the relative errors, which is biased low when the ratios spread.
    start, _residual = nnls(x / y[:, None] * w[:, None], w)
    fit = least_squares(
        lambda c: w * np.log(np.maximum(x @ c, 1e-9) / y),
        start + 1e-6,
        bounds=(0, np.inf),
        loss="soft_l1",  # a run the machine's other work slowed down counts less
        f_scale=GOAL,
    )
    # A feature worth under a thousandth of a probe epoch at its largest here costs nothing.
    return {n: float(f"{c / s:.3g}") if c >= 1e-3 else 0.0 for n, c, s in zip(names, fit.x, scale)}


def print_fit(records: list[dict]) -> None:
    """Fit and print EPOCH_COSTS and SETUP_COSTS from measured records."""
    configs = [TrainConfig.from_dict(r["config"]) for r in records]
    weights = [r.get("weight", 1) for r in records]

    # One fit of both tables to each run's whole time and to its epochs after the first (the
    # split between start-up and epochs, which runs of many epochs need); a run or an epoch
    # slowed by the machine's other work counts less. The probe's epoch is 1 by definition.
    def row(setup: dict, epoch: dict, epochs: float) -> dict:
        return {**setup, **{f"epoch {k}": epochs * v for k, v in epoch.items()}}

    zero = dict.fromkeys(setup_features(SPEED_PROBE), 0.0)
    rows, targets, row_weights = [row(zero, cost_features(SPEED_PROBE), 1)], [1.0], [PRESET_WEIGHT]
    for config, record, weight in zip(configs, records, weights):
        rows.append(row(setup_features(config), cost_features(config), config.epochs))
        targets.append(record["total"] / record["probe"])
        row_weights.append(weight)
        if len(record["epochs"]) > 1:
            rows.append(row(zero, cost_features(config), 1))
            targets.append(float(np.mean(record["epochs"][1:])) / record["probe"])
            row_weights.append(weight)
    costs = _fit_table(rows, targets, row_weights)
    epoch_costs = {k.removeprefix("epoch "): v for k, v in costs.items() if k.startswith("epoch ")}
    setup_costs = {k: v for k, v in costs.items() if not k.startswith("epoch ")}
    print("\nEPOCH_COSTS = {")
    for name, value in epoch_costs.items():
        print(f'    "{name}": {value:.3g},')
    print("}")
    print("SETUP_COSTS = " + json.dumps(setup_costs))

    def seconds(config, probe):
        epoch = sum(epoch_costs[k] * v for k, v in cost_features(config).items())
        start = sum(setup_costs[k] * v for k, v in setup_features(config).items())
        return probe * (start + config.epochs * epoch)

    rows = []
    for config, record in zip(configs, records):
        estimate = seconds(config, record["probe"])
        rows.append((describe(config), record["total"], {"own probe": estimate}))
    report("the fitted runs, each against its own probe", rows)


def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--n", type=int, default=8, help="random configs per sample")
    p.add_argument("--bound", type=float, default=40.0, help="largest estimate sampled, seconds")
    p.add_argument("--seed", type=int, default=0, help="--fit: the random sample's seed")
    p.add_argument(
        "--validation-seed", type=int, default=1, help="the validation sample's seed (no --fit)"
    )
    p.add_argument("--lock", default="", help="a file to hold (flock) while timing")
    p.add_argument("--fit", action="store_true", help="re-derive EPOCH_COSTS and SETUP_COSTS")
    p.add_argument("--save", help="also write the measured runs to this JSON file (for --refit)")
    p.add_argument("--refit", nargs="+", help="fit again from JSON files written by --save")
    args = p.parse_args()
    if args.refit:
        records = []
        for path in args.refit:
            with open(path) as f:
                records += json.load(f)
        print_fit(records)
        return
    data = load_mnist(args.data)
    with cpu_lock(args.lock):
        speed = measure_speed(data)
    print(
        f"speed probe: {speed:.2f} s per reference epoch  (costs now: {EPOCH_COSTS}, {SETUP_COSTS})"
    )
    if args.fit:
        fit(args, data)
    else:  # last, for bench.speed_table: the ratios of each group, as one JSON line
        print(json.dumps(measure(args, data, speed)))


if __name__ == "__main__":
    main()
