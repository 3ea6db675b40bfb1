"""Lessons: a Train link that shows only some settings, states a task and sets a goal.

A lesson link is a settings link (links.py) with five more query parameters:
`show=epochs,batch_size` (the TrainConfig fields students may change; the others stay as the
link sets them), `goal_accuracy=0.97` (test accuracy, at least), `goal_params=5000` (at most),
`goal_seconds=30` (training seconds, at most) and `task=...` (one line of text). A bad value is
named and ignored, as links.py does for the settings. A run is judged against the goal in plain
words, saying which part missed and by how much; runs published from a lesson carry its `id`,
so the class board can show one lesson's runs.

The built-in lessons follow the TensorFlow.js codelab, step by step (`CODELAB_STEPS`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Mapping
from urllib.parse import urlencode

from mnist_core.classroom import links
from mnist_core.classroom.links import LinkProblem
from mnist_core.config import PRESETS, TrainConfig
from mnist_core.i18n import N_, _

SHOW, TASK = "show", "task"
GOAL_ACCURACY, GOAL_PARAMS, GOAL_SECONDS = "goal_accuracy", "goal_params", "goal_seconds"
PARAMS = (SHOW, GOAL_ACCURACY, GOAL_PARAMS, GOAL_SECONDS, TASK)  # a lesson's own parameters
MAX_TASK_CHARS = 200
_ID_CHARS = 12  # of the SHA-256 of a lesson: 48 bits, plenty for one class board

NOT_A_SETTING = N_("show={value} names no setting: ignored ({options} are).")
BAD_ACCURACY = N_(
    "goal_accuracy={value} is not a share of the test digits above 0 and at most 1 (0.97 is "
    "97 %): no accuracy goal."
)
BAD_PARAMS = N_("goal_params={value} is not a whole number above 0: no parameter goal.")
BAD_SECONDS = N_("goal_seconds={value} is not a number of seconds above 0: no time goal.")
LONG_TASK = N_("The task is longer than {n} characters: it is cut there.")


@dataclasses.dataclass(frozen=True)
class Goal:
    """What a run must reach; None: that part is not asked for."""

    accuracy: float | None = None  # test accuracy, 0-1, at least
    params: int | None = None  # parameters, at most
    seconds: float | None = None  # training seconds, at most

    def __bool__(self) -> bool:
        return any(part is not None for part in dataclasses.astuple(self))

    def parts(self) -> list[str]:
        """Each part of the goal in plain words, in the current user's language."""
        parts = []
        if self.accuracy is not None:
            parts.append(_("test accuracy at least {goal} %").format(goal=_points(self.accuracy)))
        if self.params is not None:
            parts.append(_("at most {goal:,} parameters").format(goal=self.params))
        if self.seconds is not None:
            parts.append(
                _("at most {goal} s of training").format(goal=_tenths(self.seconds, math.floor))
            )
        return parts


@dataclasses.dataclass(frozen=True)
class Check:
    """One part of a goal, judged: met or not, and the sentence that says so and by how much."""

    part: str  # "accuracy", "params" or "seconds"
    met: bool
    template: str  # English, translated each time it is shown
    values: tuple[tuple[str, str], ...]

    @property
    def message(self) -> str:
        """In plain words, in the current user's language."""
        return _(self.template).format(**dict(self.values))


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A run judged against a goal, part by part."""

    checks: tuple[Check, ...]

    @property
    def met(self) -> bool:
        """True when every part of the goal is met."""
        return all(check.met for check in self.checks)

    @property
    def missed(self) -> tuple[Check, ...]:
        """The parts that were not met."""
        return tuple(check for check in self.checks if not check.met)


@dataclasses.dataclass(frozen=True)
class Lesson:
    """A Train page that shows only `show`'s settings, starting from `config`, with a goal."""

    config: TrainConfig  # the settings the lesson starts from; those not shown stay so
    show: tuple[str, ...] = ()  # TrainConfig field names, in the order the link gives them
    goal: Goal = Goal()
    task: str = ""

    @property
    def fixed(self) -> tuple[str, ...]:
        """The settings students may not change, in TrainConfig's order."""
        return tuple(name for name in links.FIELDS if name not in self.show)

    @property
    def id(self) -> str:
        """A short stable name of the lesson: the same task, goal, shown settings and fixed values
        give the same id (the values of shown settings are the students' to change)."""
        fixed = links.to_params(self.config)
        own = self.params() | {SHOW: ",".join(sorted(self.show))}  # in any order, the same
        text = urlencode([*sorted(own.items()), *((name, fixed[name]) for name in self.fixed)])
        return hashlib.sha256(text.encode()).hexdigest()[:_ID_CHARS]

    def params(self) -> dict[str, str]:
        """The lesson's own query parameters (not the settings)."""
        params = {SHOW: ",".join(self.show)}
        goal = self.goal
        for name, value in (
            (GOAL_ACCURACY, goal.accuracy),
            (GOAL_PARAMS, goal.params),
            (GOAL_SECONDS, goal.seconds),
        ):
            if value is not None:
                params[name] = _number_text(value)
        if self.task:
            params[TASK] = self.task
        return params

    def query(self, language: str | None = None) -> str:
        """The query string of a link to this lesson: its settings, then its own parameters."""
        params = {**links.to_params(self.config), **self.params()}
        if language:
            params[links.LANGUAGE_PARAM] = language
        return urlencode(params, safe=",")

    def with_changes(self, changes: Mapping[str, object]) -> TrainConfig:
        """The lesson's config with the shown settings as `changes` has them (others ignored)."""
        return self.config.replace(**{k: v for k, v in changes.items() if k in self.show})

    def judge(self, accuracy: float, params: int, seconds: float) -> Verdict:
        """A run with this test accuracy (0-1), size and training time, against the goal."""
        return judge(self.goal, accuracy, params, seconds)


