"""HTTP/1.1 framing for the host's worker calls, with no IO: the core every call path shares.

The sync and async clients (``http1.py``) only move bytes; what a request looks like and where
an answer begins and ends is decided here, once (RFC 9112 sections 6 and 7):

- an interim ``1xx`` answer is skipped, never taken for the result (``101`` is refused: we
  never ask to switch protocols);
- ``Transfer-Encoding: chunked`` wins over ``Content-Length``; a message with both is framed by
  the chunks and its connection is not reused (it smells of response splitting); any other
  transfer coding is refused;
- ``Content-Length`` must be digits only (``-1``, ``+5``, ``1_0`` are refused) and agree with
  itself when repeated;
- chunk extensions are ignored, trailers are read and dropped, a chunk not followed by CRLF is
  refused;
- bytes after the end of an answer mean the connection is out of step: it is not reused.

The worker is untrusted, so a malformed answer is an error (``MalformedAnswer``), not a guess.
h11 was measured against this parser on the worker's typical exchange (encode a request, parse
an answer): ~10-50 us here against ~130-400 us for h11 on this shared machine, 5-10x in every
round (``bench/framing_bench.py``), so the call path keeps its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


class ConnectFailed(OSError):
    """No connection could be opened: the request never left this host."""


class ConnectionBroke(OSError):
    """The connection failed after the request was (maybe) sent, or the answer was malformed."""

#: An answer's head (status line and headers) may not be larger than this.
MAX_HEAD = 64 * 1024
_HEAD_END = b"\r\n\r\n"


class MalformedAnswer(ConnectionBroke):
    """The bytes from the worker are not a well-formed HTTP/1.1 answer."""


@dataclass(slots=True)  # not frozen: a frozen dataclass costs a microsecond more per answer
class Head:
    """An answer's final status line and headers (names lower-cased)."""

    status: int
    headers: dict[bytes, bytes]


#: Bodies up to this size go out in the same ``sendall`` as the head (one syscall); larger
#: ones are sent after it, never joined (a 200 MB argument is not copied again).
INLINE_BODY = 1 << 16

#: A request body: JSON bytes, or the pieces of a large one, made while it is sent
#: (``cjm_docker.codec.encode_pieces``).
Content = bytes | Iterable[bytes] | None


def encode_request(method: str, path: str, fixed_headers: bytes,
                   content: Content) -> Iterable[bytes]:
    """A request as the parts to send one after another: the head (with a small body), then
    a large body, or a body in pieces as chunks (``Transfer-Encoding: chunked``: its length
    is not known before the last piece is made). Iterable again, for a resend."""
    if content is None:
        extra = b"content-length: 0\r\n" if method in ("POST", "PUT") else b""
    elif isinstance(content, bytes):
        extra = b"content-type: application/json\r\ncontent-length: %d\r\n" % len(content)
    else:
        extra = b"content-type: application/json\r\ntransfer-encoding: chunked\r\n"
    head = b"%s %s HTTP/1.1\r\n%s%s\r\n" % (method.encode("ascii"), path.encode("ascii"),
                                            fixed_headers, extra)
    if content is None:
        return (head,)
    if not isinstance(content, bytes):
        return _Chunked(head, content)
    if len(content) > INLINE_BODY:
        return head, content
    return (head + content,)


class _Chunked:
    """A head, then a body of pieces as HTTP/1.1 chunks, one at a time."""

    __slots__ = ("_head", "_pieces")

    def __init__(self, head: bytes, pieces: Iterable[bytes]) -> None:
        self._head = head
        self._pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        for piece in self._pieces:
            if piece:  # an empty chunk would end the body
                yield b"".join((b"%x\r\n" % len(piece), piece, b"\r\n"))
        yield b"0\r\n\r\n"


# The parser's states: what the next bytes are.
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_CLOSE, _DONE = range(8)


