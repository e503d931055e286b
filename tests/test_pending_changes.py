"""heater.registry's pending-change markers: a replay takes the markers of
dead writers only, each once, whichever processes replay at the same time."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pygit2
import pytest

from heater.config import Config
from heater.names import RepoId
from heater.registry import Registry
from heater.wiring import build_registry

WEB = RepoId("acme", "web")

# Run by another Python: a writer that dies (no clean-up of any kind) after
# leaving its markers.
DYING_WRITER = textwrap.dedent("""
    import os, sys
    from heater.config import Config
    from heater.names import RepoId
    from heater.wiring import build_registry
    registry = build_registry(Config(sys.argv[1]))
    for i in range(int(sys.argv[2])):
        registry.begin_change(RepoId("acme", f"r{i}"))
    os._exit(0)
""")


def _heard(registry: Registry) -> list[str]:
    heard: list[str] = []
    registry.on_change(lambda repo, _caller: heard.append(str(repo)))
    return heard


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_a_live_writers_marker_is_left_alone(data: Path) -> None:
    writer, other = build_registry(Config(data)), build_registry(Config(data))
    heard = _heard(other)
    change = writer.change(WEB, None)
    assert other.replay_pending_changes() == []
    assert heard == []
    assert [p.read_text() for p in writer.layout.pending.iterdir()] == ["acme/web"]
    change.finish()
    assert list(writer.layout.pending.iterdir()) == []
    assert other.replay_pending_changes() == []


def test_a_dead_writers_markers_are_replayed_once_by_concurrent_replays(data: Path) -> None:
    count = 40
    subprocess.run([sys.executable, "-c", DYING_WRITER, str(data), str(count)],
                   check=True, timeout=60)
    replayers = [build_registry(Config(data)) for _ in range(4)]
    heard = [_heard(r) for r in replayers]
    start = threading.Barrier(len(replayers))

    def replay(registry: Registry) -> None:
        start.wait()
        registry.replay_pending_changes()

    threads = [threading.Thread(target=replay, args=(r,)) for r in replayers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = sorted(repo for one in heard for repo in one)
    assert everything == sorted(f"acme/r{i}" for i in range(count))
    assert list(replayers[0].layout.pending.iterdir()) == []


def test_a_failed_listener_leaves_the_marker_to_the_next_replay(data: Path) -> None:
    writer = build_registry(Config(data))

    def fails(_repo: RepoId, _caller: object) -> None:
        raise RuntimeError("the index is down")

    writer.on_change(fails)
    with pytest.raises(RuntimeError):
        writer.change(WEB, None).finish()
    # The writer is alive, but its marker is no longer locked: it is replayed.
    other = build_registry(Config(data))
    heard = _heard(other)
    assert other.replay_pending_changes() == [WEB]
    assert heard == ["acme/web"]
    assert list(other.layout.pending.iterdir()) == []


# A create-on-push whose process died: the repository it made, and the
# marker that says so.
DYING_CREATOR = textwrap.dedent("""
    import os, sys
    from heater.config import Config
    from heater.names import RepoId
    from heater.wiring import build_registry
    registry = build_registry(Config(sys.argv[1]))
    for name in sys.argv[2:]:
        registry.repos.create(RepoId("acme", name))
        registry.begin_change(RepoId("acme", name), created=True)
    os._exit(0)
""")


def test_a_dead_create_on_push_is_undone_unless_its_push_landed(data: Path) -> None:
    subprocess.run([sys.executable, "-c", DYING_CREATOR, str(data), "empty", "landed"],
                   check=True, timeout=60)
    registry = build_registry(Config(data))
    landed = registry.repos.open(RepoId("acme", "landed"))
    try:
        tree = landed.TreeBuilder().write()
        signature = pygit2.Signature("a", "a@example.com")
        landed.create_commit("refs/heads/main", signature, signature, "landed", tree, [])
    finally:
        landed.free()
    heard = _heard(registry)
    assert sorted(map(str, registry.replay_pending_changes())) == ["acme/empty", "acme/landed"]
    assert sorted(heard) == ["acme/empty", "acme/landed"]
    assert not registry.repos.exists(RepoId("acme", "empty"))
    assert registry.repos.exists(RepoId("acme", "landed"))
