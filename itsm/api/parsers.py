"""Reading request bodies: bounded in size and depth, and free of NUL characters, before any
view sees them. Each check is answered in the API's error shape:

- Size: a body whose Content-Length is over Django's `DATA_UPLOAD_MAX_MEMORY_SIZE` is refused
  with 413 before a parser is chosen, so it holds for every content type and every view,
  including views that bring their own parser classes (the token endpoint's).
- Content: a string holding a NUL character is a 400 naming its field.
- Depth: JSON nested deeper than `MAX_JSON_DEPTH` is a 400. Past Python's recursion limit the
  decoder itself fails (`itsm.api.exceptions` answers that for any parser); below it a deep
  value still recurses again in validation, database lookups and error messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.settings import api_settings

# Every body the API takes is an object of scalars and lists: three levels at most. The margin
# is for clients that wrap bodies; recursion starts to bite in the hundreds.
MAX_JSON_DEPTH = 32
TOO_DEEP_MESSAGE = f"JSON parse error - nested more deeply than {MAX_JSON_DEPTH} levels."
NUL_MESSAGE = "Null characters are not allowed."  # DRF's CharField says the same


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"

    def __init__(self) -> None:
        super().__init__(
            f"The request body is larger than the {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} "
            "bytes this server reads."
        )


def body_too_large(request: Any) -> bool:
    """Whether the request announces a body over the limit (None: no limit)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    meta = request.META
    try:
        length = int(meta.get("CONTENT_LENGTH") or meta.get("HTTP_CONTENT_LENGTH") or 0)
    except ValueError:
        return False  # Django reads such a body as empty
    return limit is not None and length > limit


class BoundedContentNegotiation(DefaultContentNegotiation):
    """Choose a parser only for a body this server is willing to read."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        if body_too_large(request):
            raise RequestTooLarge()
        return super().select_parser(request, parsers)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing documents nested deeper than `MAX_JSON_DEPTH` and strings
    with a NUL character anywhere (PostgreSQL cannot store or compare them: a NUL in a slug
    would reach the database as a lookup and fail there, as a 500)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as error:
            raise exceptions.ParseError(TOO_DEEP_MESSAGE) from error
        check_json(data)
        return data


def check_json(data: Any) -> None:
    """Walk the document without recursion: depth costs no stack.

    A NUL is reported on the top-level field that holds it, in a serializer's words.
    """
    pending: list[tuple[Any, int, str | None]] = [(data, 1, None)]
    while pending:
        value, depth, field = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise exceptions.ValidationError(
                    {field or api_settings.NON_FIELD_ERRORS_KEY: [NUL_MESSAGE]}
                )
            continue
        if isinstance(value, Mapping):
            items: list[tuple[Any, Any]] = list(value.items())
        elif isinstance(value, Sequence):
            items = [(None, child) for child in value]
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise exceptions.ParseError(TOO_DEEP_MESSAGE)
        for key, child in items:
            name = field if field is not None or key is None else str(key)
            if isinstance(key, str):
                pending.append((key, depth, name))
            pending.append((child, depth + 1, name))


def is_json_recursion(error: BaseException) -> bool:
    """Whether a RecursionError was raised by the JSON decoder (bad input, not a bug)."""
    if not isinstance(error, RecursionError):
        return False
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return frame is not None and frame.tb_frame.f_globals.get("__name__") == json.decoder.__name__
