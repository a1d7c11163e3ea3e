"""The two WebAuthn ceremonies, as calls into py_webauthn: options out, responses checked.

Registration (WebAuthn Level 3 §7.1) and authentication (§7.2) each take two round
trips: the server sends *options* holding a fresh random challenge; the browser asks the
authenticator, which signs over that challenge and the origin the browser saw; the server
*verifies* the response. Every check of §7.1 / §7.2 that involves cryptography or the
signed data (type, challenge, origin, RP ID hash, user presence and verification, sign
counter, signature, attestation) is py_webauthn's; nothing here re-implements it.

This module knows nothing of HTTP or storage. Anything py_webauthn refuses, however it
refuses it, becomes a :class:`CeremonyError` the app answers with a 400.
"""

from __future__ import annotations

import json
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import (
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

#: How long the browser is told to wait for the user, in milliseconds (a hint, §5.4).
TIMEOUT_MS = 120_000


class CeremonyError(Exception):
    """A response the server refuses: ``code`` for programs, ``message`` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _refused(code: str, what: str, exc: Exception) -> CeremonyError:
    # py_webauthn raises its own exceptions, but on hostile input also ValueError, TypeError,
    # KeyError, cbor2 and binascii errors from deep inside: the input is the client's, so
    # any of them means "refused", never a 500.
    return CeremonyError(code, f"{what}: {exc}")


# -- registration (§7.1) -----------------------------------------------------------------


def registration_options(*, rp_id: str, rp_name: str, username: str, user_handle: bytes,
                         existing: list[bytes]) -> tuple[dict[str, Any], bytes]:
    """Creation options for a discoverable credential (a passkey), and their challenge."""
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=rp_name,
        user_name=username,
        user_id=user_handle,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,  # discoverable: no username at sign-in
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        # the same authenticator must not register twice for one account (§5.4 excludeCredentials)
        exclude_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in existing],
    )
    return json.loads(options_to_json(options)), options.challenge


def parse_registration(credential: Any) -> RegistrationCredential:
    """Read ``PublicKeyCredential.toJSON()`` of a registration into py_webauthn's type."""
    try:
        return parse_registration_credential_json(credential)
    except Exception as exc:  # noqa: BLE001 - see _refused
        raise _refused("invalid_credential", "not a registration credential", exc) from None


def verify_registration(credential: RegistrationCredential, *, challenge: bytes, rp_id: str,
                        origin: str) -> VerifiedRegistration:
    """WebAuthn §7.1: type, challenge, origin, RP ID hash, flags, algorithm, attestation."""
    try:
        return verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            require_user_verification=True,
        )
    except Exception as exc:  # noqa: BLE001 - see _refused
        raise _refused("verification_failed", "registration refused", exc) from None


# -- authentication (§7.2) ---------------------------------------------------------------


def authentication_options(*, rp_id: str) -> tuple[dict[str, Any], bytes]:
    """Request options with an empty allowCredentials: the authenticator offers its passkeys."""
    options = generate_authentication_options(
        rp_id=rp_id,
        timeout=TIMEOUT_MS,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return json.loads(options_to_json(options)), options.challenge


def parse_authentication(credential: Any) -> AuthenticationCredential:
    """Read ``PublicKeyCredential.toJSON()`` of an assertion into py_webauthn's type."""
    try:
        return parse_authentication_credential_json(credential)
    except Exception as exc:  # noqa: BLE001 - see _refused
        raise _refused("invalid_credential", "not an authentication credential", exc) from None


def verify_authentication(credential: AuthenticationCredential, *, challenge: bytes, rp_id: str,
                          origin: str, public_key: bytes,
                          sign_count: int) -> VerifiedAuthentication:
    """WebAuthn §7.2: type, challenge, origin, RP ID hash, flags, counter, signature."""
    try:
        return verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=True,
        )
    except Exception as exc:  # noqa: BLE001 - see _refused
        raise _refused("verification_failed", "sign-in refused", exc) from None


# -- which ceremony a response belongs to ----------------------------------------------------


def signed_challenge(client_data_json: bytes) -> bytes:
    """The challenge the browser put into ``clientDataJSON`` (§5.8.1), to find its ceremony.

    This only *reads* the challenge to look it up; whether it is the right one is
    checked again by py_webauthn inside verify_registration / verify_authentication.
    """
    try:
        challenge = parse_client_data_json(client_data_json).challenge
    except Exception as exc:  # noqa: BLE001 - see _refused
        raise _refused("invalid_client_data", "clientDataJSON unreadable", exc) from None
    if not challenge:
        raise CeremonyError("invalid_client_data", "clientDataJSON carries no challenge")
    return challenge
