"""Log out everywhere with tokens: end every login of the user, and a per-user cut-off.

Ending the user's logins (refresh families) in this server's store stops new access
tokens from them here. Access tokens already handed out are JWTs that any instance
verifies without asking, so the user also gets a **cut-off time**: every verifier
refuses a token whose ``iat`` is before it (:func:`.access.check_not_cut_off`), and
``/refresh`` refuses a refresh token of a login that began before it. With ``--redis``
the cut-off lives in Redis and every instance sharing it refuses the same tokens, even
ones another instance issued from its own SQLite. When the cut-off store cannot be
reached the server refuses (503): it cannot tell whether a token was cut off.

``iat`` and a login's start have whole seconds, so the cut-off is the first whole
second after the moment of the cut (:func:`cutoff_second`): a token issued in the same
second as the cut, before or after it, cannot be told apart and is refused. A client
that logs in again within that second gets a token that is refused at once and logs in
again: a cost of one second, never a token from before the cut that survives.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from helpers.stores.cutoffs import CutoffStore
from helpers.stores.tokens import TokenStore

from .refresh import RefreshRefused


def cutoff_second(now: float) -> int:
    """The cut-off for a cut at ``now``: tokens with ``iat`` below it are refused."""
    return math.floor(now) + 1


def log_out_everywhere(store: TokenStore, cutoffs: CutoffStore, claims: Mapping[str, Any], *,
                       now: float, keep_for: float) -> int:
    """Cut off the user of ``claims`` and end every login of theirs here; logins ended.

    The cut-off comes first: if ending the logins fails, no token issued so far
    works anyway. ``keep_for`` is how long a login can live (then the cut-off goes).
    """
    cutoffs.cut(claims["sub"], cutoff_second(now), keep_for=keep_for)
    return store.end_logins_of(claims["sub"], now=now)


def refuse_refresh_if_cut_off(store: TokenStore, cutoffs: CutoffStore, refresh_token: str, *,
                              now: float) -> None:
    """Before a rotation: a refresh token of a login older than the user's cut-off is
    refused (``invalid_grant``) and its login ended here too.

    That matters across instances: the instance that logged the user out ended only the
    logins in its own store.
    """
    login = store.login_of_refresh_token(refresh_token)
    if login is None:
        return  # unknown: the rotation answers for it
    family_id, sub, created_at = login
    cutoff = cutoffs.cutoff_of(sub)
    if cutoff is not None and created_at < cutoff:
        store.end_login(family_id, now=now, reason="logout everywhere")
        raise RefreshRefused("revoked")
