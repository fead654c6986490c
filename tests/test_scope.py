"""`python -m training.fit_scope`: fits the scope check of a tiny model on synthetic films and writes it
into the entry (scope.json and the card's scope), with held-out-source and synthetic figures."""
import json

import numpy as np
import pytest

from model.inputs.preprocessing import Preprocessing
from model.registry import ModelCard, read_card, save_entry
from model.trust.scope import read_scope
from tests.support import write_manifest, write_tiny_entry


@pytest.fixture()
def registry(tmp_path):
    import keras

    from training.train_lungs import export_copy, lung_unet

    root = tmp_path / "registry"
    write_tiny_entry(root, "tiny-s", default=True)
    keras.utils.set_random_seed(0)
    unet, layer = lung_unet(48, 1, (4, 8), dropout=0.0)
    save_entry(export_copy(unet, 48, 1, (4, 8)),
               ModelCard(id="lungs-tiny", display_name="lungs", version="0", created="2026-01-01", architecture="lung_unet",
                         labels=["lung"], explain_layer=layer, kind="lung_segmentation",
                         preprocessing=Preprocessing(image_size=48, equalize="none").to_dict()), root=root)
    return root


@pytest.fixture()
def manifest(tmp_path):
    kinds = [("COVID-19", "site-a"), ("Normal", "site-b"), ("Pneumonia", "site-c")]
    return write_manifest(tmp_path, [(kinds[i % 3][0], f"p{i}", kinds[i % 3][1]) for i in range(60)])


def test_scope_command_fits_validates_and_stores_the_check(registry, manifest, capsys):
    from training import fit_scope

    assert fit_scope.main(["--model", "tiny-s", "--data", str(manifest), "--registry", str(registry)]) == 0
    check = read_scope("tiny-s", registry)
    assert check is not None and check.novelty.out_of_scope_threshold >= check.novelty.unusual_threshold
    assert 0.4 <= check.min_top_probability <= 0.8 and 0.0 < check.lung_attention_threshold < 1.0
    figures = check.figures
    assert sum(figures["test"]["status_share"].values()) == pytest.approx(1.0)
    assert set(figures["held_out_sources"]) <= {"site-a", "site-b", "site-c"}
    assert figures["synthetic"]["CT slice (DICOM)"]["out_of_scope"] == 1.0  # its DICOM modality is CT
    card = read_card("tiny-s", registry)
    assert card.scope["intended_population"].startswith("Adult frontal") and "test" in card.scope
    out = capsys.readouterr().out
    assert "scope check of tiny-s" in out and "synthetic out-of-scope inputs" in out
    json.dumps(check.to_dict())  # JSON-ready
    assert np.isfinite(check.novelty.precision).all()


def test_the_agreement_level_is_the_strictest_that_flags_few_validation_images():
    from training.fit_scope import agreement_level

    assert agreement_level([1.0] * 97 + [0.5] * 3) == 0.75          # 3% below 0.75: keep the strict level
    assert agreement_level([1.0] * 80 + [0.625] * 17 + [0.5] * 3) == 0.625
    assert agreement_level([0.375] * 50 + [1.0] * 50) == 0.5         # nothing passes: the loosest level
    assert agreement_level([]) == 0.75


def _row(top, agreement=1.0, other=False, status="answer"):
    return {"top_probability": top, "agreement": agreement, "other_soft": other, "status": status}


def test_the_top_probability_threshold_keeps_all_soft_findings_within_the_budget():
    from training.fit_scope import MIN_TOP_FLOOR, uncertainty_thresholds, validation_held_back

    tops = np.linspace(0.45, 0.99, 100)
    # Nothing else fires: the tenth quantile holds back about a tenth, within a budget of 0.10.
    rows = [_row(t) for t in tops]
    top, level = uncertainty_thresholds(rows, budget=0.10, quantile=0.1)
    assert level == 0.75 and top == pytest.approx(np.quantile(tops, 0.1))
    assert validation_held_back(rows, top, level) <= 0.10
    # Six other findings on confident films: the threshold drops so that the total stays at ten.
    rows = [_row(t, other=i >= 94) for i, t in enumerate(tops)]
    top, level = uncertainty_thresholds(rows, budget=0.10, quantile=0.1)
    assert validation_held_back(rows, top, level) == pytest.approx(0.10)
    assert sum(r["top_probability"] < top for r in rows) == 4
    # Other findings alone exceed the budget: the floor, never a negative or empty rule.
    rows = [_row(t, other=i % 5 == 0) for i, t in enumerate(tops)]
    assert uncertainty_thresholds(rows, budget=0.10, quantile=0.1)[0] == MIN_TOP_FLOOR
    # Out-of-scope rows do not count against the budget; no rows: the fallback.
    rows = [_row(t) for t in tops] + [_row(0.41, status="out_of_scope")] * 50
    assert uncertainty_thresholds(rows, budget=0.10, quantile=0.1)[0] == pytest.approx(np.quantile(tops, 0.1))
    assert uncertainty_thresholds([]) == (0.6, 0.75)