def is_lesson_link(params: Mapping[str, str]) -> bool:
    """True when a link carries any of a lesson's own parameters."""
    return any(name in params for name in PARAMS)


def from_params(
    params: Mapping[str, str], available: int
) -> tuple[Lesson | None, list[LinkProblem]]:
    """The lesson a link describes (None if it is no lesson link), and the values it ignored.

    The settings are read as links.from_params reads them (their problems are its to report);
    `available` is how many training digits there are.
    """
    if not is_lesson_link(params):
        return None, []
    config, _setting_problems = links.from_params(params, available)
    problems: list[LinkProblem] = []
    show = _show(params.get(SHOW, ""), problems)
    goal = Goal(
        accuracy=_goal_number(params, GOAL_ACCURACY, BAD_ACCURACY, problems, _is_share),
        params=_goal_number(params, GOAL_PARAMS, BAD_PARAMS, problems, _is_count),
        seconds=_goal_number(params, GOAL_SECONDS, BAD_SECONDS, problems, _is_seconds),
    )
    if goal.params is not None:
        goal = dataclasses.replace(goal, params=int(goal.params))
    task = clean_task(params.get(TASK, ""))
    if len(task) > MAX_TASK_CHARS:
        task = task[:MAX_TASK_CHARS].rstrip()
        problems.append(LinkProblem(TASK, LONG_TASK, (("n", str(MAX_TASK_CHARS)),)))
    return Lesson(config, show, goal, task), problems


def clean_task(text: str) -> str:
    """A task as one line: control characters gone, runs of spaces and line breaks one space."""
    text = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(text.split())


def judge(goal: Goal, accuracy: float, params: int, seconds: float) -> Verdict:
    """A run against `goal`: each part met or missed, and by how much, in plain words.

    Figures are shown so that a miss never reads as a hit: the accuracy rounded down, the
    shortfall and the excess rounded up (at least one step of the figure shown).
    """
    checks = []
    if goal.accuracy is not None:
        values = {"value": _points(accuracy, math.floor), "goal": _points(goal.accuracy)}
        if accuracy >= goal.accuracy - 1e-12:
            checks.append(
                _check("accuracy", True, N_("test accuracy {value} %, at least {goal} %"), values)
            )
        else:
            values["by"] = _points(goal.accuracy - accuracy, math.ceil)
            checks.append(
                _check(
                    "accuracy",
                    False,
                    N_("test accuracy {value} %, {by} points short of {goal} %"),
                    values,
                )
            )
    if goal.params is not None:
        values = {"value": f"{params:,}", "goal": f"{goal.params:,}"}
        if params <= goal.params:
            checks.append(_check("params", True, N_("{value} parameters, at most {goal}"), values))
        else:
            values["by"] = f"{params - goal.params:,}"
            checks.append(
                _check("params", False, N_("{value} parameters, {by} more than {goal}"), values)
            )
    if goal.seconds is not None:
        values = {"value": _tenths(seconds, math.ceil), "goal": _tenths(goal.seconds, math.floor)}
        if seconds <= goal.seconds:
            checks.append(
                _check("seconds", True, N_("{value} s of training, at most {goal} s"), values)
            )
        else:
            values["by"] = _tenths(seconds - goal.seconds, math.ceil)
            checks.append(
                _check(
                    "seconds", False, N_("{value} s of training, {by} s more than {goal} s"), values
                )
            )
    return Verdict(tuple(checks))


def _check(part: str, met: bool, template: str, values: dict[str, str]) -> Check:
    return Check(part, met, template, tuple(values.items()))


def _rounded(number: float, step: float, direction) -> float:
    """`number` to a multiple of `step`, rounded by `direction` (math.floor or math.ceil) but
    not across float noise: 0.97 - 0.962 is 0.00800000000000001, which is 0.8 points."""
    steps = number / step
    nearest = round(steps)
    if abs(steps - nearest) < 1e-6:
        return nearest * step
    return direction(steps) * step


