"""A standalone Keras script for a TrainConfig, written the way keras-io examples are.

The script builds the same network as `model.build_model`, picks the same training and
validation digits as `data.train_val_split`, and trains with the same optimizer, schedule,
batch size, epochs and augmentation; it needs only keras and numpy. It holds only what the
config uses: no batch normalisation lines without it, no schedule when the rate is constant.
"""

from __future__ import annotations

from mnist_core.config import ONE_CYCLE_WARMUP, TrainConfig, validate

LINE_LENGTH = 100  # as ruff format lays out the repository, so the script passes it too


def _call(indent: int, name: str, args: list[str], end: str = "") -> list[str]:
    """`name(args)` as ruff format lays it out: one line, one indented line, or one per arg."""
    pad = " " * indent
    one_line = f"{pad}{name}({', '.join(args)}){end}"
    if len(one_line) <= LINE_LENGTH:
        return [one_line]
    inner = f"{pad}    {', '.join(args)}"
    if len(inner) <= LINE_LENGTH:
        return [f"{pad}{name}(", inner, f"{pad}){end}"]
    return [f"{pad}{name}(", *(f"{pad}    {arg}," for arg in args), f"{pad}){end}"]


def _number(value: float) -> str:
    """A hyperparameter as a Python literal: 0.001, 0.25, 8; exact, however many digits."""
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def _section(title: str) -> list[str]:
    return ["", '"""', f"## {title}", '"""', ""]


def _augmentation_layers(c: TrainConfig) -> list[str]:
    if not c.augmented:
        return []
    lines = ["# Random changes to each training image; they are off when the model predicts"]
    if c.shift:
        shift = _number(c.shift)
        lines.append(f'layers.RandomTranslation({shift}, {shift}, fill_mode="constant", seed=seed)')
    if c.rotation:
        rotation = _number(c.rotation)
        lines.append(f'layers.RandomRotation({rotation} / 360, fill_mode="constant", seed=seed)')
    if c.zoom:
        lines.append(f'layers.RandomZoom({_number(c.zoom)}, fill_mode="constant", seed=seed)')
    return lines


def _conv_layers(c: TrainConfig) -> list[tuple[str, list[str]]]:
    """(layer, arguments) of every conv block."""
    layers = []
    for filters, kernel in zip(c.filters, c.kernel_sizes):
        args = [str(filters), f"kernel_size=({kernel}, {kernel})"]
        if c.strides != 1:
            args.append(f"strides={c.strides}")
        if c.padding != "valid":
            args.append(f'padding="{c.padding}"')
        if c.batch_norm:
            args += ["use_bias=False", "kernel_initializer=init"]
            layers += [
                ("layers.Conv2D", args),
                ("layers.BatchNormalization", []),
                ("layers.Activation", [f'"{c.activation}"']),
            ]
        else:
            layers.append(
                (
                    "layers.Conv2D",
                    [*args, f'activation="{c.activation}"', "kernel_initializer=init"],
                )
            )
        if c.pooling == "max":
            layers.append(("layers.MaxPooling2D", ["pool_size=(2, 2)"]))
        elif c.pooling == "average":
            layers.append(("layers.AveragePooling2D", ["pool_size=(2, 2)"]))
    return layers


def _model_lines(c: TrainConfig) -> list[str]:
    layers = [("layers.Flatten", [])]
    if c.dense_units:
        args = [str(c.dense_units), f'activation="{c.activation}"', "kernel_initializer=init"]
        layers.append(("layers.Dense", args))
    if c.dropout:
        layers.append(("layers.Dropout", [_number(c.dropout), "seed=seed"]))
    output = ["num_classes", 'activation="softmax"', "kernel_initializer=init"]
    layers.append(("layers.Dense", output))
    body = ["        keras.Input(shape=input_shape),"]
    for line in _augmentation_layers(c):
        body.append("        " + (line if line.startswith("#") else line + ","))
    for name, args in [*_conv_layers(c), *layers]:
        body += _call(8, name, args, end=",")
    return [
        "# TensorFlow.js's initial weights (as in Digit Lab), seeded",
        'init = keras.initializers.VarianceScaling(distribution="truncated_normal", seed=seed)',
        "",
        "model = keras.Sequential(",
        "    [",
        *body,
        "    ]",
        ")",
        "model.summary()",
    ]


def _schedule_lines(c: TrainConfig) -> list[str]:
    rate = _number(c.learning_rate)
    if c.lr_schedule == "constant":
        return [f"learning_rate = {rate}"]
    steps = "steps = math.ceil(len(x_train) / batch_size) * epochs"
    if c.lr_schedule == "cosine":
        return [
            "# Smaller and smaller steps along a cosine, down to zero at the end",
            steps,
            f"learning_rate = keras.optimizers.schedules.CosineDecay({rate}, decay_steps=steps)",
        ]
    return [
        "# One cycle: up from a tenth of the rate over the first fifth of the run (a freshly",
        "# initialised network would not survive the full rate at once), then down along a cosine",
        steps,
        f"warmup = int(steps * {ONE_CYCLE_WARMUP})",
        *_call(
            0,
            "learning_rate = keras.optimizers.schedules.CosineDecay",
            [
                f"{rate} / 10",
                "decay_steps=steps - warmup",
                f"warmup_target={rate}",
                "warmup_steps=warmup",
            ],
        ),
    ]


