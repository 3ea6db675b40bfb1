"""Training learns, reports throttled progress, stops on request, repeats itself, runs as a job."""

import itertools
import math
import threading
import time

import numpy as np
import pytest

from mnist_core.classroom.estimates import (
    ServerSpeed,
    estimate_epoch_seconds,
    estimate_seconds,
    measure_speed,
)
from mnist_core.classroom.jobs import JobState, TrainingJob
from mnist_core.classroom.queue import TrainingSlots
from mnist_core.config import (
    ACTIVATIONS,
    PADDINGS,
    POOLINGS,
    PRESETS,
    ConfigError,
    TrainConfig,
    steps_per_execution,
    validate,
)
from mnist_core.engine.model import (
    build_model,
    compile_model,
    evaluate,
    load_model,
    predict,
    save_model,
)
from mnist_core.engine.progress import BatchProgress, EpochProgress
from mnist_core.engine.training import fit_arrays, train


def _run(config, data, **kwargs):
    events = []
    result = train(build_model(config), config, data, on_progress=events.append, **kwargs)
    return result, events


def test_a_tiny_run_learns_far_above_chance(mnist, tiny_config):
    result, events = _run(tiny_config, mnist)
    accuracy = evaluate(result.model, mnist.x_test[:1000], mnist.y_test[:1000]).accuracy
    assert accuracy > 0.75, accuracy  # chance is 0.10
    epochs = [e for e in events if isinstance(e, EpochProgress)]
    assert [e.epoch for e in epochs] == [1, 2] and epochs[-1].eta == 0
    assert epochs[-1].val_accuracy > 0.7 and epochs[-1].loss < epochs[0].loss
    assert not result.stopped and result.images_seen == 2 * tiny_config.train_size
    assert result.history == epochs


