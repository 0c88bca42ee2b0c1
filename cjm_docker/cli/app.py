"""The `cjm-ctl` entry point: every command registered, one handler for every error."""

from __future__ import annotations

import sys

import click
import typer

from cjm_docker.cli import conformance, deploy, doctor, images, runtime  # noqa: F401  (they register their commands)
from cjm_docker.cli.output import err_console, print_error
from cjm_docker.cli.root import app, state
from cjm_docker.errors import CjmDockerError


def main(argv: list[str] | None = None) -> None:
    """Run `cjm-ctl`: exit 0 on success, 1 on any cjm-docker error (its message as one
    paragraph on stderr; the traceback only with --debug), 130 on Ctrl-C."""
    args = sys.argv[1:] if argv is None else argv
    try:
        result = app(args=args, prog_name="cjm-ctl", standalone_mode=False)
    except CjmDockerError as exc:
        print_error(exc, debug=state.debug or "--debug" in args)
        sys.exit(1)
    except (KeyboardInterrupt, click.exceptions.Abort, typer.Abort):
        err_console.print("Interrupted.", style="yellow")
        sys.exit(130)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Exit, typer.Exit) as exc:
        sys.exit(exc.exit_code)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
