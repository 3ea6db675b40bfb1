"""A model as one web page that reads drawn digits in any modern browser, offline.

The page is a single .html file holding TensorFlow.js (assets/tfjs, inlined), the network as
a list of tf.layers with its weights (float32, base64) and the drawing preprocessing of
preprocess.py ported to JavaScript (assets/web_page/page.js), so it needs neither a server nor
the internet. The network is described here, layer by layer, rather than through the
`tensorflowjs` converter: that package pulls in a TensorFlow of its own, and the networks here
use a handful of layers.
"""

from __future__ import annotations

import base64
import json
import weakref
from dataclasses import dataclass
from html import escape
from pathlib import Path
from string import Template

import numpy as np

from mnist_core.data import INPUT_SHAPE
from mnist_core.engine.backend import keras
from mnist_core.i18n import DEFAULT_LANGUAGE, N_, _, catalog

MIME_TYPE = "text/html"
TFJS_VERSION = "4.22.0"
ASSETS = Path(__file__).parents[1] / "assets"
# Core first: the CPU backend and the layers attach themselves to the global `tf` it makes.
TFJS_FILES = tuple(
    ASSETS / "tfjs" / f"tf-{part}.es2017.min.js" for part in ("core", "backend-cpu", "layers")
)
TFJS_LICENSE = ASSETS / "tfjs" / "LICENSE"
PAGE_TEMPLATE = ASSETS / "web_page" / "page.html"
PAGE_SCRIPT = ASSETS / "web_page" / "page.js"

# Keras's activation names and TensorFlow.js's for the functions both compute alike (Keras's
# "gelu" is the exact one, with erf, as is TensorFlow.js's; their "hard_sigmoid"s differ).
ACTIVATIONS = {
    "linear": "linear",
    "relu": "relu",
    "elu": "elu",
    "selu": "selu",
    "gelu": "gelu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "softmax": "softmax",
    "softplus": "softplus",
    "softsign": "softsign",
    "silu": "swish",
    "mish": "mish",
}
# Layers that only act in training (noise, dropout, augmentation): the page leaves them out.
INFERENCE_NO_OPS = frozenset(
    {
        "Dropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "GaussianNoise",
        "GaussianDropout",
        "AlphaDropout",
        "ActivityRegularization",
        "RandomTranslation",
        "RandomRotation",
        "RandomZoom",
        "RandomFlip",
        "RandomContrast",
        "RandomBrightness",
    }
)

_CAN_ALWAYS = N_("Every network the Train page builds can.")
_NOT_A_LAYER = N_(
    "This network cannot become a web page: its layer “{layer}” is a {kind}, which the page "
    "cannot run."
)
_NOT_A_SETTING = N_(
    "This network cannot become a web page: its layer “{layer}” ({kind}) has {setting}, which "
    "the page cannot run."
)
_NOT_A_LINE = N_(
    "This network cannot become a web page: its layers do not follow one another in a single "
    "line (it branches, or uses a layer twice)."
)

# What the page writes; the JavaScript fills in the {fields}.
PAGE_STRINGS = {
    "intro": N_(
        "Draw a digit in the black square with the mouse, a finger or a pen: the network reads "
        "it when you lift the pen. It runs inside this page, with no server and no internet."
    ),
    "canvas": N_("Drawing area: draw one digit here"),
    "clear": N_("Clear"),
    "prediction": N_("Prediction"),
    "confidence": N_("Confidence"),
    "probabilities": N_("Probability of each digit"),
    "seen": N_("What the network sees: your digit cut to the ink and centred in 28 × 28 pixels"),
    "waiting": N_("Draw a digit: the answer appears when you lift the pen."),
    "too_small": N_(
        "The ink is only {size} px across: too small to read as a digit. Draw it larger (at "
        "least {least} px)."
    ),
    "loading": N_("Loading the network…"),
    "failed": N_("This browser could not run the network: {error}"),
    "made_with": N_(
        "Made with Digit Lab. The network runs on TensorFlow.js {version} (© Google LLC, Apache "
        "License 2.0), inside this file."
    ),
    "licences": N_("Licences"),
}


class WebExportError(ValueError):
    """A network the web page cannot run; the message says why."""


@dataclass(frozen=True)
class WebLayer:
    """One layer of the page's network: a tf.layers factory, its settings and its weights."""

    kind: str  # the factory's name in tf.layers: "conv2d", "dense", ...
    config: dict
    weights: tuple[np.ndarray, ...] = ()


