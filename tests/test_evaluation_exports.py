"""What the Evaluate and Compare pages say and what a team downloads: one rounding rule, comparison
sentences whose words follow the sign of their number, every image counted with the reason it was
left out of a figure, empty sections that say why, and per-image exports of external films that name
images relative to their data folder (no server path)."""
from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest

from model.labelled_data import read_dataset
from model.present.evaluation_exports import export_json, figures_frame, predictions_frame
from model.present.evaluation_tables import (
    accounting_sentence,
    comparison_sentence,
    comparison_table,
    figure,
    paired,
    per_source_table,
    section_notes,
    selection_sentence,
    share,
    signed,
    with_interval,
)
from tests.support import LABELS
from tests.test_evaluation import write_labelled_folder


@pytest.fixture(scope="module")
def external_films(tmp_path_factory, test_registry):
    """Two tiny versions on a folder of external films (a folder per class, an unknown label and one
    broken file), scored with the folder as root: the report the Evaluate page makes."""
    from model.classifier import Classifier
    from model.evaluation import Progress, Resampling, Scoring, evaluate_models

    data = write_labelled_folder(tmp_path_factory.mktemp("roots") / "clinic", per_class=3)
    (data / "Normal" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    records = read_dataset(data, keep_unknown=True)
    classifiers = [Classifier.load(m, test_registry) for m in ("tiny-a", "tiny-b")]
    stages = []
    report = evaluate_models(classifiers, records, Scoring(4), resampling=Resampling(200), root=data,
                             progress=Progress(stage=stages.append))
    return data, records, report, stages


def test_per_image_export_of_two_versions_on_external_films(external_films):
    data, records, report, _ = external_films
    frame = predictions_frame(report)
    # One row per film, the unreadable one included, named relative to the data folder.
    assert len(frame) == len(records) == 13
    assert sorted(frame["image"]) == sorted(str(p.relative_to(data)) for p in data.rglob("*.png"))
    assert not frame["image"].str.startswith("/").any()
    broken = frame.set_index("image").loc["Normal/broken.png"]
    assert broken["status"] == "unreadable" and "could not be read" in broken["reason"]
    scored = frame[frame["status"] != "unreadable"]
    for version in ("tiny-a", "tiny-b"):
        columns = [f"{version} P({label})" for label in LABELS]
        assert np.allclose(scored[columns].sum(axis=1), 1.0, atol=1e-4)
        assert set(scored[f"{version} predicted"]) <= set(LABELS)
    tb = scored[scored["label"] == "Tuberculosis"]
    assert len(tb) == 3 and set(tb["status"]) == {"label not among the versions' classes"}
    assert set(tb["tiny-a correct"]) == {""}  # not an error: the versions cannot answer it
    known = scored[scored["label"] != "Tuberculosis"]
    assert set(known["tiny-a correct"]) <= {True, False}
    assert set(scored["agreement"]) <= {"agree", "disagree"}
    # The files a team downloads hold no server path.
    for text in (frame.to_csv(index=False), figures_frame(report).to_csv(index=False),
                 export_json(report, {"data": "roots/clinic"})):
        assert str(data) not in text and str(data.parent) not in text
    reread = pd.read_csv(io.StringIO(frame.to_csv(index=False)))
    assert len(reread) == 13 and {"tiny-a P(COVID-19)", "tiny-b P(COVID-19)"} <= set(reread.columns)


def test_the_json_export_holds_every_image_the_tidy_figures_and_why_sections_are_empty(external_films):
    _, _, report, stages = external_films
    document = json.loads(export_json(report, {"data": "roots/clinic", "images": "every image"}))
    assert document["about"]["data"] == "roots/clinic" and document["about"]["images_scored"] == 12
    assert len(document["images"]) == 13
    assert {"tiny-a", "tiny-b"} == set(document["images"][0]["probabilities"])
    assert document["comparisons"][0]["difference"] >= 0
    assert document["skipped"] == [{"path": "Normal/broken.png", "reason": report["skipped"][0]["reason"]}]
    assert isinstance(document["empty_sections"], dict)
    assert stages == ["Bootstrap intervals for tiny-a (200 resamples)…", "Bootstrap intervals for tiny-b (200 resamples)…",
                      "Paired comparison of tiny-a and tiny-b…"]


def test_the_tidy_figures(external_films):
    _, _, report, _ = external_films
    figures = figures_frame(report)
    assert list(figures.columns) == ["figure", "version", "subset", "class", "value", "ci_low", "ci_high", "images"]
    macro = figures[(figures["figure"] == "macro AUC") & (figures["subset"] == "images with a label the version knows")]
    assert list(macro["version"]) == ["tiny-a", "tiny-b"] and (macro["images"] == 9).all()
    assert (macro["ci_low"] <= macro["value"]).all() and (macro["value"] <= macro["ci_high"]).all()
    difference = figures[figures["figure"] == "macro AUC difference"].iloc[0]
    assert difference["value"] >= 0 and re.fullmatch(r"tiny-[ab] − tiny-[ab]", difference["version"])
    assert (figures["subset"] == "label Tuberculosis (not a class of the version)").any()
    assert (figures["subset"] == "within source clinic").any()


def test_every_image_is_counted_with_the_reason_it_is_left_out(external_films):
    _, _, report, _ = external_films
    assert accounting_sentence(report) == (
        "12 images were scored by every version; 3 of them have a label the versions do not know (Tuberculosis: 3), "
        "so the figures and comparisons use the other 9. 1 file could not be read and is listed below.")
    one = {**report, "labels_in_data": {**report["labels_in_data"], "Tuberculosis": 1}}
    assert "; 1 of them has a label the versions do not know (Tuberculosis: 1)" in accounting_sentence(one)
    # 9 images: below the rule of every AUC on the page, the figures table's too, so the pair is not compared.
    assert comparison_sentence(report["comparisons"][0]).endswith(
        "are not compared on these images: too few images (n=9) for an AUC, by the rule of the figures above.")
    assert selection_sentence("cxr/v2.csv", 3216, 954, 120, "unseen", 30) == (
        "3,216 images in cxr/v2.csv; 2,262 left out because at least one version trained on them; 120 of the "
        "remaining 954 sampled (30 per label). Validation films count as unseen: they chose each version's epochs, "
        "temperature and thresholds, so figures on them flatter a little (the test-split choice leaves them out).")
    # A ZIP's images are matched by their bytes elsewhere (`model.data_overlap`, tests/test_data_overlap.py): the
    # sentence counts what is scored, and the page says beside it what the matching found.
    assert selection_sentence("ours.zip", 12, 12, 12, "zip", None) == "12 images in ours.zip; all are scored."
    # A ZIP's unreadable file is known before scoring: the sentence does not promise to score it.
    assert selection_sentence("ours.zip", 10, 10, 10, "zip", None, 1) == (
        "10 image files in ours.zip; 1 cannot be read as an image; all 9 others are scored.")
    assert selection_sentence("ours.zip", 10, 8, 8, "zip", None, 1) == (
        "10 image files in ours.zip; 1 cannot be read as an image; 2 left out because at least one version trained "
        "on them; all 7 remaining are scored.")
    # Every image of a data list, training images too: the sentence says they flatter every version.
    assert selection_sentence("cxr/v2.csv", 3216, 3216, 75, "all", 25) == (
        "3,216 images in cxr/v2.csv; 75 of the 3,216 sampled (25 per label). Training images are included: a "
        "version scores well on the films it learned from, so these figures flatter every version and say little "
        "about new films.")
    assert selection_sentence("x", 50, 40, 40, "test", None) == (
        "50 images in x; 10 left out because they are not in every version's test split; all 40 remaining are scored.")


def pair(difference, low, high, share_b=0.5, share_a=0.4, auc_a=0.7):
    return {"a": "v1", "b": "v2", "n": 90, "auc_a": auc_a, "auc_b": auc_a + difference, "difference": difference,
            "interval": [low, high], "share_b_better": share_b, "share_a_better": share_a}


NUMBER = re.compile(r"= ([+−]?\d\.\d{2,4}) \(95% interval ([+−]?\d\.\d{2,4}) to ([+−]?\d\.\d{2,4})\)")


def test_a_comparison_sentence_never_contradicts_the_sign_of_its_number():
    # The case: B − A = −0.225 read as "averaged-v2 is better than v1".
    worse = comparison_sentence(pair(-0.225, -0.30, -0.15, share_b=0.0, share_a=1.0))
    assert worse == ("Macro AUC, v1 − v2 = +0.23 (95% interval +0.15 to +0.30) on the same 90 images, favouring v1.")
    better = comparison_sentence(pair(0.0726, 0.02, 0.12))
    assert better == "Macro AUC, v2 − v1 = +0.07 (95% interval +0.02 to +0.12) on the same 90 images, favouring v2."
    # A lower bound just above zero is printed with the decimals that show it, never as "0.00".
    close = comparison_sentence(pair(0.03, 0.004, 0.07))
    assert close == ("Macro AUC, v2 − v1 = +0.030 (95% interval +0.004 to +0.070) on the same 90 images, "
                     "favouring v2.")
    noise = comparison_sentence(pair(-0.03, -0.09, 0.04))
    assert noise.startswith("Macro AUC, v1 − v2 = +0.03 (95% interval −0.04 to +0.09)")
    assert noise.endswith(": no clear difference (the interval includes 0).")
    rng = np.random.default_rng(0)
    for _ in range(300):
        low, high = np.sort(rng.normal(0, 0.1, 2))
        difference = float(rng.uniform(low, high)) if rng.random() < 0.9 else float(rng.normal(0, 0.1))
        sentence = comparison_sentence(pair(difference, float(low), float(high)))
        first, second = re.search(r"Macro AUC, (v\d) − (v\d)", sentence).groups()
        value, lo, hi = (float(x.replace("−", "-")) for x in NUMBER.search(sentence).groups())
        assert value >= 0 and {first, second} == {"v1", "v2"} and lo <= hi
        assert first == ("v2" if difference > 0 else "v1")
        if "favouring" in sentence:  # only the first named, only when its interval lies above zero, as printed
            assert sentence.endswith(f"favouring {first}.") and lo > 0
        elif lo <= 0 <= hi:
            assert sentence.endswith("no clear difference (the interval includes 0).")
        else:
            assert hi < 0 and sentence.endswith("(the estimate lies outside its interval: too few images to tell).")
    odd = comparison_sentence(pair(-0.02, 0.01, 0.05))  # estimate outside its own interval
    assert "v1 − v2 = +0.02 (95% interval −0.05 to −0.01)" in odd and "too few images to tell" in odd
    assert "cannot be compared" in comparison_sentence({"a": "v1", "b": "v2", "n": 90, "difference": None})


def test_a_real_paired_comparison_favours_the_better_version():
    from model.bootstrap import paired_auc_difference

    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 300)
    weak = rng.dirichlet(np.ones(3), 300)
    strong = weak.copy()
    strong[np.arange(300), y] += 0.8
    # The better version chosen first: the raw difference B − A is negative.
    raw = {"a": "strong", "b": "weak", **paired_auc_difference(y, strong, weak, LABELS, resamples=200, seed=0)}
    assert raw["difference"] < 0 and raw["share_a_better"] == 1.0 and raw["share_b_better"] == 0.0
    turned = paired(raw)
    assert (turned.first, turned.second) == ("strong", "weak") and turned.difference > 0 and turned.clear
    assert turned.share_first_higher == 1.0
    assert comparison_sentence(raw).endswith("favouring strong.")
    table = comparison_table({"comparisons": [raw]})
    assert table.loc[0, "versions"] == "strong − weak" and table.loc[0, "resamples where the first is higher"] == "100%"
    assert table.loc[0, "reading"] == "favouring strong"


