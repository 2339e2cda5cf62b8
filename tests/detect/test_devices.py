"""Coral enumeration over a fake sysfs + /dev tree laid out as the kernel does it (device folders
under /sys/devices, symlinked from /sys/bus/usb/devices), and once on the real machine."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from app.detect.devices import TpuDevice, list_tpus, merge_records


class FakeTree:
    def __init__(self, root: Path) -> None:
        self.sys = root / "sys"
        self.dev = root / "dev"
        self.sys.mkdir()
        self.dev.mkdir()
        self.bus = self.sys / "bus" / "usb" / "devices"
        self.bus.mkdir(parents=True)

    def usb(self, name: str, usb_id: str, speed: str | None = "5000", busnum: int = 2, devnum: int = 3) -> Path:
        folder = self.sys / "devices" / "pci0000:00" / "0000:00:14.0" / f"usb{name.partition('-')[0]}" / name
        folder.mkdir(parents=True)
        vendor, product = usb_id.split(":")
        (folder / "idVendor").write_text(vendor + "\n")
        (folder / "idProduct").write_text(product + "\n")
        if speed is not None:
            (folder / "speed").write_text(speed + "\n")
        (folder / "busnum").write_text(f"{busnum}\n")
        (folder / "devnum").write_text(f"{devnum}\n")
        (self.bus / name).symlink_to(os.path.relpath(folder, self.bus))
        return folder

    def pci(self, slot: str, vendor: str = "0x1ac1", device: str = "0x089a", apex: str | None = None) -> Path:
        folder = self.sys / "bus" / "pci" / "devices" / slot
        folder.mkdir(parents=True)
        (folder / "vendor").write_text(vendor + "\n")
        (folder / "device").write_text(device + "\n")
        if apex is not None:
            (folder / "apex" / apex).mkdir(parents=True)
        return folder


@pytest.fixture
def tree(tmp_path: Path) -> FakeTree:
    return FakeTree(tmp_path)


def test_both_coral_usb_ids_are_found_with_their_link_speed(tree: FakeTree) -> None:
    tree.usb("4-1", "18d1:9302", "5000", busnum=4, devnum=2)
    tree.usb("2-1", "1a6e:089a", "480", busnum=2, devnum=7)
    tree.usb("1-1", "046d:c52b", "12")  # a Logitech receiver: not a Coral
    tree.usb("usb2", "1d6b:0002", "480")  # a root hub
    interface = tree.sys / "devices" / "2-1:1.0"  # interfaces carry no ids in sysfs; give it Coral's anyway
    interface.mkdir()
    (interface / "idVendor").write_text("1a6e\n")
    (interface / "idProduct").write_text("089a\n")
    (tree.bus / "2-1:1.0").symlink_to(interface)

    found = list_tpus(tree.sys, tree.dev)

    assert found == [
        TpuDevice("usb", 0, str(tree.bus / "2-1"), "1a6e:089a", 480, True, busnum=2, devnum=7),
        TpuDevice("usb", 1, str(tree.bus / "4-1"), "18d1:9302", 5000, True, busnum=4, devnum=2),
    ]
    assert [d.name for d in found] == ["usb:0", "usb:1"]
    slow, fast = found
    assert fast.warnings() == ()
    (warning,) = slow.warnings()
    assert "USB 2 port (480 Mb/s)" in warning
    assert "3-4x slower" in warning
    assert "USB 3" in warning
    assert slow.node(tree.dev) == tree.dev / "bus" / "usb" / "002" / "007"


def test_a_usb_1_link_is_called_unusable_and_an_unknown_speed_is_not_guessed(tree: FakeTree) -> None:
    tree.usb("1-2", "18d1:9302", "12")
    tree.usb("1-3", "18d1:9302", None)
    low, unknown = list_tpus(tree.sys, tree.dev)
    assert low.speed_mbps == 12
    assert "USB 1.x link (12 Mb/s)" in low.warnings()[0]
    assert unknown.speed_mbps is None
    assert unknown.warnings() == ()


def test_indices_follow_the_bus_path_not_the_creation_order(tree: FakeTree) -> None:
    for name in ("10-1", "2-1.10", "2-1.9", "2-1"):
        tree.usb(name, "18d1:9302")
    names = [Path(d.path).name for d in list_tpus(tree.sys, tree.dev)]
    assert names == ["2-1", "2-1.9", "2-1.10", "10-1"]
    assert [d.index for d in list_tpus(tree.sys, tree.dev)] == [0, 1, 2, 3]


def test_unreadable_and_vanished_entries_are_skipped_without_raising(tree: FakeTree) -> None:
    tree.usb("1-1", "18d1:9302")
    broken = tree.usb("1-2", "18d1:9302")
    (broken / "idVendor").unlink()
    (broken / "idVendor").mkdir()  # reading it fails with IsADirectoryError
    (tree.bus / "1-3").symlink_to(tree.sys / "devices" / "gone")  # unplugged during the walk
    odd = tree.usb("1-4", "18d1:9302")
    (odd / "speed").unlink()
    (odd / "speed").mkdir()
    (odd / "busnum").write_text("not a number\n")
    found = list_tpus(tree.sys, tree.dev)
    assert [Path(d.path).name for d in found] == ["1-1", "1-4"]
    assert found[1].speed_mbps is None
    assert found[1].busnum is None
    assert found[1].node(tree.dev) is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_without_read_permission_is_skipped(tree: FakeTree) -> None:
    locked = tree.usb("1-1", "18d1:9302")
    (locked / "idProduct").chmod(0)
    assert list_tpus(tree.sys, tree.dev) == []


def test_pcie_apex_nodes_are_numbered_by_apex_number(tree: FakeTree) -> None:
    for name in ("apex_10", "apex_1", "apex_0", "apex_x", "apexfoo"):
        (tree.dev / name).write_text("")
    found = list_tpus(tree.sys, tree.dev)
    assert [(d.name, d.path, d.ready) for d in found] == [
        ("pci:0", str(tree.dev / "apex_0"), True),
        ("pci:1", str(tree.dev / "apex_1"), True),
        ("pci:2", str(tree.dev / "apex_10"), True),
    ]
    assert all(d.usb_id is None and d.speed_mbps is None and d.warnings() == () for d in found)
    assert found[0].node(tree.dev) == tree.dev / "apex_0"


def test_pcie_cards_without_a_usable_node_are_reported_not_ready(tree: FakeTree) -> None:
    (tree.dev / "apex_0").write_text("")
    tree.pci("0000:01:00.0", apex="apex_0")  # bound: already counted through /dev/apex_0
    unbound = tree.pci("0000:02:00.0")  # no driver: no apex folder, no node
    tree.pci("0000:03:00.0", vendor="0x8086", device="0x1533")  # a network card
    (tree.sys / "class" / "apex" / "apex_1").mkdir(parents=True)  # driver bound, node missing
    usb = tree.usb("2-1", "18d1:9302")

    found = list_tpus(tree.sys, tree.dev)

    assert [(d.name, d.path, d.ready) for d in found] == [
        ("usb:0", str(tree.bus / "2-1"), True),
        ("pci:0", str(tree.dev / "apex_0"), True),
        ("pci:1", str(tree.dev / "apex_1"), False),
        ("pci:2", str(unbound), False),
    ]
    assert usb.exists()
    assert "udev" in found[2].warnings()[0]
    assert found[2].node(tree.dev) is None
    assert "gasket-dkms" in found[3].warnings()[0]


def test_an_empty_or_missing_tree_has_no_devices(tree: FakeTree, tmp_path: Path) -> None:
    assert list_tpus(tree.sys, tree.dev) == []
    assert list_tpus(tmp_path / "nothing", tmp_path / "nowhere") == []


def test_pycoral_records_are_merged_without_duplicates_and_renumbered(tree: FakeTree) -> None:
    tree.usb("3-1", "18d1:9302")
    found = list_tpus(tree.sys, tree.dev)
    merged = merge_records(
        found,
        [
            {"type": "usb", "path": str(tree.bus / "3-1")},  # already known
            {"type": "usb", "path": "/sys/bus/usb/devices/1-1"},
            {"type": "pci", "path": "/dev/apex_0"},
            {"type": "gpu", "path": "/dev/dri/card0"},
            {"path": "/dev/apex_9"},
        ],
    )
    assert [(d.name, d.path) for d in merged] == [
        ("usb:0", "/sys/bus/usb/devices/1-1"),
        ("usb:1", str(tree.bus / "3-1")),
        ("pci:0", "/dev/apex_0"),
    ]
    assert merged[1].usb_id == "18d1:9302"
    assert merged[0].usb_id is None
    assert merged[0].ready


@pytest.mark.hardware
def test_the_real_machine_lists_its_coral() -> None:
    found = list_tpus(pycoral=True)
    if not found:
        pytest.skip("no Coral Edge TPU on this machine")
    for device in found:
        assert re.fullmatch(r"(usb|pci):\d+", device.name)
        if device.kind == "usb":
            assert device.usb_id in ("1a6e:089a", "18d1:9302")
            assert Path(device.path).exists()
        else:
            assert device.ready or device.warnings()
    assert sorted(d.index for d in found if d.kind == "usb") == list(range(sum(d.kind == "usb" for d in found)))
