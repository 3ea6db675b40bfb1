"""A run that fine-tunes a copy of a trained model on the user's own digits, with tests before
and after."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mnist_core.classroom.jobs import TrainingJob
from mnist_core.classroom.workspaces import ModelEntry
from mnist_core.config import TrainConfig
from mnist_core.data import MnistData, stratified_indices
from mnist_core.engine.handwriting import HandwritingError, HandwritingSet
from mnist_core.i18n import _, ngettext

if TYPE_CHECKING:
    import keras

    from mnist_core.engine.evaluation import Evaluation
    from mnist_core.engine.progress import TrainResult

HELD_OUT = 1_000  # MNIST training digits kept out of the mix, to watch for forgetting


@dataclass(eq=False, kw_only=True)
class FineTuneJob(TrainingJob):
    """A run that fine-tunes a copy of a model on the user's digits, with before/after tests.

    Its validation digits are HELD_OUT MNIST training digits (every digit in proportion), left
    out of the mix: their curve shows whether the model forgets MNIST while it learns the
    user's handwriting.
    """

    base: ModelEntry
    own: HandwritingSet  # a copy, taken when the run was asked for
    own_before: Evaluation | None = field(default=None, init=False)
    own_after: Evaluation | None = field(default=None, init=False)
    test_before: Evaluation | None = field(default=None, init=False)

    @classmethod
    def of(
        cls,
        name: str,
        base: ModelEntry,
        own: HandwritingSet,
        epochs: int,
        data: MnistData,
        slots=None,
        **options,
    ) -> FineTuneJob:
        """A job fine-tuning `base` on a copy of `own` for `epochs` (not started)."""
        from mnist_core.engine.fine_tuning import BATCH_SIZE, LEARNING_RATE, mix_size

        if not len(own):
            raise HandwritingError(_("Add some digits of your own before fine-tuning on them."))
        config = TrainConfig(
            epochs=epochs,
            batch_size=BATCH_SIZE,
            learning_rate=LEARNING_RATE,
            train_size=mix_size(len(own), len(data.y_train) - HELD_OUT),
            val_size=HELD_OUT,
        )
        return cls(name, config, data, slots, base=base, own=own.copy(), **options)

    @property
    def publishable(self) -> bool:
        """Never: its config alone cannot redo it."""
        return False

    def describe(self) -> str:
        """What this run trains, in plain words."""
        return ngettext(
            "{model}, fine-tuned on {n} digit of your own",
            "{model}, fine-tuned on {n} digits of your own",
            len(self.own),
        ).format(model=self.base.name, n=len(self.own))

    def _train(self) -> TrainResult:
        from mnist_core.engine.fine_tuning import fine_tune
        from mnist_core.engine.model import evaluate

        x_own, y_own = self.own.as_test_data()
        self.own_before = evaluate(self.base.model, x_own, y_own)
        self.test_before = evaluate(self.base.model, self.data.x_test, self.data.y_test)
        held_out = stratified_indices(self.data.y_train, HELD_OUT, seed=0)
        return fine_tune(
            self.base.model,
            self.own,
            self.data,
            epochs=self.config.epochs,
            learning_rate=self.config.learning_rate,
            batch_size=self.config.batch_size,
            exclude=held_out,
            validation=(self.data.x_train[held_out], self.data.y_train[held_out]),
            on_progress=self._record,
            stop=self._stop,
        )

    def _test(self, model: keras.Model) -> None:
        from mnist_core.engine.model import evaluate

        super()._test(model)
        self.own_after = evaluate(model, *self.own.as_test_data())
