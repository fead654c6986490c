"""Source probe: a pure function of features, sources and labels (synthetic features only)."""
import numpy as np

from training.source_probe import (
    CrossValidation,
    balanced_accuracy,
    pooled_features,
    sample_records,
    source_probe,
)


def _data(separation, seed=0, n=60):
    rng = np.random.default_rng(seed)
    sources = np.array(["a"] * n + ["b"] * n + ["c"] * n + ["d"] * n + ["e"] * n)
    labels = np.array(["Normal"] * (2 * n) + ["COVID-19"] * (3 * n))
    codes = np.array([ord(s) - ord("a") for s in sources])
    features = rng.normal(size=(len(sources), 8))
    features[:, 0] += separation * codes
    features[:, 1] -= separation * (codes % 2)
    return features, sources, labels


def test_features_that_carry_the_source_are_probed_well_and_random_ones_at_chance():
    high = source_probe(*_data(3.0))
    low = source_probe(*_data(0.0))
    assert high["per_class"]["Normal"]["sources"] == ["a", "b"]
    assert high["per_class"]["COVID-19"]["sources"] == ["c", "d", "e"]
    assert high["mean_balanced_accuracy"] > 0.9
    assert low["mean_balanced_accuracy"] < 0.6
    assert low["per_class"]["COVID-19"]["chance"] == 1 / 3


def test_probe_is_deterministic_and_keeps_patients_in_one_fold():
    features, sources, labels = _data(1.0)
    three = CrossValidation(seed=3)
    assert source_probe(features, sources, labels, cross_validation=three) == \
        source_probe(features, sources, labels, cross_validation=three)
    # Every image of a patient a duplicate of one feature vector: with patients kept in one fold the
    # probe cannot recognise a copy it trained on, so pure noise stays near chance.
    rng = np.random.default_rng(1)
    base = rng.normal(size=(40, 8))
    feats = np.repeat(base, 5, axis=0)
    groups = np.repeat(np.arange(40), 5).astype(str)
    srcs = np.repeat(np.array(["a", "b"] * 20), 5)
    labs = np.array(["Normal"] * 200)
    grouped = source_probe(feats, srcs, labs, groups=groups, cross_validation=CrossValidation(l2=1e-4))
    assert grouped["per_class"]["Normal"]["balanced_accuracy"] < 0.75


def test_small_sources_and_single_source_classes_are_left_out():
    features, sources, labels = _data(1.0, n=40)
    sources = sources.copy()
    sources[:10] = "tiny"  # 10 images: under min_per_source
    out = source_probe(features, sources, labels)
    assert "tiny" not in out["per_class"]["Normal"]["sources"]
    only = source_probe(features[labels == "Normal"][:40], sources[labels == "Normal"][:40] == "x", ["Normal"] * 40)
    assert only["per_class"] == {} and only["mean_balanced_accuracy"] is None


def test_balanced_accuracy_and_record_sampling():
    assert balanced_accuracy(np.array([0, 0, 0, 1]), np.array([0, 0, 0, 0]), 2) == 0.5
    from model.labelled_data import LabelledImage

    records = [LabelledImage(f"{i}.png", "Normal" if i % 2 else "COVID-19", f"p{i}", "s" if i < 10 else "t")
               for i in range(30)] + [LabelledImage("x.png", "Pneumonia", "px", "s")]
    chosen = sample_records(records, 3, seed=0)
    assert len(chosen) == 12 and all(r.label != "Pneumonia" for r in chosen)
    assert chosen == sample_records(records, 3, seed=0)


def test_pooled_features_are_the_heads_input():
    import keras

    from training.architectures import build_model

    model, _ = build_model("compact_cnn", 32, 1, 3)
    x = np.random.default_rng(0).random((3, 32, 32, 1)).astype(np.float32)
    feats = pooled_features(model, x, batch_size=2)
    head = model.get_layer("probabilities")
    kernel, bias = head.get_weights()
    logits = feats @ kernel + bias
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(probs, np.asarray(model(x, training=False)), atol=1e-5)
    assert isinstance(model.get_layer("gap"), keras.layers.GlobalAveragePooling2D)
