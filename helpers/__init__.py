"""Plumbing for the course notebooks.

Servers in background threads, HTTP exchanges printed as raw messages, a clock the
course can move, headless Chromium for what only a browser shows, and the demo users.
The lessons themselves (login checks, cookies, tokens) live in the notebooks, not here.
"""

from .browser import MISSING as BROWSER_MISSING
from .browser import browser_available, close_browser, new_page, open_browser, start_browser
from .course_clock import CourseClock, clock
from .errors import install_json_errors, json_error
from .exercises import check
from .http_display import format_request, format_response, show_cookie_jar, show_exchange
from .live_server import LiveServer, running_servers, serve, stop_all
from .paths import DATA_DIR, NOTEBOOKS_DIR, ROOT
from .users import DemoUser, load_users

__all__ = [
    "BROWSER_MISSING",
    "DATA_DIR",
    "NOTEBOOKS_DIR",
    "ROOT",
    "CourseClock",
    "DemoUser",
    "LiveServer",
    "browser_available",
    "close_browser",
    "clock",
    "format_request",
    "format_response",
    "install_json_errors",
    "json_error",
    "check",
    "load_users",
    "new_page",
    "open_browser",
    "running_servers",
    "serve",
    "show_cookie_jar",
    "show_exchange",
    "start_browser",
    "stop_all",
]
