"""Coral Edge TPU enumeration from sysfs and /dev: what is plugged in, how, and whether it can be used.

Only file reads (no libusb, no libedgetpu, no device opened), so it works without the Edge TPU
runtime, as any user, while the service holds the TPU, and in tests over a fake tree:

    <sys>/bus/usb/devices/2-1/{idVendor,idProduct,speed,busnum,devnum}   USB Accelerator
    <dev>/apex_0  (+ <sys>/class/apex/apex_0)                             M.2 / Mini PCIe, driver bound
    <sys>/bus/pci/devices/0000:01:00.0/{vendor,device}                    PCIe card, bound or not

An unreadable file or a device that vanishes during the walk is skipped, never raised.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["usb", "pci"]

USB_BOOTLOADER = "1a6e:089a"  # Global Unichip: plugged in, firmware not loaded yet (libedgetpu loads it on first use)
USB_READY = "18d1:9302"  # Google: firmware running
CORAL_USB_IDS = (USB_BOOTLOADER, USB_READY)
CORAL_PCI_ID = ("0x1ac1", "0x089a")  # the M.2 / Mini PCIe Coral as sysfs (and lspci) names it
USB3_MBPS = 5000
USB2_MBPS = 480
_APEX = re.compile(r"^apex_(\d+)$")


@dataclass(frozen=True, slots=True)
class TpuDevice:
    kind: Kind
    index: int  # N in usb:N / pci:N, counted per kind in discovery order
    path: str  # sysfs device path (USB, unbound PCIe) or the /dev/apex_N node
    usb_id: str | None  # USB_BOOTLOADER or USB_READY; None for PCIe
    speed_mbps: int | None  # the negotiated link: 480 = USB 2, 5000 = USB 3 ...; None for PCIe
    ready: bool  # usable: a USB Coral in either state, or an apex node
    busnum: int | None = None  # USB bus and device numbers: /dev/bus/usb/BBB/DDD, as lsusb prints them
    devnum: int | None = None

    @property
    def name(self) -> str:
        """What detector.device and load_delegate's "device" option take."""
        return f"{self.kind}:{self.index}"

    def node(self, dev_root: Path = Path("/dev")) -> Path | None:
        """The device file libedgetpu opens (the udev rule must let the service user read and write it)."""
        if self.kind == "pci":
            return Path(self.path) if self.ready else None
        if self.busnum is None or self.devnum is None:
            return None
        return dev_root / "bus" / "usb" / f"{self.busnum:03d}" / f"{self.devnum:03d}"

    def warnings(self) -> tuple[str, ...]:
        found: list[str] = []
        speed = self.speed_mbps
        if self.kind == "usb" and speed is not None and speed < USB3_MBPS:
            # Every inference streams the input tensor (and weights that do not fit the 8 MB on-chip
            # cache) over the link. Field figures on USB 2: MobileNet v1 9.5 ms vs Coral's 2.4 ms
            # benchmark (google-coral/edgetpu#151), the SSD example 75 ms vs 20 ms on a Pi 3
            # (google-coral/edgetpu#115): about 3-4x slower.
            if speed >= USB2_MBPS:
                found.append(
                    f"Coral on a USB 2 port ({speed} Mb/s): inference ~3-4x slower; use a blue USB 3 port "
                    "(on a Pi, a powered USB 3 hub if it resets)"
                )
            else:
                found.append(f"Coral on a USB 1.x link ({speed} Mb/s): far too slow to use; plug it into a USB 3 port")
        if self.kind == "pci" and not self.ready:
            if _APEX.match(Path(self.path).name):
                found.append(f"the apex driver knows this card but {self.path} is missing: check the udev rule")
            else:
                found.append(
                    f"PCIe Coral at {self.path} has no /dev/apex node: its driver (gasket/apex) is not loaded; "
                    "install gasket-dkms for this kernel and reboot"
                )
        return tuple(found)


def list_tpus(
    sys_root: Path = Path("/sys"), dev_root: Path = Path("/dev"), *, pycoral: bool = False
) -> list[TpuDevice]:
    """Every Coral found, USB first, each kind numbered from 0.

    `pycoral`: also merge Google's pycoral listing when that package is installed. Off by default:
    it goes through libedgetpu, so it is neither cheap nor pure; `edgewatch doctor` asks for it.
    """
    devices = _usb(sys_root) + _pci(sys_root, dev_root)
    if pycoral:
        devices = merge_records(devices, _pycoral_records())
    return _numbered(devices)


