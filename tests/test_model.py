"""Configurations, presets, the codelab network, model summaries and model files."""

import zipfile

import keras
import numpy as np
import pytest

from mnist_core.classroom.estimates import count_macs
from mnist_core.config import (
    PRESETS,
    ConfigError,
    LayerInfo,
    TrainConfig,
    layer_shapes,
    network_layers,
    read_metadata,
    validate,
)
from mnist_core.engine.model import (
    ModelFileError,
    build_model,
    feature_maps,
    first_layer_filters,
    learning_rate,
    load_model,
    model_to_bytes,
    predict,
    save_model,
)


def test_codelab_preset_is_the_codelab_network():
    config = PRESETS["codelab"]
    assert (config.batch_size, config.epochs, config.train_size, config.val_size) == (
        512,
        10,
        5500,
        1000,
    )
    model = build_model(config)
    rows = [(r.kind, r.output_shape[1:], r.params) for r in network_layers(config)]
    assert rows == [
        ("InputLayer", (28, 28, 1), 0),
        ("Conv2D", (24, 24, 8), 208),
        ("MaxPooling2D", (12, 12, 8), 0),
        ("Conv2D", (8, 8, 16), 3216),
        ("MaxPooling2D", (4, 4, 16), 0),
        ("Flatten", (256,), 0),
        ("Dense", (10,), 2570),
    ]
    assert model.count_params() == 5994
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.loss == "categorical_crossentropy"
    conv = model.get_layer("conv1")
    assert conv.strides == (1, 1) and conv.activation.__name__ == "relu"
    assert isinstance(conv.kernel_initializer, keras.initializers.VarianceScaling)
    assert model.get_layer("pool1").strides == (2, 2)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_and_gives_probabilities(name):
    model = build_model(PRESETS[name])
    probs = predict(model, np.random.default_rng(0).random((3, 28, 28)))
    assert probs.shape == (3, 10)
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert network_layers(PRESETS[name]) == _keras_layers(model)


def _keras_layers(model: keras.Model) -> list[LayerInfo]:
    """What Keras itself says of each layer of `model`."""
    return [
        LayerInfo(layer.name, type(layer).__name__, tuple(layer.output.shape), layer.count_params())
        for layer in model.layers
    ]


def test_the_dense_preset_has_no_conv_layer_and_about_the_codelab_networks_size():
    config = PRESETS["dense"]
    model = build_model(config)
    assert [r.kind for r in network_layers(config)] == ["InputLayer", "Flatten", "Dense", "Dense"]
    assert not any(isinstance(layer, keras.layers.Conv2D) for layer in model.layers)
    codelab = build_model(PRESETS["codelab"]).count_params()
    assert abs(model.count_params() - codelab) / codelab < 0.1  # 6,370 against 5,994
    # The same training as the codelab's, so that only the network differs.
    training = ("batch_size", "epochs", "train_size", "val_size", "learning_rate", "optimizer")
    assert all(getattr(config, f) == getattr(PRESETS["codelab"], f) for f in training)
    # Nothing to look inside: no feature maps, no first-layer filters.
    assert feature_maps(model, np.zeros((28, 28))) == []
    assert first_layer_filters(model) is None
    assert config.summary().startswith("no pattern detectors")
    assert count_macs(config) == 784 * 8 + 8 * 10


@pytest.mark.parametrize("seed", range(12))
def test_the_layer_table_worked_out_without_keras_is_keras_own(seed):
    """Random valid settings (augmentation, batch norm, stride, padding, pooling, dense layer and
    dropout each on or off): the Train page's layer table is what Keras builds, row for row."""
    rng = np.random.default_rng(seed)
    while True:
        blocks = int(rng.integers(0, 4))
        config = TrainConfig(
            filters=tuple(int(f) for f in rng.choice([4, 8, 16], blocks)),
            kernel_sizes=tuple(int(k) for k in rng.choice([1, 3, 5, 7], blocks)),
            strides=int(rng.integers(1, 3)),
            padding=str(rng.choice(["valid", "same"])),
            pooling=str(rng.choice(["max", "average", "none"])),
            batch_norm=bool(rng.integers(2)),
            dense_units=int(rng.choice([0, 16])),
            dropout=float(rng.choice([0.0, 0.25])),
            shift=float(rng.choice([0.0, 0.1])),
            rotation=float(rng.choice([0.0, 10.0])),
            zoom=float(rng.choice([0.0, 0.1])),
        )
        try:
            validate(config)
        except ConfigError:
            continue
        break
    assert network_layers(config) == _keras_layers(build_model(config))


