"""Which of a set of labelled images each version has already seen (`model.data_overlap`), and the words the
Evaluate page shows for it: an uploaded ZIP of the server's own films was scored as if it were new data."""
from __future__ import annotations

import pytest

from model.data_overlap import (
    UNKNOWN,
    VersionOverlap,
    data_overlap,
    image_places,
    matched_sources,
    readable_digests,
    recognised,
    trained_on_any,
    with_matched_sources,
)
from model.known_films import film_split, find_film
from model.labelled_data import LabelledImage
from model.present.evaluation_tables import (
    ZIP_CAVEAT,
    overlap_sentence,
    overlap_table,
    selection_sentence,
    zip_caveat,
    zip_scope,
)
from tests.support import png_bytes, synthetic_radiograph
from tests.test_known_films import hash_card, pool, sha  # noqa: F401  (pool: the films of that file's tests)

NAMES = ("trained", "tested", "validated", "foreign", "loose", "copy")


def digests(known, own: bytes = b"a film of a team's own") -> dict[str, str]:
    """{key: SHA-256} of the pool's films as a ZIP would hold them, and one image that is none of them."""
    return {**{f"{name}.png": sha(known.films[name]) for name in NAMES}, "own.png": sha(own)}


def test_each_image_takes_its_place_in_each_versions_data(pool):  # noqa: F811  (the fixture imported above)
    one, other = hash_card(), hash_card(manifest_sha256="0" * 64)
    other.id = "other-model"
    first, second = data_overlap([one, other], digests(pool), pool.index)
    assert first.model_id == "hash-model" and second.model_id == "other-model"
    # copy.png holds the trained film's bytes: a test-split record of the same pixels is no fair test.
    assert first.places == {"trained.png": "train", "tested.png": "test", "validated.png": "validation",
                            "foreign.png": "outside", "loose.png": UNKNOWN, "copy.png": "train",
                            "own.png": UNKNOWN}
    # A labelled film of a manifest the version did not use was never in its data; unknown bytes stay unknown.
    assert set(second.places.values()) == {"outside", UNKNOWN} and second.count(UNKNOWN) == 2
    assert sorted(first.trained_on) == ["copy.png", "trained.png"] and second.trained_on == []
    assert trained_on_any([first, second]) == {"copy.png", "trained.png"}
    assert recognised([first, second]) == 5
    # The same place Diagnose gives each of these films for this version.
    for key, digest in digests(pool).items():
        seen = film_split(one, find_film(pool.index, digest), pool.index)
        assert first.places[key] == (UNKNOWN if seen is None else seen.split), key
    with pytest.raises(ValueError, match="place must be one of"):
        first.count("training")


LEGACY = {"split_method": "patient", "splits": {"train": {"images": 999}}}  # dealt, recorded count not re-made


@pytest.mark.parametrize("training", [
    {}, {"manifest_sha256": "0" * 64}, {"manifest": "other.csv"}, {"sources": ["beta"]}, LEGACY,
], ids=["hash", "other-checksum", "other-manifest", "one-source", "legacy-with-note"])
def test_a_zips_places_are_the_places_diagnose_gives_each_film(pool, training):  # noqa: F811
    """Evaluate (a ZIP's images) and Diagnose (one film) place the same bytes in the same split of a version's
    data, and a re-made split's note reaches both, whatever the card says. Both go through `film_split`; what this
    holds is that the store of splits Evaluate keeps between images (re-made once per dataset) changes no place and
    loses no note. The places themselves are checked against written values in the test above."""
    card = hash_card(**training)
    places, notes = image_places(card, digests(pool), pool.index)
    for key, digest in digests(pool).items():
        seen = film_split(card, find_film(pool.index, digest), pool.index)
        assert places[key] == (UNKNOWN if seen is None else seen.split), key
        assert seen is None or not seen.note or seen.note in notes
    assert len(set(places.values())) > 1  # each card places the films in more than one way
    assert bool(notes) is (training is LEGACY)


def test_only_readable_images_are_matched():
    """A ZIP's empty and 8x8 files were counted "not this server's films" beside the figures, though never scored."""
    film = png_bytes(synthetic_radiograph(96, seed=5))
    members = {"Normal/film.png": film, "Normal/empty.png": b"", "Normal/tiny.png": png_bytes(synthetic_radiograph(8)),
               "Normal/cut.png": film[:200]}
    records = [LabelledImage(name, "Normal", name) for name in members]
    assert readable_digests(records, lambda record: members[record.path]) == {"Normal/film.png": sha(film)}


