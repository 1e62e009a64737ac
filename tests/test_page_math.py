"""TeX → MathML when a page is built (pipeline/core/page_math.py), through nbconvert itself."""

from __future__ import annotations

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from pipeline.core.page_math import MathError, MathMLPreprocessor, markdown_with_mathml, to_mathml


def test_inline_and_display_math_become_mathml():
    html = markdown_with_mathml("A $28 \\times 28$ grid.\n\n$$x' = \\frac{x}{255}$$")
    assert "$" not in html
    assert html.count("<math ") == 2
    assert 'display="inline"' in html and 'display="block"' in html
    assert html.count('tabindex="0"') == html.count('display="block"')  # a scrolling formula is reachable
    assert "<mo>&#x000D7;</mo>" in html and "<mfrac>" in html
    assert 'alttext="28 \\times 28"' in html  # the source, for screen readers and copying


def test_code_escaped_dollars_and_prices_are_left_alone():
    text = "Set `$MNIST_REPORTS_SAMPLE` or\n```\necho $HOME $PATH\n```\nit costs \\$5 and $ 3 $ too."
    assert markdown_with_mathml(text) == text


def test_inline_math_does_not_span_lines_or_start_with_a_space():
    assert markdown_with_mathml("from $5 to\n$6") == "from $5 to\n$6"
    assert "<math" in markdown_with_mathml("a set $\\{0, 1\\}$.")


def test_alttext_is_escaped():
    assert 'alttext="a &lt; b"' in to_mathml("a < b")


def test_bad_tex_names_the_expression_and_the_cell():
    with pytest.raises(MathError, match=r"\\\\frac\{"):
        to_mathml("\\frac{")
    nb = new_notebook(cells=[new_markdown_cell("fine $x$"), new_markdown_cell("broken $\\frac{$ here")])
    with pytest.raises(MathError, match="markdown cell 2: cannot convert the TeX"):
        MathMLPreprocessor().preprocess(nb, {})


def _render(nb) -> str:
    exporter = HTMLExporter(template_name="lab")
    exporter.register_preprocessor(MathMLPreprocessor(), enabled=True)
    body, _ = exporter.from_notebook_node(nb)
    return body


def test_markdown_cells_and_markdown_outputs_render_as_mathml_with_nbconvert():
    out = new_output("display_data", data={"text/markdown": "mean $\\bar{x}$ of **2** seeds", "text/plain": "x"})
    nb = new_notebook(cells=[new_markdown_cell("## Scale\n\nInputs in $[0, 1]$; $$s = \\sqrt{v}$$"),
                             new_code_cell("display(Markdown(...))", outputs=[out])])
    body = _render(nbformat.from_dict(nb))
    main = body[body.index("<main>"):]
    assert main.count("<math ") == 3 and "<msqrt>" in main and "<strong>2</strong>" in main
    assert "$" not in main.replace("$MNIST", "")
    assert "&lt;math" not in body  # inline HTML, not escaped text