def test_progress_is_throttled_but_always_closes_each_epoch(mnist, tiny_config):
    calls = steps_per_execution(tiny_config)  # steps per call into TensorFlow
    per_epoch = -(-tiny_config.train_size // tiny_config.batch_size)
    assert 1 < calls < per_epoch  # a report can come within an epoch, and after several steps
    result, every = _run(tiny_config, mnist, report_every=0.0)
    batches = [e for e in every if isinstance(e, BatchProgress)]
    # After every call, and at each epoch's end though its last call runs fewer steps.
    ends = [*range(calls, per_epoch, calls), per_epoch]
    assert [b.batch for b in batches] == ends * 2
    assert [b.step for b in batches] == ends + [per_epoch + end for end in ends]
    first = batches[0]
    assert (first.epoch, first.batches) == (1, per_epoch)
    assert first.images_per_s > 0 and first.eta > 0 and batches[-1].eta == 0
    assert result.images_seen == 2 * tiny_config.train_size
    # Window means over a whole epoch add back up to Keras's epoch mean.
    images = np.minimum(np.array(ends) * tiny_config.batch_size, tiny_config.train_size)
    epoch1 = next(e for e in every if isinstance(e, EpochProgress))
    mean = np.average([b.loss for b in batches[: len(ends)]], weights=np.diff(images, prepend=0))
    assert mean == pytest.approx(epoch1.loss, rel=1e-3)

    _, throttled = _run(tiny_config, mnist, report_every=3600)
    ends = [(e.epoch, e.batch) for e in throttled if isinstance(e, BatchProgress)]
    assert ends == [(1, per_epoch), (2, per_epoch)]


def test_stopping_mid_epoch_keeps_a_usable_model_and_the_partial_history(
    mnist, tiny_config, tmp_path
):
    stop = threading.Event()
    config = tiny_config.replace(epochs=5)

    def on_progress(event):
        if isinstance(event, BatchProgress) and event.epoch == 2 and event.batch >= 5:
            stop.set()

    result = train(build_model(config), config, mnist, on_progress, stop, report_every=0.0)
    assert result.stopped
    assert [h.epoch for h in result.history] == [1, 2]
    assert not result.history[0].partial and result.history[1].partial
    assert result.history[1].val_accuracy is not None
    # The model trained for 1.2 epochs is kept, and it works: it predicts, saves and loads.
    test = evaluate(result.model, mnist.x_test[:500], mnist.y_test[:500])
    assert test.accuracy > 0.5
    path = save_model(result.model, tmp_path / "stopped.keras")
    x = mnist.x_test[:5].astype(np.float32) / 255
    assert np.allclose(predict(load_model(path), x), predict(result.model, x), atol=1e-6)


def test_steps_run_several_per_call_alone_only_when_a_step_is_costly(mnist, tiny_config):
    # Several steps per call save the codelab's fit a sixth of its time; a costly step runs
    # alone, so that Stop and the live progress still answer within a step, and so does a
    # network with random layers, whose training would change.
    assert steps_per_execution(PRESETS["codelab"]) > 1
    assert steps_per_execution(PRESETS["best"]) == steps_per_execution(PRESETS["fast"]) == 1
    costly = TrainConfig(filters=(64, 128), kernel_sizes=(7, 7), padding="same", batch_size=1024)
    assert steps_per_execution(costly) == 1
    config = tiny_config.replace(epochs=1)
    assert build_model(config).steps_per_execution == steps_per_execution(config)
    # The same run, one step per call or several: the same training, step for step.
    alone = build_model(config)
    compile_model(alone, alone.optimizer, alone.loss)  # Keras's default: one step per call
    one = train(alone, config, mnist).history[0]
    several = _run(config, mnist)[0].history[0]
    assert several.loss == pytest.approx(one.loss, rel=1e-4)
    assert several.val_accuracy == pytest.approx(one.val_accuracy, abs=1e-6)


def test_two_runs_at_once_train_as_each_would_alone(mnist, tiny_config):
    config = tiny_config.replace(epochs=1)
    alone = [_run(config.replace(seed=seed), mnist)[0].history[0] for seed in (1, 2)]
    slots = TrainingSlots(2)
    jobs = [
        TrainingJob(f"seed {seed}", config.replace(seed=seed), mnist, slots).start()
        for seed in (1, 2)
    ]
    for job, solo in zip(jobs, alone):
        job.join(120)
        assert job.state == "done", job.error
        beside = job.view().epochs[0]
        assert beside.loss == pytest.approx(solo.loss, rel=1e-4)
        assert beside.val_accuracy == pytest.approx(solo.val_accuracy, abs=1e-6)


def test_same_seed_same_metrics_other_seed_other_metrics(mnist, tiny_config):
    config = tiny_config.replace(epochs=1)
    first = _run(config, mnist)[0].history[0]
    again = _run(config, mnist)[0].history[0]
    other = _run(config.replace(seed=1), mnist)[0].history[0]
    assert again.loss == pytest.approx(first.loss, rel=1e-4)
    assert again.val_accuracy == pytest.approx(first.val_accuracy, abs=1e-6)
    assert other.loss != pytest.approx(first.loss, rel=1e-4)


def test_sizes_beyond_the_data_are_refused_before_training(mnist, tiny_config):
    config = tiny_config.replace(train_size=len(mnist.y_train))
    with pytest.raises(ConfigError, match="exceed"):
        train(build_model(tiny_config), config, mnist)


def test_a_job_trains_in_a_thread_and_tests_the_model(mnist, tiny_config):
    job = TrainingJob("run 1", tiny_config.replace(epochs=1), mnist).start()
    job.join(120)
    assert job.state == "done", job.error
    view = job.view()
    assert len(view.epochs) == 1 and view.batches[-1].batch == view.batches[-1].batches
    assert job.evaluation.labels.shape == (len(mnist.y_test),)
    assert job.evaluation.accuracy > 0.5


def test_slots_make_a_second_job_wait_and_a_waiting_job_can_be_cancelled(mnist, tiny_config):
    slots = TrainingSlots(1)
    first = TrainingJob("first", tiny_config.replace(epochs=20), mnist, slots).start()
    while first.state == "waiting":
        time.sleep(0.01)
    second = TrainingJob("second", tiny_config.replace(epochs=1), mnist, slots).start()
    third = TrainingJob("third", tiny_config.replace(epochs=1), mnist, slots).start()
    time.sleep(0.5)
    assert (second.state, third.state, slots.running) == ("waiting", "waiting", 1)
    third.stop()
    third.join(5)
    assert third.state == "cancelled"
    first.stop()
    first.join(60)
    second.join(120)
    assert first.state == "stopped" and second.state == "done"
    assert slots.running == 0


def test_a_failing_job_reports_its_error(mnist, tiny_config):
    job = TrainingJob("bad", tiny_config.replace(train_size=10**7), mnist).start()
    job.join(60)
    assert job.state == "failed" and "exceed" in job.error


@pytest.mark.parametrize(
    "base",
    [PRESETS["codelab"], PRESETS["best"], TrainConfig(filters=(4,), kernel_sizes=(3,))],
    ids=["codelab", "best", "one-block"],
)
def test_the_estimate_grows_with_what_costs(base):
    cheaper_dearer = [
        (base, base.replace(epochs=base.epochs + 1)),
        (base, base.replace(train_size=base.train_size + 1000)),
        (base, base.replace(val_size=base.val_size + 1000)),
        (base, base.replace(filters=tuple(2 * f for f in base.filters))),
        (base.replace(batch_size=512), base.replace(batch_size=32)),  # more, smaller batches
        (base.replace(shift=0, rotation=0, zoom=0), base.replace(shift=0.1)),
        (base.replace(shift=0.1, rotation=0, zoom=0), base.replace(shift=0.1, rotation=10)),
        (base.replace(batch_norm=False), base.replace(batch_norm=True)),
        (base.replace(dense_units=0), base.replace(dense_units=256)),
    ]
    for cheaper, dearer in cheaper_dearer:
        assert estimate_seconds(cheaper, 1.0) < estimate_seconds(dearer, 1.0), (cheaper, dearer)
    # Per epoch, what a run does once is left out: twice the epochs, exactly twice the time.
    doubled = base.replace(epochs=2 * base.epochs)
    one, two = estimate_seconds(base, 1.0), estimate_seconds(doubled, 1.0)
    start = one - base.epochs * estimate_epoch_seconds(base, 1.0)
    assert start > 0 and two - one == pytest.approx(base.epochs * estimate_epoch_seconds(base, 1.0))
    # A slower server (a longer probe epoch) takes proportionally longer.
    assert estimate_seconds(base, 3.0) == pytest.approx(3 * one)


def test_a_network_with_a_random_layer_is_estimated_at_one_call_per_step():
    # Dropout keeps one training step per call into TensorFlow, and each call costs its own
    # Python and dispatch: the same network takes longer per epoch with it.
    codelab = PRESETS["codelab"]
    dropout = codelab.replace(dropout=0.05)
    assert steps_per_execution(codelab) > 1 and steps_per_execution(dropout) == 1
    assert estimate_epoch_seconds(codelab, 1.0) < estimate_epoch_seconds(dropout, 1.0)


def test_each_activation_is_estimated_at_its_own_measured_cost():
    # Measured (bench_estimates --fit): GELU's error function is dearest, tanh and sigmoid no
    # dearer than ReLU; they were all charged GELU's cost before.
    wide = TrainConfig(filters=(128, 64), kernel_sizes=(1, 1), strides=2, padding="same")
    seconds = {kind: estimate_seconds(wide.replace(activation=kind), 1.0) for kind in ACTIVATIONS}
    assert seconds["relu"] <= min(seconds.values()) and max(seconds, key=seconds.get) == "gelu"
    assert seconds["tanh"] < seconds["gelu"] and seconds["sigmoid"] < seconds["gelu"], seconds


def test_batch_norm_costs_every_epoch_not_only_once():
    for base in (PRESETS["codelab"], PRESETS["best"].replace(batch_norm=False)):
        dearer = base.replace(batch_norm=True)
        assert estimate_epoch_seconds(base, 1.0) < estimate_epoch_seconds(dearer, 1.0), base


def test_validation_costs_once_then_per_digit():
    # The first validation digit pays for tracing the network for prediction as well.
    tiny = TrainConfig(filters=(8,), kernel_sizes=(1,), strides=3, pooling="none", train_size=500)
    none, some, more = (estimate_seconds(tiny.replace(val_size=v), 1.0) for v in (0, 100, 200))
    assert some - none > more - some > 0


def test_the_presets_estimates_order_codelab_fast_best():
    codelab, fast, best = (
        estimate_seconds(PRESETS[name], 1.0) for name in ("codelab", "fast", "best")
    )
    assert codelab < fast < best


def test_the_speed_follows_runs_that_took_longer_or_shorter_than_estimated():
    config, other = PRESETS["codelab"], PRESETS["best"]
    speed = ServerSpeed(1.0)
    before = speed.estimate(config), speed.estimate(other), speed.estimate_epoch(config)
    speed.record(config, 2 * before[0])  # a run that took twice its estimate
    after = speed.estimate(config), speed.estimate(other), speed.estimate_epoch(config)
    # Every estimate grows (a busier server is slower for any network), by less than 2×: one
    # run's time also holds the cost model's own error for that network.
    assert all(b < a < 2 * b for a, b in zip(after, before)), (before, after)
    speed.record(config, after[0] / 2)  # back to its first pace
    assert speed.estimate(config) < after[0]
    for seconds in (1e9, 1e-9, 1e9, 1e9, 1e-9):  # a stall or a clock jump: still usable
        speed.record(config, seconds)
        assert 0 < speed.estimate(config) < math.inf


def _timed_job(config, data, speed, slots=None):
    return TrainingJob("timed", config, data, slots, speed=speed)


def test_only_a_run_that_trained_every_epoch_corrects_the_speed(mnist, tiny_config):
    # A probe epoch of a microsecond: any real run takes far longer than estimated.
    speed = ServerSpeed(1e-6)
    before = speed.estimate(tiny_config)
    failed = _timed_job(tiny_config.replace(train_size=10**7), mnist, speed).start()
    slots = TrainingSlots(1)
    slots.acquire("someone else", cancelled=lambda: False)
    cancelled = _timed_job(tiny_config, mnist, speed, slots).start()
    cancelled.stop()
    stopped = _timed_job(tiny_config.replace(epochs=50), mnist, speed).start()
    while not stopped.view().batches:  # stopped by its user once it trains
        time.sleep(0.01)
    stopped.stop()
    for job, state in ((failed, "failed"), (cancelled, "cancelled"), (stopped, "stopped")):
        job.join(120)
        assert job.state == state, job.error
    assert speed.estimate(tiny_config) == before
    done = _timed_job(tiny_config.replace(epochs=1), mnist, speed).start()
    done.join(120)
    assert done.state == "done", done.error
    assert before < speed.estimate(tiny_config) < math.inf


def _grid_configs(available: int):
    """Valid configs from the extremes of every Train-page setting."""
    blocks = [((2,), (1,)), ((128,), (7,)), ((2, 128), (7, 1)), ((128, 128, 128), (3, 3, 3))]
    extremes = {
        "strides": (1, 3),
        "padding": PADDINGS,
        "pooling": POOLINGS,
        "batch_norm": (False, True),
        "dense_units": (0, 512),
        "batch_size": (16, 2048),
        "train_size": (100, available - 1000),
    }
    augmented = {"shift": 0.3, "rotation": 30, "zoom": 0.3}
    for (filters, kernels), augment, *values in itertools.product(
        blocks, (False, True), *extremes.values()
    ):
        settings = dict(zip(extremes, values, strict=True)) | (augmented if augment else {})
        config = TrainConfig(
            filters=filters,
            kernel_sizes=kernels,
            epochs=50,
            val_size=1000,
            activation="gelu" if settings["batch_norm"] else "relu",
            **settings,
        )
        try:
            validate(config, available)
        except ConfigError:
            continue
        yield config


def test_the_measured_speed_gives_a_usable_estimate_for_every_valid_config():
    from mnist_core.data import load_sample

    speed = measure_speed(load_sample())
    assert isinstance(speed, float) and 0 < speed < math.inf
    configs = list(_grid_configs(available=60000))
    assert len(configs) > 100
    for config in configs:
        epoch, total = estimate_epoch_seconds(config, speed), estimate_seconds(config, speed)
        assert 0 < epoch < total < math.inf, config


def test_a_job_has_a_state_enum_and_keeps_its_internals_private(mnist, tiny_config):
    job = TrainingJob("Run 1", tiny_config, mnist)
    assert job.state is JobState.WAITING and not job.finished
    assert {state for state in JobState if state.finished} == {
        JobState.DONE,
        JobState.STOPPED,
        JobState.CANCELLED,
        JobState.FAILED,
        JobState.LEFT,  # a user's seat on a shared run, once they left it
    }
    for private in ("_stop", "_lock", "_thread", "state", "result"):
        with pytest.raises(TypeError):
            TrainingJob("Run 1", tiny_config, mnist, **{private: None})
    # Two runs with the same name and settings are still two runs.
    assert job != TrainingJob("Run 1", tiny_config, mnist)
    assert "_lock" not in repr(job)


def test_validation_each_epoch_matches_keras_and_says_which_digits_are_learned(mnist, tiny_config):
    config = tiny_config.replace(epochs=3)
    result, _ = _run(config, mnist)
    last = result.history[-1]
    # The same figures as Keras's own evaluation of the same validation digits.
    _, (x_val, y_val) = fit_arrays(config, mnist)
    keras_loss, keras_accuracy = result.model.evaluate(x_val, y_val, verbose=0, batch_size=256)
    assert last.val_loss == pytest.approx(keras_loss, rel=1e-3)
    assert last.val_accuracy == pytest.approx(keras_accuracy, abs=1e-6)
    # Every epoch carries its confusion counts: all validation digits, per true digit.
    for epoch in result.history:
        assert epoch.val_confusion.shape == (10, 10)
        assert epoch.val_confusion.sum() == config.val_size
        assert np.array_equal(
            epoch.val_confusion.sum(axis=1), np.bincount(y_val.argmax(1), minlength=10)
        )
        assert epoch.val_per_digit.shape == (10,)
        assert np.trace(epoch.val_confusion) / config.val_size == pytest.approx(epoch.val_accuracy)
    # Learning shows: the digits get better from the first epoch to the last.
    assert np.nanmean(last.val_per_digit) > np.nanmean(result.history[0].val_per_digit)


def test_finished_runs_leave_nothing_behind_once_dropped(mnist, tiny_config):
    """Every training used to stay in memory for good: the model (held by the fast-predict
    cache) and its traced train step (held by TensorFlow's gradient registry, through Keras's
    optimizer); a server training run after run kept them all."""
    import gc
    import weakref

    from tensorflow.python.eager import context  # TF's runtime function library, to count

    def one_run() -> weakref.ref:
        job = TrainingJob("Run", tiny_config.replace(epochs=1, train_size=500), mnist).start()
        job.join(60)
        assert job.state is JobState.DONE
        assert job.result.model.train_function is None  # the traced steps are let go
        predict(job.result.model, mnist.x_test[:2] / 255)  # Draw's fast path still works
        return weakref.ref(job.result.model)

    one_run()
    gc.collect()
    functions = len(context.context().list_function_names())
    alive = [one_run() for _ in range(3)]
    gc.collect()
    assert all(ref() is None for ref in alive)
    assert len(context.context().list_function_names()) <= functions


def test_runs_one_after_another_train_and_test_on_one_long_lived_thread(mnist, tiny_config):
    """A thread keeps its heap arena, whose freed top glibc cannot hand back: trained on a new
    thread each, 10 runs in one browser session left the server about 100 MB larger."""
    ran_on = []

    class Watched(TrainingJob):
        def _train(self):
            ran_on.append(threading.current_thread())
            return super()._train()

        def _test(self, model):
            ran_on.append(threading.current_thread())
            super()._test(model)

    for n in range(3):
        job = Watched(f"Run {n}", tiny_config.replace(epochs=1, train_size=500), mnist).start()
        job.join(60)
        assert job.state is JobState.DONE, job.error
    assert len(set(ran_on)) == 1 and ran_on[0].is_alive()
