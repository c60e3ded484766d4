"""Example workflows shipped with spanwise (run one with ``spanwise run example:NAME``)."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def names() -> list[str]:
    return sorted(p.stem for p in _HERE.glob("*.json"))


def path(name: str) -> Path:
    """The file of example ``name``; ValueError naming the examples when there is none."""
    file = _HERE / f"{name}.json"
    if not file.is_file():
        raise ValueError(f"no example {name!r} (examples: {', '.join(names()) or 'none'})")
    return file
