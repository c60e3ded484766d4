"""``spanwise exec`` children instrument every installed LLM library before their code
runs: the exec command puts a directory holding a ``sitecustomize`` module in front of
the child's ``PYTHONPATH`` (no command is added here)."""

from __future__ import annotations

import os
from pathlib import Path

import click


def add_boot_path(env: dict[str, str]) -> None:
    """CHILD_ENV_HOOKS entry: prepend the boot directory to the child's PYTHONPATH."""
    import spanwise._autoinstrument

    boot = str(Path(spanwise._autoinstrument.__file__).resolve().parent)
    existing = env.get("PYTHONPATH")
    parts = [p for p in (existing or "").split(os.pathsep) if p and p != boot]
    env["PYTHONPATH"] = os.pathsep.join([boot, *parts])
    env["SPANWISE_AUTOINSTRUMENT"] = "1"


def register(group: click.Group) -> None:
    from spanwise.cli.exec_cmd import CHILD_ENV_HOOKS

    if add_boot_path not in CHILD_ENV_HOOKS:
        CHILD_ENV_HOOKS.append(add_boot_path)
