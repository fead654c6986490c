"""Explanation trust in the dashboard, driven through AppTest: input check, test-time-augmentation
uncertainty, lung-field attention, faithfulness, agreement between methods and the report's notes on
Diagnose; the explanation report and within-source AUCs on Performance; notes, explanation reports
and lung attention per version on Compare.

The test registry has no lung segmentation model, so the dashboard must say that lung attention is
unavailable. `lung_registry` adds one: a one-layer "segmenter" that marks dark pixels as lung, which
finds exactly the two lung fields of `dark_lungs_film` (the synthetic film with a bright surround),
so the lung-attention figures are meaningful and instant.
"""
from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.present.text import lung_share
from tests.support import LABELS, png_bytes, synthetic_radiograph

st = pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.apptest_support import in_order  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
TIMEOUT = 120
IMAGE = png_bytes(synthetic_radiograph(128, seed=3, lesion=(0.45, 0.3)))
LUNG_ID = "tiny-lungs"
COMMAND = "python -m training.explanation_report --model {} --data ../shared/data/cxr"

EXPLANATIONS = {  # The structure written by training/explanation_report.py, with chosen figures.
    "model": "tiny-a", "version": "0.0", "date": "2026-11-22T00:00:00+00:00", "n": 12, "skipped": 0,
    "methods": ["gradcam", "gradcam++"], "seed": 0, "split": "test", "data": "../shared/data/cxr",
    "lung_attention": {"method": "gradcam", "segmenter": LUNG_ID, "overall": 0.62, "low_share": 0.33,
                       "threshold": 0.5, "implausible_masks": 0, "note": "Grouped by the predicted class.",
                       "per_class": {"COVID-19": {"mean": 0.41, "n": 4, "low_share": 0.75},
                                     "Normal": {"mean": 0.70, "n": 4, "low_share": 0.0},
                                     "Pneumonia": {"mean": 0.75, "n": 4, "low_share": 0.25}}},
    "faithfulness": {"random": {"deletion_auc": 0.50, "insertion_auc": 0.55}, "steps": 20, "random_repeats": 3,
                     "baseline": "blur",
                     "methods": {"gradcam": {"deletion_auc": 0.31, "insertion_auc": 0.72,
                                             "better_than_random_share": 0.83, "better_than_random": True, "grid": 7},
                                 "gradcam++": {"deletion_auc": 0.52, "insertion_auc": 0.50,
                                               "better_than_random_share": 0.25, "better_than_random": False}}},
    "method_agreement": {"pairs": {"gradcam vs gradcam++": 0.8}, "mean": 0.8, "not_measured": {"gradcam vs gradcam++": 2}},
    "sanity_check": {"threshold": 0.5, "seed": 0, "n": 4,
                     "methods": {"gradcam": {"spearman": 0.12, "ssim": 0.2, "n": 4, "flagged": False},
                                 "gradcam++": {"spearman": 0.81, "ssim": 0.7, "n": 4, "flagged": True},
                                 "scorecam": {"spearman": None, "ssim": 0.01, "n": 4, "flagged": False, "blank": 4,
                                              "inconclusive": True}}},
    "per_image": [{"label": label, "predicted": label, "lung_fraction": share}  # the means and low shares above
                  for label, shares in (("COVID-19", (0.2, 0.3, 0.45, 0.69)), ("Normal", (0.6, 0.7, 0.7, 0.8)),
                                        ("Pneumonia", (0.45, 0.8, 0.85, 0.9))) for share in shares],
    "timing": {"total_s": 10.0},
}
PER_SOURCE_AUC = {"ieee8023-covid-chestxray": {"COVID-19": 0.55, "Normal": None, "Pneumonia": 0.59},
                  "nih-chestxray14": {"COVID-19": None, "Normal": 0.91, "Pneumonia": 0.90}}


