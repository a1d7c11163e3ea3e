"""HTTPS on made-up host names, for what a browser does only across real sites over TLS.

Why a module of its own: ``Partitioned`` cookies (CHIPS) must be ``Secure`` and only mean
something when the top-level page and the embedded frame are *different sites*. On one
machine, with no network, that takes three pieces, each hidden here:

* a throwaway certificate authority and one certificate for every test name (``trustme``,
  made in memory, never written to disk or trusted by the system);
* a :class:`~helpers.notebook.live_server.LiveServer` that speaks TLS with that certificate;
* Chromium flags that send the test names to 127.0.0.1 (``--host-resolver-rules``) and
  accept the throwaway certificate (``--ignore-certificate-errors``), for a browser of
  its own (:func:`helpers.notebook.browser.open_browser_with`), never the course's main one.

The ``.test`` top-level domain is reserved for testing (RFC 6761 section 6.2). The TLS
handshake runs in the server's accept loop, as in werkzeug's own HTTPS mode: right for a
browser on this machine, not for a server facing the public.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any

import trustme

from .live_server import POLL_INTERVAL, LiveServer, make_quiet_server, serve_started


def tls_context(*names: str) -> ssl.SSLContext:
    """A server TLS context with a fresh certificate for ``names``, from a fresh throwaway CA."""
    certificate = trustme.CA().issue_cert(*names)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    return context


def chromium_flags(*names: str) -> tuple[str, ...]:
    """Flags for a browser that reaches ``names`` on 127.0.0.1 and accepts the throwaway cert."""
    rules = ", ".join(f"MAP {name} 127.0.0.1" for name in names)
    return (f"--host-resolver-rules={rules}", "--ignore-certificate-errors")


class HttpsLiveServer(LiveServer):
    """A :class:`LiveServer` that speaks HTTPS with ``context``; ``url`` names the host ``host``."""

    def __init__(self, app: Any, *, context: ssl.SSLContext, name: str = "https-server",
                 port: int = 0) -> None:
        super().__init__(app, name=name, port=port)
        self.context = context

    def start(self) -> HttpsLiveServer:
        if self.running:
            return self
        self._server = make_quiet_server(self.app, self._requested_port, self.name)
        self._server.socket = self.context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": POLL_INTERVAL},
                                        name=f"{self.name}-serve", daemon=True)
        self._thread.start()
        return self

    def url_for(self, host: str) -> str:
        """``https://HOST:PORT``: the same server, as the browser will name it."""
        return f"https://{host}:{self.port}"


def serve_https(app: Any, name: str, context: ssl.SSLContext) -> HttpsLiveServer:
    """Like :func:`helpers.notebook.live_server.serve` over HTTPS: a re-run cell replaces the
    older one."""
    return serve_started(name, lambda: HttpsLiveServer(app, context=context, name=name).start())
