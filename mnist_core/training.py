"""Training: Keras fit with throttled progress reports, stopping, and a worker-thread job."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from mnist_core import heap
from mnist_core.backend import keras
from mnist_core.config import PRESETS, TrainConfig, layer_shapes, network_layers, validate
from mnist_core.data import IMAGE_SIDE, NUM_CLASSES, MnistData, to_model_input, train_val_split
from mnist_core.evaluation import Evaluation, evaluate
from mnist_core.i18n import N_, _
from mnist_core.model import build_model, predict
from mnist_core.weight_watch import WeightEpoch, WeightWatch


@dataclass(frozen=True)
class BatchProgress:
    """Progress within an epoch; loss and accuracy cover the batches since the last report."""

    epoch: int  # 1-based
    epochs: int
    batch: int  # 1-based, within the epoch
    batches: int
    step: int  # batches done since training began
    loss: float
    accuracy: float
    images_per_s: float
    elapsed: float
    eta: float


@dataclass(frozen=True)
class EpochProgress:
    """Metrics at the end of an epoch (`partial` when it was stopped early)."""

    epoch: int
    epochs: int
    loss: float
    accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    seconds: float
    elapsed: float
    eta: float
    partial: bool
    # Validation counts, rows the true digit and columns the predicted one (None without one).
    val_confusion: np.ndarray | None = field(default=None, compare=False, repr=False)
    weights: WeightEpoch | None = field(default=None, compare=False, repr=False)

    @property
    def val_per_digit(self) -> np.ndarray | None:
        """Validation accuracy of each digit (NaN for a digit with no validation images)."""
        if self.val_confusion is None:
            return None
        counts = self.val_confusion.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.diag(self.val_confusion) / counts


Progress = BatchProgress | EpochProgress


@dataclass
class TrainResult:
    """A trained model with its per-epoch history and timings."""

    model: keras.Model
    history: list[EpochProgress]
    stopped: bool
    fit_seconds: float
    images_seen: int

    @property
    def images_per_s(self) -> float:
        """Training throughput over the whole fit, validation included."""
        return self.images_seen / self.fit_seconds if self.fit_seconds else 0.0


class _Reporter(keras.callbacks.Callback):
    """Turns Keras's running averages into throttled progress events and honours stop requests."""

    def __init__(self, config: TrainConfig, on_progress, stop, report_every, validation):
        super().__init__()
        self.validation = validation  # (x_val, y_val as digits) or None
        self.n_train, self.batch_size, self.epochs = (
            config.train_size,
            config.batch_size,
            config.epochs,
        )
        self.batches = config.batches_per_epoch
        self.on_progress, self.stop, self.report_every = on_progress, stop, report_every
        self.history: list[EpochProgress] = []
        self.images_seen = 0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.weights = WeightWatch(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()
        self.done = 0  # batches done in this epoch
        self.reported = (0, 0.0, 0.0)  # images, summed loss, summed correct at the last report
        self.last_report = self.epoch_start

    def on_train_batch_end(self, batch, logs=None):
        if self.stop is not None and self.stop.is_set():
            self.model.stop_training = True
        self.done = batch + 1
        images = min(self.done * self.batch_size, self.n_train)
        self.images_seen += images - min(batch * self.batch_size, self.n_train)
        now = time.perf_counter()
        due = now - self.last_report >= self.report_every
        if not (due or self.done == self.batches or self.model.stop_training):
            return
        if self.on_progress is None:
            return
        # Keras reports means over the epoch so far: recover the sums to get the window's mean.
        loss_sum, correct = logs["loss"] * images, logs["accuracy"] * images
        seen, loss_before, correct_before = self.reported
        window = max(images - seen, 1)
        self.reported, self.last_report = (images, loss_sum, correct), now
        elapsed = now - self.start
        step = len(self.history) * self.batches + self.done
        self.on_progress(
            BatchProgress(
                epoch=len(self.history) + 1,
                epochs=self.epochs,
                batch=self.done,
                batches=self.batches,
                step=step,
                loss=(loss_sum - loss_before) / window,
                accuracy=(correct - correct_before) / window,
                images_per_s=self.images_seen / elapsed,
                elapsed=elapsed,
                eta=elapsed / step * (self.epochs * self.batches - step),
            )
        )

    def on_epoch_end(self, epoch, logs=None):
        val_loss = val_accuracy = confusion = None
        if self.validation is not None:
            val_loss, val_accuracy, confusion = _validate(self.model, *self.validation)
        now = time.perf_counter()
        elapsed = now - self.start
        done_epochs = len(self.history) + 1
        progress = EpochProgress(
            epoch=done_epochs,
            epochs=self.epochs,
            loss=float(logs["loss"]),
            accuracy=float(logs["accuracy"]),
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            val_confusion=confusion,
            weights=self.weights.look(self.model, done_epochs),
            seconds=now - self.epoch_start,
            elapsed=elapsed,
            eta=0.0
            if self.model.stop_training
            else elapsed / done_epochs * (self.epochs - done_epochs),
            partial=self.done < self.batches,
        )
        self.history.append(progress)
        if self.on_progress is not None:
            self.on_progress(progress)


def _validate(model: keras.Model, x_val: np.ndarray, y_val: np.ndarray) -> tuple:
    """Validation loss, accuracy and confusion counts from one pass over the validation set.

    Done here rather than by Keras's own validation, which gives only the two means: the same
    single forward pass also shows which digits the network has learned so far.
    """
    ev = Evaluation(y_val, predict(model, x_val))
    # Keras's categorical cross-entropy, clipped the same way.
    picked = np.clip(ev.probabilities[np.arange(len(y_val)), y_val], 1e-7, 1 - 1e-7)
    return float(-np.log(picked).mean()), ev.accuracy, ev.confusion


def fit_arrays(config: TrainConfig, data: MnistData) -> tuple[tuple, tuple | None]:
    """The config's training and validation split as Keras fit inputs (one-hot labels)."""
    validate(config, available=len(data.y_train))
    (x_train, y_train), (x_val, y_val) = train_val_split(
        data, config.train_size, config.val_size, config.seed
    )
    training = (to_model_input(x_train), keras.utils.to_categorical(y_train, NUM_CLASSES))
    validation = (
        (to_model_input(x_val), keras.utils.to_categorical(y_val, NUM_CLASSES))
        if len(y_val)
        else None
    )
    return training, validation


def train(
    model: keras.Model,
    config: TrainConfig,
    data: MnistData,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    report_every: float = 0.25,
) -> TrainResult:
    """Fit `model` on the config's train/validation split; report at most every `report_every` s."""
    (x_train, y_train), validation = fit_arrays(config, data)
    if validation is not None:
        validation = (validation[0], validation[1].argmax(axis=1))  # digits, for the confusion
    reporter = _Reporter(config, on_progress, stop, report_every, validation)
    keras.utils.set_random_seed(config.seed)
    start = time.perf_counter()
    model.fit(
        x_train,
        y_train,
        batch_size=config.batch_size,
        epochs=config.epochs,
        callbacks=[reporter],
        verbose=0,
    )
    # The traced train and test steps only serve to train this model again (Keras retraces
    # then); kept, every finished run would hold its graphs.
    model.train_function = model.test_function = model.predict_function = None
    return TrainResult(
        model=model,
        history=reporter.history,
        stopped=bool(stop is not None and stop.is_set()),
        fit_seconds=time.perf_counter() - start,
        images_seen=reporter.images_seen,
    )


def _conv_macs(config: TrainConfig, lanes: int = 1) -> list[int]:
    """Multiply-accumulates of each conv layer for one image, its filters rounded up to a
    multiple of `lanes`."""
    shapes = dict(layer_shapes(config))
    inputs = (1, *config.filters[:-1])  # each layer's input channels
    return [
        shapes[f"conv{i}"] ** 2 * kernel * kernel * channels * -(-filters // lanes) * lanes
        for i, (filters, kernel, channels) in enumerate(
            zip(config.filters, config.kernel_sizes, inputs), 1
        )
    ]


def _dense_macs(config: TrainConfig) -> int:
    """Multiply-accumulates of the dense layers for one image."""
    shapes = layer_shapes(config)
    flat = shapes[-1][1] ** 2 * config.filters[-1] if shapes else IMAGE_SIDE * IMAGE_SIDE
    macs = 0
    if config.dense_units:
        macs += flat * config.dense_units
        flat = config.dense_units
    return macs + flat * NUM_CLASSES


def count_macs(config: TrainConfig) -> int:
    """Multiply-accumulates of one forward pass, for speed estimates."""
    return sum(_conv_macs(config)) + _dense_macs(config)


def _augmentation_layers(config: TrainConfig) -> int:
    return sum(bool(v) for v in (config.shift, config.rotation, config.zoom))


def cost_features(config: TrainConfig) -> dict[str, float]:
    """What one epoch of `config` does, in the units of EPOCH_COSTS."""
    shapes = dict(layer_shapes(config))
    maps = activations = 0  # values the activation and pooling touch; the activation's alone
    for i, filters in enumerate(config.filters, 1):
        out = shapes[f"conv{i}"]
        pooled = shapes.get(f"pool{i}", out)
        maps += (out * out + pooled * pooled) * filters
        activations += out * out * filters
    # The CPU's vector units work on 8 filters at once (AVX2): 2 filters cost as much as 8.
    convs, dense, macs = _conv_macs(config, lanes=8), _dense_macs(config), count_macs(config)
    images, steps = config.train_size, config.batches_per_epoch
    return {
        "epoch": 1,  # Keras's own work around an epoch: a new data iterator, callbacks
        "step": steps,
        "image": images,  # shuffling, copying each batch in, the loss and metrics per image
        # The first conv has one input channel: few MACs for the memory it reads.
        "first_conv_mac": images * convs[0] if convs else 0,
        "conv_mac": images * sum(convs[1:]),
        "dense_mac": images * dense,
        "map_value": images * maps,
        "batch_norm_value": images * maps * config.batch_norm,
        # Each activation's own cost beyond map_value's; measured, tanh and sigmoid cost no
        # more than ReLU's comparison, ELU's exponential a little and GELU's error function most.
        "elu_value": images * activations * (config.activation == "elu"),
        "gelu_value": images * activations * (config.activation == "gelu"),
        "val_image": config.val_size,  # converting, predicting in chunks, the confusion counts
        "val_mac": config.val_size * macs,
        "val_map_value": config.val_size * maps,
    }


def setup_features(config: TrainConfig) -> dict[str, float]:
    """What a run does once (build the network, trace its steps), in the units of SETUP_COSTS."""
    return {
        "run": 1,
        "layer": len(network_layers(config)) - 1,  # every layer but the input
        "augmentation": _augmentation_layers(config),  # large graphs to trace
        "validation": bool(config.val_size),  # tracing the network for prediction
    }


# The cost of one unit of each feature, in SPEED_PROBE epochs, so that they hold on a faster or
# slower machine once its probe epoch is timed. Fitted on this project's 2-core machine (busy:
# a robust fit, where a run slowed by other work counts less) by
# `python -m bench.bench_estimates --fit --n 14 --bound 20 --save fit.json` (it prints both
# tables; `--refit fit.json more.json` fits again from saved runs: these come from 85 runs of
# two fits and two bench runs on 2026-11-27). A 0 is a cost too small to tell from that
# machine's noise; features that fitted 0 (a cost per weight and batch, per augmented image,
# tanh's and sigmoid's own cost) were dropped.
EPOCH_COSTS = {
    "epoch": 0.0672,
    "step": 0.00588,
    "image": 6.95e-05,
    "first_conv_mac": 7.93e-10,
    "conv_mac": 7.28e-11,
    "dense_mac": 2.09e-10,
    "map_value": 1.2e-08,
    "batch_norm_value": 2.41e-09,
    "elu_value": 5.42e-09,
    "gelu_value": 2.27e-08,
    "val_image": 9.67e-06,
    "val_mac": 8.13e-11,
    "val_map_value": 7.17e-09,
}
SETUP_COSTS = {"run": 0.943, "layer": 0.143, "augmentation": 0.459, "validation": 0.34}
# A short run timed once per server: seconds of one of its epochs after the first.
SPEED_PROBE = PRESETS["codelab"].replace(train_size=2048, val_size=0, batch_size=128, epochs=5)


def _cost(features: dict[str, float], costs: dict[str, float]) -> float:
    return sum(costs[name] * value for name, value in features.items())


def estimate_epoch_seconds(config: TrainConfig, speed: float) -> float:
    """Seconds of one epoch after the first on a server whose SPEED_PROBE epoch takes `speed` s."""
    return speed * _cost(cost_features(config), EPOCH_COSTS)


def estimate_seconds(config: TrainConfig, speed: float) -> float:
    """Seconds of a whole run: building, the first epoch's tracing and every epoch."""
    setup = speed * _cost(setup_features(config), SETUP_COSTS)
    return setup + config.epochs * estimate_epoch_seconds(config, speed)


class ServerSpeed:
    """This server's speed for estimates: the speed probe's epoch, timed once, corrected after
    each run that trained all its epochs by how long it took against its estimate, so that the
    estimates follow the server's load (another user's run, other processes) as it changes."""

    WEIGHT = 0.5  # of the newest run in the correction; the rest is the runs before it
    MAX_CORRECTION = 4.0  # one run's ratio counts as at most 4× (or 1/4): a stall stays a blip

    def __init__(self, probe: float):
        self.probe = probe  # seconds of one SPEED_PROBE epoch, timed by the warm-up
        self.correction = 1.0  # smoothed measured / estimated of the finished runs
        self._lock = threading.Lock()

    @property
    def seconds(self) -> float:
        """Seconds of one SPEED_PROBE epoch at the server's recent pace."""
        with self._lock:
            return self.probe * self.correction

    def estimate(self, config: TrainConfig) -> float:
        """Seconds to build and train `config` now: estimate_seconds at the recent pace."""
        return estimate_seconds(config, self.seconds)

    def estimate_epoch(self, config: TrainConfig) -> float:
        """Seconds of one of `config`'s epochs after the first, at the recent pace."""
        return estimate_epoch_seconds(config, self.seconds)

    def record(self, config: TrainConfig, seconds: float) -> None:
        """Fold in a finished run of `config` that took `seconds` to build and train."""
        ratio = seconds / estimate_seconds(config, self.probe)
        ratio = min(max(ratio, 1 / self.MAX_CORRECTION), self.MAX_CORRECTION)
        with self._lock:  # geometric smoothing: 2× slower then 2× faster comes back to 1
            self.correction = self.correction ** (1 - self.WEIGHT) * ratio**self.WEIGHT


def measure_speed(data: MnistData) -> float:
    """This machine's speed: the seconds of one SPEED_PROBE epoch after the first (2-3 s in all)."""
    history = train(build_model(SPEED_PROBE), SPEED_PROBE, data).history
    # The median of the epochs after the first (which traces): a moment's load spike drops out.
    return float(np.median([epoch.seconds for epoch in history[1:]]))


class TrainingSlots:
    """A server-wide limit on trainings running at once, served first come, first served."""

    def __init__(self, limit: int = 1):
        self.limit = limit
        self._changed = threading.Condition()
        self._waiting: list[object] = []  # holders in arrival order
        self._running: list[object] = []

    @property
    def running(self) -> int:
        """How many slots are in use."""
        with self._changed:
            return len(self._running)

    def acquire(self, holder: object, cancelled: Callable[[], bool]) -> bool:
        """Queue `holder` and wait for its turn; False if `cancelled()` turned true meanwhile."""
        with self._changed:
            self._waiting.append(holder)
            try:
                while self._waiting[0] is not holder or len(self._running) >= self.limit:
                    if cancelled():
                        return False
                    self._changed.wait(timeout=0.1)
                self._running.append(holder)
                return True
            finally:
                self._waiting.remove(holder)
                self._changed.notify_all()

    def release(self, holder: object) -> None:
        """Give `holder`'s slot back."""
        with self._changed:
            self._running.remove(holder)
            self._changed.notify_all()

    def place(self, holder: object) -> int | None:
        """`holder`'s place in the queue (1 is next), or None when it is not waiting."""
        with self._changed:
            return self._waiting.index(holder) + 1 if holder in self._waiting else None

    def wait_seconds(
        self, holder: object, remaining: Callable[[object], float | None]
    ) -> float | None:
        """Rough seconds until waiting `holder` gets a slot (0 once it has one; None when a
        holder ahead's `remaining` seconds are unknown): the runs ahead of it take the slots in
        queue order as they free up."""
        with self._changed:
            if holder not in self._waiting:
                return 0.0
            running = list(self._running)
            waiting = self._waiting[: self._waiting.index(holder)]
        ahead = [remaining(other) for other in (*running, *waiting)]
        if None in ahead:
            return None
        free_at = sorted(ahead[: len(running)]) + [0.0] * (self.limit - len(running))
        for seconds in ahead[len(running) :]:
            free_at.sort()
            free_at[0] += seconds
        return min(free_at)

    def ahead_of(self, holder: object) -> list:
        """The holders running, and those waiting before `holder`."""
        with self._changed:
            waiting = (
                self._waiting[: self._waiting.index(holder)] if holder in self._waiting else []
            )
            return [*self._running, *waiting]


@dataclass(frozen=True)
class RunLimits:
    """When a run stops by itself: nobody watching it, or too long for a shared server."""

    abandon_after: float | None = 60.0  # seconds without job.seen(); None: never
    max_seconds: float | None = None  # of training; None: no limit


class StopReason(StrEnum):
    """Why a run stopped before its last epoch."""

    USER = "user"  # Stop or Cancel
    ABANDONED = "abandoned"  # no page showed it for `abandon_after` seconds
    TIME_LIMIT = "time limit"  # it trained for `max_seconds`


class JobState(StrEnum):
    """Where a training job is in its life."""

    WAITING = "waiting"  # for a free training slot
    TRAINING = "training"
    TESTING = "testing"
    DONE = "done"
    STOPPED = "stopped"  # by the user: the partly trained model is kept
    CANCELLED = "cancelled"  # stopped while waiting: nothing was trained
    FAILED = "failed"
    LEFT = "left"  # the user left a shared run that goes on for the others on it

    @property
    def finished(self) -> bool:
        """True for the states a job never leaves."""
        return self in (
            JobState.DONE,
            JobState.STOPPED,
            JobState.CANCELLED,
            JobState.FAILED,
            JobState.LEFT,
        )

    @property
    def label(self) -> str:
        """The state in the user's language, for display (the value stays English)."""
        return _(_STATE_LABELS[self])


_STATE_LABELS = {
    JobState.WAITING: N_("waiting"),
    JobState.TRAINING: N_("training"),
    JobState.TESTING: N_("testing"),
    JobState.DONE: N_("done"),
    JobState.STOPPED: N_("stopped"),
    JobState.CANCELLED: N_("cancelled"),
    JobState.FAILED: N_("failed"),
    JobState.LEFT: N_("left"),
}


@dataclass
class JobView:
    """A consistent copy of a job's state for display."""

    name: str
    config: TrainConfig
    state: JobState
    batches: list[BatchProgress]
    epochs: list[EpochProgress]
    error: str | None


@dataclass(eq=False)
class TrainingJob:
    """One run: build, train and test in a worker thread that never touches the UI."""

    name: str
    config: TrainConfig
    data: MnistData
    slots: TrainingSlots | None = None
    limits: RunLimits = RunLimits(abandon_after=None)
    estimated_seconds: float | None = None  # of training, for the wait of those queued after it
    speed: ServerSpeed | None = None  # corrected by this run's time if it trains every epoch
    state: JobState = field(default=JobState.WAITING, init=False)
    stop_reason: StopReason | None = field(default=None, init=False)
    result: TrainResult | None = field(default=None, init=False)
    evaluation: Evaluation | None = field(default=None, init=False)
    error: str | None = field(default=None, init=False)
    started: float = field(default_factory=time.time, init=False)
    _batches: list[BatchProgress] = field(default_factory=list, init=False, repr=False)
    _epochs: list[EpochProgress] = field(default_factory=list, init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _last_seen: float = field(default_factory=time.monotonic, init=False, repr=False)
    _training_since: float | None = field(default=None, init=False, repr=False)

    @property
    def training(self) -> TrainingJob:
        """The job that trains and holds the training slot: this one (a shared run's seat
        gives the job it shares)."""
        return self

    def start(self) -> TrainingJob:
        """Start the worker thread."""
        self._thread = threading.Thread(target=self._run, name=f"train-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, reason: StopReason = StopReason.USER) -> None:
        """Ask training to stop after the current batch (or not to start, if waiting)."""
        with self._lock:
            if self.stop_reason is None and not self.state.finished:
                self.stop_reason = reason
        self._stop.set()

    def seen(self) -> None:
        """A page is showing this run: it is not abandoned."""
        self._last_seen = time.monotonic()

    def remaining_seconds(self) -> float | None:
        """Rough seconds until this run frees its slot (None when unknown)."""
        if self.finished:
            return 0.0
        with self._lock:
            last = self._batches[-1] if self._batches else None
        return last.eta if last is not None else self.estimated_seconds

    def _should_stop(self) -> bool:
        """True once stopped; stops the run itself when abandoned or over its time limit."""
        now = time.monotonic()
        limits = self.limits
        if limits.abandon_after is not None and now - self._last_seen > limits.abandon_after:
            self.stop(StopReason.ABANDONED)
        since = self._training_since
        if (
            limits.max_seconds is not None
            and since is not None
            and now - since > limits.max_seconds
        ):
            self.stop(StopReason.TIME_LIMIT)
        return self._stop.is_set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the worker thread."""
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def finished(self) -> bool:
        """True once the job will change no more."""
        return self.state.finished

    @property
    def stopping(self) -> bool:
        """True when a stop was asked for and the job is still running."""
        return self._stop.is_set() and not self.finished

    def view(self) -> JobView:
        """A copy of the progress so far, safe to read while training goes on."""
        with self._lock:
            return JobView(
                self.name,
                self.config,
                self.state,
                list(self._batches),
                list(self._epochs),
                self.error,
            )

    def _set_state(self, state: JobState) -> None:
        with self._lock:
            self.state = state

    def _record(self, progress: Progress) -> None:
        with self._lock:
            (self._epochs if isinstance(progress, EpochProgress) else self._batches).append(
                progress
            )
        self._should_stop()  # sets the event that training checks after every batch

    def describe(self) -> str:
        """What this run trains, in plain words."""
        return self.config.summary()

    @property
    def publishable(self) -> bool:
        """True when it trained all its epochs: its config alone then says how to redo it."""
        return self.state is JobState.DONE

    def _train(self) -> TrainResult:
        """Build the config's network and train it (in the worker thread)."""
        return train(build_model(self.config), self.config, self.data, self._record, self._stop)

    def _test(self, model: keras.Model) -> None:
        """Test the trained model on the test digits (in the worker thread)."""
        self.evaluation = evaluate(model, self.data.x_test, self.data.y_test)

    def _run(self) -> None:
        if self.slots is not None and not self.slots.acquire(self, self._should_stop):
            self._set_state(JobState.CANCELLED)
            return
        try:
            self._training_since = time.monotonic()
            self._set_state(JobState.TRAINING)
            self.result = self._train()
            trained = time.monotonic() - self._training_since
            if self.speed is not None and not self.result.stopped:
                self.speed.record(self.config, trained)
            self._set_state(JobState.TESTING)
            self._test(self.result.model)
            self._set_state(JobState.STOPPED if self.result.stopped else JobState.DONE)
        except Exception as err:  # shown to the user; the thread must not die silently
            with self._lock:
                self.error = f"{type(err).__name__}: {err}"
                self.state = JobState.FAILED
        finally:
            if self.slots is not None:
                self.slots.release(self)
            heap.release_freed()
