"""Registry round trip and how it copes with broken entries."""
import json
import shutil

import numpy as np
import pytest

from model.classifier import Classifier
from model.registry import (
    REPORT_FILES,
    SCOPE_FILE,
    ModelCard,
    RegistryError,
    default_model_id,
    entry_version,
    list_cards,
    list_entries,
    load_model,
    read_card,
    read_history,
    read_metrics,
    read_report,
    registry_root,
    save_entry,
    set_default,
    write_card,
    write_report,
)
from tests.support import synthetic_radiograph, write_lambda_entry, write_tiny_entry


@pytest.fixture()
def registry(tmp_path):
    write_tiny_entry(tmp_path, "alpha", seed=0, default=True)
    write_tiny_entry(tmp_path, "beta", seed=1)
    return tmp_path


def test_round_trip_gives_the_same_probabilities(tmp_path):
    from tests.support import tiny_classifier

    model, _ = tiny_classifier(seed=3)
    image = synthetic_radiograph(64, seed=5)
    write_tiny_entry(tmp_path, "alpha")
    card = read_card("alpha", tmp_path)
    card.id = "gamma"
    save_entry(model, card, root=tmp_path)
    reloaded = Classifier.load("gamma", root=tmp_path)
    before = Classifier(card, model).predict_xray(image).probabilities
    np.testing.assert_allclose(reloaded.predict_xray(image).probabilities, before, rtol=1e-5, atol=1e-6)


def test_listing_reads_cards_history_and_metrics(registry):
    assert [s.id for s in list_entries(registry)] == ["alpha", "beta"]
    assert default_model_id(registry) == "alpha"
    history = read_history("beta", registry)
    assert {"loss", "val_loss"} <= set(history.columns) and len(history) == 3
    metrics = read_metrics("beta", registry)
    assert set(metrics["per_class"]) == set(read_card("beta", registry).labels)


@pytest.mark.parametrize("name", REPORT_FILES)
def test_reports_are_written_and_read_back_through_the_registry(registry, name):
    before = entry_version("beta", registry)
    path = write_report("beta", name, {"figure": 0.5}, registry)
    assert path.parent == registry / "beta" and read_report("beta", name, registry) == {"figure": 0.5}
    assert entry_version("beta", registry) != before  # a cache keyed by the entry's version reloads


def test_the_registry_refuses_reports_it_does_not_know_and_entries_that_do_not_exist(registry):
    with pytest.raises(ValueError, match="not a report of a registry entry"):
        write_report("beta", "notes.json", {}, registry)
    with pytest.raises(ValueError, match="not a report of a registry entry"):
        read_report("beta", "../alpha/card.json", registry)
    with pytest.raises(RegistryError, match="'gamma' is not in the registry"):
        write_report("gamma", SCOPE_FILE, {}, registry)
    card = read_card("beta", registry)
    card.id = "gamma"
    with pytest.raises(RegistryError, match="'gamma' is not in the registry"):
        write_card(card, registry)


def test_a_rewritten_card_is_read_back_and_leaves_the_entry_whole(registry):
    card = read_card("beta", registry)
    card.calibration = {"temperature": 1.5}
    write_card(card, registry)
    assert read_card("beta", registry).temperature == 1.5
    assert Classifier.load("beta", registry).card.temperature == 1.5


def test_set_default_leaves_exactly_one_default(registry):
    set_default("beta", registry)
    assert [c.id for c in list_cards(root=registry) if c.default] == ["beta"]
    assert default_model_id(registry) == "beta"


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "card.json").write_text("{oops"), "invalid"),
    (lambda d: (d / "card.json").write_text(json.dumps({"id": d.name})), "invalid"),
    (lambda d: (d / "model.keras").unlink(), "no model.keras"),
    (lambda d: (d / "card.json").unlink(), "not in the registry"),
])
def test_a_broken_entry_is_reported_and_does_not_hide_the_others(registry, damage, message):
    damage(registry / "beta")
    statuses = {s.id: s for s in list_entries(registry)}
    assert statuses["alpha"].card is not None
    assert statuses["beta"].card is None and message in statuses["beta"].error
    assert [c.id for c in list_cards(root=registry)] == ["alpha"]


