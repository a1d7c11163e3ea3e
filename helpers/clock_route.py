"""``POST /_clock {"advance": SECONDS}``: move a server's course clock from outside.

``python -m helpers serve NAME --clock`` wraps the server's WSGI app in
:class:`ClockRoute`, so a test or a reader with curl can make an hour pass without
waiting. Without ``--clock`` the route does not exist and ``/_clock`` is the app's 404.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, jsonify

from helpers.http import install_json_errors, json_error, read_json_object
from helpers.notebook.course_clock import CourseClock

PATH = "/_clock"
#: The most one request may move the clock: ten years (a bigger step is a typo or an attack).
MAX_ADVANCE = 10 * 365 * 24 * 3600


def clock_app(clock: CourseClock) -> Flask:
    """The tiny app behind ``/_clock``: JSON in, ``{"now": seconds}`` out, JSON errors."""
    app = Flask(__name__)
    install_json_errors(app)

    @app.post(PATH)
    def advance() -> Response:
        seconds = read_json_object().get("advance")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            return json_error(400, "invalid_request", "advance must be a number of seconds")
        if not math.isfinite(seconds) or not 0 <= seconds <= MAX_ADVANCE:
            return json_error(400, "invalid_request",
                              f"advance must be between 0 and {MAX_ADVANCE} seconds")
        clock.advance(seconds)
        return jsonify(now=clock.time())

    return app


class ClockRoute:
    """A WSGI app: ``/_clock`` goes to :func:`clock_app`, every other path to ``app``."""

    def __init__(self, app: Callable[..., Iterable[bytes]], clock: CourseClock) -> None:
        self.app = app
        self.clock_app = clock_app(clock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        target = self.clock_app if environ.get("PATH_INFO") == PATH else self.app
        return target(environ, start_response)
