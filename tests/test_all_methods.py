"""Every method side by side on Diagnose: one colour bar for the grid, one line per method on what it
measures, each map's share on the lungs, the agreement between the maps in figures and words; and a
colour bar on every other map (grid occlusion, the occlusion cross-check).

The figures are recomputed here from the core (`method_agreement`, `summarise_agreement`,
`lung_attention`) on the same film, model and class, and held to what the page shows.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.explain import METHODS
from model.present.method_grid import (
    SCALE,
    AgreementSummary,
    agreement_matrix,
    agreement_word,
    matrix_text,
    method_lines,
    same_map_sentence,
    summarise_agreement,
)
from model.trust.agreement import method_agreement
from tests.gallery_support import LUNGS_ID, SHORTCUT_ID, marker_film, write_fixed_lungs_entry, write_shortcut_entry
from tests.support import png_bytes

st = pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
FILM = png_bytes(marker_film(seed=5))


# --------------------------------------------------------------------------- the core


@pytest.mark.parametrize("similarity, word", [(1.0, "strong agreement"), (0.7, "strong agreement"),
                                              (0.69, "moderate agreement"), (0.4, "moderate agreement"),
                                              (0.3, "weak agreement"), (0.29, "little agreement"),
                                              (0.2, "little agreement"), (0.0, "unrelated"), (-0.05, "unrelated"),
                                              (-0.11, "weakly opposite"), (-0.5, "opposite rankings"),
                                              (-1.0, "opposite rankings")])
def test_agreement_words(similarity, word):
    assert agreement_word(similarity) == word


def test_the_words_turn_below_agreement_exactly_where_the_map_checks_caution():
    from model.policy import LOW_AGREEMENT
    from model.trust.agreement import Agreement
    from model.trust.map_checks import MapChecks, map_findings

    for similarity in (LOW_AGREEMENT - 0.01, LOW_AGREEMENT, LOW_AGREEMENT + 0.05):
        cautioned = bool(map_findings(MapChecks(occlusion_similarity=similarity)))
        pair = bool(map_findings(MapChecks(agreement=Agreement({"gradcam vs gradcam++": similarity}, similarity),
                                           shown="gradcam")))
        agrees = agreement_word(similarity).endswith(("strong agreement", "moderate agreement", "weak agreement"))
        assert cautioned == pair == (not agrees), similarity


@pytest.mark.parametrize("bad", [1.5, -2.0, float("nan")])
def test_agreement_word_refuses_what_is_no_similarity(bad):
    with pytest.raises(ValueError, match="similarity"):
        agreement_word(bad)


def test_summary_and_matrix_of_known_maps():
    ramp = np.tile(np.linspace(0.0, 1.0, 16), (16, 1))
    noise = np.random.default_rng(0).random((16, 16))
    agreement = method_agreement({"gradcam": ramp, "layercam": ramp ** 2, "smoothgrad": 1.0 - ramp, "occlusion": noise})
    summary = summarise_agreement(agreement)
    # Grad-CAM and LayerCAM draw one map (the same ranking): counted once, three distinct maps, three pairs.
    assert isinstance(summary, AgreementSummary) and (summary.maps, summary.pairs) == (3, 3)
    assert summary.closest[:2] == ("gradcam", "occlusion") and summary.furthest == ("gradcam", "smoothgrad", -1.0)
    distinct = [agreement.similarity(a, b) for a, b in (("gradcam", "smoothgrad"), ("gradcam", "occlusion"),
                                                        ("smoothgrad", "occlusion"))]
    assert summary.mean == pytest.approx(np.mean(distinct)) and summary.mean != pytest.approx(agreement.mean)
    assert summary.agreeing == 0
    # The pairs by their method names (the page names them from these, never by splitting the stored key).
    from model.trust.agreement import pair_methods
    assert [methods for methods, _ in agreement.method_pairs][:3] == [("gradcam", "layercam"), ("gradcam", "smoothgrad"),
                                                                     ("gradcam", "occlusion")]
    assert dict(agreement.method_pairs)[("gradcam", "smoothgrad")] == agreement.similarity("smoothgrad", "gradcam")
    assert pair_methods("gradcam++ vs occlusion") == ("gradcam++", "occlusion")
    # The same ranking from two methods is said to be one map, not two agreeing (Grad-CAM++ and LayerCAM coincide
    # at a layer read out linearly).
    assert summary.same == (("gradcam", "layercam"),)
    assert same_map_sentence(summary, {"gradcam": "Grad-CAM", "layercam": "LayerCAM"}).startswith(
        "Grad-CAM and LayerCAM rank this film's regions (almost) identically")
    assert same_map_sentence(summarise_agreement(method_agreement({"a": ramp, "b": noise}))) == ""
    table = agreement_matrix(agreement, {"gradcam": "Grad-CAM", "smoothgrad": "SmoothGrad"})
    assert list(table.columns) == ["Grad-CAM", "layercam", "SmoothGrad", "occlusion"] == list(table.index)
    np.testing.assert_allclose(np.diag(table.to_numpy()), 1.0)
    np.testing.assert_allclose(table.to_numpy(), table.to_numpy().T)
    assert table.loc["Grad-CAM", "SmoothGrad"] == pytest.approx(-1.0)


def test_one_line_per_method_on_what_it_measures():
    lines = method_lines(METHODS)
    assert list(lines) == [m.label for m in METHODS.values()]
    assert all(line and "\n" not in line and line.endswith(".") and len(line) < 130 for line in lines.values())
    assert len(set(lines.values())) == len(lines)


# --------------------------------------------------------------------------- the page


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("methods-registry")
    write_shortcut_entry(root)
    write_fixed_lungs_entry(root)
    return root


@pytest.fixture()
def diagnose(registry, monkeypatch):
    monkeypatch.setenv("CXR_REGISTRY", str(registry))
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=180).run()
    at.file_uploader[0].set_value(("marker.png", FILM, "image/png")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def tab(at, label: str):
    return next(t for t in at.tabs if t.label == label)


def test_all_methods_under_one_colour_bar_with_lines_shares_and_agreement(diagnose, registry):
    from model.classifier import Classifier
    from model.inputs.intake import load_xray
    from model.inputs.lungs import LungSegmenter
    from model.trust.attention import lung_attention

    at = diagnose
    at.toggle(key="all_methods").set_value(True).run()
    assert not at.exception
    methods = tab(at, "All methods side by side")
    assert len(methods.image) == len(METHODS)
    # One colour bar for the whole grid.
    bars = [c.value for c in methods.caption if "weak → strong evidence for COVID-19" in c.value]
    assert len(bars) == 1 and "Each map has its own scale" in bars[0]
    # One line per method on what it measures, under its name and its share on the lungs.
    lines = method_lines(METHODS)
    assert [c.value for c in methods.caption if c.value in lines.values()] == list(lines.values())
    clf = Classifier.load(SHORTCUT_ID, registry)
    pixels = load_xray(FILM).pixels
    mask = LungSegmenter.load(LUNGS_ID, registry).mask(pixels)
    maps, shares = {}, {}
    for name, record in METHODS.items():
        explained, on_image = clf.explain_xray(pixels, name, "COVID-19")
        maps[name], shares[record.label] = explained.heatmap, lung_attention(on_image, mask).fraction
    named = {m.value.split("**")[1]: m.value for m in methods.markdown if m.value.startswith("**")}
    for label, share in shares.items():
        assert named[label] == f"**{label}** · {share:.1%} on the lungs"
    assert named["Grad-CAM"] == "**Grad-CAM** · 0.0% on the lungs", "the marker model looks at its marker"
    # The agreement, in figures and words, as the core computes it.
    agreement = method_agreement(maps)
    summary = summarise_agreement(agreement)
    # A description of all the maps, said to be one (no verdict word beside the status's own judgement).
    metric = next(m for m in methods.metric if m.label == "Mean similarity of every pair")
    assert metric.value == f"{summary.mean:+.2f}" and metric.proto.delta == "identical maps counted once"
    words = next(m.value for m in methods.markdown if "distinct maps agree at least moderately" in m.value)
    assert words.startswith(f"{summary.agreeing} of the {summary.pairs} pairs of the {summary.maps} distinct maps")
    assert f"{summary.closest[2]:+.2f} ({agreement_word(summary.closest[2])})" in words
    table = methods.dataframe[0].value
    assert list(table.columns) == [m.label for m in METHODS.values()]
    # Printed as the sentences print each figure (a blank map's pair in words, none on this film).
    numbers = agreement_matrix(agreement)
    assert (table.to_numpy() == matrix_text(numbers).to_numpy()).all() and not numbers.isna().any().any()
    np.testing.assert_allclose(table.to_numpy().astype(float), numbers.to_numpy(), atol=0.005)
    assert any(SCALE in c.value for c in methods.caption)


def test_grid_occlusion_and_the_occlusion_cross_check_have_colour_bars(diagnose):
    at = diagnose
    at.toggle(key="grid_occlusion").set_value(True).run()
    assert not at.exception
    grid = tab(at, "Hide regions on the film's grid")
    largest = next(m for m in grid.metric if m.label == "Largest fall").value
    assert largest[0].isdigit() and largest.endswith(" points")  # a fall is unsigned: "fall −8.7" read as a rise
    legend = [c.value for c in grid.caption if c.value.startswith("no fall → the largest fall")]
    assert legend == [f"no fall → the largest fall ({largest}) of COVID-19 when a cell is hidden; cells whose "
                      "hiding raises it are not coloured."]
    assert any("linear-gradient" in m.value for m in grid.markdown)
    at.button(key="occlusion").click().run()
    assert not at.exception
    trust = tab(at, "How far to trust this map")
    assert any(c.value.startswith("weak → strong evidence for COVID-19") for c in trust.caption)
