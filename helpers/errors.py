"""JSON errors for every demo server.

The contract says every error response is ``{"error": "<short_code>", "message": "<sentence>"}``
and that no client input yields a 500. This module gives a Flask app that shape for
every HTTP error, caps request bodies, and turns a genuine bug into a JSON 500 that is
still logged (so a bug stays visible instead of being swallowed).
"""

from __future__ import annotations

import re

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException, InternalServerError

#: Largest request body a demo server reads. Anything bigger gets a JSON 413.
MAX_BODY_BYTES = 64 * 1024


def error_code(name: str) -> str:
    """``"Request Entity Too Large"`` -> ``"request_entity_too_large"``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def json_error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """Build the contract's error response."""
    response = jsonify(error=error, message=message)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def install_json_errors(app: Flask, *, max_body: int = MAX_BODY_BYTES) -> Flask:
    """Make every error of ``app`` a JSON body and cap request bodies at ``max_body`` bytes."""
    app.config["MAX_CONTENT_LENGTH"] = max_body
    app.config["MAX_FORM_MEMORY_SIZE"] = max_body

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        response = json_error(exc.code or 500, error_code(exc.name), exc.description or exc.name)
        # keep headers the error carries, such as Allow on a 405
        for key, value in exc.get_headers():
            if key.lower() != "content-type":
                response.headers[key] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        app.logger.exception("unhandled error")
        error = InternalServerError()
        return json_error(500, "internal_error", error.description)

    return app


def no_content() -> Response:
    """A 204 with no body and so no Content-Type (Flask would otherwise label it text/html)."""
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response