def web_layers(model: keras.Model) -> list[WebLayer]:
    """`model` as the layers the page rebuilds it from (WebExportError if it cannot be)."""
    layers = list(_leaf_layers(model))
    converted = [
        _convert(layer) for layer in layers if type(layer).__name__ not in INFERENCE_NO_OPS
    ]
    if not _follows_one_line(model, layers):
        raise WebExportError(f"{_(_NOT_A_LINE)} {_(_CAN_ALWAYS)}")
    return converted


_exportable: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def export_problem(model: keras.Model) -> str | None:
    """Why `model` cannot become a web page, in the current language; None when it can (a
    model that can is remembered: pages ask on every run)."""
    if model in _exportable:
        return None
    try:
        web_layers(model)
    except WebExportError as err:
        return str(err)
    _exportable[model] = True
    return None


def model_to_html(
    model: keras.Model, title: str, language: str = DEFAULT_LANGUAGE, description: str = ""
) -> str:
    """The web page of `model`: one self-contained .html file, its words in `language`, that
    reads digits drawn on it (WebExportError if the network cannot run there)."""
    layers = web_layers(model)
    weights = np.concatenate(
        [np.asarray(w, dtype="<f4").ravel() for layer in layers for w in layer.weights]
    )
    network = {
        "inputShape": list(INPUT_SHAPE),
        "layers": [
            {
                "kind": layer.kind,
                "config": layer.config,
                "shapes": [list(w.shape) for w in layer.weights],
            }
            for layer in layers
        ],
        "weights": base64.b64encode(weights.tobytes()).decode("ascii"),
    }
    words = catalog(language).gettext
    strings = {key: words(message) for key, message in PAGE_STRINGS.items()}
    strings["made_with"] = strings["made_with"].format(version=TFJS_VERSION)
    data = {"network": network, "strings": strings}
    page = Template(PAGE_TEMPLATE.read_text(encoding="utf-8"))
    return page.substitute(
        {f"s_{key}": escape(text) for key, text in strings.items()},
        lang="zh-Hans" if language == "zh" else language,
        title=escape(title),
        description=escape(description),
        licence=escape(TFJS_LICENSE.read_text(encoding="utf-8")),
        tfjs="\n".join(_script(path.read_text(encoding="utf-8")) for path in TFJS_FILES),
        data=_json_script(data),
        script=_script(PAGE_SCRIPT.read_text(encoding="utf-8")),
    )


def _script(code: str) -> str:
    """`code` as an inline <script>; a source map comment would point at a file that is not
    there."""
    code = "\n".join(
        line for line in code.splitlines() if not line.startswith("//# sourceMappingURL")
    )
    if "</script" in code.lower():
        raise ValueError("a script to inline contains </script")
    return f"<script>\n{code}\n</script>"


def _json_script(data: dict) -> str:
    """`data` as a JSON <script> block; '<' escaped, so no text in it can end the block."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    return f'<script type="application/json" id="digit-lab-data">{text}</script>'


def _leaf_layers(model: keras.Model):
    """The layers of `model` in order, nested models opened, input layers left out."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            yield layer


def _follows_one_line(model: keras.Model, layers: list) -> bool:
    """True when calling the layers one after another gives the model's own output: then the
    page, which does exactly that, computes the same function."""
    x = np.random.default_rng(0).random((2, *INPUT_SHAPE), dtype=np.float32)
    expected = np.asarray(model(x, training=False))
    y = x
    try:
        for layer in layers:
            y = layer(y, training=False)
    except ValueError:  # a shape that does not fit: the layers were not a line
        return False
    y = np.asarray(y)
    return y.shape == expected.shape and np.allclose(y, expected, rtol=1e-4, atol=1e-6)


def _refuse_setting(layer, setting: str) -> WebExportError:
    message = _(_NOT_A_SETTING).format(layer=layer.name, kind=type(layer).__name__, setting=setting)
    return WebExportError(f"{message} {_(_CAN_ALWAYS)}")


def _activation(layer, name) -> str:
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise _refuse_setting(layer, f"activation={name!r}")
    return ACTIVATIONS[name]


def _channels_last(layer, config: dict) -> None:
    if config.get("data_format", "channels_last") != "channels_last":
        raise _refuse_setting(layer, f"data_format={config['data_format']!r}")


def _conv2d(layer, c: dict) -> WebLayer:
    _channels_last(layer, c)
    if tuple(c["dilation_rate"]) != (1, 1):
        raise _refuse_setting(layer, f"dilation_rate={tuple(c['dilation_rate'])}")
    if c["groups"] != 1:
        raise _refuse_setting(layer, f"groups={c['groups']}")
    config = {
        "filters": c["filters"],
        "kernelSize": list(c["kernel_size"]),
        "strides": list(c["strides"]),
        "padding": c["padding"],
        "activation": _activation(layer, c["activation"]),
        "useBias": c["use_bias"],
    }
    return WebLayer("conv2d", config, _kernel_and_bias(layer))