def test_feature_maps_that_would_vanish_are_refused_naming_the_layer():
    config = TrainConfig(filters=(8, 16, 32), kernel_sizes=(7, 7, 7))
    with pytest.raises(ConfigError, match=r"Block 3 conv: a 7×7 kernel does not fit its 2×2 input"):
        validate(config)
    with pytest.raises(ConfigError, match="Block 3"):
        build_model(config)
    strided = TrainConfig(filters=(8, 8), kernel_sizes=(5, 5), strides=2)
    with pytest.raises(ConfigError, match=r"Block 2 pooling: its 1×1 input"):
        validate(strided)
    # The same kernels fit with 'same' padding.
    same = config.replace(padding="same")
    assert layer_shapes(same)[-1] == ("pool3", 3)
    assert build_model(same).output_shape == (None, 10)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"filters": (8, 8, 8, 8), "kernel_sizes": (3, 3, 3, 3)}, "0 to 3 conv blocks"),
        ({"kernel_sizes": (5,)}, "one kernel size per block"),
        ({"dropout": 1.0}, "Dropout"),
        ({"learning_rate": 0.0}, "learning rate"),
        ({"epochs": 0}, "Epochs"),
        ({"batch_size": 0}, "batch size"),
        ({"optimizer": "lbfgs"}, "Optimizer"),
        ({"rotation": 400.0}, "rotation"),
    ],
)
def test_impossible_hyperparameters_get_a_clear_message(change, message):
    with pytest.raises(ConfigError, match=message):
        validate(TrainConfig().replace(**change))


def test_training_sizes_are_checked_against_the_data():
    with pytest.raises(ConfigError, match="exceed the 4,000 training digits"):
        validate(TrainConfig(train_size=3500, val_size=1000), available=4000)


def test_config_round_trips_through_plain_data():
    config = PRESETS["best"]
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="Unknown hyperparameters: colour"):
        TrainConfig.from_dict({"colour": "red"})
    assert config.summary() == (
        "3 layers of 32, 64, 128 pattern detectors (3×3 or 5×5 pixels) · 128 hidden neurons · "
        "batch normalisation · dropout 20% · varied training images · softened answers · "
        "Adam at 0.003, slowing down"
    )
    assert (
        PRESETS["codelab"].summary()
        == "2 layers of 8, 16 pattern detectors (5×5 pixels) · Adam at 0.001"
    )


def test_macs_of_the_codelab_network_match_a_hand_count():
    # conv1 24·24·5·5·1·8, conv2 8·8·5·5·8·16, dense 256·10
    assert count_macs(PRESETS["codelab"]) == 115200 + 204800 + 2560


def test_predict_accepts_one_image_or_a_batch():
    model = build_model(PRESETS["codelab"])
    one = np.zeros((28, 28), np.float32)
    assert predict(model, one).shape == (1, 10)
    assert predict(model, np.zeros((2500, 28, 28, 1))).shape == (2500, 10)
    with pytest.raises(ValueError, match="28×28"):
        predict(model, np.zeros((2, 32, 32)))


def test_look_inside_gives_a_map_per_conv_layer_and_the_first_filters():
    model = build_model(PRESETS["best"])
    maps = feature_maps(model, np.random.default_rng(0).random((28, 28)))
    assert [(name, m.shape) for name, m in maps] == [
        ("act1", (14, 14, 32)),
        ("act2", (7, 7, 64)),
        ("act3", (4, 4, 128)),
    ]
    assert all(m.min() >= 0 for _, m in maps)  # after the ReLU
    assert first_layer_filters(model).shape == (32, 5, 5)
    codelab = build_model(PRESETS["codelab"])
    assert [n for n, _ in feature_maps(codelab, np.zeros((28, 28)))] == ["conv1", "conv2"]


