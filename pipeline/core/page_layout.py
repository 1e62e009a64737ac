"""Answer first: the order of a rendered report page.

The template (``templates/nbconvert/mnist_report``) writes the page's own ``h1`` and leaves an
empty ``<section id="answer">`` and ``<nav id="toc">`` right after it. ``arrange`` then, on the
HTML that nbconvert made:

- removes the notebook's own ``h1`` (a generic "Model report" for every configuration);
- in the reader view, moves what answers the page's question into the answer section: the
  outputs of cells tagged ``answer`` (a markdown cell tagged so moves whole) and the last
  output of cells tagged ``answer-last``; where they stood, a line links up to them;
- in the learner view (code shown, cells in execution order), puts a link to the first
  answer instead;
- fills the table of contents with the page's ``h2`` sections.
"""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag

ANSWER = "answer"  # cell tag: every output (or the markdown cell) answers the page's question
ANSWER_LAST = "answer-last"  # cell tag: the cell's last output does
MOVED_TEXT = "Shown at the top of this page."
JUMP_TEXT = "Jump to the result"


def _answer_parts(main: Tag) -> list[Tag]:
    """What answers the page, in page order: elements to move (outputs or markdown)."""
    parts: list[Tag] = []
    for el in main.select(f".celltag_{ANSWER}, .celltag_{ANSWER_LAST}"):
        classes = el.get("class", [])
        if "jp-MarkdownOutput" in classes:  # a markdown cell: the rendered text carries the tag
            parts.append(el)
            continue
        outputs = el.select(".jp-OutputArea-child")
        if f"celltag_{ANSWER_LAST}" in classes:
            outputs = outputs[-1:]
        parts.extend(outputs)
    return parts


def _toc(soup: BeautifulSoup, main: Tag, nav: Tag) -> None:
    items = [h for h in main.find_all("h2") if h.get("id") and not h.find_parent(id="answer")]
    if not items:
        nav.decompose()
        return
    heading = soup.new_tag("p", attrs={"class": "toc-title"})
    heading.string = "Contents"
    nav.append(heading)
    ol = soup.new_tag("ol")
    for h in items:
        a = soup.new_tag("a", href=f"#{h['id']}")
        a.string = " ".join(h.get_text(" ", strip=True).removesuffix("¶").split())
        li = soup.new_tag("li")
        li.append(a)
        ol.append(li)
    nav.append(ol)


def arrange(html: str, *, show_code: bool) -> str:
    """The page with its answer first (reader view) or linked (learner view) and a contents list."""
    soup = BeautifulSoup(html, features="html.parser")
    main = soup.find("main")
    answer, nav = soup.find(id="answer"), soup.find(id="toc")
    if main is None or answer is None or nav is None:
        raise ValueError("the page has no <main>, #answer or #toc: not made by the mnist_report template")
    for h1 in main.select(".jp-Cell h1"):  # the page's h1 is the template's
        h1.decompose()
    parts = _answer_parts(main)
    if show_code:
        if parts:
            target = parts[0].find_parent(class_="jp-Cell") or parts[0]
            target["id"] = target.get("id") or "answer-cell"
            p = soup.new_tag("p", attrs={"class": "jump"})
            link = soup.new_tag("a", href=f"#{target['id']}")
            link.string = JUMP_TEXT
            p.append(link)
            answer.append(p)
        else:
            answer.decompose()
    else:
        stubbed: list[Tag] = []  # one line per cell where its answer stood
        for part in parts:
            cell = part.find_parent(class_="jp-Cell")
            if any(cell is c for c in stubbed):
                part.extract()
            else:
                stubbed.append(cell)
                stub = soup.new_tag("p", attrs={"class": "moved"})
                link = soup.new_tag("a", href="#answer")
                link.string = MOVED_TEXT
                stub.append(link)
                part.replace_with(stub)
            answer.append(part)
        if not parts:
            answer.decompose()
    _toc(soup, main, nav)
    return str(soup)
