"""Figures in a page's tables: a missing one reads "–", never "None" (st.dataframe ignores a Styler's na_rep)."""
import numpy as np
import pandas as pd


def test_figures_go_to_the_table_as_printed_text_right_aligned():
    from dashboard.widgets import figures_as_text

    table = pd.DataFrame({"rule": ["low", "odd", "none"], "fires on": [0.547, np.nan, None], "images": [3, 4, 5]})
    shown, config = figures_as_text(table, {"fires on": "{:.0%}", "absent": "{:.0%}"}, {"rule": "check"})
    assert shown["fires on"].tolist() == ["55%", "–", "–"] and shown["images"].tolist() == [3, 4, 5]
    assert table["fires on"].isna().sum() == 2  # the caller's table is left as it was
    assert config["fires on"]["type_config"]["type"] == "text" and config["fires on"]["alignment"] == "right"
    assert config["rule"]["label"] == "check" and "absent" not in config and "images" not in config
    renamed, config = figures_as_text(table, {"fires on": "{:.2f}"}, {"fires on": "share"}, missing="n/a")
    assert renamed["fires on"].tolist() == ["0.55", "n/a", "n/a"] and config["fires on"]["label"] == "share"
