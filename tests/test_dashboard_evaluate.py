"""The Evaluate and Compare pages through AppTest: a folder under the configured roots and an uploaded
ZIP, two versions, figures with intervals in one rounding, every image counted, comparisons whose
words follow their sign, unknown labels, downloads without server paths, controls of the chosen
mode only; Compare scores only when asked and keeps its result per settings; hostile ZIPs refused
with one sentence."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support import png_bytes, synthetic_radiograph
from tests.test_evaluation import IMAGE, write_labelled_folder, zip_bytes

st = pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
TIMEOUT = 180
LONG_FIGURE = re.compile(r"\d\.\d{3}")  # three decimals or more: the page rounds to two


# The tiny versions as Compare names them: the card's display name, as the side panel does.
NAMES = ["Tiny test model tiny-a", "Tiny test model tiny-b"]

def texts(elements) -> list[str]:
    return [element.value for element in elements]


def no_failure(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, texts(at.error)


def open_view(view: str, monkeypatch, data=None) -> AppTest:
    """The app on `view` ("evaluate", "compare") with CXR_DATA set to `data`, or unset for None."""
    if data is None:
        monkeypatch.delenv("CXR_DATA", raising=False)
    else:
        monkeypatch.setenv("CXR_DATA", str(data))
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    at.switch_page(f"views/{view}_page.py").run()
    return at


def kept_result(at: AppTest) -> dict:
    """The result the Evaluate page keeps for the current settings (the last one stored)."""
    store = at.session_state["evaluate_results"]
    return list(store._items.values())[-1]


def shown_tables(at: AppTest) -> list:
    """Every table's frame, grids (st.dataframe) first, then static tables (st.table)."""
    return [d.value for d in at.dataframe] + [t.value for t in at.table]


def summary_of(at: AppTest):
    """The figures side by side (index "figure"), or None when the page shows none."""
    return next((d for d in shown_tables(at) if d.index.name == "figure"), None)


@pytest.fixture()
def evaluate_page(registry_env, monkeypatch, tmp_path):
    data = write_labelled_folder(tmp_path / "roots" / "hospital", per_class=3)
    return open_view("evaluate", monkeypatch, tmp_path / "roots"), data


def test_evaluate_a_configured_folder_with_two_versions(evaluate_page):
    at, data = evaluate_page
    no_failure(at)
    assert at.title[0].value == "Evaluate on your data"
    assert at.multiselect(key="evaluate_models").value == ["tiny-a", "tiny-b"]
    assert at.selectbox(key="evaluate_data").value == data.resolve()
    assert len(at.text_input) == 0  # no free path box: only what the configured roots hold
    assert any("12 images in roots/hospital; all are scored." in t for t in texts(at.markdown))
    assert not at.dataframe  # nothing is scored before the button
    at.selectbox(key="evaluate_resamples").set_value(200)
    at.button(key="evaluate_run_start").click().run()
    no_failure(at)
    summary = summary_of(at)
    assert list(summary.columns) == NAMES  # named as Compare and the side panel name them
    assert summary.loc["images scored", NAMES[0]] == summary.loc["images scored", NAMES[1]] == "12"
    # 9 films with a label the versions know: under the rule of every AUC on the page (the by-source table's too)
    assert summary.loc["macro AUC (95% interval)", NAMES[0]] == "too few images (n=9)"
    # The 3 Tuberculosis films are counted, with the reason, before any figure that leaves them out.
    assert ("12 images were scored by every version; 3 of them have a label the versions do not know "
            "(Tuberculosis: 3), so the figures and comparisons use the other 9.") in texts(at.markdown)
    unknown = next(d for d in shown_tables(at) if "label in the data" in d.columns)
    assert set(unknown["label in the data"]) == {"Tuberculosis"} and list(unknown["images"]) == [3, 3]
    # The same rule in the paired comparison and the ROC legend: no AUC printed beside a table that refuses it.
    sentence = next(t for t in texts(at.markdown) if t.startswith("- ") and not t.startswith("- **"))  # not the glossary
    assert sentence.endswith("are not compared on these images: too few images (n=9) for an AUC, by the rule of "
                             "the figures above.")
    roc = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert not roc[0].get("data")  # no curve where the AUC is withheld, and the caption says why
    assert any(c.startswith(f"No ROC curve is drawn for {NAMES[0]} (too few images (n=9)), {NAMES[1]} (too few "
                            "images (n=9)): the figures above withhold their AUCs") for c in texts(at.caption))
    assert [c for c in texts(at.caption) if c.endswith("rows true, columns predicted.")] == \
        [f"{name}: rows true, columns predicted." for name in NAMES]
    assert "`tiny-a`" in at.multiselect(key="evaluate_models").help
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Predictions per image (CSV)", "Figures with intervals (CSV)", "Everything (JSON)"]
    assert any(t == "Where the versions disagree" for t in texts(at.subheader))
    # One rounding rule: no figure on the page with three decimals.
    for table in shown_tables(at):
        assert not any(LONG_FIGURE.search(str(v)) for v in table.to_numpy().ravel()), table
    assert not any(LONG_FIGURE.search(t) for t in texts(at.markdown) + texts(at.caption))
    assert not any("cannot be checked" in c for c in texts(at.caption))  # a folder's splits are checked
    result = kept_result(at)
    assert result["about"]["images"] == "images none of these versions trained on, 100 per label"
    assert result["about"]["image_ids"] == "paths relative to the data's folder, hospital"
    exported = json.loads(__import__("model.present.evaluation_exports", fromlist=["x"]).export_json(
        result["report"], result["about"]))
    assert sorted(row["image"] for row in exported["images"])[0] == "COVID/case0.png"
    assert str(data) not in json.dumps(exported)
    # The downloads keep the ids (a script's key), and the page says which name is which id.
    assert exported["about"]["versions"] == ["tiny-a", "tiny-b"]
    assert set(exported["images"][0]["predicted"]) == {"tiny-a", "tiny-b"}
    assert any("Tiny test model tiny-a is `tiny-a`" in c for c in texts(at.caption))


