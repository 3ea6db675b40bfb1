"""The Train page's settings: a TrainConfig shown as widgets, and the widgets read back.

Every setting's widget key is `widget_key(field)`, named here and nowhere else; the filters and
kernel sizes, one per conv block, get one widget per block (`block_key`) and a block count.
The settings also live in the page's URL (mnist_core/classroom/links.py), so a link carries them.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from mnist_core import config as cfg
from mnist_core.classroom import links
from mnist_core.config import PRESETS, TrainConfig
from mnist_core.i18n import N_, _
from ui import language

MAX_BLOCKS = cfg.MAX_BLOCKS
PRESET_HELP = {
    "codelab": N_("The TensorFlow.js codelab's network and training"),
    "fast": N_(
        "About 99% test accuracy in well under a minute: two small conv layers, all the "
        "training digits, 4 epochs with a one-cycle learning rate"
    ),
    "best": N_(
        "The most accurate: 99.5% test accuracy in a few minutes: three conv layers that stride "
        "instead of pooling, batch normalisation, shifted training images and softened answers, "
        "13 epochs with a one-cycle learning rate"
    ),
    "dense": N_(
        "Why convolution: no filters at all, every pixel wired to 8 neurons, about as many "
        "parameters as the codelab network and the same training. Compare the two on the "
        "Compare page"
    ),
}
# Shown for option values that are words (the values stay English: keys, URL, saved configs).
OPTION_LABELS = {
    "max": N_("max"),
    "average": N_("average"),
    "none": N_("none"),
    "constant": N_("constant"),
    "cosine": N_("cosine"),
    "one-cycle": N_("one-cycle"),
}
BLOCKS_KEY = "hp_blocks"
# One line for every control, for someone who has never trained a network (translated where shown).
HELP = {
    "blocks": N_(
        "How many layers of pattern detectors the image passes through, one after another. "
        "The first finds strokes; later ones combine them into loops and corners. "
        "0: none, every pixel goes straight to the dense layers."
    ),
    "filters": N_(
        "How many different patterns this layer learns to look for (its filters). "
        "More can spot more, but train slower."
    ),
    "kernel_sizes": N_("How big a patch of the image each filter looks at, in pixels."),
    "strides": N_(
        "How far a filter moves between looks: 2 skips every other pixel, shrinking the "
        "picture faster."
    ),
    "padding": N_(
        "'same' adds a black border so the picture keeps its size; 'valid' lets each "
        "layer shrink it a little."
    ),
    "pooling": N_(
        "After each layer, keep only the strongest (max) or the average signal of each "
        "2×2 square: the picture halves, and small shifts matter less."
    ),
    "activation": N_(
        "The rule each neuron uses to decide how strongly to fire. relu (nothing "
        "below zero) is the usual choice."
    ),
    "dense_units": N_(
        "A layer of neurons that sees all the patterns at once before the answer. "
        "'none' goes straight to the ten answers."
    ),
    "dropout": N_(
        "During training, switch off this share of neurons at random, so the network "
        "cannot lean on any one of them: it fights overfitting."
    ),
    "batch_norm": N_(
        "Rescale each layer's signals to a steady range: training is usually faster and steadier."
    ),
    "optimizer": N_(
        "The method that nudges the network's numbers after each batch. Adam adjusts "
        "its own step size and is the usual choice."
    ),
    "learning_rate": N_(
        "How big each nudge is. Too small learns slowly; too big jumps around and never settles."
    ),
    "lr_schedule": N_(
        "'cosine' makes the nudges smaller and smaller towards the end, to settle "
        "in; 'one-cycle' starts small, grows to the learning rate, then shrinks like 'cosine'; "
        "'constant' keeps them the same."
    ),
    "batch_size": N_(
        "How many digits the network looks at before each nudge. Bigger batches are "
        "faster per digit but take fewer steps."
    ),
    "epochs": N_("How many times the network goes through all its training digits."),
    "seed": N_(
        "Starting point for everything random. The same seed and settings give the same "
        "network again."
    ),
    "train_size": N_("How many digits the network learns from."),
    "val_size": N_(
        "Digits set aside to check the network during training. It never learns from "
        "them, so they show how it will do on digits it has never seen."
    ),
    "shift": N_(
        "Move each training digit a little at random (as a share of the image), so the "
        "network learns that position does not matter."
    ),
    "rotation": N_("Turn each training digit a little at random, up to this many degrees."),
    "zoom": N_("Make each training digit a little bigger or smaller at random."),
    "label_smoothing": N_(
        "Teach 'mostly a 7' instead of 'certainly a 7': the right answer's target "
        "is a little below 100 %, so the network stops over-trusting itself."
    ),
}
_PER_BLOCK = ("filters", "kernel_sizes")
PERSIST = {"persist_state": "session"}  # widgets keep their values while the user visits pages
_SEEN = "hp_links_seen"  # every settings query this session read from a link or wrote itself
_OPENED = "hp_link_opened"  # the last link read, as an OpenedLink


@dataclass(frozen=True)
class OpenedLink:
    """The last settings link read: the config it gave, and what it could not set as given."""

    config: TrainConfig
    problems: list[links.LinkProblem]


def help_text(field: str) -> str:
    """The one-line help of a setting, in the user's language."""
    return _(HELP[field])


