"""Training data handling, patient-level split, smoke training and evaluation on synthetic data."""
import json
import shutil
from collections import Counter

import numpy as np
import pytest

from model.classifier import Classifier
from model.inputs.preprocessing import Preprocessing
from model.labelled_data import LabelledImage, read_dataset, read_folder, read_manifest
from model.registry import ModelCard, list_entries, read_card, read_history, read_metrics, write_card
from model.splits import patient_split
from tests.support import png_bytes, synthetic_radiograph, write_manifest
from training import evaluate, train
from training.architectures import ARCHITECTURES, build_model
from training.input_pipeline import class_weights

FOLDERS = {"COVID": "COVID-19", "Normal": "Normal", "Viral Pneumonia": "Pneumonia"}


def _write_images(folder, count, seed):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        lesion = (0.5, 0.3) if "COVID" in str(folder) else None
        (folder / f"img{i}.png").write_bytes(png_bytes(synthetic_radiograph(72, seed=seed + i, lesion=lesion)))


@pytest.fixture()
def class_folders(tmp_path):
    """A published-dataset layout: train/ and test/ above class folders, plus an unmapped class."""
    root = tmp_path / "dataset"
    for split, count in (("train", 8), ("test", 3)):
        for seed, folder in enumerate(FOLDERS):
            _write_images(root / split / folder, count, seed * 100)
    _write_images(root / "train" / "Lung_Opacity", 2, 900)
    (root / "train" / "Normal" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


@pytest.fixture()
def manifest(tmp_path):
    return write_manifest(tmp_path, [(("COVID-19", "Normal", "Pneumonia")[i % 3], f"p{i // 2}",
                                      "siteA" if i < 15 else "siteB") for i in range(30)], size=70, extra="subtype")


def test_folder_layout_maps_names_and_skips_unknown_classes(class_folders):
    records = read_folder(class_folders)
    counts = Counter(r.label for r in records)
    assert counts == {"COVID-19": 11, "Normal": 12, "Pneumonia": 11}  # 12 = 11 images + the broken file
    assert not any("Lung_Opacity" in r.path for r in records)


def test_label_map_can_be_overridden(class_folders):
    records = read_folder(class_folders, {"Lung_Opacity": "Pneumonia", "Normal": "Normal"})
    assert Counter(r.label for r in records) == {"Pneumonia": 2, "Normal": 12}


def test_manifest_paths_are_relative_to_the_manifest(manifest):
    records = read_dataset(manifest.parent)
    assert len(records) == 30
    assert records[0].path == str(manifest.parent / "images" / "0.png")
    assert records[3].patient_id == "p1" and records[20].source == "siteB"


def test_split_never_shares_a_patient_and_is_reproducible():
    rng = np.random.default_rng(0)
    records = [LabelledImage(f"{i}.png", ("COVID-19", "Normal", "Pneumonia")[p % 3], f"p{p}", "s")
               for i, p in enumerate(rng.integers(0, 150, 500))]
    splits = patient_split(records, seed=7)
    patients = {name: {r.patient_id for r in items} for name, items in splits.items()}
    assert not patients["train"] & patients["validation"]
    assert not patients["train"] & patients["test"]
    assert not patients["validation"] & patients["test"]
    assert sum(len(v) for v in splits.values()) == 500
    assert 0.6 < len(splits["train"]) / 500 < 0.8
    for label in ("COVID-19", "Normal", "Pneumonia"):  # every class is in every split
        assert all(any(r.label == label for r in items) for items in splits.values())
    assert patient_split(records, seed=7) == splits
    assert patient_split(records, seed=8) != splits


def test_unreadable_images_are_skipped_and_the_decoded_pool_is_cached(class_folders, tmp_path):
    from training.pool import load_pool

    records = read_folder(class_folders)
    prep = Preprocessing(image_size=32)
    (images, masks, ok), = load_pool(records, [prep], tmp_path / "cache")
    assert images.shape == (len(records), 32, 32, 1) and masks is None
    assert [r.path for r, good in zip(records, ok) if not good] == [str(class_folders / "train" / "Normal" / "broken.png")]
    assert len(list((tmp_path / "cache").glob("pool-*.npz"))) == 1
    (again, _, ok_again), = load_pool(records, [prep], tmp_path / "cache")
    np.testing.assert_array_equal(again, images)
    np.testing.assert_array_equal(ok_again, ok)


def test_class_weights_balance_the_classes():
    weights = class_weights(np.array([0] * 80 + [1] * 20), 2)
    assert weights[1] == pytest.approx(4 * weights[0])
    assert 80 * weights[0] + 20 * weights[1] == pytest.approx(100)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_architecture_is_flat_and_names_a_spatial_layer(arch):
    model, layer = build_model(arch, 64, 1, 3)
    assert not any(hasattr(sub, "layers") for sub in model.layers), "nested models break Grad-CAM"
    assert len(model.get_layer(layer).output.shape) == 4
    assert model.output_shape == (None, 3)


@pytest.mark.parametrize("strategy", ["default", "mirrored"])
def test_smoke_training_writes_an_entry_the_core_can_load_and_explain(manifest, tmp_path, strategy, capsys):
    registry = tmp_path / "registry"
    code = train.main(["--data", str(manifest), "--arch", "compact_cnn", "--model-id", f"smoke-{strategy}",
                       "--epochs", "1", "--image-size", "32", "--batch-size", "8", "--strategy", strategy,
                       "--registry", str(registry), "--cache-dir", str(tmp_path / "cache"), "--default",
                       "--out", str(tmp_path / "run")])
    assert code == 0
    assert [s.id for s in list_entries(registry) if s.card] == [f"smoke-{strategy}"]
    card = read_card(f"smoke-{strategy}", registry)
    split = card.training["splits"]
    assert sum(s["images"] for s in split.values()) == 30 and card.training["seed"] == 42
    assert card.default and card.training["wall_time_s"] > 0 and card.training["strategy"] == strategy
    assert len(read_history(card.id, registry)) == 1
    assert read_metrics(card.id, registry)["n"] == split["test"]["images"]
    clf = Classifier.load(card.id, root=registry)
    explanation, _ = clf.explain_xray(synthetic_radiograph(50), "gradcam")
    assert explanation.heatmap.shape == (32, 32)
    assert "COVID-19" in capsys.readouterr().out  # the test-split report was printed


@pytest.fixture(scope="module")
def eval_registry(tmp_path_factory):
    from tests.support import write_tiny_entry

    root = tmp_path_factory.mktemp("eval-registry")
    write_tiny_entry(root, "tiny-eval", default=True)
    return root


def test_evaluate_on_a_folder_layout_counts_and_skips(class_folders, eval_registry, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CXR_REGISTRY", str(eval_registry))
    out = tmp_path / "report.json"
    assert evaluate.main(["--data", str(class_folders), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["n"] == 33
    assert {k: v["support"] for k, v in report["per_class"].items()} == {"COVID-19": 11, "Normal": 11,
                                                                          "Pneumonia": 11}
    assert [item["path"].endswith("broken.png") for item in report["skipped"]] == [True]
    captured = capsys.readouterr()
    assert "broken.png" in captured.err and "confusion matrix" in captured.out


def test_evaluate_on_a_manifest_reports_per_source(manifest, eval_registry, monkeypatch, tmp_path):
    monkeypatch.setenv("CXR_REGISTRY", str(eval_registry))
    out = tmp_path / "report.json"
    assert evaluate.main(["--data", str(manifest), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["n"] == 30 and report["model"] == "tiny-eval"
    assert {k: v["n"] for k, v in report["per_source"].items()} == {"siteA": 15, "siteB": 15}


def test_evaluate_one_split_uses_the_cards_seed(manifest, eval_registry, monkeypatch, tmp_path):
    monkeypatch.setenv("CXR_REGISTRY", str(eval_registry))
    out = tmp_path / "report.json"
    assert evaluate.main(["--data", str(manifest), "--split", "test", "--out", str(out)]) == 0
    expected = patient_split(read_manifest(manifest), seed=0)["test"]
    assert json.loads(out.read_text())["n"] == len(expected)


def test_evaluate_bad_data_path_is_one_error_line(eval_registry, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CXR_REGISTRY", str(eval_registry))
    assert evaluate.main(["--data", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("error:")


@pytest.mark.realdata
def test_the_real_pool_splits_by_patient(shared_cxr):
    records = read_dataset(shared_cxr)
    assert len(records) == 2062
    splits = patient_split(records, seed=42)
    ids = [{r.patient_id for r in items} for items in splits.values()]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])


# --- Ensembles ---------------------------------------------------------------------------------------

def _logits(model, x):
    import keras

    features = keras.Model(model.input, model.layers[-1].input)(x)
    kernel, bias = model.layers[-1].get_weights()
    return np.asarray(features) @ kernel + bias


def test_merged_members_average_their_logits_in_one_flat_model():
    from training.architectures import compact_cnn, merge_members, small_resnet

    resnet, _ = small_resnet(64, widths=(8, 8, 8, 8))
    compact, _ = compact_cnn(64, widths=(8, 8, 8, 12))  # a 4x4 last grid against the ResNet's 2x2
    merged, layer = merge_members([resnet, compact])
    assert not any(hasattr(sub, "layers") for sub in merged.layers), "nested models break Grad-CAM"
    assert merged.get_layer(layer).output.shape[1:] == (4, 4, 8 + 12)
    x = np.random.default_rng(0).random((3, 64, 64, 1), dtype=np.float32)
    mean_logits = (_logits(resnet, x) + _logits(compact, x)) / 2
    expected = np.exp(mean_logits) / np.exp(mean_logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(merged(x)), expected, atol=1e-5)
    clf = Classifier(ModelCard(id="e", display_name="e", version="0", created="2026-01-01", architecture="ensemble",
                               labels=["COVID-19", "Normal", "Pneumonia"],
                               preprocessing={"image_size": 64, "equalize": "none"}, explain_layer=layer), merged)
    assert clf.explain_xray(synthetic_radiograph(80), "gradcam")[0].heatmap.shape == (64, 64)


def _member(size: int, grid: int):
    """A minimal member: a strided conv to a grid x grid map, global pooling and a softmax head."""
    import keras
    from keras import layers

    inputs = keras.Input((size, size, 1))
    x = layers.Conv2D(4, size // grid, strides=size // grid, activation="relu", name="features")(inputs)
    outputs = layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("second, message", [((48, 4), "different inputs"), ((60, 3), "different inputs"),
                                             ((64, 21), "do not nest")])
def test_members_that_cannot_share_a_graph_are_refused(second, message):
    from training.architectures import merge_members

    with pytest.raises(ValueError, match=message):
        merge_members([_member(64, 4), _member(*second)])


def test_a_member_with_more_than_dropout_between_pooling_and_head_is_refused():
    import keras
    from keras import layers

    from training.architectures import merge_members

    inputs = keras.Input((64, 64, 1))
    pooled = layers.GlobalAveragePooling2D()(layers.Conv2D(4, 16, strides=16)(inputs))
    outputs = layers.Dense(3, activation="softmax")(layers.LayerNormalization()(pooled))
    with pytest.raises(ValueError, match="only dropout"):
        merge_members([_member(64, 4), keras.Model(inputs, outputs)])


def test_ensemble_command_writes_an_evaluated_entry_and_refuses_mismatched_members(manifest, tmp_path, capsys):
    from training import ensemble

    registry, cache = tmp_path / "registry", tmp_path / "cache"
    common = ["--data", str(manifest), "--epochs", "1", "--batch-size", "8", "--registry", str(registry),
              "--cache-dir", str(cache)]
    for arch, model_id in (("compact_cnn", "a"), ("small_resnet", "b")):
        assert train.main(common + ["--arch", arch, "--model-id", model_id, "--image-size", "32",
                                    "--out", str(tmp_path / model_id)]) == 0
    capsys.readouterr()
    code = ensemble.main(["--members", "a", "b", "--model-id", "ab", "--data", str(manifest), "--default",
                          "--registry", str(registry), "--cache-dir", str(cache)])
    assert code == 0
    card = read_card("ab", registry)
    assert card.default and card.training["members"] == ["a", "b"]
    # The notes name the ensemble's own temperature once, not the member's (which the member notes carried).
    import re
    named = re.findall(r"T = ([0-9.]+)", card.notes)
    assert named == ([f"{card.calibration['temperature']:.2f}"] if card.calibration else []), card.notes
    assert len(re.findall(r"T = ", read_card("a", registry).notes)) == (1 if read_card("a", registry).calibration else 0)
    assert card.training["splits"] == read_card("a", registry).training["splits"]
    metrics = read_metrics("ab", registry)
    assert metrics["n"] == card.training["splits"]["test"]["images"]
    clf = Classifier.load("ab", root=registry)
    assert clf.explain_xray(synthetic_radiograph(50), "gradcam")[0].layer == "ensemble_features"
    history = read_history("ab", registry)
    assert sorted(set(history["member"])) == ["a", "b"] and len(history) == 2  # one epoch each
    assert "macro avg" in capsys.readouterr().out
    # A member trained at another input size (a copy of a whose card says 40 px stands for it: members
    # are checked on their cards before any model is loaded).
    shutil.copytree(registry / "a", registry / "c")
    other = read_card("a", registry)
    other.id, other.preprocessing = "c", {**other.preprocessing, "image_size": 40}
    write_card(other, registry)
    code = ensemble.main(["--members", "a", "c", "--model-id", "ac", "--data", str(manifest),
                          "--registry", str(registry), "--cache-dir", str(cache)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and "preprocess images differently" in err
    assert "ac" not in [s.id for s in list_entries(registry)]
    # The unmasked branch needs lung-masked members and its weights file: one sentence, nothing written.
    code = ensemble.main(["--members", "a", "b", "--model-id", "ab2", "--data", str(manifest), "--registry",
                          str(registry), "--cache-dir", str(cache), "--unmasked-branch", str(tmp_path / "none.h5")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --unmasked-branch needs lung-masked members") and err.count("\n") == 1
    assert "ab2" not in [s.id for s in list_entries(registry)]


def test_members_without_a_recorded_split_are_refused():
    from training.ensemble import check_members

    def card(model_id, training):
        return ModelCard(id=model_id, display_name=model_id, version="1", created="2026-01-01",
                         architecture="compact_cnn", labels=["COVID-19", "Normal", "Pneumonia"],
                         preprocessing={"image_size": 32}, explain_layer="x", training=training)

    split = {"seed": 42, "splits": {"test": {"images": 3}}}
    check_members([card("a", split), card("b", dict(split))])  # same split: accepted
    with pytest.raises(ValueError, match="records no patient split"):
        check_members([card("a", split), card("b", {})])
    with pytest.raises(ValueError, match="different patient splits"):
        check_members([card("a", split), card("b", {"seed": 7, "splits": split["splits"]})])


def _weights_digest(model) -> str:
    import hashlib

    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()


def test_lung_cropped_training_and_explaining_use_the_lung_model_of_their_own_registry(manifest, tmp_path,
                                                                                        monkeypatch):
    """`--registry X --lung-crop` must crop with X's lung model, not the one of the registry in force
    (the package's, which holds an entry of the same id): at training, serving and in the report."""
    import hashlib

    import keras

    from model.inputs.lungs import LungSegmenter
    from training import explanation_report
    from training.train_lungs import export_copy, lung_unet

    registry = tmp_path / "registry"
    keras.utils.set_random_seed(3)
    unet, layer = lung_unet(48, 1, (4, 8), dropout=0.0)
    lung_card = ModelCard(id="lungs-unet-v1", display_name="Other lungs", version="0", created="2026-01-01",
                          architecture="lung_unet", labels=["lung"], explain_layer=layer, kind="lung_segmentation",
                          preprocessing=Preprocessing(image_size=48, equalize="none").to_dict())
    from model.registry import save_entry

    save_entry(export_copy(unet, 48, 1, (4, 8)), lung_card, root=registry)
    ours = _weights_digest(LungSegmenter.load("lungs-unet-v1", registry).model)
    assert ours != _weights_digest(LungSegmenter.load("lungs-unet-v1").model)  # same id, other weights

    used = []
    real_mask = LungSegmenter.mask
    monkeypatch.setattr(LungSegmenter, "mask", lambda self, pixels, threshold=0.5:
                        used.append(_weights_digest(self.model)) or real_mask(self, pixels, threshold))
    monkeypatch.delenv("CXR_REGISTRY", raising=False)
    assert train.main(["--data", str(manifest), "--arch", "compact_cnn", "--model-id", "crop-x", "--epochs", "1",
                       "--image-size", "32", "--batch-size", "8", "--lung-crop", "--registry", str(registry),
                       "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "run")]) == 0
    assert len(used) == 30 and set(used) == {ours}  # every training image cropped with X's lungs
    card = read_card("crop-x", registry)
    assert card.training["lung_model"] == {
        "id": "lungs-unet-v1", "sha256": hashlib.sha256((registry / "lungs-unet-v1" / "model.keras").read_bytes()).hexdigest()}

    used.clear()
    clf = Classifier.load("crop-x", registry)
    film = synthetic_radiograph(50)
    model_input = clf.prepare(film)
    explanation, on_image = clf.explain_xray(film, "gradcam")
    assert set(used) == {ours}
    np.testing.assert_array_equal(on_image, clf.to_image(explanation.heatmap, model_input))

    used.clear()
    assert explanation_report.main(["--model", "crop-x", "--data", str(manifest), "--registry", str(registry),
                                    "--limit", "3", "--methods", "gradcam", "--sanity-images", "0"]) == 0
    assert used and set(used) == {ours}
