"""Shareable links: a TrainConfig as URL query parameters, and back.

One parameter per field, named as the field: tuples comma-separated, booleans `true`/`false`
(`?filters=16,32&kernel_sizes=5,5&batch_norm=false&epochs=3&batch_size=128`). Reading a link
takes the codelab preset's value for every field it leaves out and brings every value to the
nearest one the Train page offers (config.py's grids and ranges), saying what it changed and
why. A combination that cannot be built (three 7×7 blocks, say) is kept as given: the page
explains that itself. Parameters that are not fields (the language, Streamlit's own) are
ignored here.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from urllib.parse import urlencode

from mnist_core import config as cfg
from mnist_core.config import PRESETS, TrainConfig
from mnist_core.i18n import N_, _

FIELDS = tuple(field.name for field in dataclasses.fields(TrainConfig))
LANGUAGE_PARAM = "lang"  # the one parameter a shared link carries besides the settings
# Discrete settings and the values their widgets offer; the other numbers are sliders (SPANS).
GRIDS: dict[str, tuple] = {
    "filters": cfg.FILTERS,
    "kernel_sizes": cfg.KERNELS,
    "strides": cfg.STRIDES,
    "dense_units": cfg.DENSE,
    "learning_rate": cfg.RATES,
    "batch_size": cfg.BATCHES,
}
WORDS = {
    "padding": cfg.PADDINGS,
    "pooling": cfg.POOLINGS,
    "activation": cfg.ACTIVATIONS,
    "optimizer": cfg.OPTIMIZERS,
    "lr_schedule": cfg.LR_SCHEDULES,
}
_PER_BLOCK = ("filters", "kernel_sizes")
_LONGEST_SHOWN = 40  # characters of a link's value quoted in a message
# A message quotes the link's value: only these characters, so a crafted link cannot put a
# link, an image or HTML into the page's Markdown.
_NOT_SHOWN = re.compile(r"[^\w.,+\- ]", re.ASCII)

NOT_A_WORD = N_("{name}={value} is not one of {options}: using {used}, the codelab value.")
NOT_TRUE_OR_FALSE = N_("{name}={value} is neither true nor false: using {used}, the codelab value.")
NOT_A_NUMBER = N_("{name}={value} is not a number: using {used}, the codelab value.")
NOT_A_LIST = N_(
    "{name}={value} is not a list of numbers such as 16,32: using {used}, the codelab value."
)
NOT_OFFERED = N_("{name}={value} is not among the values offered: using the nearest, {used}.")
TOO_MANY_BLOCKS = N_(
    "{name}={value} has more than {blocks} blocks: using the first {blocks}, {used}."
)
OUT_OF_RANGE = N_("{name}={value} is outside {low} to {high}: using {used}.")
NOT_WHOLE = N_("{name}={value} is not a whole number: using {used}.")
NO_ROOM = N_(
    "{name}={value} is more than the {room} digits left beside {val_size} validation digits: "
    "using {used}."
)
WRONG_BLOCKS = N_(
    "{name}={value} does not give one size for each of the {blocks} blocks: using {used}."
)


@dataclasses.dataclass(frozen=True)
class LinkProblem:
    """A link's value that the page could not use as given: the field, and what it did instead."""

    field: str
    template: str  # an English message, translated each time it is shown
    values: tuple[tuple[str, str], ...]

    @property
    def message(self) -> str:
        """What happened, in the current user's language."""
        return _(self.template).format(**dict(self.values))


def to_params(config: TrainConfig) -> dict[str, str]:
    """One query parameter per TrainConfig field, as a link shows it."""
    return {name: _text(value) for name, value in vars(config).items()}


def share_query(config: TrainConfig, language: str | None = None) -> str:
    """The query string of a link to `config` (and the language, if given); nothing else."""
    params = to_params(config)
    if language:
        params[LANGUAGE_PARAM] = language
    return urlencode(params, safe=",")  # "16,32" reads better than "16%2C32"


def from_params(params: Mapping[str, str], available: int) -> tuple[TrainConfig, list[LinkProblem]]:
    """The config a link describes, as the Train page's widgets can show it, and what changed.

    `available` is how many training digits there are (it bounds the two sizes).
    """
    read = _Reader(params, PRESETS["codelab"].fit_to(available))
    values = {name: read.word(name, words) for name, words in WORDS.items()}
    values["batch_norm"] = read.boolean("batch_norm")
    values |= {name: read.on_grid(name, grid) for name, grid in GRIDS.items()}
    values |= {name: read.in_span(name, span) for name, span in cfg.SPANS.items()}
    values["val_size"] = read.in_span("val_size", cfg.size_spans(available)["val_size"])
    values["train_size"] = read.train_size(available, values["val_size"])
    values["filters"], values["kernel_sizes"] = read.blocks(
        values["filters"], values["kernel_sizes"]
    )
    problems = sorted(read.problems, key=lambda problem: FIELDS.index(problem.field))
    return TrainConfig(**values), problems


def quoted(given: str) -> str:
    """A link's value as a message quotes it: short, plain characters only, in a code span."""
    given = _NOT_SHOWN.sub("?", given)
    if len(given) > _LONGEST_SHOWN:
        given = given[:_LONGEST_SHOWN] + "…"
    # In a code span: Markdown would turn even plain text such as www.example.com into a link.
    return f"`{given}`"


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(_text(v) for v in value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)  # repr: an exact round trip
    return str(value)


