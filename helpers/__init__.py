"""The course's importable package: what the notebooks use, and the demo servers they start.

* :mod:`helpers.notebook`: plumbing that runs a lesson without being one (the live
  server, the HTTP display, the course clock, exercises, the Redis launcher, the balancer);
* :mod:`helpers.servers`: the demo servers. Their code *is* the lesson where a notebook
  says so: notebooks show it with ``inspect.getsource`` rather than copy it;
* :mod:`helpers.http`, :mod:`helpers.users`, :mod:`helpers.stores`: the HTTP contract, the
  demo users with their password check, and the stores behind the servers.

Notebooks import what they need from here: ``from helpers import serve, show_exchange, clock``.
"""

from .http import install_json_errors, json_error
from .notebook.course_clock import CourseClock, clock
from .notebook.exercises import check
from .notebook.http_display import format_request, format_response, show_cookie_jar, show_exchange
from .notebook.live_server import LiveServer, running_servers, serve, stop_all, stop_servers
from .paths import DATA_DIR, NOTEBOOKS_DIR, ROOT
from .users import DemoUser, check_credentials, load_users

__all__ = [
    "DATA_DIR",
    "NOTEBOOKS_DIR",
    "ROOT",
    "CourseClock",
    "DemoUser",
    "LiveServer",
    "check",
    "check_credentials",
    "clock",
    "format_request",
    "format_response",
    "install_json_errors",
    "json_error",
    "load_users",
    "running_servers",
    "serve",
    "show_cookie_jar",
    "show_exchange",
    "stop_all",
    "stop_servers",
]
