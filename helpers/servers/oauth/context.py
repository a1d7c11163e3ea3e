"""What the grants, endpoints and token code need of the authorization server.

A typing ``Protocol``, so that those modules can name the server's parts without importing
:mod:`.provider`, which imports all of them to assemble the server.
"""

from __future__ import annotations

from typing import Any, Protocol

from helpers.notebook.course_clock import CourseClock

from .storage import OAuthStore


class ProviderContext(Protocol):
    """The course clock, the store, the issuer URL and the registered clients."""

    clock: CourseClock
    store: OAuthStore
    code_ttl: float

    def issuer(self) -> str: ...
    def query_client(self, client_id: str) -> Any: ...
