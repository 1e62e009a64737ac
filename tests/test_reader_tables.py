"""Tables as readers see them (pipeline/core/reader_tables.py): one header row, words for
flags, numbers printed by core/numbers, never a Python repr."""

from __future__ import annotations

import re

import pandas as pd

from pipeline.core import reader_tables


def _header_rows(html: str) -> int:
    return len(re.findall(r"<tr[ >]", html.split("</thead>")[0]))


def test_a_named_index_gives_one_header_row_and_no_empty_header():
    frame = pd.DataFrame({"accuracy": [0.97, -0.00001], "dropout": [True, False]},
                         index=pd.Index([0, 1], name="seed"))
    plain = frame.to_html()
    assert _header_rows(plain) == 2  # what pandas gives: the cause of axe's empty-table-header
    html = reader_tables.show(frame).to_html()
    assert _header_rows(html) == 1
    assert re.findall(r"<th [^>]*>([^<]*)</th>", html) == ["seed", "accuracy", "dropout"]
    assert ">yes<" in html and ">no<" in html and "True" not in html and "False" not in html
    assert "0.9700" in html and "-0.0000" not in html


def test_column_levels_are_joined_and_an_unnamed_index_is_named():
    frame = pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("loss", "a"), ("loss", "b")]), index=["x"])
    html = reader_tables.show(frame, index="variant").to_html()
    assert _header_rows(html) == 1
    assert re.findall(r"<th [^>]*>([^<]*)</th>", html) == ["variant", "loss · a", "loss · b"]


def test_formats_follow_the_one_formatting_helper():
    assert reader_tables.cell(0.9975, "{:.4%}") == "99.7500 %"
    assert reader_tables.cell(0.5, "{:.2%}") == "50.00 %"
    assert reader_tables.cell(-0.00001, "{:+.4f}") == "0.0000"
    assert reader_tables.cell(True, "yes/no") == "yes"


def test_a_mapping_is_a_table_not_a_repr():
    html = reader_tables.key_values({"images": {"train": 60000, "test": 10000}, "pixel_mean": 0.1307,
                                     "classes": [0, 1]}).to_html()
    assert "images · train" in html and "60,000" in html and "0.1307" in html and "0, 1" in html
    assert "{" not in html.split("</style>")[-1] and _header_rows(html) == 1
