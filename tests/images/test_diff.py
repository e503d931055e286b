"""Manifest diff on realistic package lists."""

from __future__ import annotations

from typing import Any

from heater.images.diff import diff_manifests

# `dpkg-query -W` on an Ubuntu 22.04 cloud image, two builds a few months apart.
JAMMY_JANUARY = """\
adduser\t3.118ubuntu5
base-files\t12ubuntu4.4
bash\t5.1-6ubuntu1
curl\t7.81.0-1ubuntu1.14
libc6:amd64\t2.35-0ubuntu3.5
libssl3:amd64\t3.0.2-0ubuntu1.12
linux-image-5.15.0-91-generic\t5.15.0-91.101
linux-image-virtual\t5.15.0.91.88
openssl\t3.0.2-0ubuntu1.12
python3-cryptography\t3.4.8-1ubuntu2.1
snapd\t2.60.4+22.04
tzdata\t2023c-0ubuntu0.22.04.2
vim-tiny\t2:8.2.3995-1ubuntu2.15
"""

JAMMY_APRIL = """\
adduser\t3.118ubuntu5
base-files\t12ubuntu4.6
bash\t5.1-6ubuntu1.1
curl\t7.81.0-1ubuntu1.16
libc6:amd64\t2.35-0ubuntu3.7
libssl3:amd64\t3.0.2-0ubuntu1.15
linux-image-5.15.0-91-generic\t5.15.0-91.101
linux-image-5.15.0-102-generic\t5.15.0-102.112
linux-image-virtual\t5.15.0.102.99
openssl\t3.0.2-0ubuntu1.15
snapd\t2.58+22.04
tzdata\t2024a-0ubuntu0.22.04
vim-tiny\t2:8.2.3995-1ubuntu2.16
wget\t1.21.2-2ubuntu1
"""


def dpkg_query(output: str) -> list[dict[str, str]]:
    """`dpkg-query -W` lines as manifest packages (name[:arch] TAB version)."""
    packages = []
    for line in output.splitlines():
        name, version = line.split("\t")
        package, _, arch = name.partition(":")
        packages.append({"name": package, "version": version, **({"arch": arch} if arch else {})})
    return packages


def manifest(output: str, **extra: Any) -> dict[str, Any]:
    return {"disk_format": "qcow2", "container_format": "bare",
            "os": {"distro": "ubuntu", "version": "22.04"},
            "packages": dpkg_query(output), **extra}


def test_packages_between_two_dpkg_query_outputs() -> None:
    changes = diff_manifests(manifest(JAMMY_JANUARY), manifest(JAMMY_APRIL))
    packages = changes["packages"]
    assert changes["package_manager"] == "dpkg"
    assert packages["added"] == [
        {"name": "linux-image-5.15.0-102-generic", "version": "5.15.0-102.112"},
        {"name": "wget", "version": "1.21.2-2ubuntu1"},
    ]
    assert packages["removed"] == [{"name": "python3-cryptography", "version": "3.4.8-1ubuntu2.1"}]
    assert {p["name"] for p in packages["upgraded"]} == {
        "base-files", "bash", "curl", "libc6", "libssl3", "linux-image-virtual", "openssl",
        "tzdata", "vim-tiny"}
    assert {"name": "libssl3", "arch": "amd64", "from": "3.0.2-0ubuntu1.12",
            "to": "3.0.2-0ubuntu1.15"} in packages["upgraded"]
    assert packages["downgraded"] == [
        {"name": "snapd", "from": "2.60.4+22.04", "to": "2.58+22.04"}]


def test_several_installed_versions_compare_as_sets() -> None:
    old = manifest("kernel\t5.14.0-70.el9\nkernel\t5.14.0-162.el9\n",
                   os={"distro": "rocky", "version": "9.1"})
    new = manifest("kernel\t5.14.0-162.el9\nkernel\t5.14.0-284.el9\n",
                   os={"distro": "rocky", "version": "9.2"})
    changes = diff_manifests(old, new)
    assert changes["package_manager"] == "rpm"
    assert changes["packages"]["removed"] == [{"name": "kernel", "version": "5.14.0-70.el9"}]
    assert changes["packages"]["added"] == [{"name": "kernel", "version": "5.14.0-284.el9"}]
    assert changes["os"] == {"added": {}, "removed": {},
                             "changed": {"version": {"from": "9.1", "to": "9.2"}}}


def test_rpm_ordering_is_used_for_rpm_images() -> None:
    old = manifest("openssl\t1:3.0.7-16.el9\n", package_manager="rpm")
    new = manifest("openssl\t3.0.7-24.el9\n", package_manager="rpm")
    assert diff_manifests(old, new)["packages"]["downgraded"] == [
        {"name": "openssl", "from": "1:3.0.7-16.el9", "to": "3.0.7-24.el9"}]


def test_properties_and_fields() -> None:
    old = manifest("", properties={"hw_disk_bus": "virtio", "os_admin_user": "ubuntu"})
    new = manifest("", disk_format="raw", properties={"hw_disk_bus": "scsi", "ssh": "yes"})
    changes = diff_manifests(old, new)
    assert changes["properties"] == {
        "added": {"ssh": "yes"},
        "removed": {"os_admin_user": "ubuntu"},
        "changed": {"hw_disk_bus": {"from": "virtio", "to": "scsi"}},
    }
    assert changes["fields"] == {"disk_format": {"from": "qcow2", "to": "raw"}}


def test_nested_and_typed_property_changes() -> None:
    # A change below a key changes the key; 1 and true are not the same value.
    old = manifest("", properties={"a": {"b": 1}, "n": 1})
    new = manifest("", properties={"a": {"b": 2}, "n": True})
    assert diff_manifests(old, new)["properties"] == {
        "added": {}, "removed": {},
        "changed": {"a": {"from": {"b": 1}, "to": {"b": 2}}, "n": {"from": 1, "to": True}},
    }
