"""The text diff between two commits, equal to what ``git diff`` prints.

libgit2 (through pygit2) diffs the two trees and writes the patches with
git's defaults: three lines of context, binary files (a NUL byte in the
first 8000) printed as ``Binary files ... differ``. Renames are paired as
git pairs them (:mod:`heater.diff.renames`), and their headers written
here, since libgit2's own rename detection scores and pairs differently.

Size is bounded, never time, and checked before a file is read: a text
file larger than :data:`MAX_FILE_BYTES` gets no line diff, a binary one
whose two sides pass :data:`MAX_BINARY_PATCH_INPUT` no ``--binary`` patch
(only git's "Binary files ... differ"), and once the patches so far reach
:data:`MAX_PATCH_BYTES` (or the files compared :data:`MAX_COMPARED_BYTES`)
the remaining files are listed without one. Either
way the result says it was cut (``truncated``) and which files lack a patch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pygit2
from pygit2.enums import DeltaStatus, DiffOption

from heater.diff.renames import Rename, Side, find_renames
from heater.diff.similarity import looks_binary, percent

# A reviewer reads a few thousand lines; a larger diff is cut rather than
# built, serialised and sent in full.
MAX_PATCH_BYTES = 4 * 1024 * 1024
# Line-diffing one huge file is the expensive step; beyond this size a text
# file is listed with its status only.
MAX_FILE_BYTES = 1024 * 1024
# What line diffs may read in all: many large files with small changes
# make small patches but cost their whole size.
MAX_COMPARED_BYTES = 64 * 1024 * 1024
# The --binary form deflates and base85-encodes both sides: seconds of CPU
# for tens of MiB, and larger than MAX_PATCH_BYTES anyway. Past this, a
# binary file is shown as `git diff` shows it without --binary.
MAX_BINARY_PATCH_INPUT = 1024 * 1024
# Beyond this a file is taken as binary unread (git's core.bigFileThreshold
# does the same, at 512 MiB).
MAX_INSPECT_BYTES = 64 * 1024 * 1024
CONTEXT_LINES = 3

_STATUS = {
    DeltaStatus.ADDED: "added",
    DeltaStatus.DELETED: "removed",
    DeltaStatus.MODIFIED: "modified",
    DeltaStatus.TYPECHANGE: "modified",
}


@dataclass
class FileDiff:
    """One changed file. ``path`` is its path in ``to`` (in ``from`` when
    removed); ``old_path`` its path in ``from`` (None when added).

    ``patch`` is the file's part of ``git diff`` (None when cut);
    ``binary_patch`` the same as ``git diff --binary`` prints it, set only
    for binary files, so that a patch built from it applies.
    """

    status: str  # "added" | "removed" | "modified" | "renamed"
    path: str
    old_path: str | None
    old_id: str | None
    new_id: str | None
    binary: bool = False
    old_size: int | None = None  # bytes, once the patch was considered
    new_size: int | None = None
    similarity: int | None = None
    additions: int | None = None
    deletions: int | None = None
    patch: bytes | None = None
    binary_patch: bytes | None = None
    cut: str | None = None  # why ``patch`` is missing: "file_too_large" | "diff_too_large"

    def as_json(self) -> dict[str, object]:
        return {
            "status": self.status,
            "path": self.path,
            "old_path": self.old_path,
            "old_id": self.old_id,
            "new_id": self.new_id,
            "binary": self.binary,
            "old_size": self.old_size,
            "new_size": self.new_size,
            "similarity": self.similarity,
            "additions": self.additions,
            "deletions": self.deletions,
            "patch": None if self.patch is None else self.patch.decode("utf-8", "replace"),
            "truncated": self.cut is not None,
            "truncated_reason": self.cut,
        }


@dataclass
class TextDiff:
    """The changed files; ``truncated`` when some lack their patch,
    ``renames_limited`` when rename detection stopped at its bounds;
    ``binary_omitted`` names the binary files too large for a ``--binary``
    patch (their ``patch`` only says that they differ)."""

    files: list[FileDiff] = field(default_factory=list)
    truncated: bool = False
    renames_limited: bool = False
    binary_omitted: list[str] = field(default_factory=list)

    def unified(self) -> bytes:
        """A patch that ``git apply`` accepts on a checkout of ``from``
        (given ``binary_patches``): ``git diff`` for text, ``git diff
        --binary`` for binary files. When the diff was cut, the files
        without a patch are left out of it; binary files in
        ``binary_omitted`` are only said to differ."""
        return b"".join(f.binary_patch or f.patch or b"" for f in self.files)

    @property
    def additions(self) -> int:
        return sum(f.additions or 0 for f in self.files)

    @property
    def deletions(self) -> int:
        return sum(f.deletions or 0 for f in self.files)


@dataclass(frozen=True)
class _Made:
    """A file's patch as built: its bytes, whether it is binary, line counts."""

    data: bytes
    binary: bool
    additions: int = 0
    deletions: int = 0


# Builds a file's patch; True asks for the ``--binary`` form.
_PatchMaker = Callable[[bool], _Made]


