"""Evaluating versions on a team's own labelled images: bootstrap intervals, several models on the
same images, labels the models do not know, the CLI contract, labelled ZIPs (hostile ones too) and
the configured data roots."""
from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from model.archive import ArchiveError, read_labelled_zip
from model.bootstrap import auc_intervals, fast_auc, paired_auc_difference
from model.labelled_data import DataPathError, LabelledImage, data_roots, find_datasets, read_dataset, resolve_in_roots
from model.metrics import roc_auc
from model.splits import assign_splits, common_records
from tests.support import LABELS, png_bytes, synthetic_radiograph

ROOT = Path(__file__).resolve().parents[1]
CLASS_FOLDERS = ("COVID", "Normal", "Viral Pneumonia", "Tuberculosis")


def write_labelled_folder(root: Path, per_class: int = 3, folders=CLASS_FOLDERS, size: int = 64) -> Path:
    for k, folder in enumerate(folders):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = synthetic_radiograph(size, seed=10 * k + i, lesion=(0.4, 0.3) if k % 2 else None)
            (root / folder / f"case{i}.png").write_bytes(png_bytes(pixels))
    return root


def zip_bytes(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


IMAGE = png_bytes(synthetic_radiograph(64, seed=1))


# --------------------------------------------------------------------------- bootstrap


def test_fast_auc_matches_the_reference_with_ties():
    rng = np.random.default_rng(0)
    positive = rng.random(300) < 0.4
    scores = np.round(rng.random(300) + 0.3 * positive, 1)  # many ties
    assert fast_auc(positive, scores) == pytest.approx(roc_auc(positive, scores))
    assert np.isnan(fast_auc(np.ones(4, bool), np.arange(4.0)))


def test_auc_intervals_contain_the_estimate_narrow_with_more_images_and_are_seeded():
    rng = np.random.default_rng(1)

    def data(n):
        y = rng.integers(0, 3, n)
        p = rng.dirichlet(np.ones(3), n)
        p[np.arange(n), y] += 0.6
        return y, p / p.sum(axis=1, keepdims=True)

    y, p = data(120)
    small = auc_intervals(y, p, LABELS, resamples=300, seed=4)
    assert small == auc_intervals(y, p, LABELS, resamples=300, seed=4)
    low, high = small["macro"]
    from model.metrics import classification_report

    assert low < classification_report(y, p, LABELS)["macro"]["auc"] < high
    y2, p2 = data(2000)
    large = auc_intervals(y2, p2, LABELS, resamples=300, seed=4)
    assert large["macro"][1] - large["macro"][0] < high - low
    assert set(small["per_class"]) == set(LABELS)
    # A class without images has no interval; nothing at all gives none.
    assert auc_intervals(np.zeros(10, int), p[:10], LABELS, resamples=50)["per_class"]["COVID-19"] is None
    assert auc_intervals([], np.zeros((0, 3)), LABELS)["macro"] is None


def test_accuracy_and_calibration_intervals_hold_the_estimate_and_reach_the_card():
    from model.bootstrap import figure_intervals
    from model.evaluation import model_report
    from model.labelled_data import LabelledImage
    from model.metrics import classification_report
    from model.present.text import intervals_caption
    from model.registry import ModelCard
    from training.evaluate import card_intervals

    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 400)
    p = rng.dirichlet(np.ones(3), 400)
    p[np.arange(400), y] += 0.5
    p /= p.sum(axis=1, keepdims=True)
    figures = figure_intervals(y, p, resamples=300, seed=1)
    assert figures == figure_intervals(y, p, resamples=300, seed=1)
    whole = classification_report(y, p, LABELS)
    assert figures["accuracy"][0] < whole["accuracy"] < figures["accuracy"][1]
    assert figures["ece"][0] <= whole["calibration"]["ece"] <= figures["ece"][1]
    assert figure_intervals([], np.zeros((0, 3)))["ece"] is None
    # The rerun of a card's test split: its intervals are stored only beside the figures they belong to.
    card = ModelCard(id="m", display_name="m", version="1", created="2026-01-01", architecture="x",
                     labels=list(LABELS), preprocessing={"image_size": 32}, explain_layer="conv")
    records = [LabelledImage(f"{i}.png", LABELS[k], f"p{i}", "s") for i, k in enumerate(y)]
    report = model_report(card, records, p, resamples=200, seed=0)
    assert report["accuracy_ci"] and report["calibration"]["ece_ci"]
    stored = {key: report[key] for key in ("n", "accuracy", "macro", "calibration")}
    intervals = card_intervals(stored, report, "python -m training.evaluate ...")
    assert intervals["accuracy"] == report["accuracy_ci"] and intervals["n"] == 400 and intervals["resamples"] == 200
    assert set(intervals["per_class_auc"]) == set(LABELS)
    with pytest.raises(ValueError, match="accuracy"):
        card_intervals({**stored, "accuracy": report["accuracy"] - 0.01}, report, "")
    caption = intervals_caption({"intervals": intervals})
    low, high = intervals["accuracy"]
    assert caption.startswith("95% intervals (200 bootstrap resamples of the 400 test films): accuracy "
                              f"{low:.1%}–{high:.1%}, macro AUC ") and "calibration error" in caption
    assert intervals_caption({}) is None