def _compile_lines(c: TrainConfig) -> list[str]:
    if c.optimizer == "sgd":
        optimizer = "keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)"
    else:
        kind = {"adam": "Adam", "rmsprop": "RMSprop"}[c.optimizer]
        optimizer = f"keras.optimizers.{kind}(learning_rate=learning_rate)"
    loss = '"categorical_crossentropy"'
    lines = []
    if c.label_smoothing:
        smoothing = _number(c.label_smoothing)
        lines.append(
            f"# Targets of {1 - c.label_smoothing + c.label_smoothing / 10:g} for the right "
            f"digit and {c.label_smoothing / 10:g} for the others, not 1 and 0"
        )
        loss = f"keras.losses.CategoricalCrossentropy(label_smoothing={smoothing})"
    return [
        *lines,
        *_call(
            0, "model.compile", [f"loss={loss}", f"optimizer={optimizer}", 'metrics=["accuracy"]']
        ),
    ]


SPLIT_FUNCTION = '''
def stratified_sample(y, n, seed, exclude=()):
    """Sorted indices of `n` random labels of `y` outside `exclude`, each digit in its share."""
    pool = np.setdiff1d(np.arange(len(y)), exclude)
    rng = np.random.default_rng(seed)
    digits, counts = np.unique(y[pool], return_counts=True)
    # Round the shares so that they add up to exactly n
    quota = counts * n / len(pool)
    take = np.floor(quota).astype(int)
    take[np.argsort(take - quota)[: n - take.sum()]] += 1
    picks = [rng.choice(pool[y[pool] == d], size=k, replace=False) for d, k in zip(digits, take)]
    return np.sort(np.concatenate(picks))

'''.strip("\n").splitlines()


def script_for(config: TrainConfig, name: str = "custom") -> str:
    """A standalone keras-io style script that trains and tests `config`'s network on MNIST.

    `name` is the preset's name, or "custom"; ConfigError if the config cannot be built.
    """
    validate(config)
    c = config
    title = f'the "{name}" preset' if name != "custom" else "custom settings"
    script_file = f"digit_lab_{name}.py"
    imports = ["import math", "import os"] if c.lr_schedule != "constant" else ["import os"]
    validation = c.val_size > 0
    lines = [
        '"""',
        f"Title: Digit Lab's network for {title}, trained on MNIST",
        "Description: The network and training chosen on Digit Lab's Train page, in plain Keras.",
        "",
        f"Run it with `python {script_file}`: it downloads MNIST once. To use a copy on",
        "disk instead, set MNIST_NPZ to the path of an .npz file in the layout of Keras's",
        "mnist.npz (x_train, y_train, x_test, y_test).",
        '"""',
        "",
        *imports,
        "",
        "import keras",
        "import numpy as np",
        "from keras import layers",
        *_section("Prepare the data"),
        f"seed = {c.seed}  # the same seed picks the same digits and trains the same way",
        "num_classes = 10",
        "input_shape = (28, 28, 1)",
        "",
        'path = os.environ.get("MNIST_NPZ")',
        "if path:",
        "    with np.load(path) as f:",
        '        x_train, y_train = f["x_train"], f["y_train"]',
        '        x_test, y_test = f["x_test"], f["y_test"]',
        "else:",
        "    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()",
        "",
        "",
        *SPLIT_FUNCTION,
        "",
        "",
    ]
    if validation:
        lines += [
            "# Validation digits first, then training digits from the others, as Digit Lab does",
            f"val_indices = stratified_sample(y_train, {c.val_size}, seed)",
            f"train_indices = stratified_sample(y_train, {c.train_size}, seed + 1, val_indices)",
            "x_val, y_val = x_train[val_indices], y_train[val_indices]",
        ]
    else:
        lines.append(f"train_indices = stratified_sample(y_train, {c.train_size}, seed + 1)")
    lines += [
        "x_train, y_train = x_train[train_indices], y_train[train_indices]",
        "",
        "# Scale images to the [0, 1] range and give them one channel: shape (28, 28, 1)",
        'x_train = np.expand_dims(x_train.astype("float32") / 255, -1)',
        *(['x_val = np.expand_dims(x_val.astype("float32") / 255, -1)'] if validation else []),
        'x_test = np.expand_dims(x_test.astype("float32") / 255, -1)',
        'print("x_train shape:", x_train.shape)',
        'print(x_train.shape[0], "train samples")',
        *(['print(x_val.shape[0], "validation samples")'] if validation else []),
        'print(x_test.shape[0], "test samples")',
        "",
        "# Convert class vectors to binary class matrices",
        "y_train = keras.utils.to_categorical(y_train, num_classes)",
        *(["y_val = keras.utils.to_categorical(y_val, num_classes)"] if validation else []),
        "y_test = keras.utils.to_categorical(y_test, num_classes)",
        *_section("Build the model"),
        *_model_lines(c),
        *_section("Train the model"),
        f"batch_size = {c.batch_size}",
        f"epochs = {c.epochs}",
        *_schedule_lines(c),
        "",
        *_compile_lines(c),
        "",
        "keras.utils.set_random_seed(seed)  # the same shuffling each run",
        *_call(
            0,
            "history = model.fit",
            [
                "x_train",
                "y_train",
                "batch_size=batch_size",
                "epochs=epochs",
                *(["validation_data=(x_val, y_val)"] if validation else []),
            ],
        ),
        *_section("Evaluate the trained model"),
        "score = model.evaluate(x_test, y_test, verbose=0)",
        'print("Test loss:", score[0])',
        'print("Test accuracy:", score[1])',
    ]
    return "\n".join(lines) + "\n"
