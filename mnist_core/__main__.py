"""Command line: `python -m mnist_core train|evaluate|predict|board ...`."""

# TensorFlow is imported only by the commands that need it, after their settings are checked:
# `--help`, `board` and impossible settings answer at once, not after its 2-4 s import.

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from mnist_core.classroom.board import Board, BoardError
from mnist_core.config import PRESETS, ConfigError, ModelFileError, validate
from mnist_core.data import DataFileError, load_mnist
from mnist_core.engine.preprocess import ImageError, image_to_mnist, read_image_file
from mnist_core.engine.progress import EpochProgress

# A C++ log record from TensorFlow's absl logging: "I0000 00:00:1796461086.684 7168 port.cc:153] ".
_NATIVE_RECORD = re.compile(rb"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\] ")
_ABSL_NOT_INITIALISED = b"WARNING: All log messages before absl::InitializeLog() is called"


def _wanted(lines: Iterable[bytes], min_level: int) -> Iterator[bytes]:
    """The lines TF_CPP_MIN_LOG_LEVEL asks for (0 all, 1 no INFO, 2 no WARNING, 3 no ERROR):
    every line that is not a native record below that level, nor absl's notice about them."""
    for line in lines:
        record = _NATIVE_RECORD.match(line)
        if line.startswith(_ABSL_NOT_INITIALISED) or (
            record and "IWEF".index(record[1].decode()) < min(min_level, 3)
        ):
            continue
        yield line


@contextlib.contextmanager
def _native_stderr_filtered() -> Iterator[None]:
    """Pass what is written to fd 2 meanwhile through `_wanted`.

    TensorFlow 2.21 writes oneDNN's start-up notice (on AVX-512 CPUs) and absl's notice straight
    to fd 2, whatever TF_CPP_MIN_LOG_LEVEL says. A forked child does the filtering, so that if
    the import kills the process (a fatal record, then abort), the child still passes the record
    on when the pipe closes.
    """
    if not hasattr(os, "fork"):
        yield
        return
    try:
        min_level = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        min_level = 0
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(write_end)
        try:
            with os.fdopen(read_end, "rb") as lines:
                for line in _wanted(lines, min_level):
                    os.write(2, line)
        finally:
            os._exit(0)
    os.close(read_end)
    saved = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe: the child passes on the rest, then ends
        os.close(saved)
        os.waitpid(child, 0)


def _import_keras() -> None:
    """Import Keras and TensorFlow, keeping their C++ start-up notices off the terminal."""
    if "mnist_core.engine.backend" not in sys.modules:
        with _native_stderr_filtered():
            importlib.import_module("mnist_core.engine.backend")


def _print_epoch(progress) -> None:
    if isinstance(progress, EpochProgress):
        val = (
            f" - val_loss {progress.val_loss:.4f} - val_accuracy {progress.val_accuracy:.4f}"
            if progress.val_loss is not None
            else ""
        )
        print(
            f"epoch {progress.epoch}/{progress.epochs} - {progress.seconds:.1f}s - "
            f"loss {progress.loss:.4f} - accuracy {progress.accuracy:.4f}{val}",
            flush=True,
        )