def test_corrupt_model_file_gives_a_clear_error(registry):
    (registry / "beta" / "model.keras").write_bytes(b"this is not a keras archive")
    with pytest.raises(RegistryError, match="could not be loaded"):
        load_model("beta", registry)


def test_card_naming_another_id_is_refused(registry):
    shutil.copytree(registry / "beta", registry / "copy")
    with pytest.raises(RegistryError, match="names another id"):
        read_card("copy", registry)


@pytest.mark.parametrize("bad_id", ["../alpha", "a/b", "a\\b", "", ".hidden", "..", "x" * 80])
def test_ids_that_could_escape_the_registry_are_refused(registry, bad_id):
    with pytest.raises(RegistryError, match="not a valid model id"):
        load_model(bad_id, registry)


def test_card_validation_names_the_problem():
    with pytest.raises(ValueError, match="labels"):
        ModelCard(id="x", display_name="x", version="1", created="now", architecture="a", labels=["A", "A"],
                  preprocessing={}, explain_layer="conv")


def test_env_variable_points_everything_at_another_registry(registry, monkeypatch):
    monkeypatch.setenv("CXR_REGISTRY", str(registry))
    assert registry_root() == registry
    assert Classifier.load().card.id == "alpha"


def test_empty_registry_has_no_default(tmp_path):
    with pytest.raises(RegistryError, match="No usable classifier"):
        default_model_id(tmp_path)


# --------------------------------------------------------------------------- hostile model files


def test_a_model_with_a_lambda_layer_is_refused_with_one_sentence_and_its_code_never_runs(tmp_path):
    import keras

    marker = tmp_path / "code-ran"
    write_lambda_entry(tmp_path / "reg", "lam", marker)
    with pytest.raises(RegistryError) as caught:
        load_model("lam", tmp_path / "reg")
    assert str(caught.value) == ("Model 'lam' was refused: it contains a Lambda layer, whose Python code could run "
                                 "anything, so it is never loaded from a file; rebuild the model without Lambda "
                                 "layers.")
    assert not marker.exists()
    # The canary is real: a loader without safe mode would have run the file's code.
    keras.saving.load_model(tmp_path / "reg" / "lam" / "model.keras", compile=False, safe_mode=False)
    assert marker.exists()


def test_keras_safe_mode_refusal_gets_the_same_sentence(tmp_path, monkeypatch):
    # Should a Lambda hide where the archive scan does not look, Keras' own safe_mode refusal is translated.
    import model.registry as registry

    write_lambda_entry(tmp_path, "lam", tmp_path / "code-ran")
    monkeypatch.setattr(registry, "_has_lambda_layer", lambda path: False)
    with pytest.raises(RegistryError, match=r"^Model 'lam' was refused: it contains a Lambda layer") as caught:
        load_model("lam", tmp_path)
    assert "\n" not in str(caught.value) and "safe_mode" not in str(caught.value)
    assert not (tmp_path / "code-ran").exists()


def test_a_lambda_entry_does_not_stop_the_others(registry, tmp_path):
    write_lambda_entry(registry, "lam", tmp_path / "code-ran")
    assert [c.id for c in list_cards(root=registry)] == ["alpha", "beta", "lam"]
    assert Classifier.load("alpha", registry).predict_xray(synthetic_radiograph(64)).label


@pytest.mark.parametrize("name", ["history.csv", "metrics.json"])
def test_an_entry_missing_its_history_or_metrics_still_loads(registry, name):
    (registry / "beta" / name).unlink()
    assert [c.id for c in list_cards(root=registry)] == ["alpha", "beta"]
    assert read_history("beta", registry).empty if name == "history.csv" else read_metrics("beta", registry) == {}
    assert Classifier.load("beta", registry).predict_xray(synthetic_radiograph(64)).label


