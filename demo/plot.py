"""The demo's picture: monthly consumption per meter from the warehouse, as a PNG.

Drawn with matplotlib (a dependency of the demo, not of the plugins), headless (Agg), one
panel per unit so kWh and m3 never share an axis.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: the demo runs in terminals and CI

import matplotlib.pyplot as plt

Series = dict[str, list[tuple[str, float, str]]]  # meter name -> [(YYYY-MM, value, unit)]


def draw_consumption(series: Series, path: Path, title: str = "Monthly consumption") -> Path:
    """Write a line chart of each meter's monthly consumption to ``path``; returns ``path``."""
    units = sorted({unit for points in series.values() for _, _, unit in points}) or [""]
    figure, axes = plt.subplots(
        len(units), 1, figsize=(11, 3.6 * len(units)), squeeze=False, constrained_layout=True
    )
    for axis, unit in zip(axes[:, 0], units, strict=True):
        months = sorted({m for points in series.values() for m, _, u in points if u == unit})
        position = {month: i for i, month in enumerate(months)}
        for name, points in sorted(series.items()):
            mine = [(position[m], v) for m, v, u in points if u == unit]
            if mine:
                axis.plot([x for x, _ in mine], [y for _, y in mine], marker="o", label=name)
        axis.set_xticks(range(len(months)), months, rotation=45, ha="right", fontsize=8)
        axis.set_ylabel(unit or "value")
        axis.grid(True, alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=8, loc="upper left", ncols=2)
        axis.set_title(f"{title} ({unit})" if unit else title)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
