"""What checking that a SHA is reachable costs (heater.repos.reachability).

Builds bare repositories from the corpus histories (every version of each
template one commit, the histories one after the other, the whole replayed
``--repeat`` times), with version tags along the way and a deleted branch,
then times each kind of question cold (a fresh process, nothing learnt) and
warm (the same ref state asked again), median of ``--rounds``.

    .venv/bin/python scripts/bench/reachability.py [--repeat 1 100] [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pygit2

from heater.repos import reachability

# Beside the checkout, as the tests find it, unless HEATER_CORPUS says where.
CORPUS = Path(os.environ.get("HEATER_CORPUS", Path(__file__).resolve().parents[3] / "shared"
                             / "corpus")) / "heat-templates-history"
SIGNATURE = pygit2.Signature("bench", "bench@example.com", 1_700_000_000, 0)


def build(path: Path, repeat: int) -> dict[str, pygit2.Oid]:
    """The repository, and the ids worth asking about."""
    git = pygit2.init_repository(str(path), bare=True)
    versions = [version for history in sorted(CORPUS.iterdir()) if history.is_dir()
                for version in sorted(history.glob("*.yaml"))]
    parents: list[pygit2.Oid] = []
    count = 0
    for _ in range(repeat):
        for version in versions:
            builder = git.TreeBuilder()
            builder.insert("template.yaml", git.create_blob(version.read_bytes()),
                           pygit2.enums.FileMode.BLOB)
            builder.insert(f"notes-{count % 7}.txt", git.create_blob(str(count).encode()),
                           pygit2.enums.FileMode.BLOB)
            oid = git.create_commit("refs/heads/main", SIGNATURE, SIGNATURE, version.name,
                                    builder.write(), parents)
            parents = [oid]
            count += 1
            if count % 50 == 0:
                git.references.create(f"refs/tags/v{count // 50}.0.0", oid)
            if count == 1:
                oldest = oid
    builder = git.TreeBuilder()
    builder.insert("template.yaml", git.create_blob(b"deleted"), pygit2.enums.FileMode.BLOB)
    deleted = git.create_commit("refs/heads/side", SIGNATURE, SIGNATURE, "side",
                                builder.write(), parents)
    git.references.delete("refs/heads/side")
    # Packed, as a pushed history mostly is (git keeps larger pushes as packs).
    subprocess.run(["git", "-C", str(path), "repack", "-adq"], check=True)
    first = git.get(oldest)
    assert isinstance(first, pygit2.Commit)
    print(f"repeat {repeat}: {count} commits, {len(list(git.references))} refs")
    return {"tip": parents[0], "oldest commit": oldest, "deleted commit": deleted,
            "oldest blob": first.tree["template.yaml"].id}


def timed(action: Callable[[], object], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in args.repeat:
            ids = build(Path(scratch) / f"r{repeat}.git", repeat)
            git = pygit2.Repository(str(Path(scratch) / f"r{repeat}.git"))
            for name, oid in ids.items():
                def cold(git: pygit2.Repository = git, oid: pygit2.Oid = oid) -> bool:
                    reachability._walks.clear()
                    return reachability.reachable(git, oid)

                def warm(git: pygit2.Repository = git, oid: pygit2.Oid = oid) -> bool:
                    return reachability.reachable(git, oid)

                answer = cold()
                print(f"  {name:15} reachable={answer!s:5}  cold {timed(cold, args.rounds):8.2f} ms"
                      f"  warm {timed(warm, args.rounds):6.3f} ms")


if __name__ == "__main__":
    main()
