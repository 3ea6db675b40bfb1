"""The map of digits: hidden features, PCA and t-SNE places, a drawing's neighbours."""

import numpy as np
import pytest

from mnist_core.data import evaluation_indices
from mnist_core.engine import digit_map as dm
from mnist_core.engine.backend import keras
from mnist_core.engine.model import predict

N = 600  # enough digits for clusters, few enough for a quick t-SNE


@pytest.fixture(scope="module")
def mapped(default_model, mnist):
    indices = evaluation_indices(mnist, N)
    return dm.digit_map(default_model, mnist.x_test[indices], mnist.y_test[indices], indices)


def test_the_features_are_what_the_final_dense_layer_turns_into_the_answers(default_model, digits):
    images, _labels = digits
    features = dm.hidden_features(default_model, images)
    final = default_model.get_layer("digits")
    kernel, bias = (np.asarray(w) for w in final.weights)
    logits = features @ kernel + bias
    by_hand = np.exp(logits - logits.max(axis=1, keepdims=True))
    by_hand /= by_hand.sum(axis=1, keepdims=True)
    assert features.shape == (len(images), kernel.shape[0])
    assert np.allclose(by_hand, predict(default_model, images), atol=1e-5)


def test_pca_places_are_the_first_two_principal_components_and_a_drawing_gets_the_same(mapped):
    centred = mapped.features - mapped.features.mean(axis=0)
    _u, _s, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    reference = centred @ vt[:2].T  # by numpy's SVD, up to each axis's sign
    signs = np.sign((reference * mapped.pca_points).sum(axis=0))
    scale = np.abs(reference).max()  # float32 features: agreement to a part in 10,000
    assert np.allclose(mapped.pca_points, reference * signs, atol=1e-4 * scale)
    # A new digit (here, one of the map's own) lands where the projection puts it.
    assert np.allclose(
        mapped.project(mapped.features[[5, 17]]), mapped.pca_points[[5, 17]], atol=1e-4
    )


def test_the_map_knows_the_networks_answers_and_its_mistakes(default_model, mnist, mapped):
    images = mnist.x_test[mapped.indices].astype(np.float32) / 255
    assert np.array_equal(mapped.predicted, predict(default_model, images).argmax(axis=1))
    assert np.array_equal(mapped.mistakes, mapped.predicted != mapped.labels)
    assert mapped.mistakes.mean() < 0.03  # the shipped model reads 99 % right


def test_a_drawings_neighbours_are_the_nearest_in_feature_space(mapped, mnist):
    rng = np.random.default_rng(1)
    for row in rng.choice(len(mapped.labels), 5, replace=False):
        query = mapped.features[row] + rng.normal(0, 0.01, mapped.features.shape[1])
        near = dm.neighbours(mapped, query, k=7)
        distances = np.linalg.norm(mapped.features - query, axis=1)
        assert set(near.indices) == set(np.argsort(distances)[:7])
        assert near.indices[0] == row  # a digit is nearest its own features
        counts = np.bincount(near.labels, minlength=10)
        assert counts[near.among] == counts.max()
        assert near.share == counts.max() / 7
    # A real test digit lands among its own kind.
    seven = int(np.flatnonzero(mapped.labels == 7)[0])
    assert dm.neighbours(mapped, mapped.features[seven]).among == 7


def test_tsne_works_in_the_background_once_per_model_and_keeps_neighbours_together(
    default_model, mapped
):
    maker = dm.MapMaker()
    job = maker.tsne(default_model, mapped.features)
    assert maker.tsne(default_model, mapped.features) is job  # worked out once per model
    assert job.done.wait(300), "t-SNE did not finish"
    assert job.error is None and job.points.shape == (N, 2) and np.isfinite(job.points).all()
    assert job.seconds > 0
    # On the map, a digit's nearest neighbour is mostly the same digit (99 % in features).
    d = np.linalg.norm(job.points[:, None] - job.points[None], axis=2)
    np.fill_diagonal(d, np.inf)
    assert (mapped.labels[d.argmin(axis=1)] == mapped.labels).mean() > 0.9
    # A drawing is placed among its neighbours' places.
    near = dm.neighbours(mapped, mapped.features[0])
    assert np.allclose(dm.place_among(job.points, near), job.points[near.indices].mean(axis=0))


def test_a_model_without_a_dense_layer_says_so():
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Softmax()(keras.layers.Reshape((784,))(inputs)[:, :10])
    with pytest.raises(dm.NoFeaturesError):
        dm.hidden_features(keras.Model(inputs, outputs), np.zeros((1, 28, 28)))
