"""A handwriting set keeps drawn digits, saves and reloads them safely, tests and fine-tunes."""

import io
import pickle
import threading
import zipfile

import numpy as np
import pytest
from PIL import Image

from mnist_core.data import evaluation_indices
from mnist_core.engine import fine_tuning, handwriting
from mnist_core.engine.fine_tuning import fine_tune, fine_tune_arrays
from mnist_core.engine.handwriting import HandwritingError, HandwritingFileError, HandwritingSet
from mnist_core.engine.model import evaluate
from mnist_core.engine.preprocess import DigitTooSmallError, EmptyImageError, image_to_mnist
from mnist_core.engine.progress import EpochProgress

CANVAS = 280


def _canvas(digit: np.ndarray, angle: float = 0.0) -> np.ndarray:
    """A 28x28 MNIST digit as the app's canvas returns a drawing: RGBA, white ink on black."""
    grey = Image.fromarray(digit).rotate(angle, Image.Resampling.BILINEAR)
    grey = np.asarray(grey.resize((CANVAS, CANVAS), Image.Resampling.BILINEAR))
    return np.dstack([grey, grey, grey, np.full_like(grey, 255)])


def _set_of(mnist, idx, labels=None, angle: float = 0.0) -> HandwritingSet:
    """The test digits at `idx`, drawn on the canvas and added with `labels` (default: true)."""
    hset = HandwritingSet()
    labels = mnist.y_test[idx] if labels is None else labels
    for i, label in zip(idx, labels):
        hset.add(_canvas(mnist.x_test[i], angle), int(label))
    return hset


@pytest.fixture(scope="module")
def twelve(mnist) -> HandwritingSet:
    """Twelve real test digits added as canvas drawings."""
    return _set_of(mnist, evaluation_indices(mnist, 12, seed=1))


def test_a_drawing_is_kept_as_the_digit_the_model_sees_with_its_label_and_the_drawing(mnist):
    hset = HandwritingSet()
    drawing = _canvas(mnist.x_test[0])
    assert hset.add(drawing, 7) == 0 and len(hset) == 1
    seen = np.round(image_to_mnist(drawing, drawing=True) * 255)
    assert hset.x.dtype == np.uint8 and np.array_equal(hset.x[0], seen)
    assert hset.y.tolist() == [7] and hset[0].digit == 7
    assert hset.originals.shape == (1, 112, 112) and hset.originals.dtype == np.uint8
    # The kept drawing is faithful: preprocessing it again gives the digit back.
    again = image_to_mnist(hset[0].original, drawing=True) * 255
    assert np.abs(again - hset.x[0]).mean() < 8
    with pytest.raises(ValueError, match="read-only"):  # what the UI is shown is the set's own
        hset[0].image[0, 0] = 255


def test_a_wide_drawing_keeps_its_shape_in_the_original():
    wide = np.zeros((200, 400), np.uint8)
    wide[95:105, 40:360] = 255  # a long dash: "1" lying down
    hset = HandwritingSet()
    hset.add(wide, 1)
    inked_rows = np.flatnonzero(hset[0].original.max(axis=1) > 64)
    inked_cols = np.flatnonzero(hset[0].original.max(axis=0) > 64)
    assert len(inked_cols) > 80 and len(inked_rows) < 8  # still a dash, not a square blob


def test_blank_or_tiny_drawings_and_bad_labels_are_refused_and_nothing_is_kept(mnist):
    hset = HandwritingSet()
    with pytest.raises(EmptyImageError, match="blank"):
        hset.add(np.zeros((CANVAS, CANVAS, 4), np.uint8), 3)
    dot = np.zeros((CANVAS, CANVAS), np.uint8)
    dot[140:150, 140:150] = 255
    with pytest.raises(DigitTooSmallError, match="too small"):
        hset.add(dot, 3)
    for label in (10, -1, 2.5, "3", None):
        with pytest.raises(HandwritingError, match="0-9"):
            hset.add(_canvas(mnist.x_test[0]), label)
    hset.add(_canvas(mnist.x_test[0]), np.uint8(7))  # a NumPy digit is a digit
    assert len(hset) == 1 and hset.y.tolist() == [7]


