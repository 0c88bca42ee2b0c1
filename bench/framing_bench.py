"""The worker channel's HTTP/1.1 framing against h11, on the worker's typical exchange.

    .venv/bin/python bench/framing_bench.py

Both sides encode one request and parse one answer (no IO): cjm-docker's own sans-IO parser
(``cjm_docker.host.framing``) and h11 (installed with httpx, a dev dependency). Prints the
microseconds per exchange of each, in alternating rounds.
"""

from __future__ import annotations

import time

import h11

from cjm_docker.host.framing import AnswerParser, encode_request

ANSWER = (b"HTTP/1.1 200 OK\r\ndate: Mon, 30 Nov 2026 09:00:00 GMT\r\nserver: uvicorn\r\n"
          b"content-length: 22\r\ncontent-type: application/json\r\n\r\n"
          b'{"text":"x","steps":1}')
HEADERS = [("host", "worker"), ("authorization", "Bearer t")]
FIXED = b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in HEADERS)


def ours() -> bytes:
    encode_request("POST", "/execute", FIXED, b"{}")
    parser = AnswerParser("POST")
    parser.feed(ANSWER)
    body = b""
    while (event := parser.next_event()) is not True:
        if type(event) is bytes:
            body += event
    return body


def theirs() -> bytes:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="POST", target="/execute", headers=[
        *HEADERS, ("content-type", "application/json"), ("content-length", "2")]))
    conn.send(h11.Data(data=b"{}"))
    conn.send(h11.EndOfMessage())
    conn.receive_data(ANSWER)
    body = b""
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage) or event is h11.NEED_DATA:
            return body


def main(rounds: int = 4, n: int = 20000) -> None:
    assert ours() == theirs()
    for r in range(rounds):
        for name, fn in (("ours", ours), ("h11", theirs))[:: 1 if r % 2 else -1]:
            started = time.perf_counter()
            for _ in range(n):
                fn()
            print(f"{name:5s} {(time.perf_counter() - started) / n * 1e6:6.1f} us per exchange")


if __name__ == "__main__":
    main()
