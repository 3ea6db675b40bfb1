"""How one conv filter computes one value of its feature map, worked out by hand from the
layer's own weights: the input window, the products, their sum, the bias, the activation, and
which value the pooling after it keeps. Any network Train can build (strides, 'same' or 'valid'
padding, batch normalisation, layers with many input channels)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mnist_core.data import INPUT_SHAPE
from mnist_core.engine.backend import keras

POOLS = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)


@dataclass(frozen=True)
class ConvLayer:
    """A conv layer and the layers that finish its feature maps (normalisation, activation),
    then the pooling after it, if any."""

    conv: keras.layers.Conv2D
    norm: keras.layers.BatchNormalization | None
    activation: keras.layers.Activation | None
    pool: keras.layers.Layer | None

    @property
    def name(self) -> str:
        return self.conv.name

    @property
    def kernel_size(self) -> int:
        return int(self.conv.kernel_size[0])

    @property
    def stride(self) -> int:
        return int(self.conv.strides[0])

    @property
    def padding(self) -> str:
        return self.conv.padding

    @property
    def filters(self) -> int:
        return int(self.conv.filters)

    @property
    def channels(self) -> int:
        """Input channels: 1 for the image, the previous layer's filters after that."""
        return int(self.conv.kernel.shape[2])

    @property
    def activation_name(self) -> str:
        function = (self.activation or self.conv).activation
        return getattr(function, "__name__", str(function))

    @property
    def output(self) -> keras.layers.Layer:
        """The layer whose output is the finished feature maps."""
        return self.activation or self.norm or self.conv


def conv_layers(model: keras.Model) -> list[ConvLayer]:
    """Every Conv2D of `model`, in order, with what follows it."""
    layers, found = model.layers, []
    for i, layer in enumerate(layers):
        if not isinstance(layer, keras.layers.Conv2D):
            continue
        following = iter(layers[i + 1 :])
        norm = activation = pool = None
        after = next(following, None)
        if isinstance(after, keras.layers.BatchNormalization):
            norm, after = after, next(following, None)
        if isinstance(after, keras.layers.Activation):
            activation, after = after, next(following, None)
        if isinstance(after, POOLS):
            pool = after
        found.append(ConvLayer(layer, norm, activation, pool))
    return found


@dataclass(frozen=True)
class LayerMaps:
    """One image through one conv layer: its input, its finished maps and the pooled maps."""

    layer: ConvLayer
    inputs: np.ndarray  # (h, w, channels)
    maps: np.ndarray  # (rows, cols, filters), after normalisation and activation
    pooled: np.ndarray | None  # (rows // 2, cols // 2, filters)


def layer_maps(model: keras.Model, layer: ConvLayer, image: np.ndarray) -> LayerMaps:
    """What Keras itself computes for `image` (28×28 in [0, 1]) around `layer`."""
    outputs = [layer.conv.input, layer.output.output]
    if layer.pool is not None:
        outputs.append(layer.pool.output)
    probe = keras.Model(model.inputs[0], outputs)
    x = np.asarray(image, np.float32).reshape(1, *INPUT_SHAPE)
    values = [np.asarray(v)[0] for v in probe(x, training=False)]
    return LayerMaps(layer, values[0], values[1], values[2] if len(values) > 2 else None)


