"""dpkg and rpm version ordering, from their documented and tested cases."""

from __future__ import annotations

import random
import shutil
import subprocess

import pytest

from heater.images.pkgversions import compare_dpkg, compare_rpm, rpmvercmp


def sign(n: int) -> int:
    return (n > 0) - (n < 0)


DPKG_CASES = [
    ("1.0", "1.0", 0),
    ("1.0", "1.0-0", 0),          # an absent revision is an empty one, same as "0"
    ("1.10", "1.9", 1),
    ("1.0~rc1", "1.0", -1),       # ~ sorts before the end
    ("1.0~rc1", "1.0~", 1),
    ("1.0~~", "1.0~", -1),
    ("1:0.9", "2.0", 1),          # the epoch wins
    ("0:2.0", "2.0", 0),
    ("1.0a", "1.0", 1),
    ("1.0a", "1.0+", -1),         # letters before other characters
    ("1.0.", "1.0a", 1),
    ("3.0.2-0ubuntu1.15", "3.0.2-0ubuntu1.10", 1),
    ("3.0.2-0ubuntu1.15", "3.0.2-0ubuntu1.9", 1),
    ("2:8.2.3995-1ubuntu2.15", "2:8.2.3995-1ubuntu2.9", 1),
    ("5.1-6ubuntu1", "5.1-6ubuntu1.1", -1),
    ("1.2.3-1", "1.2.3-1~bpo11+1", 1),
    ("7.81.0-1ubuntu1.15", "7.81.0-1ubuntu1.4", 1),
    ("2024a-0ubuntu0.22.04", "2023c-0ubuntu0.22.04", 1),
    ("1.0-1-1", "1.0-1", 1),      # the revision is after the last hyphen
    ("001", "1", 0),
]


@pytest.mark.parametrize(("a", "b", "expected"), DPKG_CASES)
def test_dpkg(a: str, b: str, expected: int) -> None:
    assert sign(compare_dpkg(a, b)) == expected
    assert sign(compare_dpkg(b, a)) == -expected


@pytest.mark.e2e  # starts processes
@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")
def test_dpkg_agrees_with_dpkg_itself() -> None:
    rng = random.Random(6)  # noqa: S311 - reproducible test data, not secrets

    def part(length: int) -> str:
        return "".join(rng.choice("0123456789.~+az") for _ in range(length))

    def version() -> str:
        epoch = f"{rng.randint(0, 2)}:" if rng.random() < 0.2 else ""
        revision = f"-{rng.choice('0123456789')}{part(rng.randint(0, 3))}" \
            if rng.random() < 0.6 else ""
        return f"{epoch}{rng.choice('0123456789')}{part(rng.randint(0, 5))}{revision}"

    checked = 0
    for _ in range(120):
        a = version()
        b = a[: rng.randint(1, len(a))] + part(rng.randint(0, 3)) if rng.random() < 0.5 \
            else version()
        if not (_dpkg("eq", a, a) and _dpkg("eq", b, b)):
            continue  # not a version dpkg accepts
        ours = sign(compare_dpkg(a, b))
        theirs = 0 if _dpkg("eq", a, b) else (1 if _dpkg("gt", a, b) else -1)
        assert ours == theirs, (a, b)
        checked += 1
    assert checked > 60


def _dpkg(op: str, a: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, op, b], check=False,
                          capture_output=True).returncode == 0


# From rpm's own test suite (tests/rpmvercmp.at).
RPMVERCMP_CASES = [
    ("1.0", "1.0", 0), ("1.0", "2.0", -1), ("2.0", "1.0", 1),
    ("2.0.1", "2.0.1", 0), ("2.0", "2.0.1", -1), ("2.0.1a", "2.0.1", 1),
    ("5.5p1", "5.5p2", -1), ("5.5p10", "5.5p1", 1),
    ("10xyz", "10.1xyz", -1), ("xyz10", "xyz10.1", -1),
    ("xyz.4", "xyz.4", 0), ("xyz.4", "8", -1), ("8", "xyz.4", 1),
    ("5.5p1", "5.5.p1", 0), ("5.5p10", "5.5.p10", 0),
    ("10b2", "10a1", 1), ("10a2", "10b2", -1),
    ("1.0aa", "1.0aa", 0), ("1.0a", "1.0aa", -1),
    ("10.0001", "10.0039", -1), ("4.999.9", "5.0", -1),
    ("20101121", "20101122", -1), ("2_0", "2_0", 0), ("2.0", "2_0", 0),
    ("a", "a", 0), ("a+", "a+", 0), ("a+", "a_", 0), ("+a", "_a", 0),
    ("+_", "_+", 0), ("+", "_", 0),
    ("1.0~rc1", "1.0~rc1", 0), ("1.0~rc1", "1.0", -1), ("1.0", "1.0~rc1", 1),
    ("1.0~rc1", "1.0~rc2", -1), ("1.0~rc1~git123", "1.0~rc1", -1),
    ("1.0^", "1.0^", 0), ("1.0^", "1.0", 1), ("1.0", "1.0^", -1),
    ("1.0^git1", "1.0^git2", -1), ("1.0^git1", "1.01", -1),
    ("1.0^20160101", "1.0.1", -1), ("1.0~rc1^git1", "1.0~rc1", 1),
    ("1.0^git1~pre", "1.0^git1", -1),
]


@pytest.mark.parametrize(("a", "b", "expected"), RPMVERCMP_CASES)
def test_rpmvercmp(a: str, b: str, expected: int) -> None:
    assert sign(rpmvercmp(a, b)) == expected


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("3.0.7-16.el9", "3.0.7-24.el9", -1),
    ("1:3.0.7-16.el9", "3.0.7-24.el9", 1),
    ("0:3.0.7-16.el9", "3.0.7-16.el9", 0),
    ("5.14.0-362.8.1.el9_3", "5.14.0-70.13.1.el9_0", 1),
    ("3.0.7", "3.0.7-24.el9", 0),  # a missing release matches any release
    ("2.9.13-6.el9_4", "2.9.13-6.el9_4.1", -1),
])
def test_rpm_evr(a: str, b: str, expected: int) -> None:
    assert sign(compare_rpm(a, b)) == expected