def test_card_intervals_are_refused_for_anything_but_one_models_test_split(capsys):
    from training import evaluate

    assert evaluate.main(["--data", "x", "--card-intervals"]) == 2  # the default split is "all"
    assert evaluate.main(["--data", "x", "--split", "test", "--card-intervals", "--model", "a", "--model", "b"]) == 2
    assert "--card-intervals takes one model, --split test" in capsys.readouterr().err


def test_paired_difference_sees_a_better_model_and_not_a_copy():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 300)
    weak = rng.dirichlet(np.ones(3), 300)
    strong = weak.copy()
    strong[np.arange(300), y] += 0.8
    better = paired_auc_difference(y, weak, strong, LABELS, resamples=300, seed=0)
    assert better["difference"] > 0 and better["interval"][0] > 0 and better["share_b_better"] == 1.0
    same = paired_auc_difference(y, weak, weak, LABELS, resamples=100, seed=0)
    assert same["difference"] == 0 and same["interval"] == [0.0, 0.0] and same["share_b_better"] == 0.0


# --------------------------------------------------------------------------- several models, same images


def test_evaluate_models_same_images_unknown_labels_and_skips(registry_env, tmp_path):
    from model.classifier import Classifier
    from model.evaluation import Progress, Resampling, Scoring, evaluate_models

    data = write_labelled_folder(tmp_path / "hospital")
    (data / "Normal" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    records = read_dataset(data, keep_unknown=True)
    assert {r.label for r in records} == {"COVID-19", "Normal", "Pneumonia", "Tuberculosis"}
    classifiers = [Classifier.load(m, registry_env) for m in ("tiny-a", "tiny-b")]
    seen = []
    report = evaluate_models(classifiers, records, Scoring(4), resampling=Resampling(200),
                             progress=Progress(images=lambda done, total: seen.append((done, total))))
    assert seen[-1] == (13, 13)
    assert report["n_images"] == 12 and [Path(s["path"]).name for s in report["skipped"]] == ["broken.png"]
    for model_id in ("tiny-a", "tiny-b"):
        model = report["models"][model_id]
        assert model["n_images"] == 12 and model["n"] == 9
        low, high = model["macro"]["auc_ci"]
        assert 0 <= low <= model["macro"]["auc"] <= high <= 1
        assert model["unknown_labels"]["Tuberculosis"]["n"] == 3
        assert sum(model["unknown_labels"]["Tuberculosis"]["predicted"].values()) == 3
        assert model["per_source"]["hospital"]["macro"]["auc_ci"] is not None
    pair = report["comparisons"][0]
    assert (pair["a"], pair["b"], pair["n"]) == ("tiny-a", "tiny-b", 9)
    assert pair["difference"] == pytest.approx(report["models"]["tiny-b"]["macro"]["auc"]
                                               - report["models"]["tiny-a"]["macro"]["auc"])
    assert 0.0 <= pair["share_b_better"] <= 1.0
    json.dumps(report, allow_nan=False)


def test_evaluate_models_reads_a_zip_in_memory(registry_env, tmp_path):
    from model.classifier import Classifier
    from model.evaluation import Resampling, evaluate_models

    archive = read_labelled_zip(zip_bytes({"COVID/a.png": IMAGE, "Normal/b.png": IMAGE, "Pneumonia/c.png": IMAGE}))
    clf = Classifier.load("tiny-a", registry_env)
    report = evaluate_models([clf], archive.records, resampling=Resampling(20), load=archive.load)
    assert report["n_images"] == 3 and report["models"]["tiny-a"]["n"] == 3


def test_the_within_source_pair_figure_has_one_definition_for_training_and_evaluation():
    """Compare and Evaluate rank the pair's films as training ranked them for the stored figure (the share of
    the two probabilities): the probability a film gives Normal must not move it up or down."""
    from model.evaluation import within_source_auc
    from model.metrics import pair_auc
    from training.held_out import within_source_auc as stored_figure

    # Normal takes most of the first COVID-19 film's probability: by P(COVID-19) alone it ranks below
    # the Pneumonia film (0.3 < 0.4), by its share of the two above it (0.75 > 0.4).
    probabilities = np.array([[0.3, 0.6, 0.1], [0.8, 0.1, 0.1], [0.4, 0.0, 0.6], [0.05, 0.05, 0.9]])
    labels = ["COVID-19", "COVID-19", "Pneumonia", "Pneumonia"]
    records = [LabelledImage(f"/x/{i}.png", label, f"p{i}", "ieee") for i, label in enumerate(labels)]
    covid = np.array([label == "COVID-19" for label in labels])
    assert roc_auc(covid, probabilities[:, 0]) == 0.75  # what the page's one-vs-rest cell would say
    assert pair_auc(covid, probabilities[:, 0], probabilities[:, 2]) == 1.0
    assert within_source_auc(records, probabilities, LABELS, "ieee") == {"auc": 1.0, "n": 4}
    indices = np.array([LABELS.index(label) for label in labels])
    assert stored_figure(indices, probabilities)["auc"] == within_source_auc(records, probabilities, LABELS, "ieee")["auc"]
    assert pair_auc(np.array([True, True]), np.array([0.5, 0.6]), np.array([0.5, 0.4])) is None


def test_within_source_auc_and_common_records():
    from model.evaluation import within_source_auc
    from model.registry import ModelCard

    records = [LabelledImage(f"/x/{i}.png", label, f"p{i}", "ieee") for i, label in
               enumerate(["COVID-19", "COVID-19", "Pneumonia", "Pneumonia", "Normal"])]
    probabilities = np.array([[0.9, 0.05, 0.05], [0.4, 0.2, 0.4], [0.5, 0.1, 0.4], [0.1, 0.1, 0.8], [0, 1, 0]])
    assert within_source_auc(records, probabilities, LABELS, "ieee") == {"auc": 0.75, "n": 4}
    assert within_source_auc(records, probabilities, LABELS, "nih")["auc"] is None

    def card(seed, sources):
        return ModelCard(id=f"m{seed}", display_name="m", version="1", created="2026", architecture="a", labels=LABELS,
                         preprocessing={"image_size": 32}, explain_layer="c",
                         training={"seed": seed, "sources": sources, "split_method": "hash"})

    pool = [LabelledImage(f"/x/{i}.png", "Normal", f"p{i}", "a" if i < 80 else "b") for i in range(100)]
    first, second = card(1, ["a"]), card(2, ["a"])
    assignment, note = assign_splits(pool, first)
    assert note == "" and all(assignment[r.path] == "outside" for r in pool[80:])
    unseen, _ = common_records(pool, [first, second], "unseen")
    trained = {p for c in (first, second) for p, s in assign_splits(pool, c)[0].items() if s == "train"}
    assert unseen and not {r.path for r in unseen} & trained
    assert {r.path for r in pool[80:]} <= {r.path for r in unseen}


# --------------------------------------------------------------------------- the command


def test_cli_two_models_contract(registry_env, tmp_path):
    data = write_labelled_folder(tmp_path / "ours")
    out = tmp_path / "r.json"
    env = {**os.environ, "CXR_REGISTRY": str(registry_env)}
    result = subprocess.run([sys.executable, "-m", "training.evaluate", "--model", "tiny-a", "--model", "tiny-b",
                             "--data", str(data), "--out", str(out), "--bootstrap", "200"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "scoring [" in result.stderr and "Traceback" not in result.stderr
    report = json.loads(out.read_text())
    counts = set()
    for model_id in ("tiny-a", "tiny-b"):
        model = report["models"][model_id]
        low, high = model["macro"]["auc_ci"]
        assert low <= model["macro"]["auc"] <= high
        counts.add(model["n_images"])
        assert set(model["unknown_labels"]["Tuberculosis"]["predicted"]) == set(LABELS)
    assert counts == {12}
    assert report["comparisons"][0]["interval"] is not None
    assert "minus tiny-a: macro AUC" in result.stdout and "Tuberculosis" in result.stdout


def test_cli_single_model_keeps_its_report_shape(registry_env, tmp_path, capsys):
    from training import evaluate

    data = write_labelled_folder(tmp_path / "ours", per_class=2, folders=("COVID", "Normal", "Pneumonia"))
    out = tmp_path / "one.json"
    assert evaluate.main(["--data", str(data), "--out", str(out), "--bootstrap", "50"]) == 0
    report = json.loads(out.read_text())
    assert report["model"] == "tiny-a" and report["n"] == 6 and "per_class" in report and "skipped" in report
    assert report["macro"]["auc_ci"] is not None
    empty = tmp_path / "empty" / "COVID"
    empty.mkdir(parents=True)
    (empty / "bad.png").write_bytes(b"not an image")
    assert evaluate.main(["--data", str(empty.parent), "--bootstrap", "0"]) == 1
    assert evaluate.main(["--model", "nope", "--data", str(data)]) == 2
    assert "error:" in capsys.readouterr().err


# --------------------------------------------------------------------------- labelled ZIPs


def test_zip_folder_per_class_and_manifest():
    archive = read_labelled_zip(zip_bytes({"set/COVID/a.png": IMAGE, "set/Normal/b.png": IMAGE,
                                           "set/Tuberculosis/c.png": IMAGE, "set/readme.txt": b"hello",
                                           "__MACOSX/set/._a.png": b"junk"}))
    assert sorted((r.path, r.label) for r in archive.records) == [
        ("set/COVID/a.png", "COVID-19"), ("set/Normal/b.png", "Normal"), ("set/Tuberculosis/c.png", "Tuberculosis")]
    assert ("set/readme.txt", "not an image file") in archive.skipped
    assert archive.members["set/COVID/a.png"] == IMAGE
    manifest = b"file,label,source\nimgs/x.png,Normal,ours\nimgs/y.png,COVID-19,ours\nimgs/missing.png,Normal,ours\n"
    archive = read_labelled_zip(zip_bytes({"data/manifest.csv": manifest, "data/imgs/x.png": IMAGE,
                                           "data/imgs/y.png": IMAGE}))
    assert [(r.path, r.label, r.source) for r in archive.records] == [
        ("data/imgs/x.png", "Normal", "ours"), ("data/imgs/y.png", "COVID-19", "ours")]
    assert len(archive.skipped) == 1


@pytest.mark.parametrize("members, words", [
    ({"../evil/COVID/a.png": IMAGE}, "'..'"),
    ({"COVID/../../a.png": IMAGE}, "'..'"),
    ({"/etc/COVID/a.png": IMAGE}, "absolute"),
    ({"C:/COVID/a.png": IMAGE}, "absolute"),
    ({"readme.txt": b"text only"}, "no labelled image"),
])
def test_hostile_or_empty_zips_are_refused_with_one_sentence(members, words):
    with pytest.raises(ArchiveError) as caught:
        read_labelled_zip(zip_bytes(members))
    message = str(caught.value)
    assert words in message and "\n" not in message and message.endswith(".")


def test_zip_refuses_symlinks_bombs_too_many_members_and_non_zips():
    with pytest.raises(ArchiveError, match="symbolic link"):
        read_labelled_zip(zip_bytes({"COVID/a.png": IMAGE}, symlinks={"Normal/b.png": "/etc/passwd"}))
    bomb = zip_bytes({f"COVID/{i}.png": bytes(200 * 2**20) for i in range(3)})  # 600 MB of zeros, ~0.6 MB zipped
    assert len(bomb) < 2 * 2**20
    with pytest.raises(ArchiveError, match="decompress"):
        read_labelled_zip(bomb)
    one_big = zip_bytes({"COVID/a.png": bytes(40 * 2**20), "Normal/b.png": IMAGE})
    assert [r.path for r in read_labelled_zip(one_big).records] == ["Normal/b.png"]
    many = zip_bytes({f"COVID/{i}.png": IMAGE for i in range(30)})
    with pytest.raises(ArchiveError, match="more than the limit"):
        read_labelled_zip(many, max_members=20)
    with pytest.raises(ArchiveError, match="upload limit"):
        read_labelled_zip(many, max_bytes=1000)
    with pytest.raises(ArchiveError, match="not a readable ZIP"):
        read_labelled_zip(b"PK\x03\x04 nothing")


def test_zip_member_lying_about_its_size_is_read_no_further_than_the_limit():
    from model.archive import _read

    data = zip_bytes({"COVID/a.png": bytes(5 * 2**20)})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        with pytest.raises(ArchiveError):
            _read(archive, archive.infolist()[0], 2**20)


# --------------------------------------------------------------------------- configured roots


def test_data_roots_resolve_and_refuse_paths_outside(tmp_path):
    inside = write_labelled_folder(tmp_path / "root" / "hospital", per_class=1, folders=("COVID", "Normal"))
    other = tmp_path / "root2"
    other.mkdir()
    (other / "manifest.csv").write_text("file,label\n", encoding="utf-8")
    (tmp_path / "secret").mkdir()
    (inside / "escape").symlink_to(tmp_path / "secret")
    roots = data_roots(os.pathsep.join([str(tmp_path / "root"), str(other), str(tmp_path / "missing")]))
    assert roots == [(tmp_path / "root").resolve(), other.resolve()]
    assert resolve_in_roots(inside, roots) == inside.resolve()
    for bad in (tmp_path / "secret", inside / "escape", tmp_path / "root" / ".." / "secret", Path("/etc")):
        with pytest.raises(DataPathError, match="outside the data folders"):
            resolve_in_roots(bad, roots)
    with pytest.raises(DataPathError, match="No data folder is configured"):
        resolve_in_roots(inside, [])
    found = find_datasets(roots)
    assert inside.resolve() in found and (other / "manifest.csv").resolve() in found
    assert all(any(f.is_relative_to(r) for r in roots) for f in found)


def test_a_folder_inside_a_listed_dataset_is_not_listed_again(tmp_path):
    """A class folder's `train/` split was listed beside it: a film was indexed twice, once with source "train"."""
    hospital = tmp_path / "root" / "hospital"
    for split in ("train", "test"):
        write_labelled_folder(hospital / split, per_class=2, folders=("COVID", "Normal"), size=16)
    plain = write_labelled_folder(tmp_path / "root" / "clinic", per_class=1, folders=("COVID", "Normal"), size=16)
    manifest = tmp_path / "root" / "manifest.csv"  # a manifest beside them is a dataset of its own
    manifest.write_text("file,label\nclinic/COVID/case0.png,COVID-19\n", encoding="utf-8")
    found = find_datasets(data_roots(str(tmp_path / "root")))
    assert found == sorted([hospital.resolve(), plain.resolve(), manifest.resolve()])
    films = [record.path for dataset in found if dataset.is_dir() for record in read_dataset(dataset)]
    assert len(films) == 8 + 2 and len(set(films)) == len(films), "every film once"


def test_a_file_that_is_not_a_manifest_is_one_sentence_not_zero_images(tmp_path):
    """`--data notes.png` once scored "0 images" and then failed: it is refused as what it is."""
    text, binary, header = tmp_path / "notes.png", tmp_path / "scan.csv", tmp_path / "empty.csv"
    text.write_text("patient notes\n")
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00garbage")
    header.write_text("file,label\n")
    for path in (text, binary):
        with pytest.raises(ValueError, match="is not a manifest CSV"):
            read_dataset(path)
    assert read_dataset(header) == []  # a manifest without rows is a manifest


def colour_photo(size: int = 96) -> bytes:
    """A colour photograph's bytes: strong red, green and blue bands (the intake records its colourfulness)."""
    from PIL import Image

    rgb = np.zeros((size, size, 3), np.uint8)
    for band, channel in enumerate(np.array_split(np.arange(size), 3)):
        rgb[:, channel, band] = 230
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def test_each_versions_triage_names_the_films_it_holds_back_as_diagnose_does(registry_env):
    """Evaluate scored a colour photograph "v3: COVID-19 (59.3%)" into its accuracy while Diagnose said "Out of
    scope: no answer shown": each version's triage now checks every scored film with Diagnose's own function, the
    report names the films it holds back and gives the figures without them; the CSV marks them."""
    from model.classifier import Classifier
    from model.evaluation import Resampling, Scoring, evaluate_models
    from model.inputs.intake import load_xray
    from model.present.evaluation_exports import predictions_frame
    from model.present.evaluation_tables import HELD_BACK, scope_sentence, summary_table
    from model.trust.triage import OUT_OF_SCOPE, assess

    films = {f"{label}/{i}.png": png_bytes(synthetic_radiograph(96, seed=10 * k + i))
             for k, label in enumerate(("COVID", "Normal", "Pneumonia")) for i in range(4)}
    members = {**films, "Normal/colour.png": colour_photo()}
    archive = read_labelled_zip(zip_bytes(members))
    classifiers = [Classifier.load(m, registry_env) for m in ("tiny-a", "tiny-b")]
    report = evaluate_models(classifiers, archive.records, Scoring(4, triage=True), Resampling(20), load=archive.load)
    for clf in classifiers:
        # The very status Diagnose gives each film (`assess`: its test-time copies too, which never set this one).
        diagnose = {name: assess(clf, load_xray(data)).triage.status == OUT_OF_SCOPE for name, data in members.items()}
        assert diagnose["Normal/colour.png"] and sum(diagnose.values()) == 1
        rows = {row["image"]: row["out_of_scope"][clf.card.id] for row in report["images"]}
        assert rows == diagnose
        model = report["models"][clf.card.id]
        assert model["out_of_scope"] == ["Normal/colour.png"]
        assert model["n"] == 13 and model["in_scope"]["n"] == 12  # the figures keep it; "without them" do not
        assert model["in_scope"]["class_counts"] == {"COVID-19": 4, "Normal": 4, "Pneumonia": 4}
    table = summary_table(report)
    assert table.loc[HELD_BACK].tolist() == ["1", "1"]
    assert table.loc["macro AUC without them"].tolist() != table.loc["macro AUC (95% interval)"].tolist()
    assert scope_sentence(report).startswith("Out of scope: a version's triage holds these scored images back, as "
                                             "Diagnose would (no answer shown there): tiny-a: 1 (colour.png); tiny-b: 1")
    frame = predictions_frame(report).set_index("image")
    assert frame.loc["Normal/colour.png", "tiny-a triage"] == "out of scope"
    assert (frame.drop(index="Normal/colour.png")["tiny-b triage"] == "").all()
    # Without triage (the command line's report) neither the rows nor the column appear.
    plain = evaluate_models(classifiers, archive.records, Scoring(4), Resampling(20), load=archive.load)
    assert HELD_BACK not in summary_table(plain).index and "tiny-a triage" not in predictions_frame(plain).columns
    assert scope_sentence(plain) == ""


def test_the_triage_reuses_the_mask_made_for_the_inputs(monkeypatch):
    """One segmentation per film and lung model: the triage's mask is the one `predict_many` made for the versions'
    inputs, keyed by the lung model's id (the triage's segmenter is another object of the same model)."""
    from types import SimpleNamespace

    import model.trust.triage as triage
    from model.evaluation import out_of_scope

    seen = []  # the mask each triage was given
    monkeypatch.setattr(triage, "film_triage",
                        lambda xray, mask, *rest: seen.append(mask) or (None, None, SimpleNamespace(status="answer")))
    calls = []
    segmenter = SimpleNamespace(card=SimpleNamespace(id="lungs-x"),
                                mask=lambda pixels: calls.append(1) or np.zeros(pixels.shape, bool))
    xray = SimpleNamespace(pixels=np.zeros((8, 8)))
    made = np.ones((8, 8), bool)  # as predict_many leaves it after preparing the inputs
    assert not out_of_scope(xray, {"lungs-x": made}, segmenter, None)
    assert calls == [] and seen[-1] is made
    fresh: dict = {}
    out_of_scope(xray, fresh, segmenter, None)
    assert calls == [1] and seen[-1] is fresh["lungs-x"] and not seen[-1].any()