def test_one_rounding_rule():
    assert figure(0.0726) == "0.07" and figure(None) == "n/a" and figure(float("nan")) == "n/a"
    assert signed(0.0726) == "+0.07" and signed(-0.2976) == "−0.30" and signed(-0.004) == "0.00"
    assert share(0.9713) == "97%" and with_interval(0.9123, [0.884, 0.94]) == "0.91 (0.88–0.94)"


def test_empty_sections_say_why():
    no_sources = {"models": {"a": {"labels": LABELS}, "b": {"labels": LABELS}}, "within_source": {},
                  "disagreements": [], "images": [{"status": "scored", "source": "", "label": "Normal"}]}
    notes = section_notes(no_sources)
    assert notes["per_source"].startswith("The images name no source")
    assert "these images name none" in notes["within_source"]
    assert notes["disagreements"] == "The versions gave the same answer on every image."
    one_source = {**no_sources, "images": [{"status": "scored", "source": "clinic", "label": "COVID-19"},
                                           {"status": "scored", "source": "clinic", "label": "Normal"}]}
    notes = section_notes(one_source)
    assert "per_source" not in notes
    assert notes["within_source"].endswith("no source here has both (clinic: COVID-19, Normal).")
    alone = section_notes({**one_source, "models": {"a": {"labels": LABELS}}})
    assert alone["comparisons"].startswith("One version only")
    assert per_source_table({"models": {}}).empty


