"""The demo's consumption picture: one panel per unit, every meter drawn."""

from __future__ import annotations

import struct
from pathlib import Path

from demo.plot import draw_consumption


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_one_panel_per_unit(tmp_path: Path) -> None:
    one_unit = {"A": [("2026-08", 10.0, "kWh"), ("2026-09", 12.5, "kWh")]}
    two_units = {**one_unit, "Water": [("2026-08", 3.0, "m3"), ("2026-09", 2.0, "m3")]}
    small = png_size(draw_consumption(one_unit, tmp_path / "one.png"))
    tall = png_size(draw_consumption(two_units, tmp_path / "two.png"))
    assert small[0] == tall[0]
    assert tall[1] > 1.8 * small[1]  # a second panel below the first


def test_an_empty_warehouse_still_draws(tmp_path: Path) -> None:
    assert png_size(draw_consumption({}, tmp_path / "empty.png"))[0] > 0
