"""How much of a set of labelled images each version has already seen.

A team evaluating on "its own" images may hand in films of this server's own data pool (a ZIP made from
a download of a public collection, or a folder per class copied under the data roots). A version scores
well on films it trained on, so such figures flatter it. The images are recognised by their bytes among
the labelled films (`model.known_films`: SHA-256 of the file, then the split of its patient in each
version's data, as Diagnose and the gallery re-make it), and each version's share of them is counted.

    index = index_films(data_roots())                      # the dashboard caches it
    overlaps = data_overlap(cards, {key: sha256}, index)   # one VersionOverlap per card
    learnt = trained_on_any(overlaps)                      # keys of the images any version trained on
    sources = matched_sources(digests, index)              # {key: source} of the films whose records name one
    records, filled = with_matched_sources(records, sources)  # a ZIP's records, their source filled in
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from model.inputs.intake import XrayInputError, load_xray
from model.known_films import SEEN_ORDER, FilmIndex, film_split, find_film

UNKNOWN = "unknown"  # not one of this server's labelled films: where it falls cannot be checked
PLACES = (*SEEN_ORDER, UNKNOWN)


@dataclass(frozen=True)
class VersionOverlap:
    """Where one version's data put a set of images.

    Attributes:
        model_id: the version's registry id.
        places: {image key: "train" | "validation" | "test" | "outside" | "unknown"}: "outside" is a labelled
            film of this server the version's data never held, "unknown" an image that is no labelled film here.
        notes: `assign_splits`' notes when a legacy split was re-made on other data than recorded.
    """

    model_id: str
    places: dict[str, str]
    notes: tuple[str, ...] = ()

    def count(self, place: str) -> int:
        """How many of the images are in `place` (one of `PLACES`)."""
        if place not in PLACES:
            raise ValueError(f"place must be one of {PLACES}, got {place!r}")
        return sum(value == place for value in self.places.values())

    @property
    def trained_on(self) -> list[str]:
        """The keys of the images this version was fitted on (its training split)."""
        return [key for key, place in self.places.items() if place == "train"]


def image_places(card, digests: dict[str, str], index: FilmIndex) -> tuple[dict[str, str], tuple[str, ...]]:
    """Each image's place in `card`'s data ({key: place}, see `VersionOverlap.places`) and the notes of the
    splits re-made: `model.known_films.film_split`'s place for each (the one Diagnose shows), each dataset's
    split re-made once for all the images."""
    splits: dict = {}
    places = {}
    for key, digest in digests.items():
        seen = film_split(card, find_film(index, digest), index, splits)
        places[key] = UNKNOWN if seen is None else seen.split
    notes = dict.fromkeys(note for _, note in splits.values() if note)  # in the order first made, once each
    return places, tuple(notes)


def data_overlap(cards, digests: dict[str, str], index: FilmIndex) -> list[VersionOverlap]:
    """Where each of `cards` has the images whose SHA-256 digests are `digests` ({image key: digest})."""
    return [VersionOverlap(card.id, *image_places(card, digests, index)) for card in cards]


def trained_on_any(overlaps: list[VersionOverlap]) -> set[str]:
    """The keys of the images at least one version trained on: the ones that flatter a comparison."""
    return {key for overlap in overlaps for key in overlap.trained_on}


def recognised(overlaps: list[VersionOverlap]) -> int:
    """How many of the images are labelled films of this server (the same for every version)."""
    return 0 if not overlaps else len(overlaps[0].places) - overlaps[0].count(UNKNOWN)


def readable_digests(records, load) -> dict[str, str]:
    """{record path: SHA-256 of its bytes} of the records whose bytes are an image the intake reads
    (`load(record)` gives the bytes). An unreadable file is never scored, so it has no place in what the figures
    rest on: counted among "not this server's films", an empty file read as an image nobody can check."""
    digests = {}
    for record in records:
        data = load(record)
        try:
            load_xray(data)
        except XrayInputError:
            continue
        digests[record.path] = hashlib.sha256(data).hexdigest()
    return digests


def matched_sources(digests: dict[str, str], index: FilmIndex) -> dict[str, str]:
    """{image key: source} of the images matched by their bytes to labelled films whose records name one source
    (records of the same bytes naming two sources leave the image out: which one it came from is unknown)."""
    sources = {}
    for key, digest in digests.items():
        named = {film.record.source for film in find_film(index, digest) if film.record.source}
        if len(named) == 1:
            sources[key] = named.pop()
    return sources


def with_matched_sources(records, sources: dict[str, str]) -> tuple[list, int]:
    """The records with the source of their matched film (`matched_sources`) where they name none themselves,
    and how many were filled in: a ZIP of this server's films names no source, yet their records do."""
    filled = [replace(record, source=sources[record.path]) if not record.source and record.path in sources
              else record for record in records]
    return filled, sum(new is not old for new, old in zip(filled, records))