class AnswerParser:
    """Reads one answer from bytes fed to it.

    Feed what the connection gives (``feed``; ``b""`` at the worker's close) and take events
    with ``next_event``: a ``Head``, then body pieces (``bytes``), then ``True`` at the end.
    ``None`` means more bytes are needed.

    Args:
        method: the request's method (a HEAD answer has no body).
        max_body: body bytes allowed (None: unbounded).
    """

    __slots__ = ("_method", "_max_body", "_buffer", "_state", "_remaining", "_closed",
                 "_received", "reusable", "body_length")

    def __init__(self, method: str, max_body: int | None = None) -> None:
        self._method = method
        self._max_body = max_body
        self._buffer = bytearray()
        self._state = _HEAD
        self._remaining = 0
        self._closed = False
        self._received = 0
        #: Whether the connection may carry another request once the answer has ended.
        self.reusable = False
        #: The body's size when the head declared it (Content-Length), else None.
        self.body_length: int | None = None

    def feed(self, data: bytes) -> None:
        if data:
            self._buffer += data
        else:
            self._closed = True

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def next_event(self) -> Head | bytes | bool | None:
        """The next event, or None when more bytes are needed (raises ``MalformedAnswer``)."""
        state, buffer = self._state, self._buffer
        if state == _HEAD:
            return self._head()
        if state == _LENGTH:
            if not buffer:
                return self._need("the answer's body")
            if len(buffer) <= self._remaining:  # the usual case: take it all, copy once
                piece = bytes(buffer)
                buffer.clear()
            else:
                piece = bytes(buffer[:self._remaining])
                del buffer[:len(piece)]
            self._remaining -= len(piece)
            if not self._remaining:
                self._finish()
            return self._count(piece)
        if state == _CHUNK_SIZE:
            return self._chunk_size()
        if state == _CHUNK_DATA:
            if not buffer:
                return self._need("a chunk")
            piece = bytes(buffer[:self._remaining])
            del buffer[:len(piece)]
            self._remaining -= len(piece)
            if not self._remaining:
                self._state = _CHUNK_END
            return self._count(piece)
        if state == _CHUNK_END:
            if len(buffer) < 2:
                return self._need("a chunk")
            if buffer[:2] != b"\r\n":
                raise MalformedAnswer("a chunk is not followed by CRLF")
            del buffer[:2]
            self._state = _CHUNK_SIZE
            return self.next_event()
        if state == _TRAILERS:
            return self._trailers()
        if state == _UNTIL_CLOSE:
            if buffer:
                piece = bytes(buffer)
                buffer.clear()
                return self._count(piece)
            if self._closed:
                self._state = _DONE
                return True
            return None
        return True

    # -- pieces -----------------------------------------------------------------------------

    def _need(self, what: str) -> Head | bytes | bool | None:
        """None (more bytes needed), unless the worker has closed: then the answer is cut."""
        if self._closed:
            raise ConnectionBroke(f"the worker closed the connection before sending {what}")
        return None

    def _count(self, piece: bytes) -> bytes:
        self._received += len(piece)
        if self._max_body is not None and self._received > self._max_body:
            raise AnswerTooLarge(self._received, self._max_body)
        return piece

    def _finish(self) -> None:
        self._state = _DONE
        if self._buffer:  # more than the answer: the connection is out of step
            self.reusable = False

    def _head(self) -> Head | bytes | bool | None:
        buffer = self._buffer
        end = buffer.find(_HEAD_END)
        if end < 0:
            if len(buffer) > MAX_HEAD:
                raise MalformedAnswer(f"the answer's head is over {MAX_HEAD} bytes")
            return self._need("the answer's head")
        lines = bytes(buffer[:end]).split(b"\r\n")
        del buffer[:end + 4]
        version, _, rest = lines[0].partition(b" ")
        code = rest[:3]
        if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
            raise MalformedAnswer(f"not an HTTP answer: {lines[0][:80]!r}")
        status = int(code)
        headers: dict[bytes, bytes] = {}
        lengths: set[bytes] = set()
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():
                raise MalformedAnswer(f"a malformed header line: {line[:80]!r}")
            name, value = name.lower(), value.strip()
            if name == b"content-length":
                lengths.update(v.strip() for v in value.split(b","))
            headers[name] = value
        if status < 200:
            if status == 101:
                raise MalformedAnswer("the worker switched protocols unasked (101)")
            return self._head()  # interim (100 Continue, 103 Early Hints): the answer follows
        self.reusable = version == b"HTTP/1.1" and \
            headers.get(b"connection", b"").lower() != b"close"
        head = Head(status, headers)
        coding = headers.get(b"transfer-encoding")
        if self._method == "HEAD" or status in (204, 304):
            self._finish()
        elif coding is not None:
            if coding.lower() != b"chunked":
                raise MalformedAnswer(f"an unsupported Transfer-Encoding: {coding[:40]!r}")
            if lengths:  # both: the chunks frame it (RFC 9112 6.3), the connection is not reused
                self.reusable = False
            self._state = _CHUNK_SIZE
        elif lengths:
            if len(lengths) > 1 or not all(v.isdigit() and v.isascii() for v in lengths):
                raise MalformedAnswer(f"a malformed Content-Length: "
                                      f"{headers[b'content-length'][:40]!r}")
            self._remaining = self.body_length = int(next(iter(lengths)))
            if self._max_body is not None and self._remaining > self._max_body:
                raise AnswerTooLarge(self._remaining, self._max_body)
            if self._remaining:
                self._state = _LENGTH
            else:
                self._finish()
        else:  # no framing: the body ends when the worker closes
            self.reusable = False
            self._state = _UNTIL_CLOSE
        return head

    def _chunk_size(self) -> Head | bytes | bool | None:
        buffer = self._buffer
        end = buffer.find(b"\r\n")
        if end < 0:
            if len(buffer) > 1024:
                raise MalformedAnswer("a chunk size line over 1 KiB")
            return self._need("a chunk")
        text = bytes(buffer[:end]).split(b";")[0].strip()
        del buffer[:end + 2]
        if not text or len(text) > 16 or not all(c in b"0123456789abcdefABCDEF" for c in text):
            raise MalformedAnswer(f"a malformed chunk size: {text[:40]!r}")
        size = int(text, 16)
        if size == 0:
            self._state = _TRAILERS
            return self._trailers()
        self._remaining = size
        self._state = _CHUNK_DATA
        return self.next_event()

    def _trailers(self) -> Head | bytes | bool | None:
        buffer = self._buffer
        while True:
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    raise MalformedAnswer(f"the answer's trailers are over {MAX_HEAD} bytes")
                return self._need("the answer's end")
            line = bytes(buffer[:end])
            del buffer[:end + 2]
            if not line:  # the empty line that ends the trailers, and the answer
                self._finish()
                return True


class AnswerTooLarge(MalformedAnswer):
    """The answer's body (or one stream frame) is over the caller's limit; it was not read
    whole and its connection is closed."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"the answer is {size} bytes, over the limit of {limit}")