def text_diff(git: pygit2.Repository, old: pygit2.Commit, new: pygit2.Commit,
              *, patches: bool = True, binary_patches: bool = False,
              max_patch_bytes: int = MAX_PATCH_BYTES,
              max_file_bytes: int = MAX_FILE_BYTES) -> TextDiff:
    """Every file that differs between ``old`` and ``new``, in ``git diff``
    order (a rename where its new path sorts), with its patch unless
    ``patches`` is false (a listing is enough for a verdict), and with the
    ``--binary`` form of binary files if ``binary_patches`` (for
    :meth:`TextDiff.unified`)."""
    result = TextDiff()
    if old.tree.id == new.tree.id:
        return result
    work = _Work(git, old.tree, new.tree)
    budget, compared = max_patch_bytes, 0
    entries = work.entries()
    result.renames_limited = work.renames_limited
    for entry, make in entries:
        result.files.append(entry)
        if not patches:
            continue
        sizes = work.size(entry.old_id), work.size(entry.new_id)
        entry.old_size = None if entry.old_id is None else sizes[0]
        entry.new_size = None if entry.new_id is None else sizes[1]
        compared += sum(sizes)
        # The budgets are checked before a file is read, never after.
        if budget <= 0 or compared > MAX_COMPARED_BYTES:
            entry.cut = "diff_too_large"
        elif max(sizes) > max_file_bytes:
            entry.binary = work.binary(entry.old_id) or work.binary(entry.new_id)
            if not entry.binary:
                entry.cut = "file_too_large"
        if entry.cut is not None:
            result.truncated = True
            continue
        made = make(False)
        entry.binary = entry.binary or made.binary
        if entry.binary and binary_patches:
            if sum(sizes) > MAX_BINARY_PATCH_INPUT:
                # Only git's "Binary files ... differ" line, as `git diff`
                # without --binary prints it: the file cannot be applied.
                result.binary_omitted.append(entry.path)
            else:
                entry.binary_patch = make(True).data
        budget -= len(made.data) + len(entry.binary_patch or b"")
        if budget < 0:
            # This file would overflow the limit: it is cut too, so that a
            # truncated patch still holds whole files only.
            entry.cut = "diff_too_large"
            entry.binary_patch = None
            result.truncated = True
            continue
        entry.patch = made.data
        if not entry.binary:
            entry.additions, entry.deletions = made.additions, made.deletions
    return result


class _Work:
    """The state of one diff: libgit2's deltas and git's rename pairs."""

    def __init__(self, git: pygit2.Repository, old: pygit2.Tree, new: pygit2.Tree) -> None:
        self.git = git
        self.old, self.new = old, new
        self.diff = _tree_diff(old, new, DiffOption.NORMAL)
        self._binary_diff: pygit2.Diff | None = None
        self._sizes: dict[str, int] = {}
        self.renames_limited = False

    def entries(self) -> list[tuple[FileDiff, _PatchMaker]]:
        deltas = list(self.diff.deltas)
        removed = [i for i, d in enumerate(deltas) if d.status == DeltaStatus.DELETED]
        added = [i for i, d in enumerate(deltas) if d.status == DeltaStatus.ADDED]
        # A path removed and added at once changed type (file <-> symlink):
        # git prints it as both, and never as part of a rename.
        retyped = {deltas[i].old_file.path for i in removed} & {
            deltas[i].new_file.path for i in added}
        removed = [i for i in removed if deltas[i].old_file.path not in retyped]
        added = [i for i in added if deltas[i].new_file.path not in retyped]
        renames = find_renames([_side(deltas[i].old_file) for i in removed],
                               [_side(deltas[i].new_file) for i in added],
                               self.read, self.size)
        self.renames_limited = renames.limited
        by_destination = {added[r.destination]: r for r in renames.pairs}
        sources = {removed[r.source] for r in renames.pairs}
        out: list[tuple[FileDiff, _PatchMaker]] = []
        for index, delta in enumerate(deltas):
            if index in sources:
                continue
            rename = by_destination.get(index)
            if rename is not None:
                source = deltas[removed[rename.source]].old_file
                out.append(self._renamed(source, delta.new_file, rename))
            else:
                out.append((_entry(delta), self._maker(index)))
        return out

    def _maker(self, index: int) -> _PatchMaker:
        def make(binary: bool) -> _Made:
            if binary and self._binary_diff is None:
                self._binary_diff = _tree_diff(self.old, self.new, DiffOption.SHOW_BINARY)
            diff = self._binary_diff if binary else self.diff
            assert diff is not None
            patch = diff[index]
            if patch is None:  # libgit2 has nothing to print (never for a changed file)
                return _Made(b"", False)
            if patch.delta.is_binary:
                return _Made(patch.data, True)
            _context, additions, deletions = patch.line_stats
            return _Made(_as_git_prints(patch.data), False, additions, deletions)
        return make

    def _renamed(self, old: pygit2.DiffFile, new: pygit2.DiffFile,
                 rename: Rename) -> tuple[FileDiff, _PatchMaker]:
        similarity = 100 if old.id == new.id else percent(rename.score)
        entry = FileDiff("renamed", new.path, old.path, str(old.id), str(new.id),
                         similarity=similarity)

        def make(binary: bool) -> _Made:
            return _rename_patch(self.git, old, new, similarity, binary)
        return entry, make

    def read(self, oid: str) -> bytes:
        blob = self.git.get(oid)
        assert isinstance(blob, pygit2.Blob)
        data: bytes = blob.data
        return data

    def size(self, oid: str | None) -> int:
        if oid is None or set(oid) == {"0"}:
            return 0
        if oid not in self._sizes:
            # The object header only: a huge blob is never inflated to learn its size.
            try:
                _type, size = self.git.odb.read_header(oid)
            except KeyError:  # a submodule's commit, which lives elsewhere
                size = 0
            self._sizes[oid] = int(size)
        return self._sizes[oid]

    def binary(self, oid: str | None) -> bool:
        if oid is None or set(oid) == {"0"}:
            return False
        if self.size(oid) > MAX_INSPECT_BYTES:
            return True
        return looks_binary(self.read(oid))