def test_image_ids_never_carry_the_server_path(tmp_path):
    from model.evaluation import image_id

    (tmp_path / "data" / "COVID").mkdir(parents=True)
    assert image_id(str(tmp_path / "data" / "COVID" / "a.png"), tmp_path / "data") == "COVID/a.png"
    assert image_id("/elsewhere/b.png", tmp_path / "data") == "b.png"
    assert image_id(str(tmp_path / "data" / "m.png"), tmp_path / "data" / "manifest.csv") == "m.png"
    assert image_id("COVID/c.png", None) == "COVID/c.png"  # a ZIP's own names stay as they are


def test_the_colour_bar_strip_runs_from_gray_to_the_maps_strongest_colour():
    from model.present.charts import colour_bar_html
    from model.present.overlay import colour_bar

    html = colour_bar_html("inferno", 0.5)
    stops = re.findall(r"rgb\((\d+),(\d+),(\d+)\) (\d+)%", html)
    assert len(stops) == 24 and stops[0][3] == "0" and stops[-1][3] == "100"
    assert stops[0][:3] == ("128", "128", "128")  # below the threshold: not coloured
    assert tuple(int(v) for v in stops[-1][:3]) == tuple(int(v) for v in colour_bar("inferno", 24, 1, 0.5)[0][-1])
    r, g, b = (int(v) for v in stops[-1][:3])
    assert r > 200 and g > 200 and b < 180  # inferno ends in pale yellow: "strong" is yellow, not red


