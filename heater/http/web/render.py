"""Turning repository content into safe HTML: README Markdown (rendered,
then sanitised by an allow-list) and highlighted source files.

A README's relative links and images resolve at the ref the page shows,
as they would in a checkout: a link to another file opens its file page, an
image loads from the raw URL at the same commit. Links to other sites stay
links (``http``, ``https``, ``mailto`` only); images from other sites are
not loaded (the page makes no third-party requests) and show their text.
"""

from __future__ import annotations

import contextlib
import functools
import posixpath
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

# Larger files are shown plain: highlighting costs per byte, and nobody
# reads a megabyte in a browser tab.
MAX_HIGHLIGHT_BYTES = 256 * 1024
MAX_SHOWN_BYTES = 1024 * 1024

_TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl",
         "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol",
         "p", "pre", "s", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td",
         "th", "thead", "tr", "ul"}
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"},
               "td": {"align"}, "th": {"align"}, "ol": {"start"}}
_LINK_SCHEMES = {"http", "https", "mailto"}


@functools.cache
def _markdown() -> MarkdownIt:
    # Raw HTML in Markdown is allowed (READMEs use it) and cleaned after.
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _relative(target: str, base_dir: str) -> str | None:
    """The repository path a relative link in a file of ``base_dir``
    names (anchors and queries dropped), None if it leaves the repository."""
    path = urlsplit(target).path
    if not path:
        return None
    joined = posixpath.normpath(posixpath.join(base_dir, path.lstrip("/")) if not
                                path.startswith("/") else path.lstrip("/"))
    return None if joined.startswith("..") or joined == "." else joined


def render_readme(text: str, readme_path: str, file_url: str, raw_url: str) -> Markup:
    """``text`` as sanitised HTML. ``file_url`` and ``raw_url`` are URL
    prefixes at the page's commit (``.../files/<sha>``, ``.../raw/<sha>``)."""
    base_dir = posixpath.dirname(readme_path)

    def attribute(tag: str, attr: str, value: str) -> str | None:
        if attr not in ("href", "src"):
            return value
        split = urlsplit(value)
        if split.scheme or value.startswith("//"):
            if tag == "img" or split.scheme.lower() not in _LINK_SCHEMES:
                return None
            return value
        if value.startswith("#"):
            return value
        path = _relative(value, base_dir)
        if path is None:
            return None
        prefix = raw_url if tag == "img" else file_url
        fragment = f"#{split.fragment}" if split.fragment and tag == "a" else ""
        return f"{prefix}/{quote(path)}{fragment}"

    html = _markdown().render(text)
    clean = nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES, attribute_filter=attribute,
                      url_schemes=_LINK_SCHEMES, link_rel="nofollow noopener noreferrer")
    return Markup(clean)  # noqa: S704 - sanitised by nh3 just above


@functools.cache
def _formatter() -> HtmlFormatter[str]:
    # Line numbers are links to their own anchor (#L-12), as code hosts do.
    return HtmlFormatter(linenos="table", anchorlinenos=True, lineanchors="L",
                         lineseparator="\n", cssclass="highlight", wrapcode=True)


# Highlighted files kept per process, by name (which picks the lexer) and
# blob id (a blob never changes), up to this much HTML: highlighting costs
# milliseconds a file, and the same files are read again and again.
MAX_KEPT_HTML = 16 * 1024 * 1024
_kept: OrderedDict[tuple[str, str], Markup | None] = OrderedDict()
_kept_size = 0
_kept_lock = threading.Lock()


def highlight_blob(path: str, blob_id: str, data: bytes) -> Markup | None:
    """:func:`highlight_file` of the blob ``blob_id``, kept for next time."""
    global _kept_size
    key = (path, blob_id)
    with _kept_lock:
        if key in _kept:
            _kept.move_to_end(key)
            return _kept[key]
    html = highlight_file(path, data)
    with _kept_lock:
        if key not in _kept:
            _kept[key] = html
            _kept_size += len(html or "")
            while _kept_size > MAX_KEPT_HTML:
                _old, dropped = _kept.popitem(last=False)
                _kept_size -= len(dropped or "")
    return html


def highlight_file(path: str, data: bytes) -> Markup | None:
    """The file as highlighted HTML with numbered, linkable lines; None
    for a binary or too large file (the page links the raw file instead)."""
    if len(data) > MAX_SHOWN_BYTES or b"\0" in data[:8000]:
        return None
    text = data.decode("utf-8", errors="replace")
    lexer = TextLexer()
    if len(data) <= MAX_HIGHLIGHT_BYTES:
        with contextlib.suppress(ClassNotFound):
            lexer = get_lexer_for_filename(path, stripnl=False)
    return Markup(highlight(text, lexer, _formatter()))  # noqa: S704 - Pygments escapes


@functools.cache
def code_css() -> str:
    """Pygments' colours for highlighted files, light and dark."""
    # get_style_defs has no annotations in the stubs.
    light = HtmlFormatter(style="default").get_style_defs(".highlight")  # type: ignore[no-untyped-call]
    dark = HtmlFormatter(style="monokai").get_style_defs(".highlight")  # type: ignore[no-untyped-call]
    return (f"{light}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n"
            ".highlight .hll, .highlight { background: transparent; }\n")


_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "hunk" | "add" | "del" | "context" | "note"
    old: int | None
    new: int | None
    text: str


def diff_lines(patch: str) -> list[DiffLine]:
    """The lines of a ``git diff`` patch of one file, numbered on both sides
    (the file headers left out: the page names the file)."""
    rows: list[DiffLine] = []
    old = new = 0
    in_hunk = False
    for line in patch.split("\n"):
        match = _HUNK.match(line)
        if match:
            old, new = int(match.group(1)), int(match.group(2))
            in_hunk = True
            rows.append(DiffLine("hunk", None, None, line))
        elif not in_hunk:
            if line.startswith("Binary files"):
                rows.append(DiffLine("note", None, None, line))
        elif line.startswith("+"):
            rows.append(DiffLine("add", None, new, line[1:]))
            new += 1
        elif line.startswith("-"):
            rows.append(DiffLine("del", old, None, line[1:]))
            old += 1
        elif line.startswith("\\"):
            rows.append(DiffLine("note", None, None, line))
        elif line:
            rows.append(DiffLine("context", old, new, line[1:]))
            old += 1
            new += 1
    return rows


def side_by_side(rows: list[DiffLine]) -> list[tuple[DiffLine | None, DiffLine | None]]:
    """``rows`` paired for a split view: each run of removed lines beside
    the added lines that follow it."""
    pairs: list[tuple[DiffLine | None, DiffLine | None]] = []
    removed: list[DiffLine] = []
    added: list[DiffLine] = []

    def flush() -> None:
        for i in range(max(len(removed), len(added))):
            pairs.append((removed[i] if i < len(removed) else None,
                          added[i] if i < len(added) else None))
        removed.clear()
        added.clear()

    for row in rows:
        if row.kind == "del":
            if added:
                flush()
            removed.append(row)
        elif row.kind == "add":
            added.append(row)
        else:
            flush()
            pairs.append((row, row))
    flush()
    return pairs
