"""The `cjm-ctl` entry point: every command registered, one handler for every error."""

from __future__ import annotations

import sys
from types import ModuleType

import click
import typer

# The one place commands are registered: each module adds its commands to `root.app` when
# imported. A command module missing here is a command users never see
# (tests/unit/test_cli_registration.py fails).
from cjm_docker.cli import (  # noqa: F401
    conformance,
    deploy,
    doctor,
    images,
    installed,
    runtime,
    show,
)
from cjm_docker.cli.output import err_console, print_error
from cjm_docker.cli.root import app, state
from cjm_docker.errors import CjmDockerError


def _click_modules() -> list[ModuleType]:
    """click's exception modules: the package's, and the copy recent typer versions vendor."""
    modules: list[ModuleType] = [click.exceptions]
    try:
        from typer._click import exceptions as vendored  # typer >= 0.2x ships its own click
    except ImportError:
        return modules
    return [*modules, vendored]


_CLICK = _click_modules()
_USAGE = tuple(m.ClickException for m in _CLICK)
_ABORT = (KeyboardInterrupt, typer.Abort, click.exceptions.Abort)
_EXIT = (typer.Exit, click.exceptions.Exit)
INTERNAL_ERROR = ("This is an internal error of cjm-docker, not a problem with your input: "
                  "rerun with --debug for the traceback and report it.")


def main(argv: list[str] | None = None) -> None:
    """Run `cjm-ctl`: exit 0 on success, 1 on any cjm-docker error (its message as one
    paragraph on stderr; the traceback only with --debug), 2 on a usage error, 130 on Ctrl-C."""
    args = sys.argv[1:] if argv is None else argv
    try:
        result = app(args=args, prog_name="cjm-ctl", standalone_mode=False)
    except CjmDockerError as exc:
        print_error(exc, debug=state.debug or "--debug" in args)
        sys.exit(1)
    except _ABORT:
        err_console.print("Interrupted.", style="yellow")
        sys.exit(130)
    except _EXIT as exc:
        sys.exit(exc.exit_code)
    except _USAGE as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug of ours: still one paragraph, the traceback with --debug
        print_error(exc, debug=state.debug or "--debug" in args)
        err_console.print(INTERNAL_ERROR, style="yellow", markup=False, highlight=False,
                          soft_wrap=True)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