def test_short_version_names_for_narrow_columns():
    from model.present.evaluation_tables import short_names, short_names_note

    ids = ["cxr-compact-averaged-v2", "cxr-compact-masked-v2", "cxr-compact-v1"]
    assert short_names(ids) == dict(zip(ids, ["averaged-v2", "masked-v2", "v1"]))
    assert short_names(["cxr-a", "dx-b"]) == {"cxr-a": "cxr-a", "dx-b": "dx-b"}  # nothing shared
    assert short_names(["m-v1", "m-v1x"]) == {"m-v1": "v1", "m-v1x": "v1x"}  # cut at a hyphen, never inside a word
    assert short_names(["solo"]) == {"solo": "solo"}
    assert short_names_note(ids[:2]) == "Columns: averaged-v2 is cxr-compact-averaged-v2, masked-v2 is cxr-compact-masked-v2."
    assert short_names_note(["cxr-a", "dx-b"]) == ""


def test_the_disagreement_table_gives_each_films_probability_to_a_tenth_of_a_percent():
    """A film's probability as the image captions and every page give it ("41.6%"), not as a share of images."""
    from model.present.evaluation_tables import disagreement_table

    report = {"disagreements": [{"path": "COVID/a.png", "label": "COVID-19", "source": "",
                                 "predicted": {"cxr-compact-v1": "COVID-19", "cxr-compact-masked-v2": "Normal"},
                                 "confidence": {"cxr-compact-v1": 0.4162, "cxr-compact-masked-v2": 0.5}}]}
    row = disagreement_table(report).iloc[0]
    assert row["image"] == "a.png" and row["source"] == "–"
    assert row["v1"] == "COVID-19 (41.6%)" and row["masked-v2"] == "Normal (50.0%)"


