"""Property-based tests: whatever array or bytes reach the image paths, the answer is a valid
28×28 digit image or a clear ImageError, never a crash or a malformed result."""

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from mnist_core.engine.preprocess import ImageError, preprocess_steps, read_image_file

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

shapes = st.one_of(
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=40),
    st.tuples(st.integers(1, 300), st.integers(1, 300), st.sampled_from([1, 3, 4])),
)
arrays = st.one_of(
    hnp.arrays(np.uint8, shapes),
    hnp.arrays(np.float32, shapes, elements=st.floats(width=32)),  # NaN and inf too
    hnp.arrays(np.float64, shapes, elements=st.floats(0, 1)),
    hnp.arrays(np.int64, shapes, elements=st.integers(-5, 300)),
    hnp.arrays(np.bool_, shapes),
)


def _assert_digit(image) -> None:
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert np.isfinite(image).all() and image.min() >= 0 and image.max() <= 1
    assert image.max() > 0  # something was read


@SETTINGS
@given(arrays, st.booleans())
def test_any_array_gives_a_digit_or_an_image_error(array, drawing):
    try:
        steps = preprocess_steps(array, drawing=drawing)
    except ImageError as err:
        assert str(err)  # a message to show
        return
    _assert_digit(steps.centred)


@SETTINGS
@given(st.binary(max_size=4096))
def test_any_bytes_give_an_image_or_an_image_error(data):
    try:
        image = read_image_file(data)
    except ImageError as err:
        assert str(err)
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] in (3, 4)


@SETTINGS
@given(
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 64), st.integers(1, 64), st.just(3))),
    st.sampled_from(["PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF"]),
    st.integers(0, 4096),
)
def test_any_real_picture_even_cut_short_gives_a_digit_or_an_image_error(pixels, kind, cut):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, kind)
    data = buffer.getvalue()
    data = data[: len(data) - cut] if cut < len(data) else data
    try:
        _assert_digit(preprocess_steps(read_image_file(data)).centred)
    except ImageError as err:
        assert str(err)
