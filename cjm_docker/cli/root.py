"""The `cjm-ctl` typer app and its global options (applied before any command)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from cjm_docker.config import load_config, set_config
from cjm_docker.name_rule import name_problem

app = typer.Typer(no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False,
                  help="cjm-docker: every plugin in its own container image, one host API.")


@dataclass
class CliState:
    """Set by the global callback; read by main() and the commands."""

    debug: bool = False


state = CliState()


def plugin_name(value: str | None) -> str | None:
    """Typer callback: a plugin name given on the command line passes the one name rule."""
    if value is not None:
        problem = name_problem(value)
        if problem is not None:
            raise typer.BadParameter(problem)
    return value


def plugin_names(values: list[str] | None) -> list[str] | None:
    """``plugin_name`` for a repeatable option."""
    for value in values or ():
        plugin_name(value)
    return values


@app.callback()
def configure(
    cjm_config: Annotated[Path | None, typer.Option(
        "--cjm-config", help="cjm.yaml to read (default: $CJM_CONFIG, else ./cjm.yaml).")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="Data root: manifests/, logs/, data/ (default ~/.cjm).")] = None,
    models_dir: Annotated[Path | None, typer.Option(
        "--models-dir", help="Shared model folder, mounted into every container.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Global options: the configuration is cjm.yaml < CJM_* variables < these flags."""
    state.debug = debug
    set_config(load_config(cjm_config, data_dir=data_dir, models_dir=models_dir))


def complete_plugin_names(incomplete: str) -> list[str]:
    """Shell completion of a plugin argument: both names of every installed plugin."""
    from cjm_docker.images.inventory import read_manifests

    try:
        manifests = read_manifests(load_config().manifests_dir)
    except Exception:  # completion must never print a traceback into the shell
        return []
    names = {n for _, m in manifests for n in (m.name, m.spec_name) if n}
    return sorted(n for n in names if n.startswith(incomplete))