def test_the_rounding_note_names_every_figure_of_the_tables_under_it(external_films):
    """Every row of the tables captioned with ROUNDING_NOTE (Evaluate's and Compare's figures side by side,
    Compare's own-test fallback) is a count or a figure the note names: a reader told "shares in whole percent"
    must not wonder why accuracy reads 0.62."""
    from model.present.comparison import metrics_comparison
    from model.present.evaluation_tables import ROUNDING_NOTE, summary_table

    two_decimals, whole_percent = ROUNDING_NOTE.split("Whole percent:")
    named = ("AUC", "accuracy", "precision", "recall", "F1", "ECE")
    assert all(name in two_decimals for name in named) and "differences" in two_decimals
    assert "shares of images or of resamples" in whole_percent
    report = external_films[2]
    rows = list(summary_table(report).index) + list(metrics_comparison(report["models"]).index)
    for row in rows:
        assert row.startswith("images") or any(name in row for name in named), row


def test_image_choices_are_short_enough_for_their_box_and_said_in_full_below():
    """Compare's "Images" box is a quarter of the page: at 1366 px a label over about 28 characters is cut
    ("Images none of these versions traine"); the full words stay in SCOPE_WORDS and the box's help."""
    from model.present.evaluation_tables import SCOPE_HELP, SCOPE_LABELS, SCOPE_WORDS

    assert set(SCOPE_LABELS) == set(SCOPE_WORDS) == {"unseen", "test", "all"}
    assert all(len(label) <= 28 for label in SCOPE_LABELS.values()), SCOPE_LABELS
    assert all(words in SCOPE_HELP and SCOPE_LABELS[scope] in SCOPE_HELP for scope, words in SCOPE_WORDS.items())


def test_a_per_source_auc_on_too_few_films_is_not_shown_as_a_figure():
    """3-5 films gave "0.50 (0.50–0.50)" or "0.42 (0.00–1.00)": below 10 films, or with a class of one film,
    the cell says "too few images (n=…)"; enough films give the figure; the rule is the caption's."""
    from model.present.evaluation_tables import MIN_AUC_IMAGES, TOO_FEW_NOTE, too_few

    def source_report(counts: dict[str, int]) -> dict:
        n = sum(counts.values())
        sub = {"n": n, "accuracy": 0.5, "macro": {"auc": 0.42, "auc_ci": [0.0, 1.0]},
               "per_class": {label: {"support": counts.get(label, 0)} for label in LABELS}}
        images = [{"source": "clinic", "label": label, "status": "scored"}
                  for label, k in counts.items() for _ in range(k)]
        within = {"auc": 0.61, "n": counts.get("COVID-19", 0) + counts.get("Pneumonia", 0)}
        return {"models": {"a": {"per_source": {"clinic": sub}}}, "images": images,
                "within_source": {"clinic": {"a": within}}}

    few = per_source_table(source_report({"COVID-19": 2, "Pneumonia": 3})).iloc[0]
    assert few["macro AUC (95% interval)"] == "too few images (n=5)"
    assert few["COVID-19 vs Pneumonia AUC"] == "too few images (n=5)"
    assert few["accuracy"] == "0.50"  # the images column says what it rests on
    lonely = per_source_table(source_report({"COVID-19": 14, "Normal": 1, "Pneumonia": 5})).iloc[0]
    assert lonely["macro AUC (95% interval)"] == "too few images (n=20)"  # one Normal film: its AUC says nothing
    assert lonely["COVID-19 vs Pneumonia AUC"] == "0.61 (19 images)"
    # One class only (a COVID-19-only collection): no AUC however many films, so "n/a", not "too few".
    assert per_source_table(source_report({"COVID-19": 9})).iloc[0]["macro AUC (95% interval)"] == "n/a"
    assert per_source_table(source_report({"COVID-19": 90})).iloc[0]["macro AUC (95% interval)"] == "n/a"
    enough = per_source_table(source_report({"COVID-19": 6, "Pneumonia": 6})).iloc[0]
    assert enough["macro AUC (95% interval)"] == "0.42 (0.00–1.00)"
    assert too_few(MIN_AUC_IMAGES - 1, [5, 4]) and not too_few(MIN_AUC_IMAGES, [5, 5, 0])
    assert f"fewer than {MIN_AUC_IMAGES} films" in TOO_FEW_NOTE and "only one film" in TOO_FEW_NOTE


