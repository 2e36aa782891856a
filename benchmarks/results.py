"""RESULTS.md: machine, command, date, every table, verdicts and the tap's profile.

Each benchmark's part sits between ``<!-- section: TITLE -->`` markers, so a run of some
benchmarks (``--only``) replaces their parts and keeps the others' latest results.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.harness import Section
from benchmarks.machine import description

RESULTS = Path(__file__).with_name("RESULTS.md")
_BLOCK = re.compile(r"<!-- section: (?P<title>.+?) -->\n(?P<body>.*?)<!-- end section -->\n",
                    re.S)  # fmt: skip
ORDER = ("Tap throughput", "Target throughput", "Rate-limited run", "Memory", "Look-back re-run")


def render(
    sections: list[Section],
    command: str,
    seconds: float,
    closing: str = "",
    kept: dict[str, str] | None = None,
) -> str:
    """The whole file; ``kept`` holds earlier sections' blocks (by title) to carry over."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    blocks = dict(kept or {})
    for section in sections:
        blocks[section.title] = section_block(section, command, now)
    titles = sorted(blocks, key=lambda t: ORDER.index(t) if t in ORDER else len(ORDER))
    out = [
        "# Benchmark results",
        "",
        f"Last run: `{command}` on {now} ({seconds / 60:.1f} min); each section says which "
        "run measured it. Every figure is a ratio against a baseline measured in the same "
        "run on the same data (the machine is shared and noisy: absolute numbers alone mean "
        "little). Reproduce with `make bench` (6-25 min, depending on the machine's load) "
        "or `python -m benchmarks.run --quick`.",
        "",
        "## Machine",
        "",
        *[f"- {line}" for line in description()],
        "",
        "## Verdicts",
        "",
        *[line for t in titles for line in _verdicts(blocks[t], t)],
    ]
    for title in titles:
        out += [
            "",
            f"<!-- section: {title} -->",
            blocks[title].rstrip("\n"),
            "<!-- end section -->",
        ]
    if closing:
        out += ["", "## Closing note", "", closing]
    return "\n".join(out) + "\n"


def section_block(section: Section, command: str, when: str) -> str:
    out = [f"## {section.title}", "", f"Measured by `{command}` on {when}.", "",
           section.setup, "", section.table()]  # fmt: skip
    notes = [f"{f.name}: {f.note}" for f in section.figures if f.note] + section.notes
    if notes:
        out += ["", *[f"- {n}" for n in notes]]
    if section.profile:
        out += ["", "Profile of one tap sync in-process (cProfile, top entries by own time):",
                "", "```", section.profile, "```"]  # fmt: skip
    return "\n".join(out) + "\n"


def _verdicts(block: str, title: str) -> list[str]:
    """``- title, figure: ratio, verdict`` for each table row with a target."""
    lines = []
    for row in block.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[4].startswith(("PASS", "MISS")):
            lines.append(f"- {title}, {cells[0]}: {cells[3]}, {cells[4]}")
    return lines


def kept_blocks(path: Path) -> dict[str, str]:
    """The section blocks of an existing results file (by title)."""
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    return {m["title"]: m["body"] for m in _BLOCK.finditer(text)}


def closing_note(path: Path) -> str:
    """The hand-written closing note of an existing file (kept across runs)."""
    if not path.exists():
        return ""
    text = path.read_text(encoding="utf-8")
    _, sep, tail = text.partition("\n## Closing note\n")
    return tail.strip() if sep else ""


def write(text: str, path: Path = RESULTS) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