def test_a_matched_film_lends_its_source_where_the_image_names_none(pool):  # noqa: F811
    """A ZIP's films of this server showed source "-" and no per-source figures, though their records name it."""
    found = {f"Normal/{name}.png": sha(pool.films[name]) for name in ("tested", "copy", "validated", "loose")}
    # copy.png's bytes are listed under two sources (alpha, beta): which one is unknown, so none is lent.
    sources = matched_sources(found, pool.index)
    assert sources == {"Normal/tested.png": "alpha", "Normal/validated.png": "beta"}
    records = [LabelledImage(key, "Normal", key) for key in found]
    records[2] = LabelledImage("Normal/validated.png", "Normal", "v", source="own-clinic")  # its own is kept
    filled, count = with_matched_sources(records, sources)
    assert [record.source for record in filled] == ["alpha", "", "own-clinic", ""] and count == 1


def overlap(model_id: str, **places) -> VersionOverlap:
    return VersionOverlap(model_id, {f"{key}.png": place for key, place in places.items()})


def test_the_page_says_per_version_what_it_saw_and_what_is_left_out():
    a = overlap("cxr-a", x="train", y="validation", z="test", w="outside", v=UNKNOWN)
    b = overlap("cxr-b", x="train", y="train", z="outside", w="outside", v=UNKNOWN)
    table = overlap_table([a, b]).set_index("version")
    assert table.loc["cxr-a"].tolist() == [1, 1, 1, 1, 1] and table.loc["cxr-b"].tolist() == [2, 0, 0, 2, 1]
    assert list(table.columns) == ["trained on", "validation (tuned on)", "test split (held out)",
                                   "never in its data", "not this server's films"]
    left = overlap_sentence([a, b], left_out=True)
    assert left == ("4 of 5 images are labelled films of this server, matched by their bytes to each version's "
                    "split (table below); 2 were in a chosen version's training split (cxr-a: 1, cxr-b: 2): left out "
                    "of the figures, which they would flatter.")
    assert overlap_sentence([a, b], left_out=False).endswith(": kept, so the figures flatter the versions that "
                                                              "trained on them.")
    # The caveat beside the figures speaks of the images scored: kept training images, then unchecked ones.
    kept = zip_caveat([a, b], ["x.png", "y.png", "z.png", "w.png", "v.png"])
    assert kept.startswith("2 scored images are in a version's training split (cxr-a: 1, cxr-b: 2): figures on "
                           "them are no fair test of that version.")
    assert ("1 scored image is in a version's validation split (cxr-a: 1): they chose its epochs, temperature and "
            "thresholds, so figures on them flatter it a little.") in kept
    assert "1 scored image is not among this server's labelled films: whether a version trained on it cannot" in kept
    assert zip_caveat([a, b], ["z.png", "w.png"]) == ""  # nothing trained on, everything matched: nothing to say
    assert zip_caveat(None, ["z.png"]) == ZIP_CAVEAT  # no labelled data to match against
    assert zip_scope([a, b], 2) == ("every readable image in the uploaded ZIP (4 of 5 matched by their bytes to the "
                                    "versions' splits; 2 a version trained on left out)")
    assert zip_scope(None, 0) == ("every readable image in the uploaded ZIP (whether a version trained on any of them "
                                  "cannot be checked)")  # no labelled data on this server to match them against
    assert zip_scope([b], 0) == ("every readable image in the uploaded ZIP (4 of 5 matched by their bytes to the "
                                 "versions' splits; images a version trained on kept)")
    none = overlap("cxr-a", x=UNKNOWN, y=UNKNOWN)
    assert overlap_sentence([none], True).startswith("None of these 2 images is one of this server's labelled films")
    clean = overlap("cxr-a", x="test", y="outside")
    assert overlap_sentence([clean], True).endswith("; no chosen version trained on any of them.")
    assert selection_sentence("ours.zip", 5, 3, 3, "zip", None) == (
        "5 images in ours.zip; 2 left out because at least one version trained on them; all 3 remaining are scored.")
