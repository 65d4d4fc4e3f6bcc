"""HTML loader: the page's main text, split into sections at h1-h6, chrome left out."""

from __future__ import annotations

import warnings
from pathlib import Path

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.element import NavigableString, PreformattedString, Tag

from indexer.loaders.decode import read_text
from indexer.loaders.limits import LoadLimits
from indexer.loaders.sections import SectionBuilder
from rag.errors import LoaderError
from rag.types import Document, Section

# Never content: code, styling, navigation and interactive chrome.
_DROP = ["script", "style", "noscript", "nav", "aside", "form", "template", "svg", "iframe"]
# Site banner and footer, but only at page level: inside an article they hold its title.
_CHROME = ["header", "footer"]
_SECTIONING = ["article", "main", "section"]
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS = {
    "address", "article", "blockquote", "body", "dd", "details", "div", "dl", "dt",
    "figcaption", "figure", "hr", "li", "main", "ol", "p", "section", "summary", "ul",
}  # fmt: skip


def load_html(path: Path, doc_id: str, limits: LoadLimits) -> list[Document]:
    """Load an .html/.htm page; prefers <main>, then <article>, else the whole body."""
    with warnings.catch_warnings():
        # Harmless guesses about the input (XHTML, a tiny file that looks like a URL).
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(read_text(path), "lxml")
    _check_depth(soup, limits.max_html_depth)
    title = " ".join(soup.title.get_text().split()) if soup.title else ""
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for tag in soup.find_all(_CHROME):
        if tag.find_parent(_SECTIONING) is None:
            tag.decompose()
    walker = _Walker()
    for root in _roots(soup):
        walker.walk(root)
    sections = walker.finish()
    first_h1 = soup.find("h1")
    if not title and first_h1 is not None:
        title = " ".join(first_h1.get_text(" ").split())
    return [Document(id=doc_id, sections=sections, title=title or path.stem)]


def _check_depth(soup: BeautifulSoup, limit: int) -> None:
    """LoaderError when elements nest deeper than `limit`; measured without recursion."""
    # The walk below and BeautifulSoup's own tree helpers recurse once per level, so a deep
    # page would end in RecursionError; measured here first, the file gets a clear reason.
    depth: dict[int, int] = {id(soup): 0}
    for node in soup.descendants:
        if isinstance(node, Tag):
            level = depth[id(node.parent)] + 1
            if level > limit:
                raise LoaderError(
                    f"HTML nests elements more than {limit} levels deep "
                    "(limit RAG_INGEST_MAX_HTML_DEPTH)"
                )
            depth[id(node)] = level


def _roots(soup: BeautifulSoup) -> list[Tag]:
    """The main content: <main>, else top-level <article>s, else <body>."""
    main = soup.find("main")
    if main is not None:
        return [main]
    articles = [a for a in soup.find_all("article") if a.find_parent("article") is None]
    if articles:
        return articles
    return [soup.body or soup]


def _table_text(table: Tag) -> str:
    """One line per row, cells joined by ' | '."""
    rows = []
    caption = table.find("caption")
    if caption is not None:
        rows.append(" ".join(caption.get_text(" ").split()))
    for tr in table.find_all("tr"):
        cells = [" ".join(c.get_text(" ").split()) for c in tr.find_all(["th", "td"])]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(r for r in rows if r)


class _Walker:
    """Depth-first walk that turns inline text into paragraphs and headings into sections."""

    def __init__(self) -> None:
        self._builder = SectionBuilder()
        # The open paragraph: its lines (split by <br>), each a list of text fragments.
        self._lines: list[list[str]] = [[]]

    def walk(self, node: Tag) -> None:
        """Add the text under `node`."""
        for child in node.children:
            if isinstance(child, PreformattedString):  # comments, doctype, CDATA
                continue
            if isinstance(child, NavigableString):
                self._lines[-1].append(str(child))
            elif isinstance(child, Tag):
                self._element(child)

    def finish(self) -> tuple[Section, ...]:
        """Close the open paragraph and return the sections."""
        self._paragraph()
        return self._builder.build()

    def _element(self, tag: Tag) -> None:
        name = tag.name
        if name in _HEADINGS:
            self._paragraph()
            self._builder.heading(_HEADINGS[name], tag.get_text(" "))
        elif name == "br":
            self._lines.append([])
        elif name == "pre":
            self._paragraph()
            self._builder.add(tag.get_text())  # code keeps its line breaks and indentation
        elif name == "table":
            self._paragraph()
            self._builder.add(_table_text(tag))
        elif name in _BLOCKS:
            self._paragraph()
            self.walk(tag)
            self._paragraph()
        else:
            self.walk(tag)

    def _paragraph(self) -> None:
        # Source line breaks are layout, not content: collapse them, keep only <br> breaks.
        lines = (" ".join("".join(parts).split()) for parts in self._lines)
        self._lines = [[]]
        self._builder.add("\n".join(line for line in lines if line))
