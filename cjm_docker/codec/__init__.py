"""One codec for every value that crosses: call arguments and config (host to worker), results
and stream chunks (worker to host), and the job journal (queue to disk).

The rules, the same on every path:

- Plain values cross as they are: ``str``, ``int``, ``float`` (NaN and +-Infinity included,
  written as Python's json writes them: both ends are Python and read them back), ``bool``,
  ``None``; lists and tuples (a tuple arrives as a list); dicts whose keys are str, int, float,
  bool or None (JSON makes the others strings: ``{1: "a"}`` arrives as ``{"1": "a"}``). A
  subclass of str, int or float (a str enum, an int flag) crosses as its plain value.
- Lists and dicts nest at most ``MAX_NESTING`` levels deep; a value that contains itself is
  refused as such.
- A path crosses the wire as its string: the exchange and data folders are mounted at the same
  absolute path inside and outside, so the string names the same file (the host first checks
  that the container can see it, ``host/arguments.py``). In the journal a path is tagged
  ``{"$path": "..."}`` so it reads back as a ``Path``; there a one-key dict whose key starts with
  ``$`` gains one ``$`` when written and loses it when read, so caller data never reads back as
  a tag.
- A value the rules above do not cover is, by path:

  ==========  ==============================================================================
  arguments   refused before anything is sent: ``ArgumentError`` naming where it sits
              (``args[0]['k'][2]``); a FileBackedDTO is the exception, turned by the host into
              a path in the container's exchange folder
  results     lowered by ``to_jsonable`` (dataclasses, datetimes, enums, sets, bytes as base64,
              UUID, Decimal, numpy, pydantic models, ``to_dict()``), as 0.0.x's encoder did for
              dataclasses; a value with no mapping is ``EncodingError`` naming where it sits
              (``result['items'][2] is a Foo``), which reaches the caller as ``PluginCallError``
  journal     not journaled: the job runs now but cannot be replayed after a restart, and its
              row says why
  ==========  ==============================================================================

- Reading: text that is not JSON is ``ProtocolError`` on the host (an answer), a 400 in the
  worker (a request) and ``JournalRowError`` for a journal row.

Text is compact JSON in UTF-8. A string with a lone surrogate (which UTF-8 cannot hold) is
written with ``\\udxxx`` escapes and reads back as the same string. A request body with a long
string is escaped and sent slice by slice (``encode_pieces``), so a 200 MB argument is never
copied whole.

Every plugin image holds this package (the worker imports it): the standard library and
``cjm_docker.errors`` only.
"""

from __future__ import annotations

from cjm_docker.codec.journal import (
    PATH_TAG,
    decode_call,
    decode_value,
    encode_call,
    encode_value,
)
from cjm_docker.codec.lowering import to_jsonable
from cjm_docker.codec.pieces import PIECE, Pieces, encode_pieces
from cjm_docker.codec.rules import MAX_NESTING, PLAIN, Refusal, Walk, plain_call
from cjm_docker.codec.text import decode, describe_failure, encode, encode_plain, encode_text
from cjm_docker.errors import EncodingError, JournalRowError

__all__ = ["MAX_NESTING", "PATH_TAG", "PIECE", "PLAIN", "Pieces", "EncodingError", "JournalRowError",
           "Refusal", "Walk", "decode", "decode_call", "decode_value", "describe_failure",
           "encode", "encode_call", "encode_pieces", "encode_plain", "encode_text", "encode_value",
           "plain_call", "to_jsonable"]