def widget_key(field: str) -> str:
    """The session-state key of the widget that shows TrainConfig field `field`."""
    return f"hp_{field}"


def block_key(field: str, block: int) -> str:
    """The key of block `block`'s widget (0-based) for a per-block field."""
    return f"hp_{field}{block}"


def widget_values(config: TrainConfig) -> dict:
    """The widget state that shows `config`."""
    values = {
        widget_key(name): value
        for name, value in config.to_dict().items()
        if name not in _PER_BLOCK
    }
    values[BLOCKS_KEY] = config.conv_blocks
    for i in range(MAX_BLOCKS):
        values[block_key("filters", i)] = (*config.filters, *cfg.SPARE_FILTERS)[i]
        values[block_key("kernel_sizes", i)] = (*config.kernel_sizes, *cfg.SPARE_KERNELS)[i]
    return values


def config_from_widgets() -> TrainConfig:
    """The config the widgets show."""
    s = st.session_state
    blocks = range(s[BLOCKS_KEY])
    return TrainConfig(
        **{
            name: s[widget_key(name)]
            for name in TrainConfig.__dataclass_fields__
            if name not in _PER_BLOCK
        },
        filters=tuple(s[block_key("filters", i)] for i in blocks),
        kernel_sizes=tuple(s[block_key("kernel_sizes", i)] for i in blocks),
    )


def show(config: TrainConfig) -> None:
    """Set every widget to show `config`."""
    st.session_state.update(widget_values(config))


def matching_preset(available: int) -> str:
    """The preset the widgets show, or "custom" once any of them was changed."""
    config = config_from_widgets()
    matches = (name for name, preset in PRESETS.items() if preset.fit_to(available) == config)
    return next(matches, "custom")


def preset_buttons(available: int) -> str:
    """One button per preset, the matching one highlighted; returns the preset or "custom"."""
    if BLOCKS_KEY not in st.session_state:
        show(PRESETS["codelab"].fit_to(available))
    # Buttons rather than a selector: a selector whose value callbacks rewrite loses quick changes.
    preset = matching_preset(available)
    *buttons, label = st.columns([1] * len(PRESETS) + [4], vertical_alignment="center")
    for column, name in zip(buttons, PRESETS):
        column.button(
            name,
            key=f"preset_{name}",
            width="stretch",
            help=_(PRESET_HELP[name]),
            type="primary" if name == preset else "secondary",
            on_click=lambda name=name: show(PRESETS[name].fit_to(available)),
        )
    label.caption(
        _("Custom settings")
        if preset == "custom"
        else _("The **{preset}** preset: move any slider to change it").format(preset=preset)
    )
    return preset


def follow_link(available: int) -> None:
    """Show the settings of a link this session has not seen yet; call before the widgets.

    The page writes its settings into the URL on every run (`keep_in_link`), so a query it wrote
    itself, or already read, is not read again and the user's later changes stay. Streamlit
    drops the query on a page switch: coming back, the URL has none and the widgets, which keep
    their values, write it again.
    """
    given = {name: st.query_params[name] for name in links.FIELDS if name in st.query_params}
    seen = st.session_state.setdefault(_SEEN, set())
    if not given or frozenset(given.items()) in seen:
        return
    seen.add(frozenset(given.items()))
    config, problems = links.from_params(given, available)
    show(config)
    st.session_state[_OPENED] = OpenedLink(config, problems)


def link_problems() -> None:
    """What the link just opened could not set as given, while the widgets still show it."""
    opened = st.session_state.get(_OPENED)
    if opened and opened.problems and opened.config == config_from_widgets():
        lines = "".join(f"\n- {problem.message}" for problem in opened.problems)
        intro = _("This link asked for settings the page does not offer; it uses these instead:")
        st.warning(intro + lines, icon=":material/link:")


def keep_in_link(config: TrainConfig) -> None:
    """Write `config` into the URL, one parameter per field; other parameters stay as they are."""
    params = links.to_params(config)
    st.session_state.setdefault(_SEEN, set()).add(frozenset(params.items()))
    if any(st.query_params.get(name) != value for name, value in params.items()):
        st.query_params.update(params)