def test_unreadable_metrics_or_history_is_a_clear_error(registry):
    (registry / "beta" / "metrics.json").write_text("{broken")
    (registry / "beta" / "history.csv").write_bytes(b"\x00\xff\x00 not a table")
    with pytest.raises(RegistryError, match=r"^The file metrics.json of model 'beta' is not valid JSON\.$"):
        read_metrics("beta", registry)
    assert read_history("alpha", registry).shape[0] == 3


def test_test_set_summary_names_the_films_behind_a_cards_own_figures():
    from dataclasses import replace

    from model.present.text import test_set_summary

    base = ModelCard(id="x", display_name="x", version="1", created="2026-01-01T00:00:00+00:00",
                     architecture="compact_cnn", labels=["A", "B"], preprocessing={"image_size": 32},
                     explain_layer="conv")
    assert test_set_summary(base) == "not recorded"
    five = replace(base, training={"sources": list("abcde"), "splits": {"test": {"images": 482}}})
    assert test_set_summary(five) == "482 films, 5 sources"
    assert test_set_summary(replace(base, training={"sources": ["synthetic"]})) == "1 source"


def test_about_models_table_gives_each_kind_its_own_figure():
    """A lung segmenter has no accuracy or AUC: its row says "–" there and gives its Dice overlap instead
    of a blank "None"; a classifier's figures as the side panel gives them."""
    from dataclasses import replace

    from model.present.registry_tables import models_table, sources_table
    from model.registry import LUNG_SEGMENTATION

    classifier = ModelCard(id="c", display_name="C", version="1", created="2026-01-01T00:00:00+00:00",
                           architecture="compact_cnn", labels=["A", "B"], preprocessing={"image_size": 32},
                           explain_layer="conv", metrics={"accuracy": 0.6243, "macro_auc": 0.8031},
                           training={"sources": ["nih-chestxray14", "mine"], "splits": {"test": {"images": 10}}})
    lungs = replace(classifier, id="l", display_name="L", kind=LUNG_SEGMENTATION, labels=["lung"],
                    metrics={"dice_mean": 0.9536, "n": 40}, training={})
    table = models_table([classifier, lungs]).set_index("id")
    assert table.loc["c", ["accuracy", "macro AUC", "tested on"]].tolist() == ["62.4%", "0.80", "10 films, 2 sources"]
    assert table.loc["l", ["accuracy", "macro AUC", "tested on"]].tolist() == [
        "–", "–", "40 films, lung overlap (Dice) 0.95"]
    assert "None" not in table.to_string()
    sources = sources_table([classifier, lungs]).set_index("source")
    assert sources.loc["mine", "origin"] == "not a known public collection"
    assert sources.loc["nih-chestxray14", "used by"] == "C"  # by display name: ids broke at their hyphens
    assert sources.loc["openist-normal", "used by"] == "no model in this registry"
    # Several users, `between` each two; a source every classifier of three or more used says so in a line.
    more = [replace(classifier, id=f"cxr-c-v{i}", display_name=f"C, v{i}",
                    training={"sources": ["nih-chestxray14"] + (["covid-cxnet"] if i < 2 else [])}) for i in range(3)]
    lungs = replace(lungs, training={"sources": ["nih-chestxray14"]})
    users = sources_table(more + [lungs], between="  \n").set_index("source")["used by"]
    assert users["covid-cxnet"] == "C, v0  \nC, v1"
    assert users["nih-chestxray14"] == "all 3 classifiers  \nL"
    assert sources_table(more[:2]).set_index("source").loc["covid-cxnet", "used by"] == "C, v0; C, v1"
    # every source a shipped card names is a known public collection
    from model.registry import PACKAGE_REGISTRY, list_entries
    shipped = [status.card for status in list_entries(PACKAGE_REGISTRY) if status.card is not None]
    assert "not a known public collection" not in set(sources_table(shipped)["origin"])
