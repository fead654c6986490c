"""About: what the tool is and is not, the registry's models, the data and its licences, adding a model."""
from __future__ import annotations

import streamlit as st

from dashboard import caching, widgets
from model.policy import INTENDED_POPULATION
from model.present.registry_tables import models_table, sources_table

WHAT_IT_IS = """
This dashboard shows **why** a chest X-ray classifier leaned towards COVID-19, other pneumonia or a
normal film: class probabilities, explanation maps (Grad-CAM, Grad-CAM++, LayerCAM, Score-CAM, SmoothGrad),
cells hidden on the film's grid to see what the model says without them (*Hide regions on the film's grid*;
occlusion, in the literature) and the same for every cell in turn as a cross-check of the maps that does not
depend on how the network is built, next to the model's test metrics, calibration and the provenance of its
training data.

**It is decision support for research and teaching, not a diagnosis.** It is not a medical device, it
has not been validated on any hospital's images, and its probabilities are not calibrated for your
population. A heatmap shows where the model looked, not where disease is. Uploaded images are analysed
in memory and never stored.
"""

SHORTCUT_TRAP = """
In the public pool the classes are spread unevenly over the collections: the first manifest's normal
films nearly all come from NIH ChestX-ray14, the second's from NIH and one teaching collection, and the
COVID-19 films only from other collections (each model's Performance page names its own mix). A network
can reach a high test score by recognising the **source** (scanner, text
markers, borders, processing) instead of the disease. Signs of it: maps that light up corners, labels or
the area outside the lungs; accuracy that collapses on another source (see *By data source* on the
performance page); and hiding the lungs' cells on the film's grid changing nothing. The cards' notes say what
each model did against it (border cropping, lung cropping and masking, contrast equalisation, augmentation,
source balancing).
"""

# The models table's columns whose cells are one token each: a break inside them splits a name.
UNBROKEN = ("created", "id")
WRAPPED_MIN = "10em"  # the architecture column's least width: "ensemble(small_resnet," on one line at 1366 px

ADD_A_MODEL = f"""
The registry is the folder `model/versions/`, or the folder named by the environment variable
`CXR_REGISTRY` (in force now: `{{root}}`). Each sub-folder is one model:

* train one: `python -m training.train --data ../shared/data/cxr/manifest-v2.csv --arch compact_cnn --model-id my-model`
  (a network from scratch), or fine-tune a pretrained one: `--backbone mobilenet --weights imagenet` (or a saved
  weights file); every recipe option against the source shortcut is an option of this one command
  (`python -m training.train --help`), and it writes a complete entry whose card records the command; or
* drop in a folder holding `model.keras` (Keras 3 format), `card.json` (labels, preprocessing, the layer
  to explain, provenance, notes), `history.csv` (one row per epoch) and `metrics.json` (test-split
  report).

The dashboard picks new entries up on the next interaction. Entries whose card cannot be read are listed
with the reason and otherwise ignored. Uploads are limited to {widgets.UPLOAD_LIMIT_MB} MB.
"""


def main() -> None:
    widgets.page_title("About")
    st.markdown(WHAT_IT_IS)
    st.subheader("Who the models are for")
    st.markdown(f"{INTENDED_POPULATION} Every image gets a triage status: **answer**, **uncertain** (the "
                "answer with a second read advised) or **out of scope** (a film the model was not made for, "
                "such as a lateral view, a CT slice, a photograph or an inverted film: no answer is shown by "
                "default). Each status comes with its reasons.")
    st.subheader("Models in the registry")
    cards = [status.card for status in caching.entries() if status.card is not None]
    if cards:
        # A static table: its long cells wrap, where a grid cut the last columns even at 1920 px. Ids and dates
        # do not: broken at their hyphens ("cxr-/mobilenet-/v3") they read as three words at 1366 px, while
        # the architecture beside them has room to wrap.
        table = models_table(cards).set_index("model")
        # On the paragraph inside each cell: Streamlit's markdown sets `white-space: normal` there.
        # The architecture may break inside a word (CSS, not zero-width spaces in the text, which a copy would
        # carry): "two_channel(ensemble(mobilenet," unbroken pushed the table past the right edge at 1366 px
        # once the ids kept their width. Its minimum width keeps the short names ("small_resnet") whole.
        st.table(table.style.set_table_styles([{"selector": f"td.col{table.columns.get_loc(name)} p",
                                                "props": "white-space: nowrap;"} for name in UNBROKEN]
                                              + [{"selector": f"td.col{table.columns.get_loc('architecture')} p",
                                                  "props": f"overflow-wrap: anywhere; min-width: {WRAPPED_MIN};"}]))
        st.caption("Accuracy and macro AUC are each model's own internal test split ('tested on'): rows tested "
                   "on different films do not compare (with fewer sources, the source gives the class away more "
                   "easily). To rank versions, score them on the same films in *Compare versions* or *Evaluate on "
                   "your data*. The sources each model trained on are under *Data sources and licences* below.")
    if not caching.usable_cards():
        st.warning(f"No usable classifier in the registry at `{caching.registry_folder()}` yet.",
                   icon=":material/warning:")
    widgets.broken_entries()
    st.subheader("Data sources and licences")
    # A table wraps its long origins and licences; the models using a source, one a line (a markdown line break),
    # each whole: broken at its hyphens or spaces a name ran into the next ("cxr-mobilenet-" / "v2" at 1366 px).
    sources = sources_table(cards, between="  \n").set_index("source")
    st.table(sources.style.set_table_styles([{"selector": f"td.col{sources.columns.get_loc('used by')} p",
                                              "props": "white-space: nowrap;"}]))
    st.subheader("The source-shortcut trap")
    st.markdown(SHORTCUT_TRAP)
    st.subheader("Adding a model")
    st.markdown(ADD_A_MODEL.format(root=caching.registry_folder()))


main()