def share_link(config: TrainConfig) -> None:
    """The full link to `config` (and the user's language), in a box with a copy button."""
    url = f"{st.context.url or ''}?{links.share_query(config, language.current())}"
    with st.expander(_("Share these settings"), icon=":material/link:"):
        st.caption(
            _(
                "Whoever opens this link gets these settings on the Train page (not your "
                "runs or models). Copy it with the button in the box's corner."
            )
        )
        st.code(url, language=None, wrap_lines=True)


def settings_form(available: int) -> TrainConfig:
    """The Network and Training tabs; returns the config they show (it may be impossible)."""
    network, training = st.tabs([_("Network"), _("Training")])
    with network:
        _network_settings()
    with training:
        _training_settings(available)
    return config_from_widgets()


def option_label(value: str) -> str:
    """An option value that is a word, as shown (translated)."""
    return _(OPTION_LABELS[value])


def _setting(place, widget: str, label: str, field: str, *args, **kwargs):
    """The widget of one TrainConfig field in `place`: keyed, explained, kept across pages
    (`label` already translated)."""
    return getattr(place, widget)(
        label, *args, key=widget_key(field), help=help_text(field), **PERSIST, **kwargs
    )


def _ranged(place, widget: str, label: str, field: str, span: cfg.Span, **kwargs):
    """A slider or number input of one TrainConfig field over its range."""
    return _setting(place, widget, label, field, span.low, span.high, step=span.step, **kwargs)


def _word_choice(place, label: str, field: str, options: tuple[str, ...]):
    """A select box of one TrainConfig field whose values are words, shown translated."""
    return _setting(place, "selectbox", label, field, options, format_func=option_label)


def block_choice(place, field: str, block: int, **kwargs):
    """The slider of one conv block's filters or kernel size (`field`), keyed as Train keys it."""
    options, shown = (cfg.FILTERS, str) if field == "filters" else (cfg.KERNELS, _square)
    label = _("Block {n} filters") if field == "filters" else _("Block {n} kernel")
    return place.select_slider(
        label.format(n=block + 1),
        options,
        key=block_key(field, block),
        help=help_text(field),
        format_func=shown,
        **PERSIST,
        **kwargs,
    )


def _square(k: int) -> str:
    return f"{k}×{k}"


def _network_settings() -> None:
    st.slider(_("Conv blocks"), 0, MAX_BLOCKS, key=BLOCKS_KEY, help=help_text("blocks"), **PERSIST)
    for i, column in enumerate(st.columns(MAX_BLOCKS)):
        unused = i >= st.session_state[BLOCKS_KEY]
        block_choice(column, "filters", i, disabled=unused)
        block_choice(column, "kernel_sizes", i, disabled=unused)
    left, middle, right = st.columns(3)
    _setting(left, "selectbox", _("Stride"), "strides", cfg.STRIDES)
    _setting(middle, "selectbox", _("Padding"), "padding", cfg.PADDINGS)
    _word_choice(right, _("Pooling (2×2)"), "pooling", cfg.POOLINGS)
    _setting(left, "selectbox", _("Activation"), "activation", cfg.ACTIVATIONS)
    _setting(
        middle,
        "select_slider",
        _("Hidden dense units"),
        "dense_units",
        cfg.DENSE,
        format_func=lambda units: str(units) if units else _("none"),
    )
    _ranged(right, "slider", _("Dropout"), "dropout", cfg.SPANS["dropout"])
    _setting(st, "toggle", _("Batch normalisation"), "batch_norm")


def _training_settings(available: int) -> None:
    spans = {**cfg.SPANS, **cfg.size_spans(available)}
    left, middle, right = st.columns(3)
    _setting(left, "selectbox", _("Optimizer"), "optimizer", cfg.OPTIMIZERS)
    _setting(middle, "select_slider", _("Learning rate"), "learning_rate", cfg.RATES)
    _word_choice(right, _("Schedule"), "lr_schedule", cfg.LR_SCHEDULES)
    _setting(left, "select_slider", _("Batch size"), "batch_size", cfg.BATCHES)
    _ranged(middle, "slider", _("Epochs"), "epochs", spans["epochs"])
    _ranged(right, "number_input", _("Seed"), "seed", spans["seed"])
    _ranged(
        left,
        "slider",
        _("Label smoothing"),
        "label_smoothing",
        spans["label_smoothing"],
        format="%.2f",
    )
    left, right = st.columns(2)
    _ranged(left, "slider", _("Training digits"), "train_size", spans["train_size"])
    _ranged(right, "slider", _("Validation digits"), "val_size", spans["val_size"])
    st.markdown(_("**Augmentation** (random changes to each training image)"))
    left, middle, right = st.columns(3)
    _ranged(left, "slider", _("Shift"), "shift", spans["shift"], format="%.2f")
    _ranged(middle, "slider", _("Rotation (°)"), "rotation", spans["rotation"])
    _ranged(right, "slider", _("Zoom"), "zoom", spans["zoom"], format="%.2f")