# --------------------------------------------------------------------------- helpers


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def no_failure(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, texts(at.error)


def open_page(name: str) -> AppTest:
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    if name != "diagnose":
        at.switch_page(f"views/{name}_page.py").run()
    return at


def upload(at: AppTest, data: bytes, index: int = 0) -> AppTest:
    at.file_uploader[index].set_value(("chest.png", data, "image/png"))
    return at.run()


def frame(at: AppTest, column: str):
    """The value of the first dataframe with this column."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def metric(at: AppTest, label: str):
    return next(m for m in at.main.metric if m.label == label)


def dark_lungs_film() -> np.ndarray:
    """The synthetic film with its dark surround made bright, so only the lung fields are dark."""
    pixels = synthetic_radiograph(128, seed=3, lesion=(0.45, 0.3))
    return np.where(pixels < 0.17, 0.8, pixels).astype(np.float32)


def write_lung_entry(root: Path) -> None:
    """A registry entry of kind lung_segmentation: sigmoid(18 - 40 x) marks pixels darker than 0.45 as lung."""
    import keras

    from model.registry import ModelCard, save_entry

    size = 32
    model = keras.Sequential([keras.Input((size, size, 1)), keras.layers.Conv2D(1, 1, activation="sigmoid")])
    model.layers[-1].set_weights([np.full((1, 1, 1, 1), -40.0, np.float32), np.array([18.0], np.float32)])
    card = ModelCard(id=LUNG_ID, display_name="Dark-pixel lungs", version="0.1",
                     created="2026-01-01T00:00:00+00:00", architecture="threshold", labels=["lung"],
                     preprocessing={"image_size": size, "channels": 1, "equalize": "none"},
                     explain_layer=model.layers[-1].name, kind="lung_segmentation")
    save_entry(model, card, root=root)


@pytest.fixture(scope="module")
def lung_registry(test_registry, tmp_path_factory) -> Path:
    """tiny-a (with explanations.json and per-source AUCs), tiny-b and a lung segmentation entry."""
    root = tmp_path_factory.mktemp("lung-registry")
    for model_id in ("tiny-a", "tiny-b"):
        shutil.copytree(test_registry / model_id, root / model_id)
    write_lung_entry(root)
    (root / "tiny-a" / "explanations.json").write_text(json.dumps(EXPLANATIONS), encoding="utf-8")
    metrics_file = root / "tiny-a" / "metrics.json"
    report = json.loads(metrics_file.read_text())
    report["per_source"] = {
        source: {"n": 20, "accuracy": 0.7, "confusion_matrix": report["confusion_matrix"],
                 "per_class": {label: {**report["per_class"][label], "auc": auc} for label, auc in aucs.items()}}
        for source, aucs in PER_SOURCE_AUC.items()}
    metrics_file.write_text(json.dumps(report), encoding="utf-8")
    return root


@pytest.fixture()
def lung_env(lung_registry, monkeypatch) -> Path:
    monkeypatch.setenv("CXR_REGISTRY", str(lung_registry))
    return lung_registry


# --------------------------------------------------------------------------- Diagnose


def test_diagnose_shows_uncertainty_and_says_lung_attention_is_unavailable(registry_env):
    from model.classifier import Classifier
    from model.inputs.intake import load_xray
    from model.policy import UNCERTAIN_MESSAGE
    from model.trust.uncertainty import tta_uncertainty
    at = upload(open_page("diagnose"), IMAGE)
    no_failure(at)
    clf = Classifier.load("tiny-a", registry_env)
    expected = tta_uncertainty(clf, load_xray(IMAGE).pixels)
    top = expected.top_label
    # One probability: the film's own calibrated pass, with its stability under the copies in words.
    shown = metric(at, "Probability")
    single = clf.predict_xray(load_xray(IMAGE)).as_dict()[top]
    assert shown.value == f"{single:.1%}" == f"{expected.top_probability:.1%}" and metric(at, "Model output").value == top
    # A few words beside the word; the full sentence (with "standard deviation") in its help.
    brief = f"moves ±{100 * expected.spread[top]:.1f} points (one standard deviation) on {expected.n - 1} changed copies"
    spread = f"moves by {100 * expected.spread[top]:.1f} points (standard deviation)"
    stability = [e for e in at.markdown if brief in e.value and any(f"**{w}**" in e.value for w in
                                                                     ("Stable", "Varies", "Unstable"))]
    assert len(stability) == 1 and spread in stability[0].help
    from model.present.text import confidence_words, copies_below_brief, stability_brief
    assert stability_brief(expected, with_below=False) in stability[0].value
    # Copies below the answer level are coloured apart; the word is orange only when unstable.
    below = copies_below_brief(expected)
    assert (f"; :orange[{below}]" in stability[0].value) if below else ":orange[" not in stability[0].value
    assert stability[0].value.startswith(":orange[**" if confidence_words(expected)[1] == "Unstable" else ":blue[**")
    assert not any("entropy" in text for text in texts(at.warning) + texts(at.markdown) + texts(at.caption))
    # The status comes first: uncertain says "second read advised" (to the reader, who is the radiologist)
    # and why, in the finding's own sentence.
    status = [text for text in texts(at.warning) if text.startswith("**Uncertain: second read advised (")]
    assert len(status) == (1 if expected.uncertain else 0)
    assert all(reason in status[0] for reason in expected.reasons)
    assert UNCERTAIN_MESSAGE == "Second read advised."
    assert not any("refer to a radiologist" in text.lower() for text in texts(at.warning) + texts(at.info))
    order = [getattr(e, "label", None) for e in in_order(at)]
    assert order.index("Model output") < order.index(shown.label) < order.index("Method")
    # The one definition of the probability is on the page.
    assert any("in one pass" in text and "every change in points is measured from it" in text
               for text in texts(at.main.caption))

    assert any("lung attention unavailable: no lung segmentation model in the registry" in text.lower()
               for text in texts(at.caption))
    assert not [m for m in at.main.metric if m.label == "Map inside the lung fields"]
    assert at.toggle(key="lung_outline").disabled


def test_faithfulness_and_agreement_on_demand(registry_env):
    from model.classifier import Classifier
    from model.inputs.intake import load_xray
    from model.trust.faithfulness import faithfulness
    at = upload(open_page("diagnose"), IMAGE)
    assert not [m for m in at.main.metric if m.label == "While hiding"], "faithfulness ran before it was asked for"
    at.toggle(key="faithfulness").set_value(True).run()
    no_failure(at)
    clf = Classifier.load("tiny-a", registry_env)
    pixels = load_xray(IMAGE).pixels
    layer = at.selectbox(key="layer-tiny-a").value
    explanation, _ = clf.explain_xray(pixels, "gradcam", at.main.metric[0].value, layer)
    expected = faithfulness(clf, clf.prepare(pixels).array, explanation.heatmap, explanation.class_index,
                            grid=clf.map_grid(explanation))
    # The figures as the sentence gives them, all four in one format (three decimals when a curve is close
    # to chance).
    hide, hide_chance, reveal, reveal_chance = expected.figures
    assert metric(at, "While hiding").value == hide and metric(at, "While revealing").value == reveal
    assert {len(hide), len(hide_chance), len(reveal), len(reveal_chance)} in ({4}, {5})
    assert any(c.startswith(f"random regions cut like this map's cells: {hide_chance}") for c in texts(at.caption))
    assert any(c.startswith(f"random regions cut like this map's cells: {reveal_chance}") for c in texts(at.caption))
    assert f"while hiding {metric(at, 'While hiding').value} against" in expected.summary or not expected.measurable
    # An untrained tiny model scores the blurred film as it scores the film: "not measurable", said as such.
    assert expected.summary in (texts(at.success) + texts(at.warning) if expected.measurable else texts(at.info))
    # Its figures stay shown but are marked as not counting, the reason right under them (before the curves):
    # "While hiding 0.79" above "Not measurable" read as a score.
    assert not expected.measurable, "the tiny model was expected to give the not-measurable case"
    from model.trust.faithfulness import NOT_JUDGED
    assert [metric(at, label).proto.delta for label in ("While hiding", "While revealing")] == [NOT_JUDGED] * 2
    shown = list(in_order(at))
    reason = next(i for i, e in enumerate(shown) if getattr(e, "value", None) == expected.summary)
    chart = next(i for i, e in enumerate(shown) if e.type == "plotly_chart" and "while hiding" in e.proto.spec)
    assert shown.index(metric(at, "While revealing")) < reason < chart
    curves = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                  if [t.get("name") for t in json.loads(c.proto.spec)["data"]] == ["while hiding", "while revealing"])
    np.testing.assert_allclose(curves["data"][0]["y"], expected.curves["deletion"], atol=1e-6)

    # A second method: the two maps are compared, the headline judging the map shown by the caution's rule.
    from model.policy import LOW_AGREEMENT, SAME_MAP
    assert not [m for m in at.main.metric if m.label.startswith("Other maps agreeing with")]
    at.selectbox(key="method").set_value("gradcam++").run()
    no_failure(at)
    headline = metric(at, "Other maps agreeing with Grad-CAM++")
    pairs = frame(at, "maps")
    assert list(pairs["maps"]) == ["Grad-CAM vs Grad-CAM++"]
    rho = float(pairs["similarity"].iloc[0])  # printed as the sentences print it ("+0.41")
    expected = (("none to compare", "Grad-CAM draws the same map") if rho >= SAME_MAP else
                ("1 of 1", "agrees") if rho >= LOW_AGREEMENT else ("0 of 1", "draws other regions"))
    assert (headline.value, headline.proto.delta) == expected


def test_a_colourful_image_is_flagged_but_still_analysed(registry_env):
    rgb = np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    at = upload(open_page("diagnose"), buffer.getvalue())
    assert not at.exception
    # A colour photograph is out of scope: the status says why, and no answer or map is shown by default.
    assert not at.error  # errors are kept for failures of the app
    status = [text for text in texts(at.markdown) if "**Out of scope: no answer shown (a colour image).**" in text]
    assert len(status) == 1 and "The image is in colour" in status[0]
    assert not [m for m in at.main.metric if m.label == "Model output"]
    assert len(at.main.image) == 1 and "No answer and no map" in at.main.image[0].captions[0]
    # Shown on request, below the status.
    at.toggle(key=next(t.key for t in at.toggle if t.key.startswith("show-anyway-"))).set_value(True).run()
    assert not at.exception
    assert at.main.metric[0].label == "Model output" and at.main.metric[0].value in LABELS
    elements = in_order(at)
    first_status = next(i for i, e in enumerate(elements) if "Out of scope" in str(getattr(e, "value", "")))
    assert first_status < next(i for i, e in enumerate(elements) if getattr(e, "label", None) == "Model output")
    # No answer under a heading that says none is shown: the heading says the output is for reference only.
    assert not [t for t in texts(at.markdown) if "no answer shown" in t]
    assert any("**Out of scope: the output is shown for reference only (a colour image).**" in t
               for t in texts(at.markdown))


def test_without_plausible_lung_fields_the_map_is_not_measured_against_them(lung_env):
    # A bright gradient with nothing dark: the stand-in lung model marks no lung at all.
    film = np.tile(np.linspace(0.6, 0.95, 128, dtype=np.float32), (128, 1))
    at = upload(open_page("diagnose"), png_bytes(film))
    no_failure(at)
    assert any("no plausible lung fields" in t for t in texts(at.markdown))  # out of scope, and why
    at.toggle(key=next(t.key for t in at.toggle if t.key.startswith("show-anyway-"))).set_value(True).run()
    no_failure(at)
    # No share "on the lungs" and no "box around the lung fields" for an image without lungs.
    assert not [m for m in at.main.metric if m.label == "Map inside the lung fields"]
    assert any("so the share of the map on them is not measured" in t for t in texts(at.caption))
    assert not any("box around the lung fields" in t for t in texts(at.caption))  # (the tiny models see it whole)
    # Compare says the same for every version shown anyway, not a share on lungs that were not found.
    at = upload(open_page("compare"), png_bytes(film))
    no_failure(at)
    at.toggle(key=next(t.key for t in at.toggle if t.key.startswith("compare-anyway-"))).set_value(True).run()
    no_failure(at)
    assert [m.label for m in at.main.metric].count("Model output (for reference only)") == 2
    assert not [m for m in at.main.metric if m.label == "Map inside the lung fields"]
    assert sum("so the share of the map on them is not measured" in t for t in texts(at.caption)) == 2


class Captured(list):
    """The `ReportContent` of each report made, in order; `calls`: the film, overlay and prediction of each."""

    def __init__(self):
        super().__init__()
        self.calls = []


def capture_reports(monkeypatch) -> Captured:
    """The download's data is made lazily; here it is made at once and the report's arguments captured:
    each call's `ReportContent`, its other arguments (film, overlay, prediction) in `calls`."""
    from streamlit.delta_generator import DeltaGenerator

    import model.present.report

    details = Captured()

    def capture(pixels, overlay, prediction, content):
        details.append(content)
        details.calls.append((pixels, overlay, prediction))
        return b"png"

    monkeypatch.setattr(model.present.report, "build_report", capture)
    monkeypatch.setattr(model.present.report, "build_report_pdf", lambda *a, **k: b"pdf")
    original = DeltaGenerator.download_button

    def eager(self, label, data=None, *args, **kwargs):
        return original(self, label, data() if callable(data) else data, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", eager)
    return details


def test_report_carries_the_final_status_and_its_findings(registry_env, monkeypatch):
    details = capture_reports(monkeypatch)
    at = upload(open_page("diagnose"), IMAGE)
    no_failure(at)
    report = details[-1]
    assert report.notes[0].startswith("The map explains the class ")
    # A case id that is not patient data, the status with its findings and the colour bar's settings.
    import hashlib
    assert report.case_id == hashlib.sha256(IMAGE).hexdigest()[:8]
    status = report.status
    assert status.kind in ("answer", "uncertain") and status.line.startswith(("Answer.", "Uncertain"))
    assert {f.kind for f in status.findings} >= {"age_not_known", "view_not_known"}
    # What the page asks under the status (no age or view stated), the report says once, where to do it.
    from tests.test_report import recorded_words

    assert any("State the age and view in the side panel" in box.value for box in [*at.info, *at.warning])
    assert recorded_words(report)[0].count("State the age and view on Diagnose, in its side panel") == 1
    assert report.colormap == "inferno" and report.what_if is None
    # The answer's own map, no lung model: no other class's note and no lung share, as on the page.
    assert report.other_class is None and report.lung_share is None and report.lung_sentence is None
    # The report's probabilities are the page's one figure, with the stability line the page shows beside it.
    assert f"{details.calls[-1][2].confidence:.1%}" == metric(at, "Probability").value
    word, brief = report.stability.split(": ", 1)
    assert any(e.value == f":{'orange' if word == 'Unstable' else 'blue'}[**{word}**]: {brief}" for e in at.markdown)
    # One wording of who reads the film, on the page and in the report's disclaimer.
    from model.present.report import DISCLAIMER
    from model.present.text import QUALIFIED_READER
    assert QUALIFIED_READER in DISCLAIMER and any(QUALIFIED_READER in c for c in texts(at.caption))
    assert "radiologist must" not in DISCLAIMER


def test_hidden_cells_metric_and_report_line_agree_with_the_card(registry_env, monkeypatch):
    """Two cells hidden: the page's metric, its change and the report's line all start from the card's one
    probability, and the change is the difference of the two figures as printed (to 0.1 point)."""
    from model.explain.film_grid import signed_points
    from model.present.report import what_if_line

    details = capture_reports(monkeypatch)
    at = upload(open_page("diagnose"), IMAGE)
    at.session_state["hidden_cells"] = [14, 15]  # what two clicks on the film store
    at.run()
    no_failure(at)
    effect = details[-1].what_if
    card = metric(at, "Probability").value
    shown = metric(at, "With 2 cells hidden")
    assert effect.cells == (14, 15) and effect.label == metric(at, "Model output").value and effect.seen
    assert f"{effect.before:.1%}" == card == f"{details.calls[-1][2].confidence:.1%}"  # the card's figure
    assert shown.value == f"{effect.after:.1%}"
    assert shown.proto.delta == f"{signed_points(effect.change, minus='-')} for {effect.label}"
    assert abs(float(shown.value.rstrip("%")) - float(card.rstrip("%")) - effect.change) < 1e-9
    assert f"{effect.label} {card} → {shown.value} ({signed_points(effect.change)})" in what_if_line(effect)
    assert what_if_line(effect).startswith("What if 2 cells (row 3, column 3; row 3, column 4) of the film were "
                                           "hidden (blurred): ")


def test_map_checks_made_later_reach_the_status_and_the_report(registry_env, monkeypatch):
    """Two methods that disagree (the limit raised so that any pair does): the status names it and the
    report carries that final status, though the answer's own status is unchanged."""
    import model.trust.map_checks

    monkeypatch.setattr(model.trust.map_checks, "LOW_AGREEMENT", 1.01)
    details = capture_reports(monkeypatch)
    at = upload(open_page("diagnose"), IMAGE)
    assert "other methods draw other regions" not in details[-1].status.line
    at.selectbox(key="method").set_value("gradcam++").run()
    no_failure(at)
    status = details[-1].status
    # One other map compared: said of that map ("most other methods" read wrong beside a single pair).
    assert "Read the map with care: the other map compared draws other regions." in status.line
    assert any(f.kind == "methods_disagree" and f.severity == "map_caution" for f in status.findings)
    banner = [t for t in texts(at.warning) + texts(at.info) if t.startswith(("**Answer", "**Uncertain"))]
    assert len(banner) == 1 and "the other map compared draws other regions" in banner[0]
    # Judged for the map read (Grad-CAM++), naming the other map with its figure.
    said = [t for t in texts(at.caption) if "Grad-CAM++ agrees little with the other map compared: Grad-CAM (" in t]
    assert len(said) == 2  # under the status and in the trust tab, beside the figures it names


def test_every_method_computed_in_its_tab_reaches_the_checks_the_status_and_the_report(registry_env, monkeypatch):
    """'Compute every method' compares all the maps: their disagreement reaches the status and the
    report, its occlusion map makes the occlusion cross-check (no longer named as not made), and the
    report lists every method as compared."""
    import model.trust.map_checks
    from model.explain import METHODS

    monkeypatch.setattr(model.trust.map_checks, "LOW_AGREEMENT", 1.01)
    details = capture_reports(monkeypatch)
    at = upload(open_page("diagnose"), IMAGE)
    assert not {"methods_disagree", "occlusion_disagrees"} & {f.kind for f in details[-1].status.findings}
    # A Grad-CAM++ map at another layer first: the trust tab must compare the maps the methods tab shows.
    at.toggle(key="advanced_layers").set_value(True).run()
    default_layer = at.selectbox(key="layer-tiny-a").value
    at.selectbox(key="method").set_value("gradcam++").run()
    at.selectbox(key="layer-tiny-a").set_value("stem_conv").run()
    assert default_layer != "stem_conv"
    at.selectbox(key="method").set_value("gradcam").run()
    at.selectbox(key="layer-tiny-a").set_value(default_layer).run()
    at.toggle(key="all_methods").set_value(True).run()
    no_failure(at)
    # The trust tab's headline counts the other distinct maps as the caution does and words it the same way;
    # the methods tab's mean is a description, without a verdict word.
    headline = metric(at, "Other maps agreeing with Grad-CAM")
    assert headline.value.startswith("0 of ") and headline.proto.delta == "none agree", headline
    assert metric(at, "Mean similarity of every pair").proto.delta == "identical maps counted once"
    status = details[-1].status
    assert ("Read the map with care: most other methods draw other regions and occlusion agrees little with "
            "Grad-CAM." in status.line)
    assert "not made yet" not in status.line and "the comparison of every method" not in status.line
    assert any(f.kind == "occlusion_disagrees" for f in status.findings)
    labels = [m.label for m in METHODS.values()]
    assert details[-1].compared == tuple(labels)
    disagree = next(f for f in status.findings if f.kind == "methods_disagree")
    assert sorted(disagree.values["methods"]) == sorted(METHODS)
    assert any(m.label == "Similarity to Grad-CAM" for m in at.main.metric)  # the cross-check, drawn


def test_a_caution_about_the_map_of_another_class_says_which_map(registry_env, monkeypatch):
    """The reader explains a class the model did not answer: a caution about that map is not a doubt about
    the answer, so the status and the report name the class whose map it is."""
    import model.trust.map_checks

    monkeypatch.setattr(model.trust.map_checks, "LOW_AGREEMENT", 1.01)
    details = capture_reports(monkeypatch)
    at = upload(open_page("diagnose"), IMAGE)
    answer = metric(at, "Model output").value
    other = next(label for label in ("COVID-19", "Normal", "Pneumonia") if label != answer)
    [target] = [box for box in at.selectbox if box.label == "Class to explain"]
    target.set_value(other).run()
    at.selectbox(key="method").set_value("gradcam++").run()
    no_failure(at)
    wanted = f"Read the {other} map (a class the model did not answer) with care: the other map compared draws other regions."
    assert wanted in details[-1].status.line
    # The note under that map, word for word in the report's content.
    note = details[-1].other_class
    assert note.startswith(f"The model gives {other} a probability of ") and f":material/info: {note}" in texts(at.caption)
    banner = [t for t in texts(at.warning) + texts(at.info) if t.startswith(("**Answer", "**Uncertain"))]
    assert len(banner) == 1 and wanted in banner[0]


def test_several_map_cautions_fold_under_the_status_and_keep_their_sentences(registry_env, monkeypatch):
    """Two cautions: named in the status line, their sentences in one folded list under it, so the film
    stays on the first screen at 1366 x 768."""
    import model.trust.map_checks
    from model.trust.findings import MAP, MAP_CAUTION, Finding

    original = model.trust.map_checks.map_findings
    extra = Finding("faithfulness_poor", MAP_CAUTION, MAP, "A stand-in caution about the map.", {})
    monkeypatch.setattr(model.trust.map_checks, "LOW_AGREEMENT", 1.01)
    monkeypatch.setattr(model.trust.map_checks, "map_findings", lambda *a, **k: [*original(*a, **k), extra])
    at = upload(open_page("diagnose"), IMAGE)
    at.selectbox(key="method").set_value("gradcam++").run()
    no_failure(at)
    banner = [t for t in texts(at.warning) + texts(at.info) if t.startswith(("**Answer", "**Uncertain"))]
    assert len(banner) == 1 and "the other map compared draws" in banner[0] and "no better than random" in banner[0]
    folded = [e for e in at.expander if e.label.startswith("Why read the map with care (2 checks)")]
    assert len(folded) == 1
    inside = [c.value for c in folded[0].caption]
    assert any("agrees little with the other map compared" in t for t in inside)
    assert any("A stand-in caution about the map." in t for t in inside)


def test_diagnose_with_a_lung_model_measures_lung_attention(lung_env):
    from model.classifier import Classifier
    from model.inputs.intake import load_xray
    from model.inputs.lungs import LungSegmenter, mask_plausibility
    from model.trust.attention import lung_attention
    data = png_bytes(dark_lungs_film())
    at = upload(open_page("diagnose"), data)
    no_failure(at)
    pixels = load_xray(data).pixels
    mask = LungSegmenter.load(root=lung_env).mask(pixels)
    assert mask_plausibility(mask)["plausible"], "the stand-in segmenter should find two lung fields"
    _, on_image = Classifier.load("tiny-a", lung_env).explain_xray(pixels, "gradcam", at.main.metric[0].value,
                                                                   at.selectbox(key="layer-tiny-a").value)
    expected = lung_attention(on_image, mask)
    assert metric(at, "Map inside the lung fields").value == lung_share(expected.fraction)
    assert (expected.warning in texts(at.warning)) == expected.low
    assert not any("unavailable" in text for text in texts(at.caption))
    # This film's map lies mostly off its lungs: the warning, and no reassuring line beside it
    # (the line for a map above the warning is `text.lung_share_sentence`, tested on its own).
    assert expected.low and not any("map lies on the lungs" in t for t in texts(at.caption))

    # The outline is drawn on the overlay only: the map and its lung share are unchanged.
    plain = at.main.image[0].value
    at.toggle(key="lung_outline").set_value(True).run()
    no_failure(at)
    assert at.main.image[0].value != plain
    assert metric(at, "Map inside the lung fields").value == lung_share(expected.fraction)

    # The explanation report flagged Grad-CAM++ in the sanity check: said beside that map.
    assert not [t for t in texts(at.warning) if "randomised" in t]
    at.selectbox(key="method").set_value("gradcam++").run()
    assert any("Grad-CAM++ maps stayed similar" in t for t in texts(at.warning))


def test_the_report_carries_the_lung_share_and_the_sentence_diagnose_shows(lung_env, monkeypatch):
    """The same film shows the same figure on every view: the report's content holds the lung panel's share
    and the sentence under it, the warning when it fires and the plain sentence otherwise."""
    import dashboard.caching
    from model.present.text import LUNG_SHARE_LABEL

    details = capture_reports(monkeypatch)
    at = upload(open_page("diagnose"), png_bytes(dark_lungs_film()))
    no_failure(at)
    report = details[-1]
    assert report.lung_share == metric(at, LUNG_SHARE_LABEL).value
    assert report.lung_sentence in texts(at.warning)  # this film's map lies mostly off its lungs
    # A lower warning level for the model: no warning, the sentence under the share instead, in the report too.
    monkeypatch.setattr(dashboard.caching, "lung_attention_threshold", lambda key: 0.001)
    at.run()
    no_failure(at)
    report = details[-1]
    assert report.lung_share == metric(at, LUNG_SHARE_LABEL).value
    assert "map lies on the lungs" in report.lung_sentence and report.lung_sentence in texts(at.caption)
    assert report.lung_sentence not in texts(at.warning)


# --------------------------------------------------------------------------- Performance


def test_performance_renders_the_explanation_report_and_within_source_aucs(lung_env):
    at = open_page("performance")
    no_failure(at)
    assert "Explanation report" in texts(at.subheader)
    lungs = {m.label: (m.value, m.delta) for m in at.main.metric}
    # Each mean with the share of its images below the warning level (tiny-a has no scope check: the default,
    # 50%), not a red "points vs 50.0%" judging the mean against a line that alone proves no shortcut.
    assert lungs["All images"] == ("62.0%", "33% below 50.0%")  # lung shares to 0.1%, as on every view
    assert [lungs[f"Predicted {label}"] for label in LABELS] == [("41.0%", "75% below 50.0%"),
                                                                ("70.0%", "0% below 50.0%"),
                                                                ("75.0%", "25% below 50.0%")]
    from streamlit.proto.Metric_pb2 import Metric
    assert {Metric.MetricColor.Name(m.proto.color) for m in at.main.metric if m.label in lungs} == {"GRAY"}  # neutral
    caption = next(text for text in texts(at.caption) if text.startswith("Lung masks from"))
    assert "the warning level of 50.0% (the default" in caption
    assert "where Diagnose, Compare versions and the Gallery warn" in caption
    faith = frame(at, "method")
    assert list(faith["method"]) == ["Grad-CAM", "Grad-CAM++"]
    # Each method's figures in its one format, as Compare and Diagnose give them (none is within two margins here).
    assert list(faith["deletion AUC"]) == ["0.31", "0.52"] and list(faith["random deletion AUC"]) == ["0.50", "0.50"]
    assert list(faith["insertion AUC"]) == ["0.72", "0.50"] and list(faith["random insertion AUC"]) == ["0.55", "0.55"]
    assert list(faith["lower than random"]) == [True, False]
    assert list(faith["higher than random"]) == [True, False]
    assert list(faith["both better on"]) == ["83%", "25%"]  # formatted as Compare and the report's summary do
    assert list(faith["grid"]) == ["7 x 7", "n/a"]  # the second report predates the grid
    sanity = frame(at, "flagged")
    assert dict(zip(sanity["method"], sanity["flagged"])) == {"Grad-CAM": False, "Grad-CAM++": True,
                                                               "Score-CAM": False}
    assert list(sanity["blank maps"]) == ["n/a", "n/a", "4 of 4"]  # older entries did not count them
    # Every map blank: no similarity, said as such (a cell showed "None" whatever the Styler's na_rep said).
    assert list(sanity["similarity (Spearman)"]) == ["0.12", "0.81", "n/a"] and list(sanity["SSIM"])[2] == "0.01"
    assert any(text.startswith("Flagged: Grad-CAM++.") for text in texts(at.warning))
    # Blank maps from the scrambled model rank nothing: that method is not judged, and not called passed.
    assert any(text.startswith("Not judged: Score-CAM.") for text in texts(at.warning))
    assert not any("No method flagged" in text for text in texts(at.caption))
    # The mean agreement says which pairs it could not measure (a blank map) on how many images.
    assert ("Mean agreement between Grad-CAM, Grad-CAM++ (Spearman): +0.80 (not measured, a blank map, so left out: "
            "Grad-CAM vs Grad-CAM++ on 2 images).") in texts(at.caption)

    within = next(d.value for d in at.dataframe if {"COVID-19", "images"} <= set(d.value.columns))
    assert list(within.index) == list(PER_SOURCE_AUC)
    assert within.loc["ieee8023-covid-chestxray", "COVID-19"] == "0.55"  # a score to two decimals, as on every page
    assert within.loc["nih-chestxray14", "COVID-19"] == "–"
    assert within.loc["nih-chestxray14", "Normal"] == "0.91"
    # Switching to a model without a report shows the command that makes one.
    at.selectbox(key="performance_model").set_value("tiny-b").run()
    no_failure(at)
    assert any(COMMAND.format("tiny-b") in text for text in texts(at.caption))
    assert not [m for m in at.metric if m.label == "All images"]


# --------------------------------------------------------------------------- Compare


def test_compare_shows_notes_reports_and_lung_attention_per_version(lung_env):
    at = open_page("compare")
    no_failure(at)
    assert "What changed" in texts(at.subheader)
    notes = [e for e in at.expander if e.label.startswith("Notes: ")]  # the page's glossary is an expander too
    assert [e.label for e in notes] == ["Notes: Tiny test model tiny-a · v0.0", "Notes: Tiny test model tiny-b · v0.1"]
    for expander in notes:
        body = " ".join(texts(expander.markdown))
        assert "Untrained test model." in body and "**Preprocessing:** 32 px, stretch" in body
    reports = next(t.value for t in at.table if "lung attention, all images" in t.value.index)  # a wrapping table
    a, b = "Tiny test model tiny-a", "Tiny test model tiny-b"  # by name, as the side panel names them
    assert list(reports.columns) == [a, b]
    assert reports.loc["lung attention, all images", a] == "62.0%"  # as Performance gives it
    assert reports.loc["lung attention, predicted COVID-19", a] == "41.0%"
    assert reports.loc["lung attention, all images", b] == "–"
    assert reports.loc["Grad-CAM deletion AUC (lower is better)", a] == "0.31"
    assert reports.loc["Grad-CAM deletion AUC, random maps", a] == "0.50"
    assert reports.loc["Grad-CAM insertion AUC, random maps", a] == "0.55"
    assert reports.loc["Grad-CAM++ similarity to random weights", a] == "0.81, flagged"
    # the verdict, as Performance gives it from the same report
    assert reports.loc["Grad-CAM verdict on the mean curves", a].startswith("faithful")
    assert re.fullmatch(r"\d+%( of \d+ films)?", reports.loc["Grad-CAM films better on both", a])
    assert any(COMMAND.format("tiny-b") in text for text in texts(at.caption))

    at = upload(at, png_bytes(dark_lungs_film()))
    no_failure(at)
    shares = [m.value for m in at.metric if m.label == "Map inside the lung fields"]
    assert len(shares) == 2 and all(value.endswith("%") for value in shares)


def test_occlusion_is_compared_with_the_map_shown_and_the_report_carries_the_checks_made(registry_env, monkeypatch):
    """Grad-CAM++ shown: the occlusion cross-check compares occlusion with Grad-CAM++'s map and says so on the
    panel, in the status and in the report; the report carries the one-line results of the checks made (the
    faithfulness summary the page shows), not only their cautions."""
    import model.trust.map_checks

    monkeypatch.setattr(model.trust.map_checks, "LOW_AGREEMENT", 1.01)  # any similarity disagrees
    details = capture_reports(monkeypatch)
    at = upload(open_page("diagnose"), IMAGE)
    at.selectbox(key="method").set_value("gradcam++").run()
    at.toggle(key="faithfulness").set_value(True).run()
    at.button(key="occlusion").click().run()
    no_failure(at)
    similarity = next(m for m in at.main.metric if m.label == "Similarity to Grad-CAM++")
    assert not [m for m in at.main.metric if m.label == "Similarity to Grad-CAM"]
    content = details[-1]
    assert "occlusion agrees little with Grad-CAM++" in content.status.line
    caution = next(f for f in content.status.findings if f.kind == "occlusion_disagrees")
    assert f"points elsewhere than Grad-CAM++ (similarity {similarity.value}" in caution.sentence
    checks = {title: (sentence, said) for title, sentence, said in content.checks}
    faith_said = texts(at.success) + texts(at.warning) + texts(at.info)
    assert checks["Faithfulness"][0] in faith_said  # the page's own sentence
    # Grad-CAM, Grad-CAM++ and occlusion: the comparison's line gives occlusion's figure against Grad-CAM++ and
    # says the occlusion caution, which has no line of its own (one statement per figure).
    assert "Occlusion cross-check" not in checks
    assert caution.sentence in checks["Methods compared so far"][1]
    assert f"({similarity.value})" in checks["Methods compared so far"][0]
    # The header's "Compared" names the maps that line compared, occlusion's included (it listed the maps looked at).
    assert set(content.compared) == {"Grad-CAM", "Grad-CAM++", "Occlusion"}, content.compared


def test_a_layer_switch_compares_only_the_maps_of_one_layer(registry_env, monkeypatch):
    """Grad-CAM++ read at another layer is never compared with Grad-CAM's map of the first: the pairs, the headline,
    the status and the report hold the maps of the layer read only; back at one layer with two methods, the
    figure is the one of those two maps. With occlusion's own map read, the cross-check's Grad-CAM is the
    comparison's (the layer box's), so the two give one figure."""
    import model.trust.map_checks
    from model.classifier import Classifier
    from model.inputs.intake import load_xray
    from model.trust.agreement import map_similarity
    from model.trust.map_checks import similarity_text

    monkeypatch.setattr(model.trust.map_checks, "LOW_AGREEMENT", 1.01)  # any comparison cautions, so it shows
    details = capture_reports(monkeypatch)
    at = upload(open_page("diagnose"), IMAGE)
    at.toggle(key="advanced_layers").set_value(True).run()
    at.selectbox(key="method").set_value("gradcam++").run()
    assert list(frame(at, "maps")["maps"]) == ["Grad-CAM vs Grad-CAM++"]  # one layer: compared
    at.selectbox(key="layer-tiny-a").set_value("stem_conv").run()
    no_failure(at)
    # Grad-CAM++ at the stem alone at its layer: nothing to compare, said with the reason the earlier map is left out.
    assert not [d for d in at.dataframe if "maps" in d.value.columns]
    assert not [m for m in at.main.metric if m.label.startswith("Other maps agreeing with")]
    assert any("those made at other layers are not compared" in c for c in texts(at.caption))
    report = details[-1]
    assert "other regions" not in report.status.line and report.compared == ()
    assert not [f for f in report.status.findings if f.kind == "methods_disagree"]

    clf = Classifier.load("tiny-a", registry_env)
    pixels, target = load_xray(IMAGE).pixels, metric(at, "Model output").value
    stem = {m: clf.explain_xray(pixels, m, target, "stem_conv")[0].heatmap for m in ("gradcam", "gradcam++")}
    at.selectbox(key="method").set_value("gradcam").run()
    no_failure(at)
    pairs = frame(at, "maps")
    rho = map_similarity(stem["gradcam++"], stem["gradcam"])
    assert list(pairs["maps"]) == ["Grad-CAM++ vs Grad-CAM"] and pairs["similarity"].iloc[0] == similarity_text(rho)
    disagree = next(f for f in details[-1].status.findings if f.kind == "methods_disagree")
    assert disagree.values["similarity"] == {"Grad-CAM++": pytest.approx(rho)}
    assert details[-1].compared == ("Grad-CAM", "Grad-CAM++")
    assert details[-1].notes[0] == f"The map explains the class {target} at the layer " \
        f"{at.selectbox(key='layer-tiny-a').format_func('stem_conv')}."

    # Occlusion's own map read, the layer box still at the stem: its cross-check's Grad-CAM is the stem's, the
    # comparison's; one figure in the panel, the pairs and the report.
    at.selectbox(key="method").set_value("occlusion").run()
    at.button(key="occlusion").click().run()
    no_failure(at)
    occlusion = clf.explain_xray(pixels, "occlusion", target)[0].heatmap
    figure = f"{map_similarity(stem['gradcam'], occlusion):+.2f}"
    assert metric(at, "Similarity to Grad-CAM").value == figure
    pairs = frame(at, "maps")
    assert dict(zip(pairs['maps'], pairs['similarity']))['Grad-CAM vs Occlusion'] == figure
    layer_label = at.selectbox(key="layer-tiny-a").format_func("stem_conv")
    assert f"Grad-CAM at the layer chosen ({layer_label}), as the other maps compared, for the same class (the map " \
        "shown is occlusion's own)." in texts(at.caption)
    content = details[-1]
    assert f"Grad-CAM ({figure})" in " ".join(sentence for _, sentence, _ in content.checks)
    assert "the maps it was compared with were taken at the layer" in content.notes[0]
