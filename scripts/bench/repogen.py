"""A large, reproducible bare repository for the benchmarks, made in seconds.

The history is written as one ``git fast-import`` stream: every commit edits
one of a few HOT templates (small, compressible text, like a real template
repository), and every ``BINARY_EVERY``-th commit also rewrites one of a few
disk images with random bytes. Random bytes do not compress or delta, so they
set the pack size; because they overwrite a few fixed paths, the tip tree (and
so a checkout) stays small while the history is large. Authors, dates and
bytes derive from a fixed seed: the same parameters always give the same
commit ids, so a cached copy can be checked against its parameters.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness import clean_git_env, git

MiB = 1024 * 1024
TEMPLATES = 24
IMAGES = 4
EPOCH = 1_700_000_000  # committer time of the first commit; one minute per commit after


@dataclass(frozen=True)
class RepoSpec:
    """What to generate: ``commits`` commits holding at least ``min_bytes`` of packed data."""

    commits: int = 10_000
    min_bytes: int = 60 * MiB
    binary_size: int = 256 * 1024
    seed: int = 2

    @property
    def binary_every(self) -> int:
        """Commits between two image rewrites, so that the images reach ``min_bytes``."""
        rewrites = -(-self.min_bytes // self.binary_size)
        return max(1, self.commits // rewrites)

    @property
    def cache_name(self) -> str:
        return (f"clone-{self.commits}c-{self.min_bytes // MiB}m"
                f"-{self.binary_size // 1024}k-s{self.seed}.git")


@dataclass(frozen=True)
class RepoStats:
    path: Path
    head: str
    commits: int
    pack_bytes: int

    def describe(self) -> str:
        return (f"{self.pack_bytes / MiB:.1f} MiB packed, {self.commits:,} commits, "
                f"HEAD {self.head[:12]}")


def _data(payload: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(payload), payload)


def _template(index: int, revision: int) -> bytes:
    """A small HOT template whose defaults change with ``revision``."""
    return (
        f"heat_template_version: 2021-04-16\n"
        f"description: Benchmark stack {index}, revision {revision}\n"
        f"parameters:\n"
        f"  flavor:\n    type: string\n    default: m1.size{revision % 7}\n"
        f"  image:\n    type: string\n    default: bench-image-{revision % 13}\n"
        f"  replicas:\n    type: number\n    default: {1 + revision % 5}\n"
        f"resources:\n"
        f"  server:\n    type: OS::Nova::Server\n"
        f"    properties:\n      flavor: {{get_param: flavor}}\n"
        f"      image: {{get_param: image}}\n"
        f"      name: stack-{index}-r{revision}\n"
    ).encode()


def fast_import_stream(spec: RepoSpec) -> Iterator[bytes]:
    """The fast-import commands for the whole history, one commit at a time."""
    rng = random.Random(spec.seed)  # noqa: S311 (reproducible filler, not secrets)
    for number in range(1, spec.commits + 1):
        when = EPOCH + 60 * number
        message = f"Update stack {number % TEMPLATES} (change {number})\n".encode()
        parts = [
            b"commit refs/heads/main\n",
            b"mark :%d\n" % number,
            b"author Bench Author <author@bench.invalid> %d +0000\n" % when,
            b"committer Bench Committer <committer@bench.invalid> %d +0000\n" % when,
            _data(message),
        ]
        if number > 1:
            parts.append(b"from :%d\n" % (number - 1))
        path = f"templates/stack{number % TEMPLATES:02d}.yaml".encode()
        parts += [b"M 100644 inline ", path, b"\n", _data(_template(number % TEMPLATES, number))]
        if number % spec.binary_every == 0 or number == 1:
            image = f"images/disk{(number // spec.binary_every) % IMAGES}.img".encode()
            parts += [b"M 100644 inline ", image, b"\n", _data(rng.randbytes(spec.binary_size))]
        if number % 1000 == 0:
            parts.append(b"reset refs/tags/v%d.0.0\nfrom :%d\n\n" % (number // 1000, number))
        yield b"".join(parts)


def stats(path: Path) -> RepoStats:
    """Size and length of the history of a bare repository at ``path``."""
    head = git("-C", str(path), "rev-parse", "HEAD").strip()
    commits = int(git("-C", str(path), "rev-list", "--count", "HEAD"))
    pack_bytes = sum(pack.stat().st_size for pack in (path / "objects" / "pack").glob("*.pack"))
    return RepoStats(path, head, commits, pack_bytes)


def generate(spec: RepoSpec, dest: Path) -> RepoStats:
    """Write the repository of ``spec`` to ``dest`` (a new directory), packed with bitmaps
    as a served repository would be."""
    scratch = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    env = clean_git_env()
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(scratch)],
                   check=True, env=env, timeout=60)
    importer = subprocess.Popen(["git", "-C", str(scratch), "fast-import", "--quiet"],
                                stdin=subprocess.PIPE, env=env)
    assert importer.stdin is not None
    try:
        for chunk in fast_import_stream(spec):
            importer.stdin.write(chunk)
        importer.stdin.close()
        if importer.wait(timeout=600) != 0:
            raise RuntimeError("git fast-import failed")
    finally:
        if importer.poll() is None:
            importer.kill()
            importer.wait()
    # One pack with a bitmap index: what `git gc` leaves on a served repository.
    subprocess.run(["git", "-C", str(scratch), "repack", "-a", "-d", "-b", "-q"],
                   check=True, env=env, timeout=1200)
    scratch.rename(dest)
    return stats(dest)


def cached(spec: RepoSpec, cache_dir: Path) -> RepoStats:
    """The repository of ``spec`` from ``cache_dir``, generated on first use."""
    path = cache_dir / spec.cache_name
    if (path / "HEAD").is_file():
        found = stats(path)
        if found.commits == spec.commits:
            return found
        shutil.rmtree(path)
    cache_dir.mkdir(parents=True, exist_ok=True)
    return generate(spec, path)