def test_deleting_digits_keeps_the_others_in_order_even_when_a_tab_deleted_them_first(mnist):
    labels = [3, 1, 3, 7, 3]
    hset = _set_of(mnist, np.arange(5), labels)
    assert hset.counts() == [0, 1, 0, 3, 0, 0, 0, 1, 0, 0]
    shown = hset.items()  # what one tab shows
    version = hset.version
    hset.discard([shown[2]])
    assert hset.y.tolist() == [3, 1, 7, 3] and hset.version > version
    assert hset.items()[2] is shown[3], "the others are the same digits, in the same order"
    # Another tab, showing the old list, deletes the one already gone and one more.
    hset.discard([shown[2], shown[0]])
    assert hset.y.tolist() == [1, 7, 3] and hset.items()[0] is shown[1]
    copied = hset.copy()
    hset.discard(hset.items())
    assert len(hset) == 0 and copied.y.tolist() == [1, 7, 3], "a copy keeps its digits"
    hset.replace_with(copied)
    assert hset.y.tolist() == [1, 7, 3]


def test_a_full_set_refuses_another_digit(mnist, monkeypatch):
    monkeypatch.setattr(handwriting, "MAX_DIGITS", 2)
    hset = _set_of(mnist, np.arange(2))
    with pytest.raises(HandwritingError, match="full"):
        hset.add(_canvas(mnist.x_test[2]), 1)
    assert len(hset) == 2


def test_the_file_round_trips_and_reads_like_keras_mnist(twelve):
    data = twelve.to_npz_bytes()
    again = HandwritingSet.from_npz_bytes(data)
    assert np.array_equal(again.x, twelve.x) and np.array_equal(again.y, twelve.y)
    assert np.array_equal(again.originals, twelve.originals)
    assert again.counts() == twelve.counts()
    with np.load(io.BytesIO(data)) as npz:  # as keras.datasets.mnist's file is read
        assert npz["x_test"].shape == (12, 28, 28) and npz["x_test"].dtype == np.uint8
        assert npz["y_test"].dtype == np.uint8 and int(npz["version"]) == 1
    assert len(data) < 12 * 4000  # drawings are mostly black: compressed, they are small
    again.discard(again.items()[:1])  # a loaded set is a set like any other
    assert len(again) == 11 and len(twelve) == 12


def test_an_empty_set_saves_and_loads():
    data = HandwritingSet().to_npz_bytes()
    empty = HandwritingSet.from_npz_bytes(data)
    assert len(empty) == 0 and empty.x.shape == (0, 28, 28) and empty.counts() == [0] * 10
    with np.load(io.BytesIO(data)) as npz:
        assert npz["x_test"].shape == (0, 28, 28) and npz["originals"].shape == (0, 112, 112)


def _arrays(n: int = 3) -> dict:
    """A valid file's arrays."""
    return {
        "x_test": np.zeros((n, 28, 28), np.uint8),
        "y_test": np.arange(n, dtype=np.uint8) % 10,
        "originals": np.zeros((n, 112, 112), np.uint8),
        "version": np.array(1, np.uint8),
    }