def merge_records(devices: list[TpuDevice], records: Iterable[Mapping[str, str]]) -> list[TpuDevice]:
    """Add pycoral-style records ({"type": "usb"|"pci", "path": ...}) not already found, renumbered."""
    merged = list(devices)
    known = {d.path for d in devices}
    for record in records:
        kind, path = record.get("type"), record.get("path")
        if kind not in ("usb", "pci") or not path or path in known:
            continue
        known.add(path)
        merged.append(TpuDevice("usb" if kind == "usb" else "pci", 0, path, None, None, True))
    return _numbered(merged)


# -- sources -----------------------------------------------------------------------------


def _usb(sys_root: Path) -> list[TpuDevice]:
    base = sys_root / "bus" / "usb" / "devices"
    found = []
    for entry in _names(base):
        if ":" in entry:  # an interface of a device (2-1:1.0), not a device
            continue
        folder = base / entry
        vendor, product = _read(folder / "idVendor"), _read(folder / "idProduct")
        if vendor is None or product is None:
            continue
        usb_id = f"{vendor.lower()}:{product.lower()}"
        if usb_id not in CORAL_USB_IDS:
            continue
        speed = _read_number(folder / "speed")
        found.append(
            TpuDevice(
                "usb", 0, str(folder), usb_id, None if speed is None else int(speed), True,
                _read_int(folder / "busnum"), _read_int(folder / "devnum"),
            )
        )  # fmt: skip
    return found


def _pci(sys_root: Path, dev_root: Path) -> list[TpuDevice]:
    nodes = {int(m.group(1)) for name in _names(dev_root) if (m := _APEX.match(name))}
    known = {int(m.group(1)) for name in _names(sys_root / "class" / "apex") if (m := _APEX.match(name))}
    found = [TpuDevice("pci", 0, str(dev_root / f"apex_{n}"), None, None, n in nodes) for n in sorted(nodes | known)]
    # A Coral card whose driver is not bound has no apex node at all: find it on the PCI bus.
    pci = sys_root / "bus" / "pci" / "devices"
    for entry in _names(pci):
        ident = (_read(pci / entry / "vendor"), _read(pci / entry / "device"))
        if ident == CORAL_PCI_ID and not _names(pci / entry / "apex"):
            found.append(TpuDevice("pci", 0, str(pci / entry), None, None, False))
    return found


def _pycoral_records() -> list[dict[str, str]]:
    """Google's pycoral listing, if that package is installed; [] otherwise.

    The PyPI package called `pycoral` is an unrelated tool: its code is never imported. Only a
    package that ships `utils/edgetpu.py` is, and only its `list_edge_tpus` is used.
    """
    try:
        spec = importlib.util.find_spec("pycoral")  # a top-level lookup imports nothing
        places = list(spec.submodule_search_locations or []) if spec is not None else []
        if not any((Path(place) / "utils" / "edgetpu.py").is_file() for place in places):
            return []
        lister = getattr(importlib.import_module("pycoral.utils.edgetpu"), "list_edge_tpus", None)
        if not callable(lister):
            return []
        return [
            {"type": str(r["type"]), "path": str(r["path"])}
            for r in lister()
            if isinstance(r, Mapping) and "type" in r and "path" in r
        ]
    except Exception:  # noqa: BLE001 - an optional extra source: a broken install must not break the listing
        return []


# -- helpers -----------------------------------------------------------------------------


def _numbered(devices: list[TpuDevice]) -> list[TpuDevice]:
    """Stable order and per-kind indices: USB by sysfs bus path, PCIe by apex number (unbound cards last).

    libedgetpu counts usb:N among USB TPUs only and pci:N among PCIe ones, in its own enumeration
    order (tflite/edgetpu_delegate_for_custom_op_tflite_plugin.cc); with one Coral of a kind, the
    usual install, the two agree by construction. With several, `path` tells them apart.
    """
    usb = sorted((d for d in devices if d.kind == "usb"), key=lambda d: _natural(Path(d.path).name))
    pci = sorted((d for d in devices if d.kind == "pci"), key=lambda d: (not d.ready, _natural(Path(d.path).name)))
    return [dataclasses.replace(d, index=i) for group in (usb, pci) for i, d in enumerate(group)]


def _natural(name: str) -> tuple[tuple[int, str], ...]:
    """'2-1.10' after '2-1.9', 'apex_10' after 'apex_2'."""
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"(\d+)", name) if part)


def _names(folder: Path) -> list[str]:
    try:
        return sorted(entry.name for entry in folder.iterdir())
    except OSError:
        return []


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:  # no permission, not a file, or the device went away mid-walk
        return None


def _read_number(path: Path) -> float | None:
    text = _read(path)
    try:
        return float(text) if text else None  # sysfs `speed` is "480", "5000", or "1.5" for low speed
    except ValueError:
        return None


def _read_int(path: Path) -> int | None:
    number = _read_number(path)
    return None if number is None else int(number)
