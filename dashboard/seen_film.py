"""The note Diagnose and Compare show when the film is one of the labelled films (`model.known_films`).

The index of the labelled films is cached here per data roots and their version (`datasets_version`: the
folders' and manifests' modification times): hashing every file takes seconds, once per server and again
only when a manifest or a film is added, removed or edited (a few milliseconds to tell, on every run).
Without configured data roots nothing is hashed and nothing is shown. Uploads are only hashed in memory
(their digest is the page's own), never written anywhere.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import widgets
from model.known_films import FilmIndex, SeenFilm, film_split, find_film, from_teaching, index_films, seen_sentence
from model.labelled_data import data_roots, datasets_version


@st.cache_resource(max_entries=2, show_spinner=False)
def film_index(roots: tuple[str, ...], version: str) -> FilmIndex:
    """The labelled films under `roots`; `version` is only the cache's key (a changed manifest is re-read)."""
    return index_films([Path(root) for root in roots])


def seen_film(card, image_digest: str) -> tuple[SeenFilm | None, bool]:
    """Where this film falls in `card`'s data, and whether a gallery teaching case said so: its own split
    for this model, else the labelled film with the same bytes under the data roots (None: not a labelled
    film, or no data roots)."""
    known = from_teaching(widgets.teaching_case(image_digest), card.id)
    if known is not None:
        return known, True
    index = labelled_index("Looking the film up among the labelled films…")
    if index is None:
        return None, False
    return film_split(card, find_film(index, image_digest), index), False


def labelled_index(message: str) -> FilmIndex | None:
    """The labelled films under the configured data roots, re-read when they change (`film_index`), with
    `message` as the spinner's words; None without data roots (then nothing can be matched)."""
    roots = data_roots()
    if not roots:
        return None
    with st.spinner(message):
        return film_index(tuple(str(root) for root in roots), datasets_version(roots))


def seen_note(card, image_digest: str, short: bool = False) -> tuple[str, bool] | None:
    """One note when the film is a labelled one: a warning when the model learnt from it, else information
    (with its true label). `short`: a caption in fewer words, for a version's column on Compare. On Diagnose a
    teaching case's own box already gives its label, source and split: only a learnt-from warning is added.
    Returns (the sentence shown, whether as a warning), for the report; None when nothing was shown."""
    seen, teaching = seen_film(card, image_digest)
    if seen is None or (teaching and not short and not seen.learnt_from):
        return None
    sentence = seen_sentence(seen, short=short)
    if short:
        icon = ":orange[:material/model_training:]" if seen.learnt_from else ":blue[:material/fact_check:]"
        st.caption(f"{icon} {sentence}")
    elif seen.learnt_from:  # a line, as the status's cautions under it: a box pushed the output below the fold
        st.caption(f":orange[:material/model_training: {sentence}]")
    else:
        st.caption(f":blue[:material/fact_check:] {sentence}")
    return sentence, seen.learnt_from
