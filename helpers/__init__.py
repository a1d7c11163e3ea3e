"""Plumbing for the course notebooks.

Servers in background threads, HTTP exchanges printed as raw messages, a clock the
course can move, and the demo users. The lessons themselves (login checks, cookies,
tokens) live in the notebooks, not here.
"""

from .course_clock import CourseClock, clock
from .errors import install_json_errors, json_error
from .exercises import check
from .http_display import format_request, format_response, show_cookie_jar, show_exchange
from .jose_display import (
    b64url_decode,
    b64url_encode,
    elide,
    header_of,
    is_numeric_date,
    payload_of,
)
from .live_server import LiveServer, running_servers, serve, stop_all
from .paths import DATA_DIR, NOTEBOOKS_DIR, ROOT
from .users import DemoUser, load_users

__all__ = [
    "DATA_DIR",
    "NOTEBOOKS_DIR",
    "ROOT",
    "CourseClock",
    "DemoUser",
    "LiveServer",
    "clock",
    "b64url_decode",
    "b64url_encode",
    "elide",
    "format_request",
    "header_of",
    "is_numeric_date",
    "payload_of",
    "format_response",
    "install_json_errors",
    "json_error",
    "check",
    "load_users",
    "running_servers",
    "serve",
    "show_cookie_jar",
    "show_exchange",
    "stop_all",
]
