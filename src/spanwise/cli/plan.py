"""``spanwise plan "request"``: an LLM turns the request into a workflow from the node
catalog; it is validated (one retry with the error), printed or saved, and run with
``--run``."""

from __future__ import annotations

from pathlib import Path

import click

from spanwise.cli._common import output_format_option, params_option
from spanwise.cli.run import Job, execute, parse_params


@click.command("plan")
@click.argument("request")
@click.option("--model", "-m", default=None, help="Any llm model id or alias (default: llm's).")
@click.option("--run", "run_it", is_flag=True, help="Run the workflow once it is planned.")
@click.option(
    "--save",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the planned workflow to this file.",
)
@params_option("A workflow input for --run (repeatable).")
@output_format_option("json: the result with planner and workflow costs.")
@click.option("--trace", is_flag=True, help="With --run: write the workflow trace file.")
@click.option(
    "--trace-planner", is_flag=True, help="Write SPANWISE_HOME/debug/planner-trace-….json."
)
@click.option(
    "--capture-content",
    is_flag=True,
    default=None,
    help="Keep LLM prompts and responses in traces (or SPANWISE_CAPTURE_CONTENT=1).",
)
def plan_cmd(
    request: str,
    model: str | None,
    run_it: bool,
    save: Path | None,
    params: tuple[str, ...],
    output_format: str,
    trace: bool,
    trace_planner: bool,
    capture_content: bool | None,
) -> None:
    """Turn REQUEST into a workflow with an LLM; print it, save it, or --run it."""
    job = Job(request=request, model=model, params=parse_params(params), run=run_it, save=save)
    execute(
        job,
        output_format=output_format,
        trace=trace,
        trace_planner=trace_planner,
        capture_content=capture_content,
    )


def register(group: click.Group) -> None:
    group.add_command(plan_cmd)