def _dense(layer, c: dict) -> WebLayer:
    config = {
        "units": c["units"],
        "activation": _activation(layer, c["activation"]),
        "useBias": c["use_bias"],
    }
    return WebLayer("dense", config, _kernel_and_bias(layer))


def _kernel_and_bias(layer) -> tuple[np.ndarray, ...]:
    if getattr(layer, "quantization_mode", None):
        raise _refuse_setting(layer, f"quantization_mode={layer.quantization_mode!r}")
    # `kernel`, not the stored variable: with LoRA, Keras adds the low-rank update to it.
    kernel = np.asarray(layer.kernel)
    return (kernel, np.asarray(layer.bias)) if layer.use_bias else (kernel,)


def _pooling(kind: str):
    def convert(layer, c: dict) -> WebLayer:
        _channels_last(layer, c)
        config = {
            "poolSize": list(c["pool_size"]),
            "strides": list(c["strides"] or c["pool_size"]),
            "padding": c["padding"],
        }
        return WebLayer(kind, config)

    return convert


def _global_pooling(kind: str):
    def convert(layer, c: dict) -> WebLayer:
        _channels_last(layer, c)
        if c.get("keepdims"):
            raise _refuse_setting(layer, "keepdims=True")
        return WebLayer(kind, {})

    return convert


def _batch_norm(layer, c: dict) -> WebLayer:
    if c["axis"] not in (-1, 3, [-1], [3]):
        raise _refuse_setting(layer, f"axis={c['axis']!r}")
    # tf.layers keeps them in the same order as Keras: gamma, beta, moving mean and variance.
    weights = tuple(np.asarray(w) for w in layer.weights)
    config = {"axis": -1, "epsilon": c["epsilon"], "center": c["center"], "scale": c["scale"]}
    return WebLayer("batchNormalization", config, weights)


def _activation_layer(layer, c: dict) -> WebLayer:
    return WebLayer("activation", {"activation": _activation(layer, c["activation"])})


def _softmax(layer, c: dict) -> WebLayer:
    if c.get("axis", -1) not in (-1, [-1]):
        raise _refuse_setting(layer, f"axis={c['axis']!r}")
    return WebLayer("activation", {"activation": "softmax"})


def _relu(layer, c: dict) -> WebLayer:
    if c.get("max_value") is not None or c.get("threshold", 0) != 0:
        raise _refuse_setting(
            layer, f"max_value={c.get('max_value')}, threshold={c.get('threshold')}"
        )
    if c.get("negative_slope", 0):
        return WebLayer("leakyReLU", {"alpha": c["negative_slope"]})
    return WebLayer("activation", {"activation": "relu"})


def _leaky_relu(layer, c: dict) -> WebLayer:
    return WebLayer("leakyReLU", {"alpha": c["negative_slope"]})


def _flatten(layer, c: dict) -> WebLayer:
    _channels_last(layer, c)
    return WebLayer("flatten", {})


def _reshape(layer, c: dict) -> WebLayer:
    # The shape it gave, a -1 worked out: tf.layers would leave the next layer's input unknown.
    return WebLayer("reshape", {"targetShape": list(layer.output.shape[1:])})


def _rescaling(layer, c: dict) -> WebLayer:
    if not all(isinstance(c[k], int | float) for k in ("scale", "offset")):
        raise _refuse_setting(layer, "a scale or offset per channel")
    return WebLayer("rescaling", {"scale": c["scale"], "offset": c["offset"]})


def _zero_padding(layer, c: dict) -> WebLayer:
    _channels_last(layer, c)
    return WebLayer("zeroPadding2d", {"padding": [list(side) for side in c["padding"]]})


_CONVERTERS = {
    "Conv2D": _conv2d,
    "Dense": _dense,
    "MaxPooling2D": _pooling("maxPooling2d"),
    "AveragePooling2D": _pooling("averagePooling2d"),
    "GlobalMaxPooling2D": _global_pooling("globalMaxPooling2d"),
    "GlobalAveragePooling2D": _global_pooling("globalAveragePooling2d"),
    "BatchNormalization": _batch_norm,
    "Activation": _activation_layer,
    "Softmax": _softmax,
    "ReLU": _relu,
    "LeakyReLU": _leaky_relu,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Rescaling": _rescaling,
    "ZeroPadding2D": _zero_padding,
}


def _convert(layer) -> WebLayer:
    kind = type(layer).__name__
    if kind not in _CONVERTERS:
        message = _(_NOT_A_LAYER).format(layer=layer.name, kind=kind)
        raise WebExportError(f"{message} {_(_CAN_ALWAYS)}")
    return _CONVERTERS[kind](layer, layer.get_config())