def _rename_patch(git: pygit2.Repository, old: pygit2.DiffFile, new: pygit2.DiffFile,
                  similarity: int, binary: bool) -> _Made:
    """A renamed file's patch, with git's rename header."""
    header = [f"diff --git {_quote('a/' + old.path)} {_quote('b/' + new.path)}"]
    if old.mode != new.mode:
        header += [f"old mode {old.mode:06o}", f"new mode {new.mode:06o}"]
    header += [f"similarity index {similarity}%", f"rename from {_quote(old.path)}",
               f"rename to {_quote(new.path)}"]
    head = ("\n".join(header) + "\n").encode()
    if old.id == new.id:
        return _Made(head, False)
    old_blob, new_blob = git.get(old.id), git.get(new.id)
    assert isinstance(old_blob, pygit2.Blob) and isinstance(new_blob, pygit2.Blob)
    patch = pygit2.Patch.create_from(
        old_blob, new_blob, old_as_path=old.path, new_as_path=new.path,
        flag=DiffOption.SHOW_BINARY if binary else DiffOption.NORMAL,
        context_lines=CONTEXT_LINES, interhunk_lines=0)
    # libgit2 writes "diff --git" and an index line that assumes mode
    # 100644; git's index line names the mode only if it is unchanged.
    _diff_git, index_line, body = patch.data.split(b"\n", 2)
    index = index_line.split(b" ")[:2]
    if old.mode == new.mode:
        index.append(f"{new.mode:06o}".encode())
    data = head + b" ".join(index) + b"\n" + body
    if patch.delta.is_binary:
        return _Made(data, True)
    _context, additions, deletions = patch.line_stats
    return _Made(_as_git_prints(data), False, additions, deletions)


def _as_git_prints(patch: bytes) -> bytes:
    """Two header details where libgit2 and git differ: git ends a
    ``---``/``+++`` line with a tab when the name holds a space (so that GNU
    patch reads the whole name), and leaves both lines out when there is no
    hunk (an empty file added or removed)."""
    head, hunks = patch.split(b"\n@@ ", 1) if b"\n@@ " in patch else (patch, None)
    lines = []
    for line in head.split(b"\n"):
        if line[:4] in (b"--- ", b"+++ "):
            if hunks is None:
                continue
            if line[4:] != b"/dev/null" and b" " in line[4:]:
                line += b"\t"
        lines.append(line)
    fixed = b"\n".join(lines)
    return fixed if hunks is None else fixed + b"\n@@ " + hunks


def _tree_diff(old: pygit2.Tree, new: pygit2.Tree, flags: DiffOption) -> pygit2.Diff:
    return old.diff_to_tree(new, flags=flags, context_lines=CONTEXT_LINES, interhunk_lines=0)


def _side(file: pygit2.DiffFile) -> Side:
    return Side(file.path, str(file.id), int(file.mode))


def _entry(delta: pygit2.DiffDelta) -> FileDiff:
    status = _STATUS.get(delta.status, "modified")
    removed, added = status == "removed", status == "added"
    return FileDiff(
        status=status,
        path=delta.old_file.path if removed else delta.new_file.path,
        old_path=None if added else delta.old_file.path,
        old_id=None if added else str(delta.old_file.id),
        new_id=None if removed else str(delta.new_file.id),
    )


_ESCAPES = {ord("\a"): "\\a", ord("\b"): "\\b", ord("\t"): "\\t", ord("\n"): "\\n",
            ord("\v"): "\\v", ord("\f"): "\\f", ord("\r"): "\\r", ord('"'): '\\"',
            ord("\\"): "\\\\"}


def _quote(path: str) -> str:
    """A path as git writes it in headers: C-quoted when it holds a quote,
    a backslash, a control character or a non-ASCII byte (core.quotePath)."""
    raw = path.encode("utf-8", "surrogateescape")
    if not any(b < 0x20 or b >= 0x7F or b in (0x22, 0x5C) for b in raw):
        return path
    out = []
    for b in raw:
        if b in _ESCAPES:
            out.append(_ESCAPES[b])
        elif b < 0x20 or b >= 0x7F:
            out.append(f"\\{b:03o}")
        else:
            out.append(chr(b))
    return '"' + "".join(out) + '"'