def test_the_disagreement_maps_have_a_colour_bar_and_a_true_caption(evaluate_page):
    at, _ = evaluate_page
    at.selectbox(key="evaluate_resamples").set_value(200)
    at.button(key="evaluate_run_start").click().run()
    no_failure(at)
    captions = texts(at.caption)
    assert any(c.startswith("Colour bar of the maps: weak → strong evidence for the answer shown") for c in captions)
    assert not any("red strongest" in c or "blue weakest" in c for c in captions)
    assert sum("linear-gradient(to right, rgb(128,128,128) 0%" in t for t in texts(at.markdown)) == 1


def test_zip_mode_shows_its_own_controls_and_words_and_refuses_a_hostile_zip(evaluate_page):
    at, _ = evaluate_page
    at.radio(key="evaluate_source").set_value("A ZIP of labelled images").run()
    no_failure(at)
    # The folder controls mean nothing for a ZIP: they are not drawn.
    keys = {element.key for element in at.selectbox}
    assert "evaluate_scope" not in keys and "evaluate_limit" not in keys and "evaluate_data" not in keys
    uploader = at.get("file_uploader")
    assert len(uploader) == 1
    own = png_bytes(synthetic_radiograph(64, seed=77))  # IMAGE is also a film of the configured folder
    archive = zip_bytes({"COVID/a.png": own, "Normal/b.png": own, "Pneumonia/c.png": own, "notes.txt": b"x"})
    uploader[0].set_value(("ours.zip", archive, "application/zip"))
    at.run()
    no_failure(at)
    # Its images are looked up among the server's labelled films by their bytes: none of them is one.
    assert any(t.startswith("None of these 3 images is one of this server's labelled films") for t in texts(at.markdown))
    assert any("3 images in the uploaded ZIP; all are scored." in t for t in texts(at.markdown))
    assert not at.checkbox  # nothing a version trained on to leave out
    assert {element.key for element in at.selectbox} == {"evaluate_resamples"}
    at.selectbox(key="evaluate_resamples").set_value(200)
    at.button(key="evaluate_run_start").click().run()
    no_failure(at)
    assert summary_of(at).loc["images scored", NAMES[0]] == "3"
    # The caveat the figures rest on stands beside them, not only in the JSON export.
    caveat = ("3 scored images are not among this server's labelled films: whether a version trained on them cannot "
              "be checked")
    assert sum(caveat in c for c in texts(at.caption)) == 1
    assert caveat in kept_result(at)["about"]["caveat"]
    about = kept_result(at)["about"]
    assert about["images"].startswith("every readable image in the uploaded ZIP")
    assert "trained on" not in about["images"].split("(")[0]
    assert about["image_ids"] == "names inside the ZIP"
    hostile = zip_bytes({"../../etc/COVID/a.png": IMAGE})
    at.get("file_uploader")[0].set_value(("evil.zip", hostile, "application/zip"))
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and "refused" in at.error[0].value and "\n" not in at.error[0].value