def test_saved_models_load_with_the_same_predictions_and_metadata(tmp_path):
    model = build_model(PRESETS["fast"])
    x = np.random.default_rng(1).random((4, 28, 28)).astype(np.float32)
    path = save_model(model, tmp_path / "run", {"name": "fast run"})
    assert path.name == "run.keras"
    assert read_metadata(path) == {"name": "fast run"}
    assert np.allclose(predict(load_model(path), x), predict(model, x), atol=1e-6)
    assert np.allclose(predict(load_model(model_to_bytes(model)), x), predict(model, x), atol=1e-6)


def _keras_file(tmp_path, inputs, outputs):
    x = keras.Input(inputs)
    y = keras.layers.Dense(outputs)(keras.layers.Flatten()(x))
    path = tmp_path / f"m{outputs}.keras"
    keras.Model(x, y).save(path)
    return path


def test_files_that_are_not_digit_models_are_refused(tmp_path):
    text = tmp_path / "notes.keras"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match=r"not a Keras model: a \.keras file is a zip"):
        load_model(text)
    with pytest.raises(ModelFileError, match="not a Keras model"):
        load_model(b"\x89PNG\r\n\x1a\n not a model")
    other_zip = tmp_path / "photos.keras"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("photo.txt", "x")
    with pytest.raises(ModelFileError, match="not a loadable Keras model"):
        load_model(other_zip)
    with pytest.raises(ModelFileError, match="expects inputs of shape"):
        load_model(_keras_file(tmp_path, (32, 32, 3), 10))
    with pytest.raises(ModelFileError, match="not 10 digit classes"):
        load_model(_keras_file(tmp_path, (28, 28, 1), 5))
    with pytest.raises(ModelFileError, match="no such file"):
        load_model(tmp_path / "absent.keras")


def test_a_model_that_outputs_logits_gets_probabilities(tmp_path):
    path = _keras_file(tmp_path, (28, 28, 1), 10)  # a linear last layer: raw scores
    scores = keras.saving.load_model(path)
    x = np.random.default_rng(3).random((5, 28, 28)).astype(np.float32)
    probabilities = predict(load_model(path), x)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert np.allclose(probabilities, keras.ops.softmax(scores(x[..., None])), atol=1e-5)
    # Outputs that are already probabilities are left as they are, however they are made.
    inner = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    outer = keras.Input((28, 28, 1))
    nested = tmp_path / "nested.keras"
    keras.Model(outer, inner(outer)).save(nested)
    assert np.allclose(predict(load_model(nested), x), inner(x[..., None]), atol=1e-6)
    sigmoid = tmp_path / "sigmoid.keras"
    keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="sigmoid"),
        ]
    ).save(sigmoid)
    assert np.allclose(predict(load_model(sigmoid), x).sum(axis=1), 1, atol=1e-5)
    assert len(load_model(save_model(build_model(TrainConfig()), tmp_path / "s")).layers) == len(
        build_model(TrainConfig()).layers
    )


def test_a_model_with_two_outputs_is_told_so(tmp_path):
    inputs = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(inputs)
    heads = [keras.layers.Dense(10, name=f"head{i}")(flat) for i in range(2)]
    path = tmp_path / "two_heads.keras"
    keras.Model(inputs, heads).save(path)
    with pytest.raises(ModelFileError, match="gives 2 outputs; a digit model gives one output"):
        load_model(path)


def test_safe_mode_refuses_a_model_carrying_code(tmp_path):
    x = keras.Input((28, 28, 1))
    y = keras.layers.Dense(10)(keras.layers.Lambda(lambda t: keras.ops.reshape(t, (-1, 784)))(x))
    path = tmp_path / "lambda.keras"
    keras.Model(x, y).save(path)
    with pytest.raises(ModelFileError, match="not a loadable Keras model"):
        load_model(path)


