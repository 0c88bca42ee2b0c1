"""The one place docker SDK and requests exceptions become ``cjm_docker`` errors.

Every call into the SDK, in every module of this package, runs inside ``translated``; each
foreign exception is re-raised as a ``cjm_docker`` error ``from`` the original, or swallowed
where the caller said what it means (a 404 for a container that is gone).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from cjm_docker.engine.sdk import docker_errors, requests_exceptions
from cjm_docker.errors import CjmDockerError, EngineError, EngineUnavailableError


def explain(exc: Exception) -> str:
    """The engine's own words for a refusal (its explanation, else the exception's text)."""
    if isinstance(exc, docker_errors.APIError):
        return str(exc.explanation or exc)
    return str(exc)


def _is_read_timeout(exc: Exception) -> bool:
    """A read that ran out of time. docker-py surfaces it as ``ReadTimeout`` or, on some
    paths, as a ``ConnectionError`` wrapping urllib3's ``ReadTimeoutError`` (docker-py#1966)."""
    return isinstance(exc, requests_exceptions.ReadTimeout) or (
        isinstance(exc, requests_exceptions.ConnectionError) and "Read timed out" in str(exc))


class Outcome:
    """What ``translated`` swallowed: the status that meant "absent" (None: nothing)."""

    __slots__ = ("status",)

    def __init__(self) -> None:
        self.status: int | None = None


@contextmanager
def translated(what: str, *, absent: tuple[int, ...] = (), waiting: bool = False,
               error: Callable[..., CjmDockerError] = EngineError,
               hint: str | None = None,
               image_missing: CjmDockerError | None = None) -> Iterator[Outcome]:
    """Run the block, turning every foreign exception into a ``cjm_docker`` error.

    Args:
        what: what was attempted, the start of the message ("Cannot remove container ...").
        absent: HTTP statuses that mean "nothing there, nothing to do" (404 for a container
            that is gone): swallowed, so the code after the ``with`` block answers.
        waiting: the call waits on purpose (``wait``): its read timeout is the caller's own
            limit running out, swallowed as well.
        error: the error raised for a refusal (``EngineError``; ``ImageError`` for pulls, a
            ``BuildError`` carrying the step and log for builds).
        hint: what the user can do, for a refusal.
        image_missing: raised instead when the engine says the image does not exist.
    """
    outcome = Outcome()
    try:
        yield outcome
    except CjmDockerError:
        raise
    except docker_errors.ImageNotFound as exc:
        if image_missing is not None:
            raise image_missing from exc
        if 404 in absent:
            outcome.status = 404
            return
        raise error(f"{what}: {explain(exc)}", hint=hint) from exc
    except docker_errors.APIError as exc:
        status = exc.status_code or (404 if isinstance(exc, docker_errors.NotFound) else None)
        if status in absent:
            outcome.status = status
            return
        raise error(f"{what}: {explain(exc)}", hint=hint) from exc
    except docker_errors.DockerException as exc:
        raise error(f"{what}: {explain(exc)}", hint=hint) from exc
    except requests_exceptions.RequestException as exc:
        if _is_read_timeout(exc):
            if waiting:
                return
            raise EngineError(f"{what}: the Docker engine did not answer in time ({exc}).",
                              hint="Is it overloaded? Check `docker info`.") from exc
        raise EngineUnavailableError(f"{what}: lost the Docker engine ({exc}).",
                                     hint=hint or "Is dockerd still running?") from exc
