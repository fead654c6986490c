"""The plain words at hand on Performance, Compare and Evaluate (AppTest): each page's "Words used here" lists
every term it prints with its one line, the tables the review found bare carry their tooltips, and Evaluate
neither promises to score a file it cannot read nor draws a ROC curve where it withholds the AUC."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.present.glossary import PAGE_TERMS, explain, explained, page_glossary, terms_used
from model.registry import PACKAGE_REGISTRY
from tests.support import png_bytes, synthetic_radiograph
from tests.test_dashboard_evaluate import NAMES, no_failure, texts
from tests.test_dashboard_evaluate import open_view as evaluate_view
from tests.test_evaluation import zip_bytes

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest


def open_view(view: str, monkeypatch, registry: Path) -> AppTest:
    """The app on `view` with the registry at `registry` and no data configured."""
    monkeypatch.setenv("CXR_REGISTRY", str(registry))
    return evaluate_view(view, monkeypatch)


def shown_text(at: AppTest) -> str:
    """What the page prints: its words, captions, metric labels, table headers and row names."""
    frames = [d.value for d in at.dataframe] + [t.value for t in at.table]
    parts = (texts(at.markdown) + texts(at.caption) + texts(at.subheader) + [m.label for m in at.metric]
             + [str(name) for frame in frames for name in [*frame.columns, *frame.index]])
    return "\n".join(parts)


def assert_words_used_here(at: AppTest, page: str) -> None:
    """The page's glossary is drawn, each term with its line, and covers every term the page prints."""
    assert [e.label for e in at.expander if e.label == "Words used here"] == ["Words used here"]
    listed = "\n".join(texts(at.markdown))
    for term, line in page_glossary(page).items():
        assert f"- **{term}**: {line}" in listed, term
    missing = terms_used(shown_text(at)) - set(PAGE_TERMS[page])
    assert not missing, f"{page} prints words of {sorted(missing)} that its glossary lacks"


def column_help(at: AppTest, column: str) -> str:
    """The tooltip of a table column's header, from the drawn grid's column config."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            config = json.loads(frame.proto.columns)
            return (config.get(column) or {}).get("help") or ""
    raise AssertionError(f"no table with a {column!r} column")


def test_performance_explains_its_terms_on_the_shipped_default_model(monkeypatch):
    """The review: "AUROC" under "low figures are right here", "SSIM", "(Spearman)" and "Macro F1" had no help."""
    at = open_view("performance", monkeypatch, PACKAGE_REGISTRY)
    no_failure(at)
    assert_words_used_here(at, "performance")
    assert column_help(at, "AUROC") == explain("AUROC of the scope check")
    assert column_help(at, "SSIM") == explain("SSIM")
    assert column_help(at, "similarity (Spearman)") == explained("Map similarity", "Spearman")
    assert next(m for m in at.metric if m.label == "Macro F1").help == explained("Macro F1", "F1")
    scope = next(c for c in at.caption if c.value.startswith("The anatomy check fitted without each source"))
    assert "0.5 (it cannot tell them apart) is right" in scope.value and "low figures are right" not in scope.value
    assert explain("AUROC of the scope check") in scope.help
    agreement = next(c for c in at.caption if c.value.startswith("Mean agreement between"))
    assert agreement.help == explained("Mean agreement between methods", "Spearman")


def test_compare_explains_its_terms_and_the_map_similarity(registry_env, monkeypatch):
    at = open_view("compare", monkeypatch, registry_env)
    no_failure(at)
    assert_words_used_here(at, "compare")
    at.get("file_uploader")[0].set_value(("chest.png", png_bytes(synthetic_radiograph(128, seed=3)), "image/png"))
    at.run()
    no_failure(at)
    assert_words_used_here(at, "compare")
    assert column_help(at, "map similarity (Spearman)") == explained("Map similarity", "Spearman")
    similarity = next(c for c in at.caption if c.value.startswith("Similarity of the Grad-CAM maps"))
    assert similarity.help == explained("Map similarity", "Spearman")


def test_evaluate_says_an_unreadable_file_before_scoring_and_draws_no_curve_it_withholds(registry_env, monkeypatch,
                                                                                        tmp_path):
    """The review's ZIP of 9 films and a text file named .png: "10 images in the uploaded ZIP; all are scored"
    before "1 file could not be read", and 9 films' ROC curves drawn beside "(AUC: too few images (n=9))"."""
    at = open_view("evaluate", monkeypatch, registry_env)
    no_failure(at)
    assert_words_used_here(at, "evaluate")
    at.radio(key="evaluate_source").set_value("A ZIP of labelled images").run()
    films = {f"{label}/{i}.png": png_bytes(synthetic_radiograph(64, seed=40 + 3 * i + k))
             for k, label in enumerate(("COVID", "Normal", "Pneumonia")) for i in range(3)}
    archive = zip_bytes({**films, "Normal/notes.png": b"not an image, only text"})
    at.get("file_uploader")[0].set_value(("ours.zip", archive, "application/zip"))
    at.run()
    no_failure(at)
    before = "\n".join(texts(at.markdown))
    assert "all are scored" not in before
    assert ("10 image files in the uploaded ZIP; 1 cannot be read as an image; all 9 others are scored. Press "
            "Evaluate to score **9 images** with 2 versions.") in before
    at.selectbox(key="evaluate_resamples").set_value(200)
    at.button(key="evaluate_run_start").click().run()
    no_failure(at)
    assert "9 images were scored by every version. 1 file could not be read" in "\n".join(texts(at.markdown))
    roc = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert not roc.get("data")  # no version's curve: its AUC is withheld on 9 films
    assert "No ROC curve is drawn" in json.dumps(roc["layout"].get("annotations"))
    why = next(c for c in at.caption if c.value.startswith("No ROC curve is drawn for"))
    assert all(f"{name} (too few images (n=9))" in why.value for name in NAMES)
    assert why.help == explained("ROC curve", "AUC")
    assert_words_used_here(at, "evaluate")
