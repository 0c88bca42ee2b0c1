"""``python -m cjm_docker.worker``: serve one plugin over a Unix socket or TCP.

    python -m cjm_docker.worker --module M --class C (--socket PATH | --port N [--host H])
        --token-file PATH [--lease-file PATH --lease-timeout S] [--log-file PATH] [--grace S]

Every option but --host, --log-file and --grace falls back to its ``CJM_*`` variable (see
``cjm_docker.envvars``), so an image's ENV can start the worker with no arguments. The token is
only ever read from a file: arguments and environment show up in ``ps`` and ``docker inspect``.

Exit status: 0 after SIGTERM/SIGINT, 2 for a usage error (including a missing or empty token
file), 3 when the plugin cannot be imported or instantiated, 4 when the host's lease expired.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from cjm_docker import envvars, wire
from cjm_docker.worker.host import PluginHost

EXIT_USAGE = 2
EXIT_LOAD_FAILED = 3
DEFAULT_GRACE_S = 3.0
DEFAULT_LEASE_TIMEOUT_S = 30.0

log = logging.getLogger("cjm_docker.worker")


def build_parser() -> argparse.ArgumentParser:
    """The command line (defaults from the environment are applied in ``parse_args``)."""
    parser = argparse.ArgumentParser(
        prog="python -m cjm_docker.worker",
        description="Serve one cjm plugin over HTTP, on a Unix socket or a TCP port.")
    parser.add_argument("--module", metavar="M", help="module holding the plugin class"
                        + _env(envvars.WORKER_MODULE))
    parser.add_argument("--class", dest="class_name", metavar="C", help="the plugin class"
                        + _env(envvars.WORKER_CLASS))
    parser.add_argument("--socket", metavar="PATH", help="Unix socket path to listen on"
                        + _env(envvars.WORKER_SOCKET))
    parser.add_argument("--port", type=int, metavar="N", help="TCP port to listen on"
                        + _env(envvars.WORKER_PORT))
    parser.add_argument("--host", default="127.0.0.1", metavar="ADDRESS",
                        help="TCP address to bind (default: 127.0.0.1; pass 0.0.0.0 "
                             "explicitly to be reachable from outside the container)")
    parser.add_argument("--token-file", metavar="PATH", help="file holding the bearer token"
                        + _env(envvars.WORKER_TOKEN_FILE))
    parser.add_argument("--lease-file", metavar="PATH", help="file the host keeps touching; exit when stale"
                        + _env(envvars.WORKER_LEASE_FILE))
    parser.add_argument("--lease-timeout", type=float, metavar="SECONDS",
                        help="seconds the lease may go untouched"
                             + _env(envvars.WORKER_LEASE_TIMEOUT)
                             + f", else {DEFAULT_LEASE_TIMEOUT_S:g}")
    parser.add_argument("--log-file", metavar="PATH", help="also write all output here (capped at ~1 MiB)")
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE_S, metavar="SECONDS",
                        help="seconds for plugin cleanup at shutdown (default: %(default)s)")
    return parser


def _env(variable: str) -> str:
    return f" (default: ${variable})"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse ``argv``, filling what is missing from the environment; exits 2 on a usage error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    environ = os.environ
    if args.socket is not None and args.port is not None:
        parser.error("give --socket or --port, not both")
    if args.socket is None and args.port is None:
        args.socket = environ.get(envvars.WORKER_SOCKET) or None
        if args.socket is None and environ.get(envvars.WORKER_PORT):
            args.port = _number(parser, envvars.WORKER_PORT, int)
    for attribute, variable in (("module", envvars.WORKER_MODULE),
                                ("class_name", envvars.WORKER_CLASS),
                                ("token_file", envvars.WORKER_TOKEN_FILE),
                                ("lease_file", envvars.WORKER_LEASE_FILE)):
        if getattr(args, attribute) is None:
            setattr(args, attribute, environ.get(variable) or None)
    if args.lease_timeout is None:
        args.lease_timeout = (_number(parser, envvars.WORKER_LEASE_TIMEOUT, float)
                              if environ.get(envvars.WORKER_LEASE_TIMEOUT)
                              else DEFAULT_LEASE_TIMEOUT_S)
    for attribute, flag, variable in (("module", "--module", envvars.WORKER_MODULE),
                                      ("class_name", "--class", envvars.WORKER_CLASS),
                                      ("token_file", "--token-file", envvars.WORKER_TOKEN_FILE)):
        if not getattr(args, attribute):
            parser.error(f"{flag} is required (or set {variable})")
    if args.socket is None and args.port is None:
        parser.error(f"--socket or --port is required (or set {envvars.WORKER_SOCKET} or "
                     f"{envvars.WORKER_PORT})")
    if args.lease_timeout <= 0 or args.grace < 0:
        parser.error("--lease-timeout must be positive and --grace not negative")
    return args


def _number(parser: argparse.ArgumentParser, variable: str, kind: type) -> float:
    try:
        return kind(os.environ[variable])
    except ValueError:
        parser.error(f"${variable} must be a number, not {os.environ[variable]!r}")
        raise  # unreachable: parser.error exits


def read_token(path: str) -> str:
    """The bearer token from ``path``, surrounding whitespace removed.

    Raises:
        ValueError: the file is missing, unreadable or empty (the message says which).
    """
    try:
        with open(path, encoding="utf-8") as handle:
            token = handle.read().strip()
    except OSError as exc:
        raise ValueError(f"cannot read the token file {path}: {exc.strerror or exc}") from exc
    if not token:
        raise ValueError(f"the token file {path} is empty")
    return token


def _configure_logging() -> None:
    # Our logger only: the root logger belongs to the plugin (the old worker's
    # basicConfig(force=True) clobbered plugins' logging setup).
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s cjm-worker %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def _exit_on_load_failure(host: PluginHost) -> None:
    """Runs on the plugin thread: say why, flush, and end the process so the host sees it."""
    sys.stderr.write(f"FATAL: cannot load plugin {host.module}:{host.class_name}\n"
                     f"{host.load_traceback}")
    for stream in (sys.stderr, sys.stdout):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(EXIT_LOAD_FAILED)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the worker; returns only on a startup error (its exit status)."""
    args = parse_args(argv)
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    capped_log = None
    if args.log_file:  # first, so everything after lands in the file as well
        from cjm_docker.worker import logfile

        capped_log = logfile.install(args.log_file)
    else:
        faulthandler.enable(all_threads=True)
    with contextlib.suppress(AttributeError, ValueError, RuntimeError):
        # `docker kill -s USR1` dumps every thread's stack: where a stuck plugin is stuck.
        if capped_log is not None:
            capped_log.register_dump_signal(signal.SIGUSR1)
        else:
            faulthandler.register(signal.SIGUSR1, all_threads=True)
    _configure_logging()
    try:
        token = read_token(args.token_file)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_USAGE

    # Imported here so that `--help` and usage errors stay fast.
    from cjm_docker.worker import server
    from cjm_docker.worker.app import create_app
    from cjm_docker.worker.lease import LeaseWatcher
    from cjm_docker.worker.shutdown import Shutdown

    host = PluginHost(args.module, args.class_name, on_load_failed=_exit_on_load_failure)
    app = create_app(host, token)
    try:
        sock = server.bind_unix(args.socket) if args.socket else server.bind_tcp(args.host,
                                                                                   args.port)
    except OSError as exc:
        where = args.socket or f"{args.host}:{args.port}"
        print(f"error: cannot listen on {where}: {exc.strerror or exc}", file=sys.stderr,
              flush=True)
        return EXIT_USAGE

    def remove_socket() -> None:
        if args.socket:
            with contextlib.suppress(OSError):
                os.unlink(args.socket)

    shutdown = Shutdown(host, args.grace, on_exit=remove_socket, traceback_file=capped_log)
    if args.lease_file:
        LeaseWatcher(args.lease_file, args.lease_timeout,
                     lambda reason: shutdown.begin(reason, wire.EXIT_LEASE_EXPIRED)).start()
    log.info("pid %d serving %s:%s on %s", os.getpid(), args.module, args.class_name,
             server.describe(sock))
    server.serve(app, sock, on_signal=shutdown.on_signal, on_started=host.start_loading)
    # serve() returns only if uvicorn stopped by itself; a shutdown in progress exits for us.
    if shutdown.began:
        threading.Event().wait()
    return 1


if __name__ == "__main__":
    sys.exit(main())