def _numbers(text: str) -> list[float]:
    """The comma-separated finite numbers in `text`; empty if any part is not one."""
    try:
        numbers = [float(part) for part in text.split(",")]
    except ValueError:
        return []
    return numbers if all(math.isfinite(n) for n in numbers) else []


def _nearest(number: float, grid: tuple) -> int | float:
    """The grid value nearest `number`: by ratio on a grid of sizes or rates, else by distance."""
    if number > 0 and all(value > 0 for value in grid):
        # Logs apart rather than the log of a ratio, which underflows to 0 for a tiny number.
        return min(grid, key=lambda value: abs(math.log(number) - math.log(value)))
    return min(grid, key=lambda value: abs(number - value))


class _Reader:
    """Reads a link's fields one at a time, noting every value it could not take as given."""

    def __init__(self, params: Mapping[str, str], base: TrainConfig) -> None:
        self.params = {name: params[name] for name in FIELDS if name in params}
        self.base = base
        self.problems: list[LinkProblem] = []

    def _note(self, name: str, message: str, **values: object) -> None:
        shown = {"name": name, "value": quoted(self.params[name])}
        shown |= {key: _text(value) for key, value in values.items()}
        self.problems.append(LinkProblem(name, message, tuple(shown.items())))

    def _refuse(self, name: str, message: str, **values: object) -> object:
        """The codelab value of `name`, noting why the link's was refused."""
        used = getattr(self.base, name)
        self._note(name, message, used=used, **values)
        return used

    def word(self, name: str, words: tuple[str, ...]) -> str:
        """One of `words`; anything else takes the codelab value."""
        if name not in self.params:
            return getattr(self.base, name)
        text = self.params[name].strip().lower()
        if text in words:
            return text
        return self._refuse(name, NOT_A_WORD, options=", ".join(words))

    def boolean(self, name: str) -> bool:
        """`true` or `false`; anything else takes the codelab value."""
        if name not in self.params:
            return getattr(self.base, name)
        text = self.params[name].strip().lower()
        if text in ("true", "false"):
            return text == "true"
        return self._refuse(name, NOT_TRUE_OR_FALSE)

    def on_grid(self, name: str, grid: tuple) -> int | float | tuple:
        """The grid value nearest the link's, or one for each block of a per-block field."""
        if name not in self.params:
            return getattr(self.base, name)
        per_block = name in _PER_BLOCK
        if per_block and not self.params[name].strip():
            return ()  # no conv blocks, as the dense preset has
        numbers = _numbers(self.params[name])
        if not numbers or (len(numbers) > 1 and not per_block):
            return self._refuse(name, NOT_A_LIST if per_block else NOT_A_NUMBER)
        used = tuple(_nearest(n, grid) for n in numbers[: cfg.MAX_BLOCKS])
        shown = used if per_block else used[0]
        if len(numbers) > cfg.MAX_BLOCKS:
            self._note(name, TOO_MANY_BLOCKS, blocks=cfg.MAX_BLOCKS, used=shown)
        elif used != tuple(numbers):
            self._note(name, NOT_OFFERED, used=shown)
        return shown

    def in_span(self, name: str, span: cfg.Span) -> int | float:
        """The link's number within the slider's range, and whole for a whole-number slider."""
        if name not in self.params:
            return getattr(self.base, name)
        numbers = _numbers(self.params[name])
        if len(numbers) != 1:
            return self._refuse(name, NOT_A_NUMBER)
        number = numbers[0]
        used = min(max(number, span.low), span.high)
        used = round(used) if isinstance(span.low, int) else float(used)
        if not span.low <= number <= span.high:
            self._note(name, OUT_OF_RANGE, low=span.low, high=span.high, used=used)
        elif used != number:
            self._note(name, NOT_WHOLE, used=used)
        return used

    def train_size(self, available: int, val_size: int) -> int:
        """The training size, leaving room for `val_size` validation digits among the available."""
        span = cfg.size_spans(available)["train_size"]
        room = max(span.low, available - val_size)
        if "train_size" not in self.params:
            return min(self.base.train_size, room)
        numbers = _numbers(self.params["train_size"])
        if len(numbers) == 1 and numbers[0] > room:
            self._note("train_size", NO_ROOM, room=room, val_size=val_size, used=room)
            return room
        return self.in_span("train_size", span)

    def blocks(self, filters: tuple, kernels: tuple) -> tuple[tuple, tuple]:
        """Filters and kernel sizes, one of each per block, as the widgets of each block hold them.

        The block count comes from `filters` if the link gives them, else from `kernel_sizes`.
        """
        count = len(filters) if "filters" in self.params else len(kernels)
        fitted_kernels = (*kernels, *cfg.SPARE_KERNELS)[:count]
        if "kernel_sizes" in self.params and len(kernels) != count:
            self._note("kernel_sizes", WRONG_BLOCKS, blocks=count, used=fitted_kernels)
        return (*filters, *cfg.SPARE_FILTERS)[:count], fitted_kernels
