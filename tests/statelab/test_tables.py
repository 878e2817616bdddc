"""statelab.tables.format_table: what a reader sees in each kind of cell, and errors that name the column."""

import re

import numpy as np
import pandas as pd
import pytest

from statelab import tables


@pytest.fixture()
def frame():
    return pd.DataFrame({
        "program": ["adult", "dislocated_worker"],
        "exiters": np.array([1234, 32], dtype="int64"),
        "rate": [0.656958, np.nan],
        "median": [10354.4, 14548.0],
        "change": [0.1234, -0.05],
        "ratio": [3.14159, 2.0],
        "linked": [True, False],
        "n_nullable": pd.array([5, None], dtype="Int64"),
    })


def _cells(styler):
    """The displayed text of every body cell, row by row, read from the HTML a reader is shown."""
    html = styler.to_html()
    body = html[html.index("<tbody>"):]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_each_kind_of_column_reads_as_people_expect(frame):
    shown = tables.format_table(frame, percent=["rate"], dollars=["median"], signed=["change"],
                                decimals={"ratio": 1})
    rows = _cells(shown)
    assert rows[0] == ["adult", "1,234", "65.7%", "$10,354", "+0.12", "3.1", "yes", "5"]
    assert rows[1] == ["dislocated_worker", "32", "–", "$14,548", "-0.05", "2.0", "no", "–"]


def test_the_index_is_hidden_unless_asked_for(frame):
    html = tables.format_table(frame).to_html()
    assert ">0<" not in html.replace(" ", "")   # no row number column
    indexed = tables.format_table(frame.set_index("program"), index=True).to_html()
    assert "dislocated_worker" in indexed


def test_labels_caption_and_the_data_is_not_changed(frame):
    before = frame.copy()
    html = tables.format_table(frame, percent=["rate"], labels={"rate": "Employed, Q2 after exit"},
                               caption="2021 exiters").to_html()
    assert "Employed, Q2 after exit" in html and "2021 exiters" in html and ">rate<" not in html
    pd.testing.assert_frame_equal(frame, before)


def test_percent_places_and_negative_dollars():
    df = pd.DataFrame({"share": [0.5], "loss": [-1234.5]})
    assert _cells(tables.format_table(df, percent=["share"], dollars=["loss"], percent_decimals=0)) == [
        ["50%", "-$1,234"]]


def test_an_unknown_column_is_named(frame):
    with pytest.raises(KeyError, match="'rates'.*its columns are program, exiters"):
        tables.format_table(frame, percent=["rates"])
    with pytest.raises(TypeError, match="needs a pandas DataFrame, got Series"):
        tables.format_table(frame["rate"])