def test_a_model_without_conv_layers_has_nothing_to_look_inside(tmp_path):
    model = load_model(_keras_file(tmp_path, (28, 28, 1), 10))
    assert feature_maps(model, np.zeros((28, 28))) == []
    assert first_layer_filters(model) is None


def test_presets_shrink_to_fit_the_offline_sample():
    assert PRESETS["codelab"].fit_to(60000) == PRESETS["codelab"]
    small = PRESETS["best"].fit_to(4000)
    assert (small.train_size, small.val_size) == (3200, 800)
    validate(small, available=4000)


def test_a_model_that_predicted_is_freed_once_nobody_holds_it():
    """The per-model caches (fast predict, feature probe) must not keep models alive: a server
    that trains run after run would otherwise keep every model it ever used."""
    import gc
    import weakref

    model = build_model(PRESETS["codelab"])
    predict(model, np.zeros((2, 28, 28), np.float32))
    feature_maps(model, np.zeros((28, 28), np.float32))
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None


def test_one_cycle_rises_to_the_rate_then_decays_to_zero():
    config = TrainConfig(
        lr_schedule="one-cycle", learning_rate=0.01, train_size=1000, batch_size=100, epochs=10
    )
    schedule = learning_rate(config)  # 100 steps: 20 rising, 80 falling
    assert [round(float(schedule(s)), 5) for s in (0, 10, 20)] == [0.001, 0.0055, 0.01]
    assert float(schedule(60)) < 0.01 / 2
    assert float(schedule(100)) == pytest.approx(0, abs=1e-6)
    assert learning_rate(config.replace(lr_schedule="constant")) == 0.01


def test_label_smoothing_spreads_the_targets():
    x = np.zeros((1, 28, 28, 1), np.float32)
    y = np.eye(10, dtype=np.float32)[[3]]
    plain = build_model(TrainConfig())
    kernel = plain.layers[-1].get_weights()[0]
    plain.layers[-1].set_weights([kernel * 0, np.where(np.arange(10) == 3, 10.0, 0.0)])
    smooth = build_model(TrainConfig(label_smoothing=0.1))
    smooth.set_weights(plain.get_weights())
    # The same, very sure, right answer: plain targets reward it, smoothed ones penalise the
    # over-confidence (0.01 of the target sits on each wrong digit).
    assert plain.evaluate(x, y, verbose=0)[0] < 0.01
    assert smooth.evaluate(x, y, verbose=0)[0] > 0.5
    with pytest.raises(ConfigError, match="Label smoothing"):
        validate(TrainConfig(label_smoothing=1.0))


def test_model_files_leave_the_optimizer_out_and_old_files_still_load(tmp_path):
    model = build_model(PRESETS["fast"])
    x = np.random.default_rng(2).random((4, 28, 28)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[[1, 2, 3, 4]]
    model.fit(x[..., None], y, epochs=1, verbose=0)  # Adam now holds two moments per weight
    old = tmp_path / "with-optimizer.keras"
    model.save(old)  # the way files were saved before
    new = save_model(model, tmp_path / "new")
    assert new.stat().st_size < old.stat().st_size * 0.5
    for path in (old, new):
        assert np.allclose(predict(load_model(path), x), predict(model, x), atol=1e-6)


def test_testing_the_10000_digits_never_holds_them_all_as_floats(default_model, mnist):
    """As floats the test digits are 31 MB, which glibc keeps once freed in the arena of the
    thread that tested (a page's, often a new one): the test goes a chunk at a time, and gives
    what one pass over all of them gives."""
    import tracemalloc

    from mnist_core.data import to_model_input
    from mnist_core.engine.model import evaluate

    x, y = mnist.x_test, mnist.y_test
    evaluate(default_model, x[:2], y[:2])  # traced before tracemalloc watches
    tracemalloc.start()
    try:
        result = evaluate(default_model, x, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(result.labels) == 10_000
    assert peak < 8 * 2**20, f"{peak / 2**20:.1f} MB"  # one float copy alone is 31 MB
    np.testing.assert_array_equal(result.probabilities, predict(default_model, to_model_input(x)))
