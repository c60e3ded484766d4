"""The ``spanwise`` command line. Each command lives in its own module with a
``register(group)`` function; errors are one line on stderr and exit code 1."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from spanwise.cli._common import CliError

# Modules that add commands; append yours (one line).
COMMAND_MODULES = [
    "spanwise.cli.traces",
    "spanwise.cli.cost",
    "spanwise.cli.admin",
    "spanwise.cli.exec_cmd",
    "spanwise.cli.efficiency",
    "spanwise.cli.run",
    "spanwise.cli.plan",
    "spanwise.cli.serve",
    "spanwise.cli.retention",
    "spanwise.cli.errors",
    "spanwise.cli.locks",
    "spanwise.cli.perf",
    "spanwise.cli.compare",
    "spanwise.cli.prices",
    "spanwise.cli.autoinstrument",
]


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        from spanwise._settings import ConfigError
        from spanwise.store._database import StoreError
        from spanwise.store._queries import TraceNotFound

        try:
            return super().invoke(ctx)
        except (CliError, ConfigError, StoreError, TraceNotFound) as exc:
            message = exc.args[0] if exc.args else str(exc)
            raise click.ClickException(str(message).splitlines()[0]) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="spanwise")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """spanwise: what each run cost, where the time went and why it failed."""
    ctx.ensure_object(dict)


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(cli)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point. A command that asked to skip the interpreter's
    teardown (``_exit.skip_teardown``) ends the process here (see ``_exit``)."""
    from spanwise.cli import _exit

    _exit.reset()
    try:
        cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="spanwise")
    except SystemExit as exc:
        if _exit.requested():
            _exit.leave(exc.code)
        raise