def _points(share: float, direction=round) -> str:
    """A share (0-1) as percentage points to two decimals, trailing zeros dropped: 96.2, 0.05."""
    points = max(_rounded(share * 100, 0.01, direction), 0.01 if direction is math.ceil else 0)
    return f"{points:.2f}".rstrip("0").rstrip(".")


def _tenths(seconds: float, direction) -> str:
    """Seconds to one decimal, trailing zero dropped: 41.3, 30."""
    tenths = max(_rounded(seconds, 0.1, direction), 0.1 if direction is math.ceil else 0)
    return f"{tenths:,.1f}".removesuffix(".0")


def _number_text(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _show(text: str, problems: list[LinkProblem]) -> tuple[str, ...]:
    """The known setting names in `text`, each once, in its order; every other one noted."""
    shown: list[str] = []
    for name in (part.strip() for part in text.split(",")):
        if name in links.FIELDS:
            if name not in shown:
                shown.append(name)
        elif name:
            values = (("value", links.quoted(name)), ("options", ", ".join(links.FIELDS)))
            problems.append(LinkProblem(SHOW, NOT_A_SETTING, values))
    return tuple(shown)


def _goal_number(params, name, template, problems, fits) -> float | None:
    """The link's goal `name` if it is a finite number that `fits`, else None (noted if given)."""
    if name not in params:
        return None
    try:
        number = float(params[name])
    except ValueError:
        number = math.nan
    if math.isfinite(number) and fits(number):
        return number
    problems.append(LinkProblem(name, template, (("value", links.quoted(params[name])),)))
    return None


def _is_share(number: float) -> bool:
    return 0 < number <= 1


def _is_count(number: float) -> bool:
    return number >= 1 and number.is_integer()


def _is_seconds(number: float) -> bool:
    return number > 0


# --- the built-in lessons, after the codelab ---------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of the codelab sequence on Home: a lesson on Train, or a page to look at."""

    key: str
    title: str  # English, marked with N_(): translated where shown, as are text and task
    text: str
    page: str  # "data", "train" or "evaluate": the page's url path
    # A lesson's own parameters, as Lesson.params() writes them; the settings are the codelab's.
    lesson_params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # Not in the link, so that it is shown in the reader's language (task_text).
    task: str = ""

    def lesson(self, available: int) -> Lesson | None:
        """The step's lesson with its settings fitted to the data (None: a page to look at)."""
        return from_params(self.lesson_params, available)[0] if self.lesson_params else None


CODELAB = PRESETS["codelab"]
_TURN = N_(
    "Turn the training digits at random (Rotation) and train: the goal is 95 %. Then on Draw, "
    "turn your digit with the Turn slider and see how far it still reads it."
)
CODELAB_STEPS = (
    Step(
        key="data",
        title=N_("Look at the data"),
        text=N_("Browse MNIST's handwritten digits: 28 × 28 grey pixels, ten digits."),
        page="data",
    ),
    Step(
        key="codelab",
        title=N_("Train the codelab network"),
        text=N_("Two conv layers of 8 and 16 filters, ten epochs: the codelab's network as it is."),
        page="train",
        lesson_params={SHOW: "", GOAL_ACCURACY: "0.9"},
        task=N_("Train the codelab network as it is: reach 90 % test accuracy."),
    ),
    Step(
        key="weakest",
        title=N_("Find its weakest digit"),
        text=N_("On Evaluate, find the digit your network reads worst, and what it takes it for."),
        page="evaluate",
    ),
    Step(
        key="smaller",
        title=N_("Beat 95 % with fewer parameters"),
        text=N_(
            "The codelab network has 5,994 parameters: reach 95 % test accuracy with at most 5,000."
        ),
        page="train",
        lesson_params={
            SHOW: "filters,kernel_sizes,dense_units,epochs",
            GOAL_ACCURACY: "0.95",
            GOAL_PARAMS: "5000",
        },
        task=N_("Beat 95 % test accuracy with at most 5,000 parameters."),
    ),
    Step(
        key="turned",
        title=N_("Make it read a turned digit"),
        text=N_("Train on randomly turned digits, then turn your drawing on Draw."),
        page="train",
        lesson_params={SHOW: "rotation,epochs", GOAL_ACCURACY: "0.95"},
        task=_TURN,
    ),
)


def task_text(lesson: Lesson) -> str:
    """The lesson's task as shown: the link's own, else a built-in lesson's in the reader's
    language (a lesson link with the same shown settings and goal as a step of CODELAB_STEPS)."""
    if lesson.task:
        return lesson.task
    params = lesson.params()
    step = next((s for s in CODELAB_STEPS if s.lesson_params and s.lesson_params == params), None)
    return _(step.task) if step is not None else ""