def test_the_disagreement_caption_counts_in_words_that_agree_with_the_number():
    """It said "1 images got different answers; the first 1 with ..." (seen on Evaluate)."""
    from model.present.evaluation_tables import disagreement_caption

    assert disagreement_caption(1, 1) == ("1 image got different answers; it is shown with each version's Grad-CAM "
                                          "map for its own answer.")
    assert disagreement_caption(2, 2).startswith("2 images got different answers; both are shown")
    assert disagreement_caption(3, 3).startswith("3 images got different answers; all 3 are shown")
    assert disagreement_caption(12, 6).startswith("12 images got different answers; the first 6 are shown")
    assert disagreement_caption(1_200, 0) == "1,200 images got different answers."


def test_compare_names_every_version_of_a_report_by_its_name(external_films):
    """Compare's common-ground figures named versions by id where the rest of the page (and the side panel)
    names them: every table and sentence of a `named_report` reads the names, and the figures stay the same."""
    from model.present.comparison import named_report
    from model.present.evaluation_tables import disagreement_table, summary_table

    _, _, report, _ = external_films
    names = {"tiny-a": "Tiny net, lung-masked v1", "tiny-b": "Tiny net v2"}
    named = named_report(report, names)
    summary = summary_table(named)
    assert list(summary.columns) == list(names.values())
    assert summary.values.tolist() == summary_table(report).values.tolist()
    sentence = comparison_sentence(named["comparisons"][0])
    assert sentence.replace(names["tiny-a"], "tiny-a").replace(names["tiny-b"], "tiny-b") == \
        comparison_sentence(report["comparisons"][0])
    texts = [sentence, accounting_sentence(named), comparison_table(named).to_csv(), per_source_table(named).to_csv(),
             disagreement_table(named).to_csv()]
    assert not any("tiny-" in text for text in texts), texts
    assert set(per_source_table(named)["version"]) <= set(names.values())
    if named["disagreements"]:  # the names whole: no short name cut at the hyphen of "lung-masked"
        assert set(names.values()) <= set(disagreement_table(named).columns)
    assert report["models"].keys() == {"tiny-a", "tiny-b"}, "the report itself is left as it was"


def test_the_summary_hides_an_auc_on_too_few_films_as_the_by_source_table_does():
    """Evaluate's summary showed "1.00 (1.00–1.00)" on 3 films while its by-source table said "too few images"."""
    from model.present.evaluation_tables import summary_table

    def model(n, supports):
        per_class = {label: {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": k, "auc": 1.0,
                             "auc_ci": [1.0, 1.0]} for label, k in zip(("A", "B"), supports)}
        return {"n_images": n, "n": n, "accuracy": 1.0, "macro": {"auc": 1.0, "auc_ci": [1.0, 1.0], "f1": 1.0},
                "calibration": {"ece": 0.0}, "per_class": per_class}

    table = summary_table({"models": {"few": model(3, (2, 1)), "enough": model(40, (20, 20))}})
    assert table.loc["macro AUC (95% interval)", "few"] == "too few images (n=3)"
    assert table.loc["A AUC (95% interval)", "few"] == "too few images (n=3)"
    assert table.loc["macro AUC (95% interval)", "enough"].startswith("1.00")
    assert table.loc["accuracy", "few"] != "too few images (n=3)"  # only the AUCs rest on the rule


