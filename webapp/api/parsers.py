"""The API's JSON parser: bounded nesting and integers, so no body can crash a view.

Python's decoder recurses per nesting level (a body nested 100,000 deep raised
RecursionError) and accepts integers of any length (a 400-digit id overflowed
the database driver). Here both are a 400 that names the limit, before any
view sees the data. NaN and Infinity are refused as DRF's strict mode does.
"""

from __future__ import annotations

import codecs
import json
import math
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# The widest integer every database column and JSON store here can hold (signed 64-bit).
MAX_INT = 2**63 - 1


def _integer(text: str) -> int:
    # Checked on the text first: int() of a huge literal is itself quadratic work.
    if len(text.lstrip("-")) > 19 or abs(int(text)) > MAX_INT:
        raise ParseError(
            f"JSON parse error - integers must lie within ±{MAX_INT} (64 bits). "
            f"Received an integer of {len(text.lstrip('-'))} digits."
        )
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 reads as inf, which no JSON answer can carry
        raise ParseError(f"JSON parse error - the number {text[:40]} is out of range.")
    return value


def _constant(text: str) -> None:
    raise ParseError(f"JSON parse error - {text} is not valid JSON.")


def nesting_depth(text: str, limit: int) -> int:
    """The deepest ``[``/``{`` nesting of a JSON text (strings skipped), stopping past ``limit``."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
        elif char in "]}":
            depth -= 1
    return deepest


class BoundedJSONParser(JSONParser):
    """``application/json`` with at most ``MAX_JSON_DEPTH`` levels and 64-bit integers."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"JSON parse error - the body is not {encoding} text: {exc}") from None
        limit = settings.MAX_JSON_DEPTH
        if nesting_depth(text, limit) > limit:
            raise ParseError(f"JSON parse error - nested deeper than {limit} levels.")
        try:
            return json.loads(
                text, parse_int=_integer, parse_float=_float, parse_constant=_constant
            )
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
