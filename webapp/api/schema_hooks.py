"""Answers every operation can give, added to the generated schema once.

Access is decided before any view runs, so each operation may answer 401
(no or a bad token), 403 (signed in without the right, or a session without
its CSRF token) and, for bodies, 413 (webapp.asgi's body limit); each is a
JSON object with a ``detail`` message.
"""

from __future__ import annotations

from typing import Any

DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
COMMON = {
    "401": "Not signed in: send `Authorization: Token …` or a session cookie.",
    "403": "Signed in without the right (staff only, for example), or a session without CSRF.",
}
WITH_BODY = {"413": "The request body is over the limit (MAX_REQUEST_BODY_BYTES or uploads')."}
# GET ?format=… is DRF's and POST bodies are parsed before the view: a 400 may always come.
BAD_REQUEST = "The request is malformed (the body or a parameter); the body says what is wrong."


def _response(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": DETAIL}}}


def document_access(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the shared answers to every operation."""
    for methods in result.get("paths", {}).values():
        for method, operation in methods.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            extra = dict(COMMON)
            if method in {"post", "put", "patch"}:
                extra.update(WITH_BODY)
                extra.setdefault("400", BAD_REQUEST)
            for status, text in extra.items():
                operation["responses"].setdefault(status, _response(text))
    return result
