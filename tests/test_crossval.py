"""Held-out-source runs and shipping a recipe (synthetic manifest, tiny models, fake lung segmentation)."""
import hashlib
import json

import numpy as np
import pytest

from tests.support import png_bytes, synthetic_radiograph
from training import crossval
from training.crossval import held_out_report, within_source_auc


@pytest.fixture()
def fake_lungs(monkeypatch):
    """Two rectangular lung fields instead of the registry's U-Net."""
    import model.preprocessing as pre
    from training import pool

    def lungs(pixels, model_id):
        mask = np.zeros(pixels.shape, bool)
        h, w = pixels.shape
        mask[h // 5:4 * h // 5, w // 8:3 * w // 8] = mask[h // 5:4 * h // 5, 5 * w // 8:7 * w // 8] = True
        return mask

    monkeypatch.setattr(pre, "lung_mask_for", lungs)
    monkeypatch.setattr(pool, "lung_mask_for", lungs)


@pytest.fixture()
def manifest(tmp_path):
    rows = ["file,label,patient_id,source,subtype"]
    plan = [("COVID-19", "cov-a"), ("COVID-19", "cov-b"), ("Normal", "nih"), ("Normal", "teach"),
            ("Pneumonia", "nih"), ("COVID-19", "ieee8023-covid-chestxray"), ("Pneumonia", "ieee8023-covid-chestxray")]
    for i in range(70):
        label, source = plan[i % len(plan)]
        path = tmp_path / "images" / f"{i}.png"
        path.parent.mkdir(exist_ok=True)
        lesion = (0.5, 0.3) if label == "COVID-19" else None
        path.write_bytes(png_bytes(synthetic_radiograph(128, seed=i, lesion=lesion)))
        rows.append(f"images/{i}.png,{label},p{i},{source},")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "manifest.csv"


def test_held_out_report_counts_what_the_model_called_the_images():
    labels = np.array([1, 1, 1, 1])
    probs = np.array([[0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]])
    out = held_out_report(labels, probs)
    assert out["called"] == {"COVID-19": 1, "Normal": 2, "Pneumonia": 1}
    assert out["recall"] == {"Normal": 0.5} and out["called_fraction"]["Normal"] == 0.5
    assert np.isclose(out["mean_confidence"], (0.8 + 0.6 + 0.7 + 0.7) / 4)
    auc = within_source_auc(np.array([0, 0, 2, 2, 1]), np.array([[.8, .1, .1], [.5, .1, .4], [.3, .1, .6],
                                                                  [.6, .1, .3], [.9, .05, .05]]))
    assert auc == {"auc": 0.75, "n_pos": 2, "n_neg": 2}


def test_held_out_run_reports_each_source_alone(manifest, tmp_path, fake_lungs):
    out = tmp_path / "run"
    code = crossval.main(["--data", str(manifest), "--hold-out-source", "teach", "cov-b", "--image-size", "32",
                          "--epochs", "1", "--batch-size", "8", "--balance", "source_label", "--photometric",
                          "--lung-mask", "--dann", "0.3", "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
                          "--probe-per-source", "10"])
    assert code == 0
    res = json.loads((out / "results.json").read_text())
    assert res["held_out_sources"] == ["cov-b", "teach"]
    assert res["held_out"]["teach"]["n"] == 10 and set(res["held_out"]["teach"]["recall"]) == {"Normal"}
    assert sum(res["held_out"]["cov-b"]["called"].values()) == 10
    assert res["data_sha256"] == hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert res["train_images"] + res["internal_test"]["n"] <= 50  # held-out images never trained or tested on
    assert "ieee8023-covid-chestxray" in res["within_source_covid_vs_pneumonia"]
    assert "source_probe" in res and res["recipe"]["dann"] == 0.3


def test_a_registered_recipe_masks_at_serving_and_names_its_manifest(manifest, tmp_path, fake_lungs):
    from model.classifier import Classifier
    from model.registry import read_card, read_metrics

    registry = tmp_path / "registry"
    code = crossval.main(["--data", str(manifest), "--image-size", "32", "--epochs", "1", "--batch-size", "8",
                          "--lung-mask", "--out", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache"),
                          "--register", "ship-1", "--default", "--registry", str(registry), "--probe-per-source", "10"])
    assert code == 0
    card = read_card("ship-1", registry)
    assert card.default and card.preprocessing["lung_mask"] is True and card.training["split_method"] == "hash"
    assert card.training["manifest"] == "manifest.csv" and len(card.training["manifest_sha256"]) == 64
    assert "source_probe" in read_metrics("ship-1", registry)
    clf = Classifier.load("ship-1", root=registry)
    explanation, _ = clf.explain_xray(synthetic_radiograph(50), "gradcam")
    assert explanation.heatmap.shape == (32, 32)
    with pytest.raises(SystemExit):
        crossval.main(["--data", str(manifest), "--hold-out-source", "teach", "--register", "x", "--out", str(tmp_path)])
