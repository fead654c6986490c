"""Recognising an uploaded film as one of the labelled films, and where it falls in a model's split."""
from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import pytest

from model.known_films import (
    KnownFilm,
    SeenFilm,
    film_split,
    find_film,
    from_teaching,
    index_films,
    seen_sentence,
    uses_dataset,
)
from model.labelled_data import datasets_version
from model.present.gallery_cases import TeachingCase
from model.splits import split_of
from tests.support import png_bytes, synthetic_radiograph

SEED = 42


def patient_in(split: str, prefix: str) -> str:
    """A patient id whose hash split (seed 42) is `split`."""
    return next(f"{prefix}-{i}" for i in range(1000) if split_of(f"{prefix}-{i}", SEED) == split)


def hash_card(**training) -> SimpleNamespace:
    """What `assign_splits` reads of a card: a hash split with seed 42 over the sources alpha and beta."""
    return SimpleNamespace(id="hash-model", training={"split_method": "hash", "seed": SEED,
                                                      "sources": ["alpha", "beta"], **training})


def write_film(path: Path, seed: int) -> bytes:
    data = png_bytes(synthetic_radiograph(48, seed=seed))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def write_manifest(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    lines = ["file,label,source,patient_id"] + [",".join(row) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()  # the digest the dashboard keys an upload by


@pytest.fixture()
def pool(tmp_path):
    """Two roots. Root one: a manifest of a training film, a test film, a film whose bytes are also listed
    under a second record (another file, a test patient) and a film of a source the model never saw; a
    second manifest listing the training film again; a film in no manifest. Root two: one validation film."""
    one, two = tmp_path / "one", tmp_path / "two"
    films = {name: write_film(one / "images" / f"{name}.png", seed)
             for seed, name in enumerate(["trained", "tested", "foreign", "loose"])}
    films["copy"] = films["trained"]
    (one / "images" / "copy.png").write_bytes(films["copy"])
    train, test = patient_in("train", "p"), patient_in("test", "p")
    write_manifest(one / "manifest.csv", [
        ("images/trained.png", "Normal", "alpha", train),
        ("images/tested.png", "COVID-19", "alpha", test),
        ("images/copy.png", "Normal", "beta", patient_in("test", "q")),
        ("images/foreign.png", "Pneumonia", "gamma", patient_in("train", "r")),
    ])
    write_manifest(one / "other.csv", [("images/trained.png", "Normal", "alpha", train)])
    films["validated"] = write_film(two / "v.png", 9)
    write_manifest(two / "manifest.csv", [("v.png", "Pneumonia", "beta", patient_in("validation", "s"))])
    return SimpleNamespace(roots=[one, two], films=films, index=index_films([one, two]))


def test_a_labelled_film_is_found_by_its_bytes_under_either_root(pool):
    tested = find_film(pool.index, sha(pool.films["tested"]))
    assert [(f.record.label, f.record.source, Path(f.dataset).name) for f in tested] == [
        ("COVID-19", "alpha", "manifest.csv")]
    validated = find_film(pool.index, sha(pool.films["validated"]))
    assert [Path(f.dataset).parent.name for f in validated] == ["two"]


def test_a_file_in_no_manifest_and_unknown_bytes_are_not_recognised(pool):
    assert find_film(pool.index, sha(pool.films["loose"])) == ()
    assert find_film(pool.index, sha(b"an upload of its own")) == ()
    assert film_split(hash_card(), (), pool.index) is None


def test_identical_bytes_return_every_record_and_the_learnt_one_decides(pool):
    # trained.png and copy.png hold the same bytes; trained.png is also listed by other.csv.
    films = find_film(pool.index, sha(pool.films["trained"]))
    assert sorted((Path(f.record.path).name, Path(f.dataset).name) for f in films) == [
        ("copy.png", "manifest.csv"), ("trained.png", "manifest.csv"), ("trained.png", "other.csv")]
    # A test-split record of the same pixels does not make a trained-on film a fair test.
    assert film_split(hash_card(), films, pool.index) == SeenFilm("train", "alpha", "Normal")


def test_each_split_as_the_gallery_makes_it(pool):
    card = hash_card()
    split = {name: film_split(card, find_film(pool.index, sha(pool.films[name])), pool.index)
             for name in ("tested", "validated", "foreign")}
    assert split["tested"] == SeenFilm("test", "alpha", "COVID-19")
    assert split["validated"] == SeenFilm("validation", "beta", "Pneumonia")
    # Its patient would be in the training split, but the model never trained on its source.
    assert split["foreign"] == SeenFilm("outside", "gamma", "Pneumonia")


def test_records_of_a_manifest_the_card_did_not_use_are_outside(pool):
    checksum = hashlib.sha256((pool.roots[0] / "other.csv").read_bytes()).hexdigest()
    films = find_film(pool.index, sha(pool.films["trained"]))
    assert film_split(hash_card(manifest_sha256=checksum), films, pool.index).split == "train"
    assert film_split(hash_card(manifest_sha256="0" * 64), films, pool.index) == SeenFilm("outside", "alpha",
                                                                                             "Normal")
    validated = find_film(pool.index, sha(pool.films["validated"]))
    assert film_split(hash_card(manifest="other.csv"), validated, pool.index).split == "outside"


@pytest.mark.parametrize(("data", "dataset", "used"), [
    ("../shared/data/cxr", "/srv/cxr/manifest.csv", True),        # a folder: its manifest.csv, as read_dataset
    ("../shared/data/cxr", "/srv/cxr/manifest-v2.csv", False),
    ("../shared/data/cxr/manifest-v2.csv", "/srv/cxr/manifest-v2.csv", True),
    ("../shared/data/cxr/manifest-v2.csv", "/srv/cxr/manifest.csv", False),
    (None, "/srv/anything.csv", True),                            # a card naming no data may hold any
])
def test_which_dataset_a_card_used(data, dataset, used):
    card = SimpleNamespace(training={} if data is None else {"data": data})
    assert uses_dataset(card, dataset, "") is used


def test_a_card_trained_from_a_folder_names_the_folder_as_its_manifest():
    """`training.train --data FOLDER` records the folder's name as `manifest` and no checksum: its films are
    in that folder's manifest.csv (they were called "not in the data this model was trained on")."""
    card = SimpleNamespace(training={"manifest": "cxr", "manifest_sha256": None, "data": "../shared/data/cxr"})
    assert uses_dataset(card, "/srv/cxr/manifest.csv", "")
    assert not uses_dataset(card, "/srv/cxr/manifest-v2.csv", "")
    assert not uses_dataset(card, "/srv/other/manifest.csv", "")


def test_a_manifest_naming_files_outside_the_roots_is_not_indexed(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "elsewhere"
    data = write_film(outside / "secret.png", 5)
    write_manifest(root / "manifest.csv", [("../elsewhere/secret.png", "Normal", "alpha", "p-1")])
    assert find_film(index_films([root]), sha(data)) == ()


def add_manifest(root: Path) -> bytes:
    data = write_film(root / "late" / "new.png", 70)
    write_manifest(root / "late" / "added.csv", [("new.png", "Pneumonia", "alpha", "p-late")])
    return data


def add_row(root: Path) -> bytes:
    data = write_film(root / "images" / "extra.png", 71)
    with (root / "manifest.csv").open("a", encoding="utf-8") as handle:
        handle.write("images/extra.png,COVID-19,alpha,p-extra\n")
    return data


def add_to_class_folder(root: Path) -> bytes:  # a split folder above the classes, an images folder inside one
    return write_film(root / "kermany" / "train" / "PNEUMONIA" / "images" / "kid.png", 72)


@pytest.mark.parametrize("change", [add_manifest, add_row, add_to_class_folder])
def test_the_data_version_changes_when_a_film_is_added_and_only_then(pool, change):
    write_film(pool.roots[0] / "kermany" / "train" / "NORMAL" / "images" / "first.png", 73)
    before, index = datasets_version(pool.roots), index_films(pool.roots)
    assert datasets_version(pool.roots) == before  # nothing changed: the cached index stands
    data = change(pool.roots[0])
    assert find_film(index, sha(data)) == ()  # the index made before does not know the film...
    assert datasets_version(pool.roots) != before  # ...and the version says it must be made again
    assert find_film(index_films(pool.roots), sha(data))


def test_a_legacy_split_is_remade_from_the_whole_manifest(tmp_path):
    rows, films = [], []
    for i in range(20):
        films.append(write_film(tmp_path / f"f{i}.png", 100 + i))
        rows.append((f"f{i}.png", "Normal", "alpha", f"p{i}"))
    write_manifest(tmp_path / "manifest.csv", rows)
    index = index_films([tmp_path])
    card = SimpleNamespace(id="legacy", training={"seed": 0, "sources": ["alpha"]})
    from model.splits import assign_splits

    expected, _ = assign_splits(list(index.records[str(tmp_path / "manifest.csv")]), card)
    found = [film_split(card, find_film(index, sha(data)), index).split for data in films]
    assert found == [expected[str(tmp_path / f"f{i}.png")] for i in range(20)]
    assert set(found) == {"train", "validation", "test"}


def teaching(model_id: str, split: str) -> TeachingCase:
    return TeachingCase("d" * 64, "x.png", "Normal", "alpha", split, model_id, "Normal", 0.9, True, True)


def test_a_teaching_case_carries_its_split_only_for_its_own_model():
    assert from_teaching(teaching("m", "train"), "m") == SeenFilm("train", "alpha", "Normal")
    assert from_teaching(teaching("other", "train"), "m") is None
    assert from_teaching(teaching("m", ""), "m") is None
    assert from_teaching(None, "m") is None


@pytest.mark.parametrize(("split", "says", "never"), [
    ("train", "its patient is in the training split): its output here is not a fair test", "true label"),
    ("validation", "used to calibrate and tune the model", "true label"),
    ("test", "a fair test; true label Pneumonia.", "not a fair test"),
    ("outside", "not in the data this model was trained on: a fair test; true label Pneumonia.", "not a fair"),
])
def test_the_note_says_whether_the_output_tests_the_model(split, says, never):
    sentence = seen_sentence(SeenFilm(split, "alpha", "Pneumonia"))
    assert says in sentence and never not in sentence
    assert "source alpha" in sentence


@pytest.mark.parametrize(("split", "says"), [
    ("train", "Learnt from this film (source alpha, label Pneumonia; training split): its output is not a fair test."),
    ("validation", "validation split, used to calibrate and tune it): not a fully fair test."),
    ("test", "Held out (source alpha; test split): a fair test; true label Pneumonia."),
    ("outside", "Not in its training data (source alpha): a fair test; true label Pneumonia."),
])
def test_the_short_note_says_the_same_in_fewer_words(split, says):
    short = seen_sentence(SeenFilm(split, "alpha", "Pneumonia"), short=True)
    assert says in short and len(short) < len(seen_sentence(SeenFilm(split, "alpha", "Pneumonia")))


def test_the_note_names_no_patient_and_no_path(pool):
    for data in pool.films.values():
        films = find_film(pool.index, sha(data))
        seen = film_split(hash_card(), films, pool.index)
        if seen is None:
            continue
        sentence = seen_sentence(seen) + seen_sentence(seen, short=True)
        for film in films:
            assert film.record.patient_id not in sentence and Path(film.record.path).name not in sentence
        assert str(pool.roots[0]) not in sentence and isinstance(films[0], KnownFilm)