def _npz(**changes) -> bytes:
    """An .npz of the valid arrays with some replaced (or, given None, left out)."""
    arrays = {k: v for k, v in {**_arrays(), **changes}.items() if v is not None}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _huge_header_npz() -> bytes:
    """A tiny file whose x_test claims a billion digits: unpacking it would exhaust memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for key, array in _arrays().items():
            with archive.open(f"{key}.npy", "w") as f:
                if key == "x_test":
                    header = {"descr": "|u1", "fortran_order": False, "shape": (10**9, 28, 28)}
                    np.lib.format.write_array_header_1_0(f, header)
                else:
                    np.lib.format.write_array(f, array)
    return buffer.getvalue()


def _npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((3, 28, 28), np.uint8))
    return buffer.getvalue()


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (28, 28)).save(buffer, format="PNG")
    return buffer.getvalue()


REFUSED = {
    "text": (lambda: b"x_test,y_test\n0,1\n", "not an .npz"),
    "empty file": (lambda: b"", "not an .npz"),
    "an image": (_png, "not an .npz"),
    "a pickle": (lambda: pickle.dumps(_arrays()), "pickle"),
    "one .npy array": (_npy, "single .npy"),
    "truncated": (lambda: _npz()[:-40], "not an .npz"),
    "damaged": (lambda: _npz()[:60] + b"\0" * 200 + _npz()[260:], "not a readable"),
    "no originals": (lambda: _npz(originals=None), "missing originals"),
    "no labels or version": (lambda: _npz(y_test=None, version=None), "missing y_test, version"),
    "pickled objects": (
        lambda: _npz(x_test=np.array([None] * 3, dtype=object)),
        "x_test must be uint8",
    ),
    "float images": (lambda: _npz(x_test=np.zeros((3, 28, 28), np.float32)), "x_test must"),
    "wrong image size": (lambda: _npz(x_test=np.zeros((3, 32, 32), np.uint8)), r"\(n, 28, 28\)"),
    "flat originals": (lambda: _npz(originals=np.zeros((3, 112), np.uint8)), "originals must"),
    "float labels": (lambda: _npz(y_test=np.zeros(3, np.float32)), "integer digits"),
    "label 10": (lambda: _npz(y_test=np.array([1, 10, 2], np.uint8)), "outside 0-9"),
    "label -1": (lambda: _npz(y_test=np.array([1, -1, 2], np.int64)), "outside 0-9"),
    "fewer labels": (lambda: _npz(y_test=np.zeros(2, np.uint8)), "y_test 2"),
    "fewer originals": (
        lambda: _npz(originals=np.zeros((4, 112, 112), np.uint8)),
        "originals 4",
    ),
    "too many digits": (_huge_header_npz, "at most 2,000"),
    "a newer format": (lambda: _npz(version=np.array(2, np.uint8)), "version 2"),
    "a version list": (lambda: _npz(version=np.array([1], np.uint8)), "one integer"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_files_that_are_not_handwriting_sets_are_refused_saying_why(case):
    make, message = REFUSED[case]
    with pytest.raises(HandwritingFileError, match=message):
        HandwritingSet.from_npz_bytes(make())


def test_more_digits_than_the_cap_are_refused(monkeypatch):
    monkeypatch.setattr(handwriting, "MAX_DIGITS", 2)
    with pytest.raises(HandwritingFileError, match=r"3 digits; .* at most 2"):
        HandwritingSet.from_npz_bytes(_npz())


def test_testing_a_model_on_the_set_finds_exactly_the_mislabelled_digits(mnist, default_model):
    idx = evaluation_indices(mnist, 60, seed=2)
    raw = evaluate(default_model, mnist.x_test[idx], mnist.y_test[idx])
    right = raw.predictions == raw.labels
    sure = idx[right][np.argsort(-raw.confidence[right], kind="stable")][:30]  # the surest 30
    labels = mnist.y_test[sure].copy()
    wrong = [4, 11, 17, 23, 29]
    labels[wrong] = (labels[wrong] + 1) % 10  # the user picked the wrong digit for these
    hset = _set_of(mnist, sure, labels)
    result = evaluate(default_model, *hset.as_test_data())
    assert result.accuracy == pytest.approx(25 / 30)
    assert sorted(result.mistakes().tolist()) == wrong
    # The same as testing the model on the raw MNIST digits with those labels.
    assert evaluate(default_model, mnist.x_test[sure], labels).accuracy == result.accuracy
    assert [row["count"] for row in result.per_class()] == hset.counts()


def test_fine_tuning_data_repeats_each_own_digit_among_mnist_digits(mnist, twelve):
    x, y = fine_tune_arrays(twelve, mnist, mnist_per_own=3, seed=0)
    repeat = fine_tuning.auto_repeat(12)
    assert repeat == 8 and len(y) == 12 * 8 * 4
    assert x.shape == (len(y), 28, 28, 1) and x.dtype == np.float32 and x.max() <= 1.0
    assert y.shape == (len(y), 10) and np.array_equal(y.sum(axis=1), np.ones(len(y)))
    pixels = np.round(x[..., 0] * 255).astype(np.uint8)
    for image, digit in zip(twelve.x, twelve.y):
        copies = np.flatnonzero((pixels == image).all(axis=(1, 2)))
        assert len(copies) == repeat and (y[copies].argmax(axis=1) == digit).all()
    own_rows = np.flatnonzero((pixels[:, None] == twelve.x[None]).all(axis=(2, 3)).any(axis=1))
    assert own_rows.min() < len(y) // 4 < own_rows.max()  # shuffled in, not stacked up front
    only_own, _ = fine_tune_arrays(twelve, mnist, mnist_per_own=0, repeat=2)
    assert len(only_own) == 24
    with pytest.raises(HandwritingError, match="Add some digits"):
        fine_tune_arrays(HandwritingSet(), mnist)


def _rotated_accuracy(model, mnist, idx, angle):
    hset = _set_of(mnist, idx, angle=angle)
    return evaluate(model, *hset.as_test_data()).accuracy


def test_fine_tuning_learns_the_users_style_and_keeps_mnist_and_the_original(mnist, default_model):
    own_idx = evaluation_indices(mnist, 20, seed=3)
    own = _set_of(mnist, own_idx, angle=50)  # "your handwriting": every digit leans a lot
    others = np.setdiff1d(evaluation_indices(mnist, 400, seed=5), own_idx)[:300]
    test_idx = evaluation_indices(mnist, 2000, seed=0)
    weights = [w.copy() for w in default_model.get_weights()]
    before_own = evaluate(default_model, *own.as_test_data()).accuracy
    before_others = _rotated_accuracy(default_model, mnist, others, 50)
    before_mnist = evaluate(default_model, mnist.x_test[test_idx], mnist.y_test[test_idx]).accuracy
    assert before_own < 0.85  # the shipped model does struggle with this style

    events = []
    validation = (mnist.x_test[others], mnist.y_test[others])
    result = fine_tune(default_model, own, mnist, validation=validation, on_progress=events.append)
    tuned = result.model
    assert tuned is not default_model and not result.stopped
    assert all(np.array_equal(a, b) for a, b in zip(weights, default_model.get_weights()))

    after_own = evaluate(tuned, *own.as_test_data()).accuracy
    after_mnist = evaluate(tuned, mnist.x_test[test_idx], mnist.y_test[test_idx]).accuracy
    assert after_own >= before_own + 0.2, (before_own, after_own)
    # It learned the style, not only these 20 digits: other leaning digits are read better.
    assert _rotated_accuracy(tuned, mnist, others, 50) > before_others + 0.05
    assert after_mnist >= before_mnist - 0.015, (before_mnist, after_mnist)
    epochs = [e for e in events if isinstance(e, EpochProgress)]
    assert len(epochs) == 4 and epochs[-1].val_accuracy > 0.97  # MNIST watched as it goes
    assert result.images_seen == 4 * len(fine_tune_arrays(own, mnist)[1])


def test_fine_tuning_stops_when_asked_and_still_leaves_the_original_alone(
    mnist, default_model, twelve
):
    weights = [w.copy() for w in default_model.get_weights()]
    stop = threading.Event()
    stop.set()
    result = fine_tune(default_model, twelve, mnist, epochs=5, batch_size=32, stop=stop)
    assert result.stopped and len(result.history) == 1 and result.history[0].partial
    assert result.images_seen == 32
    assert all(np.array_equal(a, b) for a, b in zip(weights, default_model.get_weights()))