def cmd_train(args: argparse.Namespace) -> dict:
    """Train a preset and report final metrics and timings."""
    overrides = {
        name: value
        for name in ("epochs", "train_size", "val_size", "batch_size", "seed")
        if (value := getattr(args, name)) is not None
    }
    if args.dry_run:
        overrides = {"epochs": 1, "train_size": 512, "val_size": 128, **overrides}
    config = PRESETS[args.preset].replace(**overrides)
    validate(config)  # before loading anything, then the sizes against the data loaded
    data = load_mnist(args.data)
    validate(config, len(data.y_train))
    print(data.describe(), file=sys.stderr)
    _import_keras()
    from mnist_core.engine.model import build_model, evaluate, save_model
    from mnist_core.engine.training import train

    model = build_model(config)
    result = train(model, config, data, on_progress=_print_epoch)
    start = time.perf_counter()
    test = evaluate(model, data.x_test, data.y_test)
    last = result.history[-1]
    report = {
        "preset": args.preset,
        "data": data.source,
        "epochs": len(result.history),
        "loss": last.loss,
        "accuracy": last.accuracy,
        "val_loss": last.val_loss,
        "val_accuracy": last.val_accuracy,
        "test_accuracy": test.accuracy,
        "test_images": len(test.labels),
        "fit_seconds": round(result.fit_seconds, 3),
        "test_seconds": round(time.perf_counter() - start, 3),
        "images_per_s": round(result.images_per_s, 1),
        "params": model.count_params(),
    }
    if args.out:
        metadata = {"name": f"{args.preset} preset", "config": config.to_dict(), **report}
        metadata["trained_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        report["saved"] = str(save_model(model, args.out, metadata))
    return report


def cmd_evaluate(args: argparse.Namespace) -> dict:
    """Test a saved model on the test set."""
    _import_keras()
    from mnist_core.engine.model import evaluate, load_model

    model = load_model(args.model)
    data = load_mnist(args.data)
    result = evaluate(model, data.x_test, data.y_test)
    return {
        "data": data.source,
        "test_images": len(result.labels),
        "accuracy": result.accuracy,
        "per_class_accuracy": [row["accuracy"] for row in result.per_class()],
        "confusion_matrix": result.confusion.tolist(),
    }


def cmd_predict(args: argparse.Namespace) -> dict:
    """Predict the digit in an image file."""
    _import_keras()
    from mnist_core.engine.model import load_model, predict

    model = load_model(args.model)
    image = image_to_mnist(read_image_file(Path(args.image).read_bytes()))
    probabilities = predict(model, image)[0]
    return {
        "digit": int(probabilities.argmax()),
        "probabilities": [round(float(p), 6) for p in probabilities],
    }


def cmd_board_list(args: argparse.Namespace) -> dict:
    """The class leaderboard, best first."""
    board = Board.from_env(args.data_dir)
    entries = board.entries(args.max_parameters, args.limit)
    return {
        "board": board.location,
        "entries": [
            {
                "id": e.id,
                "name": e.name,
                "accuracy": e.accuracy,
                "parameters": e.parameters,
                "test_images": e.test_images,
                "seconds": e.seconds,
                "published_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(e.published_at)),
                "config": e.config.to_dict(),
            }
            for e in entries
        ],
    }


def cmd_board_clear(args: argparse.Namespace) -> dict:
    """Remove every entry from the class leaderboard."""
    board = Board.from_env(args.data_dir)
    removed = board.clear()
    print(f"Removed {removed} entries from {board.location}.", file=sys.stderr)
    return {"board": board.location, "removed": removed}


def _board_parser(sub) -> None:
    """`board list` and `board clear`."""
    b = sub.add_parser("board", help="list or clear the class leaderboard")
    actions = b.add_subparsers(dest="action", required=True)
    where = "the board's folder (default: $DIGIT_LAB_DATA_DIR, else ~/.cache/digit-lab)"
    show = actions.add_parser("list", help="print the leaderboard, best first, as JSON")
    show.add_argument("--data-dir", help=where)
    show.add_argument("--max-parameters", type=int, help="only runs this small")
    show.add_argument("--limit", type=int, default=100)
    show.set_defaults(run=cmd_board_list)
    clear = actions.add_parser("clear", help="remove every entry; print how many")
    clear.add_argument("--data-dir", help=where)
    clear.set_defaults(run=cmd_board_clear)


def parser() -> argparse.ArgumentParser:
    """The argument parser."""
    p = argparse.ArgumentParser(prog="python -m mnist_core", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a preset network and print per-epoch lines and JSON")
    t.add_argument("--preset", choices=sorted(PRESETS), default="codelab")
    t.add_argument("--data", help="MNIST .npz (default: $MNIST_NPZ, Keras cache, download)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--train-size", type=int)
    t.add_argument("--val-size", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--out", help="save the trained model to this .keras file")
    t.add_argument("--dry-run", action="store_true", help="1 epoch on 512 digits, for a smoke test")
    t.set_defaults(run=cmd_train)

    e = sub.add_parser("evaluate", help="test a saved model; print one JSON line")
    e.add_argument("model")
    e.add_argument("--data")
    e.set_defaults(run=cmd_evaluate)

    r = sub.add_parser("predict", help="predict the digit in an image file")
    r.add_argument("model")
    r.add_argument("image")
    r.set_defaults(run=cmd_predict)

    _board_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; errors a user can fix print one line and exit 2."""
    args = parser().parse_args(argv)
    try:
        report = args.run(args)
    except (BoardError, ConfigError, DataFileError, ModelFileError, ImageError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except FileNotFoundError as err:
        print(f"error: {err.strerror}: {err.filename}", file=sys.stderr)
        return 2
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
