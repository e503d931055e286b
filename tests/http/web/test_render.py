"""README rendering and sanitising, and diffs split into numbered lines."""

from __future__ import annotations

from heater.http.web.render import diff_lines, highlight_file, render_readme, side_by_side

PATCH = """diff --git a/t.yaml b/t.yaml
index 1..2 100644
--- a/t.yaml
+++ b/t.yaml
@@ -3,3 +3,3 @@ resources:
 a: 1
-b: 2
+b: 3
 c: 4
\\ No newline at end of file
"""


def test_diff_lines_are_numbered_on_both_sides() -> None:
    rows = [(r.kind, r.old, r.new, r.text) for r in diff_lines(PATCH)]
    assert rows == [
        ("hunk", None, None, "@@ -3,3 +3,3 @@ resources:"),
        ("context", 3, 3, "a: 1"), ("del", 4, None, "b: 2"), ("add", None, 4, "b: 3"),
        ("context", 5, 5, "c: 4"), ("note", None, None, "\\ No newline at end of file")]


def test_side_by_side_pairs_removed_with_added_lines() -> None:
    pairs = side_by_side(diff_lines(PATCH))
    changed = [(left.text if left else None, right.text if right else None)
               for left, right in pairs if (left or right) and
               (left or right).kind in ("add", "del")]  # type: ignore[union-attr]
    assert changed == [("b: 2", "b: 3")]


def test_readme_keeps_safe_markup_and_drops_the_rest() -> None:
    html = str(render_readme(
        "[a](sub/b.md#x) [up](../../out) ![i](i.png) [w](https://example.org) "
        "<img src=x onerror=alert(1)> <iframe src=https://example.org></iframe>"
        "<a href=\"data:text/html,x\">d</a>",
        "docs/README.md", "/ns/n/files/abc", "/ns/n/raw/abc"))
    assert 'href="/ns/n/files/abc/docs/sub/b.md#x"' in html
    assert 'src="/ns/n/raw/abc/docs/i.png"' in html
    assert 'href="https://example.org"' in html and 'rel="nofollow noopener noreferrer"' in html
    assert "onerror" not in html and "iframe" not in html and "data:" not in html
    assert "../../out" not in html


def test_binary_and_huge_files_are_not_highlighted() -> None:
    assert highlight_file("a.bin", b"\0\1\2") is None
    assert highlight_file("a.txt", b"x" * (2 * 1024 * 1024)) is None
    shown = str(highlight_file("t.yaml", b"a: <b>\n"))
    assert "&lt;b&gt;" in shown and 'id="L-1"' in shown