def test_the_paired_comparison_and_the_roc_legend_keep_the_figures_tables_too_few_rule(external_films):
    """Evaluate's table said "macro AUC: too few images (n=7)" while the paired comparison below printed "0.88 vs
    0.65 ... +0.23 (95% interval 0.00 to +0.44)" and the ROC legend "AUC 0.80, 95% 0.33-1.00": one rule for all."""
    from model.present.charts import roc_overlay
    from model.present.evaluation_tables import TOO_FEW_NOTE, roc_withheld_note, summary_table

    report = external_films[2]
    assert report["comparisons"][0]["class_counts"] == {"COVID-19": 3, "Normal": 3, "Pneumonia": 3}
    assert summary_table(report).loc["macro AUC (95% interval)"].tolist() == ["too few images (n=9)"] * 2
    row = comparison_table(report).iloc[0]
    assert row["macro AUC"] == "too few images (n=9)" and row["difference (95% interval)"] == "n/a"
    assert row["reading"] == "too few images" and row["resamples where the first is higher"] == "n/a"
    # No curve where the AUC is withheld: a step curve on 9 films looked like the evidence the table declines.
    chart = roc_overlay(report["models"], "COVID-19")
    assert not chart.data and chart.layout.annotations[0].text == "No ROC curve is drawn: too few images (n=9) for an AUC."
    # One version on enough films keeps its curve and AUC; the other's is withheld and the note says why.
    models = dict(report["models"])
    models["tiny-a"] = {**models["tiny-a"], "n": 30,
                        "per_class": {k: {**v, "support": 10} for k, v in models["tiny-a"]["per_class"].items()}}
    legend = [trace.name for trace in roc_overlay(models, "COVID-19").data]
    assert len(legend) == 2 and legend[0].startswith("tiny-a (AUC ") and legend[1] == "chance"
    note = roc_withheld_note(models)
    assert note.startswith("No ROC curve is drawn for tiny-b (too few images (n=9)): the figures above withhold its "
                           "AUC") and "tiny-a" not in note and TOO_FEW_NOTE in note
    assert roc_withheld_note({"tiny-a": models["tiny-a"]}) == ""
    # Enough films of every class: the same pair is compared, with its figures.
    enough = {**pair(0.05, 0.01, 0.09), "class_counts": {"COVID-19": 30, "Normal": 30, "Pneumonia": 30}}
    assert "favouring v2" in comparison_sentence(enough)
    one_film = {**enough, "class_counts": {"COVID-19": 1, "Normal": 44, "Pneumonia": 45}}
    assert "not compared" in comparison_sentence(one_film)


def test_a_paired_comparisons_figures_print_so_that_their_difference_reads_right():
    """Compare showed "0.84 vs 0.70" beside "+0.13 (+0.09 to +0.18)": a reader subtracts 0.14. The two AUCs, the
    difference and its interval get the decimals at which the printed figures subtract to the printed difference."""
    odd = {**pair(0.1324, 0.09, 0.18, auc_a=0.7048)}
    row = comparison_table({"comparisons": [odd]}).iloc[0]
    assert row["macro AUC"] == "0.837 vs 0.705" and row["difference (95% interval)"] == "+0.132 (+0.090 to +0.180)"
    assert "= +0.132 (95% interval +0.090 to +0.180)" in comparison_sentence(odd)
    plain = comparison_table({"comparisons": [pair(0.0726, 0.02, 0.12)]}).iloc[0]
    assert plain["macro AUC"] == "0.77 vs 0.70" and plain["difference (95% interval)"] == "+0.07 (+0.02 to +0.12)"
    rng = np.random.default_rng(1)
    for _ in range(300):
        first, second = np.sort(rng.uniform(0.5, 1.0, 2))
        cells = comparison_table({"comparisons": [pair(first - second, -0.2, 0.1, auc_a=float(second))]}).iloc[0]
        high, low = (float(x) for x in cells["macro AUC"].split(" vs "))
        difference = float(cells["difference (95% interval)"].split(" ")[0].replace("−", "-"))
        digits = len(cells["macro AUC"].split(" vs ")[0].split(".")[1])
        assert round(high - low, digits) == difference, cells["macro AUC"]
