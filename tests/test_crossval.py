"""Held-out-source runs and shipping a recipe (synthetic manifest, tiny models, fake lung segmentation)."""
import hashlib
import json
import shutil

import numpy as np
import pytest

from tests.support import synthetic_radiograph, write_manifest
from training import crossval, held_out
from training.held_out import held_out_block, held_out_report, held_out_separation, within_source_auc


class FakeLungs:
    """Two rectangular lung fields instead of the registry's U-Net (passed where a segmenter goes)."""

    class model:
        @staticmethod
        def get_weights():
            return [np.zeros(1)]

    def mask(self, pixels):
        mask = np.zeros(pixels.shape, bool)
        h, w = pixels.shape
        mask[h // 5:4 * h // 5, w // 8:3 * w // 8] = mask[h // 5:4 * h // 5, 5 * w // 8:7 * w // 8] = True
        return mask


@pytest.fixture()
def fake_lungs(monkeypatch):
    """Every training command takes its lung model from the fake (`training.held_out.lung_model_of`)."""
    from training import ensemble, training_run

    fake = lambda prep, root: FakeLungs() if prep.lung_crop else None  # noqa: E731
    for module in (crossval, training_run, ensemble):
        monkeypatch.setattr(module, "lung_model_of", fake)
    return FakeLungs()


def _write_manifest(folder):
    plan = [("COVID-19", "cov-a"), ("COVID-19", "cov-b"), ("Normal", "nih"), ("Normal", "teach"),
            ("Pneumonia", "nih"), ("COVID-19", "ieee8023-covid-chestxray"), ("Pneumonia", "ieee8023-covid-chestxray")]
    return write_manifest(folder, [(plan[i % 7][0], f"p{i}", plan[i % 7][1]) for i in range(70)], size=128,
                          extra="subtype", lesions={"COVID-19": (0.5, 0.3)})


@pytest.fixture()
def manifest(tmp_path):
    return _write_manifest(tmp_path)


@pytest.fixture(scope="module")
def registered_seeds(tmp_path_factory):
    """Two registered runs of one recipe, initialisation seeds 1 and 2 on one patient split (seed 42), the
    first the registry's default: (manifest, registry, cache). Trained once for the tests that read them."""
    folder = tmp_path_factory.mktemp("registered-seeds")
    manifest, registry, cache = _write_manifest(folder), folder / "registry", folder / "cache"
    with pytest.MonkeyPatch.context() as patch:
        from training import ensemble, training_run

        for module in (crossval, training_run, ensemble):
            patch.setattr(module, "lung_model_of", lambda prep, root: FakeLungs() if prep.lung_crop else None)
        for seed in ("1", "2"):
            assert crossval.main(["--data", str(manifest), "--image-size", "32", "--epochs", "1", "--batch-size", "8",
                                  "--lung-mask", "--seed", seed, "--split-seed", "42", "--out", str(folder / f"run{seed}"),
                                  "--cache-dir", str(cache), "--register", f"m{seed}", "--registry", str(registry),
                                  "--probe-per-source", "10", *(["--default"] if seed == "1" else [])]) == 0
    return manifest, registry, cache


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


def test_held_out_separation_does_not_depend_on_the_bias():
    # Unseen COVID-19 films (label 0) and unseen normals (label 1): every film is called COVID-19, yet
    # the ratio p(COVID-19)/p(Normal) orders all COVID-19 films above all normals but one.
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    probs = np.array([[.90, .05, .05], [.80, .10, .10], [.70, .15, .15], [.78, .12, .10],
                      [.50, .40, .10], [.45, .45, .10], [.40, .35, .25]])
    assert held_out_report(labels[3:], probs[3:])["recall"] == {"Normal": 0.0}
    out = held_out_separation(labels, probs)
    assert list(out) == ["COVID-19 vs Normal"]
    pair = out["COVID-19 vs Normal"]
    assert pair["n"] == {"COVID-19": 3, "Normal": 4}
    assert np.isclose(pair["auc"], 11 / 12)  # one of the 12 (COVID-19, normal) pairs is out of order
    # Moving the threshold: all 3 COVID-19 films right and 3 of 4 normals, or 2 of 3 and all 4.
    assert np.isclose(pair["best_both"], 0.75)
    # Adding a class-wide bias (here: halving p(COVID-19)) changes what is called, not the figures.
    shifted = probs * np.array([0.5, 1.0, 1.0])
    shifted /= shifted.sum(axis=1, keepdims=True)
    assert held_out_separation(labels, shifted) == out
    assert held_out_separation(np.array([1, 1]), probs[:2]) == {}  # one class: nothing to separate


@pytest.fixture(scope="module")
def held_out_seeds(tmp_path_factory):
    """One recipe with both synthetic sources `teach` and `cov-b` held out, two initialisation seeds (3, 4)
    on one split, the held-out sources watched per epoch: (folder, manifest, cache). Trained once for the
    tests that read the runs (each run: `folder/rec-i3`, `folder/rec-i4`; summary `folder/rec-summary.json`)."""
    folder = tmp_path_factory.mktemp("held-out-seeds")
    manifest, cache = _write_manifest(folder), folder / "cache"
    with pytest.MonkeyPatch.context() as patch:
        from training import ensemble, training_run

        for module in (crossval, training_run, ensemble):
            patch.setattr(module, "lung_model_of", lambda prep, root: FakeLungs() if prep.lung_crop else None)
        assert crossval.main(["--data", str(manifest), "--hold-out-source", "teach", "cov-b", "--seeds", "3", "4",
                              "--image-size", "32", "--epochs", "1", "--batch-size", "8", "--balance", "source_label",
                              "--photometric", "--lung-mask", "--dann", "0.3", "--watch-held-out",
                              "--out", str(folder / "rec"), "--cache-dir", str(cache), "--probe-per-source", "10"]) == 0
    return folder, manifest, cache


def test_held_out_run_reports_each_source_alone(held_out_seeds):
    folder, manifest, _ = held_out_seeds
    res = json.loads((folder / "rec-i3" / "results.json").read_text())
    assert res["held_out_sources"] == ["cov-b", "teach"]
    assert res["held_out"]["teach"]["n"] == 10 and set(res["held_out"]["teach"]["recall"]) == {"Normal"}
    assert sum(res["held_out"]["cov-b"]["called"].values()) == 10
    assert res["data_sha256"] == hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert res["train_images"] + res["internal_test"]["n"] <= 50  # held-out images never trained or tested on
    assert "ieee8023-covid-chestxray" in res["within_source_covid_vs_pneumonia"]
    assert "source_probe" in res and res["recipe"]["dann"] == 0.3
    pair = res["held_out_separation"]["COVID-19 vs Normal"]  # unseen cov-b films vs unseen teach normals
    assert pair["n"] == {"COVID-19": 10, "Normal": 10} and 0.0 <= pair["best_both"] <= 1.0


def test_watching_the_held_out_sources_logs_them_per_epoch_and_selects_nothing(held_out_seeds, tmp_path):
    folder, _, _ = held_out_seeds
    out = folder / "rec-i3"
    res = json.loads((out / "results.json").read_text())
    (epoch,) = res["history"]  # one epoch: the watched model is the kept model, so the figures must agree
    pair = res["held_out_separation"]["COVID-19 vs Normal"]
    assert epoch["watch_covid_vs_normal_auc"] == pytest.approx(pair["auc"], abs=1e-6)
    assert epoch["watch_covid_vs_normal_best_both"] == pytest.approx(pair["best_both"], abs=1e-6)
    assert epoch["watch_teach_called_right"] == pytest.approx(res["held_out"]["teach"]["recall"]["Normal"])
    assert epoch["watch_cov-b_called_right"] == pytest.approx(res["held_out"]["cov-b"]["recall"]["COVID-19"])
    # The card's trajectory comes from the first watched run among the results files.
    unwatched = tmp_path / "plain.json"
    unwatched.write_text(json.dumps({**res, "history": [{"epoch": 1, "val_auc": 0.5}]}))
    assert held_out.held_out_trajectory([unwatched]) is None
    recorded = held_out.held_out_trajectory([unwatched, out / "results.json"])
    assert recorded["run"] == str(out / "results.json") and recorded["trained_without"] == ["cov-b", "teach"]
    assert "average_from" not in recorded  # the run kept its best epoch
    (first,) = recorded["epochs"]
    assert first["separation"]["COVID-19 vs Normal"]["auc"] == epoch["watch_covid_vs_normal_auc"]
    assert first["called_right"] == {"cov-b": epoch["watch_cov-b_called_right"],
                                     "teach": epoch["watch_teach_called_right"]}


def test_a_registered_recipe_masks_at_serving_and_names_its_manifest(registered_seeds, tmp_path, fake_lungs):
    from model.classifier import Classifier
    from model.registry import read_card, read_metrics

    manifest, registry, cache = registered_seeds
    card = read_card("m1", registry)
    assert card.default and card.preprocessing["lung_mask"] is True and card.training["split_method"] == "hash"
    assert card.training["manifest"] == "manifest.csv" and len(card.training["manifest_sha256"]) == 64
    assert "source_probe" in read_metrics("m1", registry)
    clf = Classifier.load("m1", root=registry, segmenter=fake_lungs)
    explanation, _ = clf.explain_xray(synthetic_radiograph(50), "gradcam")
    assert explanation.heatmap.shape == (32, 32)
    with pytest.raises(SystemExit):
        crossval.main(["--data", str(manifest), "--hold-out-source", "teach", "--register", "x", "--out", str(tmp_path)])
    # An existing registry model scored on sources: it trained on them here, and the results say so.
    assert crossval.main(["--data", str(manifest), "--hold-out-source", "teach", "cov-b", "--evaluate-model", "m1",
                          "--registry", str(registry), "--cache-dir", str(cache), "--out", str(tmp_path / "existing")]) == 0
    res = json.loads((tmp_path / "existing" / "results.json").read_text())
    assert res["warning_seen_sources"] == ["cov-b", "teach"] and res["held_out"]["teach"]["n"] == 10
    assert res["held_out_sources"] == []  # it saw both: neither was held out from it
    assert res["command"].startswith("python -m training.crossval --data ") and "--evaluate-model m1" in res["command"]
    assert res["held_out_separation"]["COVID-19 vs Normal"]["n"] == {"COVID-19": 10, "Normal": 10}


def test_two_runs_are_averaged_and_scored_like_one_run(held_out_seeds, tmp_path, monkeypatch):
    from training import crossval_average

    folder, manifest, cache = held_out_seeds
    monkeypatch.setattr(crossval_average, "lung_model_of", lambda prep, root: FakeLungs() if prep.lung_crop else None)
    a, b = folder / "rec-i3", folder / "rec-i4"
    runs = [json.loads((run / "results.json").read_text()) for run in (a, b)]
    common = ["--data", str(manifest), "--cache-dir", str(cache)]
    assert crossval_average.main(common + ["--runs", str(a), str(b), "--out", str(tmp_path / "avg")]) == 0
    avg = json.loads((tmp_path / "avg" / "results.json").read_text())
    assert [x["run"] for x in avg["average_of"]] == [str(a), str(b)]
    assert [x["init_seed"] for x in avg["average_of"]] == [3, 4]
    assert avg["internal_test"]["n"] == runs[0]["internal_test"]["n"]  # the same test split, trained on by neither
    assert avg["held_out"]["teach"]["n"] == sum(avg["held_out"]["teach"]["called"].values()) == 10
    # One run's served answer: the mean over each film and its test-time copies, as the pages give it.
    assert crossval_average.main(common + ["--runs", str(a), "--served", "3", "--out", str(tmp_path / "served")]) == 0
    served = json.loads((tmp_path / "served" / "results.json").read_text())
    assert served["served_copies"] == 3 and served["recipe_name"].startswith("served answer (mean over the film and 2")
    assert served["held_out"]["teach"]["n"] == 10 and served["internal_test"]["n"] == runs[0]["internal_test"]["n"]
    saved = (a / "model.keras").read_bytes()
    assert crossval_average.main(common + ["--runs", str(a), "--recompute-bn", "--out", str(tmp_path / "bn")]) == 0
    bn = json.loads((tmp_path / "bn" / "results.json").read_text())
    assert bn["recompute_bn"] is True and bn["recipe_name"].startswith("batch-norm statistics recomputed, average of")
    assert bn["held_out"]["teach"]["n"] == 10
    assert (a / "model.keras").read_bytes() == saved  # the run's model is left as it was
    assert crossval_average.main(["--data", str(manifest), "--runs", str(a), "--served", "1",
                                  "--out", str(tmp_path / "served")]) == 2
    # Runs of other held-out sources cannot be averaged: one line, exit 2. (The runs' results say what
    # they held out; a copy of run a that held out cov-b alone stands for such a run.)
    shutil.copytree(a, tmp_path / "c")
    (tmp_path / "c" / "results.json").write_text(json.dumps({**runs[0], "held_out_sources": ["cov-b"]}))
    assert crossval_average.main(["--data", str(manifest), "--runs", str(a), str(tmp_path / "c"),
                                  "--out", str(tmp_path / "bad")]) == 2


def test_an_equalising_recipe_equalises_at_serving(manifest, tmp_path, fake_lungs):
    from model.classifier import Classifier
    from model.inputs.preprocessing import EQUALIZED_FLOOR
    from model.registry import read_card

    registry = tmp_path / "registry"
    assert crossval.main(["--data", str(manifest), "--image-size", "32", "--epochs", "1", "--batch-size", "8",
                          "--lung-mask", "--lung-equalize", "--out", str(tmp_path / "run"),
                          "--cache-dir", str(tmp_path / "cache"), "--register", "eq-1", "--registry", str(registry),
                          "--probe-per-source", "10"]) == 0
    assert read_card("eq-1", registry).preprocessing["lung_equalize"] is True
    assert json.loads((tmp_path / "run" / "results.json").read_text())["recipe"]["lung_equalize"] is True
    clf = Classifier.load("eq-1", root=registry, segmenter=fake_lungs)
    x = clf.prepare(synthetic_radiograph(80, seed=5)).array[..., 0]
    inside = x > 0
    assert x[inside].min() >= EQUALIZED_FLOOR - 1e-6 and abs(x[inside].mean() - (1 + EQUALIZED_FLOOR) / 2) < 0.02
    with pytest.raises(SystemExit):
        crossval.main(["--data", str(manifest), "--lung-equalize", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="needs --average-from"):
        crossval.main(["--data", str(manifest), "--constant-lr", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="plain class targets"):
        crossval.main(["--data", str(manifest), "--mixup", "0.2", "--dann", "0.3", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="needs --init-from"):
        crossval.main(["--data", str(manifest), "--freeze-init", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="no such model file"):
        crossval.main(["--data", str(manifest), "--init-from", str(tmp_path / "none.keras"), "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match=r"\[0, 1\)"):
        crossval.main(["--data", str(manifest), "--label-smoothing", "1", "--out", str(tmp_path / "x")])


def test_the_results_table_names_each_runs_seeds():
    from training.crossval_table import HEADER, row

    base = {"recipe_name": "r", "held_out_sources": ["teach"], "held_out": {}, "seed": 42}
    assert "| r | teach | 42 |" in row(base)
    assert "| r | teach | 42 |" in row({**base, "arch": "compact_cnn"})
    assert "| r (small_resnet) | teach | 42 |" in row({**base, "arch": "small_resnet"})
    assert "| 42/3 |" in row({**base, "init_seed": 3})
    assert "| 42/avg of 1, 2 |" in row({**base, "average_of": [{"seed": 42, "init_seed": 1}, {"seed": 42, "init_seed": 2}]})
    assert row(base).count("|") == HEADER.splitlines()[0].count("|")


def test_several_seeds_share_one_split_and_are_summarised(held_out_seeds):
    folder, _, _ = held_out_seeds
    runs = [json.loads((folder / f"rec-i{seed}" / "results.json").read_text()) for seed in (3, 4)]
    assert [r["init_seed"] for r in runs] == [3, 4] and {r["seed"] for r in runs} == {3}  # one split, two starts
    assert all(r["command"].startswith("python -m training.train ") and "--lung-crop" in r["command"] for r in runs)
    summary = json.loads((folder / "rec-summary.json").read_text())
    aucs = [r["held_out_separation"]["COVID-19 vs Normal"]["auc"] for r in runs]
    assert summary["held_out_separation"]["COVID-19 vs Normal"]["median"] == pytest.approx(np.median(aucs))
    assert summary["held_out"]["teach"]["values"] == [r["held_out"]["teach"]["recall"]["Normal"] for r in runs]


def test_runs_are_averaged_as_a_merged_ensemble_would_be():
    import keras

    from training.architectures import merge_members
    from training.crossval_average import average_like_an_ensemble

    members = []
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        inputs = keras.Input((8, 8, 1))
        x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
        x = keras.layers.GlobalAveragePooling2D()(x)
        members.append(keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x)))
    merged, _ = merge_members(members)
    x = np.random.default_rng(0).random((5, 8, 8, 1)).astype(np.float32)
    expected = merged.predict(x, verbose=0)
    np.testing.assert_allclose(average_like_an_ensemble([m.predict(x, verbose=0) for m in members]), expected, atol=1e-5)


def test_seeds_of_one_recipe_make_an_ensemble_that_keeps_the_recipe_and_its_held_out_figures(
        registered_seeds, tmp_path, fake_lungs):
    from model.registry import read_card, read_metrics
    from training import ensemble

    manifest, registry, cache = registered_seeds
    cards = [read_card(f"m{seed}", registry) for seed in "12"]
    assert cards[0].training["seed"] == cards[1].training["seed"] == 42  # the split seed: one patient split
    assert [c.training["init_seed"] for c in cards] == [1, 2]
    held = tmp_path / "held.json"
    held.write_text(json.dumps({"average_of": [{"run": "x"}], "recipe_name": "avg", "image_size": 32,
                                "held_out_sources": ["teach"], "held_out": {"teach": {"n": 10, "recall": {"Normal": 0.7}}}}))
    assert ensemble.main(["--members", "m1", "m2", "--model-id", "ens", "--data", str(manifest), "--registry",
                          str(registry), "--cache-dir", str(cache), "--held-out-results", str(held)]) == 0
    card, metrics = read_card("ens", registry), read_metrics("ens", registry)
    assert card.preprocessing["lung_mask"] is True and card.training["recipe_name"] == cards[0].training["recipe_name"]
    assert card.training["manifest_sha256"] == cards[0].training["manifest_sha256"]
    assert card.training["held_out_source"]["teach"]["recall"] == {"Normal": 0.7}
    assert metrics["held_out_source"]["teach"]["run"] == str(held)
    within = metrics["within_source_covid_vs_pneumonia"]["ieee8023-covid-chestxray"]
    assert within["test"]["n_pos"] > 0 and within["validation+test"]["n_pos"] >= within["test"]["n_pos"]


def test_repeats_of_a_recipe_are_recorded_with_the_headline(tmp_path, capsys):
    from model.present.shortcut_tables import held_out_separation as separation_rows
    from model.present.shortcut_tables import held_out_table, separation_sentence
    from model.registry import read_card, read_metrics
    from tests.support import write_tiny_entry
    from training import held_out_card

    write_tiny_entry(tmp_path, "tiny-h", default=True)
    files = []
    for k, (normal, covid, auc) in enumerate([(0.44, 0.64, 0.70), (0.30, 0.45, 0.68), (0.68, 0.31, 0.74)]):
        path = tmp_path / f"run{k}.json"
        path.write_text(json.dumps({"recipe_name": "r", "seed": 42, "init_seed": k, "held_out_sources": ["a", "b"],
                                    "held_out": {"teach": {"n": 10, "recall": {"Normal": normal}},
                                                 "cov-b": {"n": 10, "recall": {"COVID-19": covid}}},
                                    "held_out_separation": {"COVID-19 vs Normal": {"auc": auc, "best_both": auc - 0.05,
                                                                                   "n": {"COVID-19": 10, "Normal": 10}}}}))
        files.append(str(path))
    assert held_out_card.main(["--model", "tiny-h", "--registry", str(tmp_path), "--results", *files]) == 0
    block = read_card("tiny-h", tmp_path).training["held_out_source"]
    assert block["teach"]["recall"] == {"Normal": 0.44} and block["teach"]["run"] == files[0]
    assert [r["recall"] for r in block["teach"]["repeats"]] == [0.44, 0.30, 0.68]
    assert [r["init_seed"] for r in block["cov-b"]["repeats"]] == [0, 1, 2]
    assert read_metrics("tiny-h", tmp_path)["held_out_source"] == block
    table = held_out_table({"held_out_source": block}).set_index("held-out source")
    assert table.loc["teach", "range"] == "30%–68% (3 runs)" and table.loc["cov-b", "runs"] == 3
    assert "recall 30%–68% (3 runs)" in capsys.readouterr().out
    # The bias-free separation of the unseen pair travels with both sources, with every run's figures.
    assert block["teach"]["separation"]["COVID-19 vs Normal"]["auc"] == 0.70
    assert [r["separation"]["COVID-19 vs Normal"]["auc"] for r in block["cov-b"]["repeats"]] == [0.70, 0.68, 0.74]
    (pair,) = separation_rows({"held_out_source": block})
    assert pair["runs"] == 3 and pair["auc_range"] == (0.68, 0.74) and pair["best_both_range"][1] == 0.74 - 0.05
    sentence = separation_sentence(pair)
    assert "AUC 0.68–0.74 over 3 runs" in sentence and "at most 69% of both" in sentence
    # A headline run scored before the figure existed: the other runs still give it.
    del block["teach"]["separation"], block["teach"]["repeats"][0]["separation"]
    (pair,) = separation_rows({"held_out_source": {"teach": block["teach"]}})
    assert pair["auc"] is None and pair["runs"] == 2 and pair["auc_range"] == (0.68, 0.74)
    assert held_out_card.main(["--model", "nope", "--registry", str(tmp_path), "--results", *files]) == 2


def test_each_held_out_run_records_what_it_left_out(tmp_path):
    from model.present.shortcut_tables import held_out_table

    def results(name, **values):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"recipe_name": "r", "seed": 42, **values}))
        return str(path)

    called = {"COVID-19": 0.2, "Normal": 0.7, "Pneumonia": 0.1}
    both = results("both", held_out_sources=["cov-b", "teach"],
                   held_out={"teach": {"n": 10, "recall": {"Normal": 0.7}, "called_fraction": called}})
    alone = results("alone", held_out_sources=["teach"],
                    held_out={"teach": {"n": 10, "recall": {"Normal": 0.9}, "mean_confidence": 0.8}})
    # A version scored as it is (--evaluate-model) never trained on any scored source it had not seen.
    scored = results("scored", model="old", warning_seen_sources=["cov-b"],
                     held_out={"teach": {"n": 10, "recall": {"Normal": 0.1}}, "cov-b": {"n": 5, "recall": {}}})
    block = held_out_block([both, alone])
    assert block["teach"]["trained_without"] == ["cov-b", "teach"]
    assert [r["trained_without"] for r in block["teach"]["repeats"]] == [["cov-b", "teach"], ["teach"]]
    assert block["teach"]["repeats"][0]["called_fraction"] == called
    assert block["teach"]["repeats"][1]["mean_confidence"] == 0.8
    assert list(held_out_table({"held_out_source": block})["also held out"]) == ["cov-b", "–"]
    assert held_out_block([scored])["teach"]["trained_without"] == ["teach"]


def test_the_served_answer_is_the_mean_over_the_film_and_the_copies_serving_makes():
    import keras

    from model.trust.uncertainty import test_time_copies
    from training.crossval_average import average_like_an_ensemble, copy_probabilities

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 1))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs)))
    x = np.random.default_rng(1).random((5, 16, 16, 1)).astype(np.float32)
    per_copy = copy_probabilities(model, x, copies=4, chunk=2)
    assert per_copy.shape == (5, 4, 3) and copy_probabilities(model, x[:0], 4).shape == (0, 4, 3)
    for film, scored in zip(x, per_copy):
        copies = test_time_copies(film, 4)
        assert np.array_equal(copies[0], film) and not np.array_equal(copies[1], film)
        np.testing.assert_allclose(scored, model.predict(copies, verbose=0), rtol=1e-5, atol=1e-6)
    # Averaging over the copies comes last: an ensemble scores each copy, as a merged model would.
    assert average_like_an_ensemble([per_copy, per_copy]).shape == (5, 4, 3)


def test_batch_norm_statistics_are_recomputed_for_the_current_weights():
    import keras

    from training.crossval_average import recompute_batch_norm

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    norm = keras.layers.BatchNormalization(momentum=0.9, name="bn")
    x = keras.layers.SpatialDropout2D(0.5, name="drop")(norm(conv))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x)))
    films = np.random.default_rng(1).random((32, 8, 8, 1)).astype(np.float32) * 3 + 1
    seen = keras.Model(inputs, conv).predict(films, verbose=0)
    before = model.predict(films, verbose=0)

    recompute_batch_norm(model, films, batch_size=16)  # two equal batches: the mean is exact
    np.testing.assert_allclose(norm.moving_mean.numpy(), seen.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
    assert not np.allclose(model.predict(films, verbose=0), before)
    assert norm.momentum == 0.9 and model.get_layer("drop").rate == 0.5  # restored for saving and serving
    recompute_batch_norm(model, films, batch_size=32)  # one batch: the variance is the films' own
    np.testing.assert_allclose(norm.moving_variance.numpy(), seen.var(axis=(0, 1, 2)), rtol=1e-3, atol=1e-5)