def padding_before(size: int, kernel: int, stride: int, padding: str) -> int:
    """Zero rows (or columns) Keras adds before the input: 'same' pads so that the output is
    ceil(size / stride), the odd one extra after."""
    if padding == "valid":
        return 0
    out = -(-size // stride)
    return max((out - 1) * stride + kernel - size, 0) // 2


@dataclass(frozen=True)
class ConvStep:
    """One output value (row, col) of one filter, worked out by hand."""

    row: int
    col: int
    filter: int
    top: int  # the window's first input row (negative: in the padding)
    left: int
    windows: np.ndarray = field(repr=False)  # (k, k, channels) of input, 0 in the padding
    inside: np.ndarray = field(repr=False)  # (k, k): True where the window is on the input
    weights: np.ndarray = field(repr=False)  # (k, k, channels) of this filter
    bias: float
    norm: tuple[float, float, float, float] | None  # gamma, beta, mean, variance (+ epsilon)
    activation: str
    value: float  # the activation's output: the feature map's value here

    @property
    def products(self) -> np.ndarray:
        """Each input value times its weight, (k, k, channels)."""
        return self.windows * self.weights

    @property
    def channel_sums(self) -> np.ndarray:
        """The products' sum in each input channel."""
        return self.products.sum(axis=(0, 1))

    @property
    def total(self) -> float:
        """The sum over every channel."""
        return float(self.channel_sums.sum())

    @property
    def before_activation(self) -> float:
        """Sum plus bias; with batch normalisation, that sum normalised, scaled and shifted."""
        z = self.total + self.bias
        if self.norm is not None:
            gamma, beta, mean, variance = self.norm
            z = gamma * (z - mean) / np.sqrt(variance) + beta
        return float(z)


def conv_step(maps: LayerMaps, row: int, col: int, filter: int) -> ConvStep:
    """Filter `filter`'s value at (`row`, `col`) of `maps`, from the input and the weights."""
    layer, inputs = maps.layer, maps.inputs
    k, s = layer.kernel_size, layer.stride
    h, w, channels = inputs.shape
    top = row * s - padding_before(h, k, s, layer.padding)
    left = col * s - padding_before(w, k, s, layer.padding)
    rows, cols = np.arange(top, top + k), np.arange(left, left + k)
    inside = ((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None, :]
    windows = np.zeros((k, k, channels), np.float32)
    r, c = np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)
    windows[inside] = inputs[np.ix_(r, c)][inside]
    kernel = np.asarray(layer.conv.kernel)[:, :, :, filter]
    bias = float(np.asarray(layer.conv.bias)[filter]) if layer.conv.use_bias else 0.0
    norm = None
    if layer.norm is not None:
        bn = layer.norm
        gamma = float(np.asarray(bn.gamma)[filter]) if bn.scale else 1.0
        beta = float(np.asarray(bn.beta)[filter]) if bn.center else 0.0
        variance = float(np.asarray(bn.moving_variance)[filter]) + bn.epsilon
        norm = (gamma, beta, float(np.asarray(bn.moving_mean)[filter]), variance)
    return ConvStep(
        row=row,
        col=col,
        filter=filter,
        top=int(top),
        left=int(left),
        windows=windows,
        inside=inside,
        weights=kernel,
        bias=bias,
        norm=norm,
        activation=layer.activation_name,
        value=float(maps.maps[row, col, filter]),
    )


def activate(step: ConvStep) -> float:
    """The activation applied to the step's value before it (checks `step.value`)."""
    function = keras.activations.get(step.activation)
    return float(np.asarray(function(np.float32([step.before_activation])))[0])


@dataclass(frozen=True)
class PoolStep:
    """One pooled value: the 2×2 window of the feature map it comes from, and the result."""

    row: int  # in the pooled map
    col: int
    window: np.ndarray  # (2, 2) of the feature map
    kind: str  # "max" or "average"
    value: float

    @property
    def winner(self) -> tuple[int, int] | None:
        """Where in the window the kept value is (max pooling), else None."""
        if self.kind != "max":
            return None
        r, c = np.unravel_index(int(np.argmax(self.window)), self.window.shape)
        return int(r), int(c)


def pool_step(maps: LayerMaps, row: int, col: int, filter: int) -> PoolStep | None:
    """The pooled value whose 2×2 window holds feature-map value (`row`, `col`); None when the
    layer has no pooling or that value is in a last odd row or column that pooling drops."""
    if maps.pooled is None:
        return None
    pr, pc = row // 2, col // 2
    if pr >= maps.pooled.shape[0] or pc >= maps.pooled.shape[1]:
        return None
    window = maps.maps[2 * pr : 2 * pr + 2, 2 * pc : 2 * pc + 2, filter]
    kind = "max" if isinstance(maps.layer.pool, keras.layers.MaxPooling2D) else "average"
    return PoolStep(pr, pc, window, kind, float(maps.pooled[pr, pc, filter]))