def test_evaluate_without_configured_data_says_so(registry_env, monkeypatch):
    at = open_view("evaluate", monkeypatch)
    no_failure(at)
    assert any("No data folder is configured" in t for t in texts(at.info))


@pytest.fixture()
def compare_pool(tmp_path):
    from tests.test_gallery_honest import write_pool

    write_pool(tmp_path / "pool", n=30)
    # A second collection with both COVID-19 and Pneumonia films: a within-source row.
    lines = ["file,label,source,patient_id"]
    for i in range(12):  # enough films for a within-source AUC to be shown (evaluation_tables.too_few)
        name = f"images/ieee{i}.png"
        (tmp_path / "pool" / name).write_bytes(IMAGE)
        lines.append(f"{name},{'COVID-19' if i % 2 else 'Pneumonia'},ieee,ieee{i}")
    (tmp_path / "pool" / "other.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "pool"


def test_compare_scores_on_request_and_keeps_the_result_per_settings(registry_env, monkeypatch, compare_pool):
    import model.evaluation

    calls = []
    original = model.evaluation.evaluate_models

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(model.evaluation, "evaluate_models", counted)
    at = open_view("compare", monkeypatch, compare_pool)
    no_failure(at)
    assert at.selectbox(key="compare_scope").value == "unseen"
    at.selectbox(key="compare_resamples").set_value(200).run()
    # A visit computes nothing: the button says what pressing it will cost.
    assert not calls and at.button(key="compare_run_start").proto.label.startswith("Score ")
    assert summary_of(at) is None
    at.button(key="compare_run_start").click().run()
    no_failure(at)
    assert len(calls) == 1
    summary = summary_of(at)
    assert list(summary.columns) == NAMES
    assert summary.loc["images scored", NAMES[0]] == summary.loc["images scored", NAMES[1]]
    assert any(text.startswith("**Where they disagree:**") for text in texts(at.markdown))
    # Another data set is scored on request too; coming back to the first costs nothing.
    at.selectbox(key="compare_data").set_value((compare_pool / "other.csv").resolve()).run()
    assert len(calls) == 1 and at.button(key="compare_run_start")
    at.button(key="compare_run_start").click().run()
    no_failure(at)
    assert len(calls) == 2
    summary = summary_of(at)
    assert summary.loc["images scored", NAMES[0]] == "12"  # a source neither trained on: all unseen
    assert re.fullmatch(r"\d\.\d\d \(\d\.\d\d–\d\.\d\d\)", summary.loc["macro AUC (95% interval)", NAMES[0]])
    sources = next(d for d in shown_tables(at) if "source" in d.columns)
    assert list(sources["source"]) == ["ieee", "ieee"] and list(sources["version"]) == NAMES
    assert all(value.endswith("(12 images)") for value in sources["COVID-19 vs Pneumonia AUC"])
    assert any("'Too few images': an AUC on fewer than 10 films" in c for c in texts(at.caption))
    at.selectbox(key="compare_data").set_value((compare_pool / "manifest.csv").resolve()).run()
    no_failure(at)
    assert len(calls) == 2 and list(summary_of(at).columns) == NAMES
    # Another session (another visit) finds it as well.
    again = open_view("compare", monkeypatch, compare_pool)
    again.selectbox(key="compare_resamples").set_value(200).run()
    assert len(calls) == 2 and list(summary_of(again).columns) == NAMES


def test_compare_says_why_within_source_is_empty(registry_env, monkeypatch, tmp_path):
    # External films of one collection with no Pneumonia: no within-source figure, and the page says why.
    lines = ["file,label,source,patient_id"]
    (tmp_path / "ext" / "images").mkdir(parents=True)
    for i in range(6):
        (tmp_path / "ext" / "images" / f"{i}.png").write_bytes(IMAGE)
        lines.append(f"images/{i}.png,{'COVID-19' if i % 2 else 'Normal'},clinic,c{i}")
    (tmp_path / "ext" / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    at = open_view("compare", monkeypatch, tmp_path / "ext")
    at.selectbox(key="compare_resamples").set_value(200).run()
    at.button(key="compare_run_start").click().run()
    no_failure(at)
    assert any("no source here has both (clinic: COVID-19, Normal)" in t for t in texts(at.caption))


def test_compare_without_data_falls_back_to_labelled_internal_figures(registry_env, monkeypatch):
    at = open_view("compare", monkeypatch)
    no_failure(at)
    assert any("cannot be scored on common ground" in t for t in texts(at.info))
    assert list(next(t.value for t in at.table if "accuracy" in t.value.index).columns) == [*NAMES, "spread"]
    # The per-version tables with long row names wrap (st.table) rather than scroll: four versions fit at 1366 px.
    sources = next(t.value for t in at.table if "source probe, mean balanced accuracy (lower is better)" in t.value.index)
    assert list(sources.columns) == NAMES
    curve = at.selectbox(key="compare_metric")
    assert curve.value == "val_auc" and curve.options[0] == "Validation AUC"  # plain names, as the chart's title
    assert not any("_" in option for option in curve.options), curve.options


def test_compare_maps_of_one_film_have_a_colour_bar(registry_env, monkeypatch):
    from tests.support import png_bytes, synthetic_radiograph

    at = open_view("compare", monkeypatch)
    at.get("file_uploader")[0].set_value(("chest.png", png_bytes(synthetic_radiograph(128, seed=3)), "image/png"))
    at.run()
    no_failure(at)
    assert sum("linear-gradient(to right, rgb(128,128,128) 0%" in t for t in texts(at.markdown)) == 1
    assert any(c.startswith("Colour bar of the maps above: weak → strong evidence for the class explained") and
               "below 50% not coloured" in c for c in texts(at.caption))  # Diagnose's threshold
    # Each version's probability to 0.1% with what it is for that card (the tiny models have no temperature).
    lines = [c for c in texts(at.caption) if c.startswith("Probability ")]
    assert len(lines) == 2 and all(re.match(r"Probability \d+\.\d%: .*not calibrated", c) for c in lines), lines
    # The layer as Gallery and Diagnose name it, never the Keras name.
    from model.classifier import Classifier
    from model.present.layers import layer_choices, layer_label

    clf = Classifier.load("tiny-a", registry_env)
    words = layer_label(clf.card.explain_layer, layer_choices(clf.layers(), clf.card.explain_layer))
    assert words != clf.card.explain_layer
    assert [i.captions[0] for i in at.image][0].endswith(f", {words}")
    assert not any(clf.card.explain_layer in i.captions[0] for i in at.image)
    # The agreement box gives each probability as the captions do.
    answers = [t for t in texts(at.markdown) if t.startswith(f"- {NAMES[0]}: ")]
    assert answers and re.search(r"\(\d+\.\d%\)", answers[0]), answers


def test_a_zip_of_the_servers_own_films_is_matched_to_each_versions_split(registry_env, monkeypatch, tmp_path):
    """A ZIP made of the labelled films under CXR_DATA was scored as new data ("cannot be checked"): each film is
    now recognised by its bytes, counted per version by its split, and the ones a version trained on are left out
    unless the reader keeps them, and then said beside the figures."""
    from model.present.evaluation_tables import ZIP_CAVEAT
    from tests.test_dashboard_seen_film import FILMS, splits, write_data_root

    root = write_data_root(tmp_path)
    places = {model_id: splits(registry_env, root, model_id) for model_id in ("tiny-a", "tiny-b")}
    archive = zip_bytes({f"Normal/{name}": (root / "images" / name).read_bytes() for name in places["tiny-a"]}
                        | {"Normal/own.png": IMAGE})
    trained = {name for split in places.values() for name, place in split.items() if place == "train"}
    import model.data_overlap

    matched, original = [], model.data_overlap.data_overlap
    monkeypatch.setattr(model.data_overlap, "data_overlap", lambda *a: matched.append(1) or original(*a))
    at = open_view("evaluate", monkeypatch, root)
    at.radio(key="evaluate_source").set_value("A ZIP of labelled images").run()
    at.get("file_uploader")[0].set_value(("ours.zip", archive, "application/zip"))
    at.run()
    no_failure(at)
    table = next(d for d in shown_tables(at) if "trained on" in d.columns).set_index("version")
    for version, split in zip(NAMES, places.values()):
        counted = [sum(place == name for place in split.values()) for name in ("train", "validation", "test")]
        assert table.loc[version, ["trained on", "validation (tuned on)", "test split (held out)"]].tolist() == counted
        assert table.loc[version, "not this server's films"] == 1  # own.png: no labelled film of this server
    assert at.checkbox(key="evaluate_leave_trained").value is True
    assert any(t.startswith(f"{FILMS} of {FILMS + 1} images are labelled films of this server") and "left out" in t
               for t in texts(at.markdown))
    total = FILMS + 1
    assert any(f"{total} images in the uploaded ZIP; {len(trained)} left out because at least one version trained on them"
               in t for t in texts(at.markdown))
    at.selectbox(key="evaluate_resamples").set_value(200)
    at.button(key="evaluate_run_start").click().run()
    no_failure(at)
    assert summary_of(at).loc["images scored", NAMES[0]] == str(total - len(trained))
    assert not any("training split" in c for c in texts(at.caption))  # what is scored holds no trained film
    assert not any(ZIP_CAVEAT in c for c in texts(at.caption))  # matched, not "cannot be checked"
    # Kept on request: the figures then say, beside them, that they rest on films a version trained on.
    at.checkbox(key="evaluate_leave_trained").uncheck().run()
    at.button(key="evaluate_run_start").click().run()
    no_failure(at)
    assert summary_of(at).loc["images scored", NAMES[0]] == str(total)
    assert any(f"{len(trained)} scored images are in a version's training split" in c for c in texts(at.caption))
    # The caveat names the versions on the page and keeps their ids in the export.
    kept = [c for c in texts(at.caption) if "in a version's training split (" in c]
    assert kept and "Tiny test model tiny-" in kept[0] and "(tiny-" not in kept[0]
    assert "(tiny-" in kept_result(at)["about"]["caveat"]
    # The ZIP's images were hashed and placed once, not on every redraw (the box, the resamples, the runs).
    assert len(matched) == 1


def test_an_uploaded_zips_name_is_never_shown_or_exported(evaluate_page, monkeypatch):
    """A file's name can carry a patient's name (Diagnose never shows or stores one): Evaluate said "3 images in
    <the ZIP's name>" and wrote it into evaluation.json. It now says "the uploaded ZIP" and exports the start of
    the ZIP's SHA-256 digest, so two runs can still be told apart; the names inside the ZIP stay."""
    import hashlib

    from streamlit.runtime.media_file_manager import MediaFileManager

    from tests.test_private_data import element_texts

    files = []  # every download's data and file name, as the buttons hold them
    original = MediaFileManager.add
    monkeypatch.setattr(MediaFileManager, "add", lambda self, data, mimetype, coordinates, file_name=None, **kw:
                        files.append((file_name, data)) or original(self, data, mimetype, coordinates, file_name, **kw))
    at, _ = evaluate_page
    at.radio(key="evaluate_source").set_value("A ZIP of labelled images").run()
    images = [png_bytes(synthetic_radiograph(64, seed=seed)) for seed in (81, 82, 83)]
    archive = zip_bytes({"COVID/a.png": images[0], "Normal/b.png": images[1], "Pneumonia/c.png": images[2]})
    name = "Qzpatient Smith 1923-04-17.zip"
    at.get("file_uploader")[0].set_value((name, archive, "application/zip"))
    at.run()
    seen = element_texts(at)
    at.selectbox(key="evaluate_resamples").set_value(200)
    at.button(key="evaluate_run_start").click().run()
    no_failure(at)
    seen += element_texts(at)
    page = "\n".join(seen)
    assert "macro AUC (95% interval)" in page and "Tiny test model tiny-a" in page  # the checks see the results
    assert "Qzpatient" not in page
    assert "3 images in the uploaded ZIP; all are scored." in page
    exported = {file_name: data.decode("utf-8") if isinstance(data, bytes) else data
                for file_name, data in files if file_name}  # the others: the maps and films
    assert set(exported) == {"predictions.csv", "figures.csv", "evaluation.json"}
    document = json.loads(exported["evaluation.json"])
    assert document["about"]["data"] == f"uploaded ZIP, SHA-256 {hashlib.sha256(archive).hexdigest()[:8]}"
    assert "Qzpatient" not in exported["evaluation.json"] and "Smith" not in exported["evaluation.json"]
    # The names inside the ZIP are the team's own way to find their images: kept.
    assert sorted(row["image"] for row in document["images"]) == ["COVID/a.png", "Normal/b.png", "Pneumonia/c.png"]
    assert not any(b"Qzpatient" in (data if isinstance(data, bytes) else data.encode()) for _, data in files)


def test_a_disagreement_reads_as_compare_reads_the_same_film(evaluate_page):
    """Same film, same versions: Evaluate's line under each version's map is the line Compare's agreement box
    gives it, triage included ("second read advised" where Compare advises one), not the answer alone."""
    at, data = evaluate_page
    at.selectbox(key="evaluate_resamples").set_value(200)
    at.button(key="evaluate_run_start").click().run()
    no_failure(at)
    first = kept_result(at)["report"]["disagreements"][0]
    evaluate_lines = [c for i in at.image for c in i.captions if c.startswith(tuple(f"{n}: " for n in NAMES))]
    shown = evaluate_lines[:len(NAMES)]  # the first film drawn, one line per version
    assert [line.split(":")[0] for line in shown] == NAMES
    assert all(f"{first['predicted'][m]} (" in line for m, line in zip(("tiny-a", "tiny-b"), shown)), shown
    at.switch_page("views/compare_page.py").run()
    at.get("file_uploader")[0].set_value(("film.png", (data / first["path"]).read_bytes(), "image/png"))
    at.run()
    no_failure(at)
    box = next(t for t in texts(at.markdown) if t.startswith(f"- {NAMES[0]}: "))  # the agreement box's list
    assert box.removeprefix("- ").split("\n- ") == shown
    # the tiny versions are unsure of these films: both views advise the second read Compare's badges show
    assert all(", second read advised (" in line for line in shown), shown


def test_the_by_source_table_is_shown_whole_with_its_figures_right_aligned(registry_env, monkeypatch, tmp_path):
    """Six sources by two versions are twelve rows: a grid scrolled inside itself past ten and a reader missed the
    last; a static table shows every row, its figures right-aligned."""
    from model.present.evaluation_tables import SOURCE_FIGURES

    folder = tmp_path / "roots" / "sites"
    (folder / "images").mkdir(parents=True)
    lines = ["file,label,source,patient_id"]
    for i in range(12):
        (folder / "images" / f"film{i}.png").write_bytes(png_bytes(synthetic_radiograph(64, seed=i)))
        lines.append(f"images/film{i}.png,{('COVID-19', 'Normal')[i % 2]},site{i // 2},p{i}")
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    at = open_view("evaluate", monkeypatch, tmp_path / "roots")
    at.selectbox(key="evaluate_resamples").set_value(200)
    at.button(key="evaluate_run_start").click().run()
    no_failure(at)
    assert not any("source" in d.value.columns for d in at.dataframe)  # no grid that scrolls
    table = next(t for t in at.table if "source" in t.value.columns)
    assert len(table.value) == 12 and table.value["source"].nunique() == 6
    styles = table.proto.arrow_data.styler.styles
    assert all(f"col{list(table.value.columns).index(name)}" in styles for name in SOURCE_FIGURES)
    assert "text-align: right" in styles


def test_a_zips_unreadable_files_are_not_counted_as_unchecked_and_matched_films_keep_their_source(
        registry_env, monkeypatch, tmp_path):
    """Review of a ZIP of six pool films, two own images and two unreadable files: the page said "4 scored images
    are not among this server's labelled films" (the two unreadable ones counted), showed source "-" and "no
    per-source figures" for films whose records name their source, and cut the unreadable files' reasons."""
    from tests.test_dashboard_seen_film import FILMS, write_data_root

    root = write_data_root(tmp_path)
    archive = zip_bytes({f"Normal/{path.name}": path.read_bytes() for path in sorted((root / "images").iterdir())}
                        | {"Normal/own.png": IMAGE, "Normal/empty.png": b"",
                           "Normal/tiny.png": png_bytes(synthetic_radiograph(8))})
    at = open_view("evaluate", monkeypatch, root)
    at.radio(key="evaluate_source").set_value("A ZIP of labelled images").run()
    at.get("file_uploader")[0].set_value(("ours.zip", archive, "application/zip"))
    at.run()
    no_failure(at)
    table = next(d for d in shown_tables(at) if "trained on" in d.columns)
    assert table["not this server's films"].tolist() == [1, 1]  # own.png only: the unreadable two are no film
    if at.checkbox:
        at.checkbox(key="evaluate_leave_trained").uncheck().run()
    at.selectbox(key="evaluate_resamples").set_value(200)
    at.button(key="evaluate_run_start").click().run()
    no_failure(at)
    assert summary_of(at).loc["images scored", NAMES[0]] == str(FILMS + 1)
    captions = texts(at.caption)
    assert any("1 scored image is not among this server's labelled films" in c for c in captions), captions
    assert not any("scored images are not among" in c for c in captions)
    # The films' records name their source: the per-source figures use it, and the page says where it came from.
    assert any(c.startswith(f"{FILMS} images to score name no source in the ZIP") for c in captions)
    sources = next(d for d in shown_tables(at) if "source" in d.columns and "accuracy" in d.columns)
    assert set(sources["source"]) == {"synthetic"}
    assert "images name no source" not in " ".join(captions)
    assert f"the source of {FILMS} taken from its matched film's record" in kept_result(at)["about"]["images"]
    exported = {row["image"]: row["source"] for row in kept_result(at)["report"]["images"]}
    assert exported["Normal/film-0.png"] == "synthetic" and exported["Normal/own.png"] == ""
    # The unreadable files with their reasons in full, in a table that wraps them.
    unread = next(t.value for t in at.table if list(t.value.columns) == ["file", "reason"])
    assert sorted(unread["file"]) == ["Normal/empty.png", "Normal/tiny.png"]
    assert all(reason.endswith(".") for reason in unread["reason"])


def test_evaluate_names_the_films_each_versions_triage_holds_back(evaluate_page):
    """A colour photograph in a ZIP was scored into the figures with no word, while Diagnose holds it back as out
    of scope: the page now says per version which scored images its triage holds back and gives the figures
    without them; the export marks them."""
    from model.present.evaluation_exports import predictions_frame
    from tests.test_evaluation import colour_photo

    at, _ = evaluate_page
    at.radio(key="evaluate_source").set_value("A ZIP of labelled images").run()
    images = {f"{label}/{i}.png": png_bytes(synthetic_radiograph(64, seed=90 + 3 * i + k))
              for k, label in enumerate(("COVID", "Normal", "Pneumonia")) for i in range(2)}
    archive = zip_bytes({**images, "Normal/colour.png": colour_photo()})
    at.get("file_uploader")[0].set_value(("ours.zip", archive, "application/zip"))
    at.run()
    at.selectbox(key="evaluate_resamples").set_value(200)
    at.button(key="evaluate_run_start").click().run()
    no_failure(at)
    summary = summary_of(at)
    assert summary.loc["held back as out of scope by its triage"].tolist() == ["1", "1"]
    assert summary.loc["macro AUC without them"].tolist() == ["too few images (n=6)"] * 2  # the page's one rule
    held = [c for c in texts(at.caption) if c.startswith(":orange[:material/report: Out of scope:")]
    assert len(held) == 1 and f"{NAMES[0]}: 1 (colour.png)" in held[0] and f"{NAMES[1]}: 1 (colour.png)" in held[0]
    frame = predictions_frame(kept_result(at)["report"]).set_index("image")
    assert frame.loc["Normal/colour.png", "tiny-a triage"] == "out of scope"
