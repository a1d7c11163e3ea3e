"""helpers.stores.tokens: refresh-token families and the jti denylist, including under threads."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.stores.tokens import (
    ENDED,
    EXPIRED,
    FAMILY_EXPIRED,
    FAMILY_RETENTION,
    REUSED,
    REVOKED,
    ROTATED,
    UNKNOWN,
    TokenStore,
    hash_refresh_token,
    new_refresh_token,
)
from tests.support import run_concurrently

T0 = 1_800_000_000
REFRESH, FAMILY, ACCESS = 3600, 4 * 3600, 300


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TokenStore]:
    s = TokenStore(str(tmp_path / "store.db"))
    yield s
    s.close()


def start(store: TokenStore, raw: str, *, now: int = T0, jti: str = "jti-1",
          sub: str = "alice") -> str:
    return store.start_family(sub, raw, now=now, refresh_ttl=REFRESH,
                              family_lifetime=FAMILY, access_jti=jti,
                              access_expires_at=now + ACCESS)


def rotate(store: TokenStore, old: str, new: str, *, now: int = T0 + 10, jti: str = "jti-2") -> str:
    return store.rotate(old, new, now=now, refresh_ttl=REFRESH,
                        access_jti=jti, access_expires_at=now + ACCESS).outcome


def test_refresh_tokens_are_random_and_hashed_with_sha256() -> None:
    tokens = {new_refresh_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) == 43 for t in tokens)
    assert hash_refresh_token("abc") == hashlib.sha256(b"abc").hexdigest()


def test_rotation_spends_the_token_and_chains_the_successor(store: TokenStore) -> None:
    family = start(store, "r1")
    result = store.rotate("r1", "r2", now=T0 + 10, refresh_ttl=REFRESH,
                          access_jti="jti-2", access_expires_at=T0 + 10 + ACCESS)
    assert result.ok
    assert (result.outcome, result.family_id, result.sub) == (ROTATED, family, "alice")
    rows = {row["token_hash"]: row for row in store.rows("refresh_tokens")}
    first, second = rows[hash_refresh_token("r1")], rows[hash_refresh_token("r2")]
    assert (first["spent"], first["spent_at"], first["replaced_by"]) == \
        (1, T0 + 10, hash_refresh_token("r2"))
    assert (second["spent"], second["family_id"], second["issued_at"]) == (0, family, T0 + 10)
    assert rotate(store, "r2", "r3", jti="jti-3") == ROTATED


def test_reuse_revokes_the_family_and_denies_its_live_access_tokens(store: TokenStore) -> None:
    start(store, "r1", jti="jti-1")
    assert rotate(store, "r1", "r2", jti="jti-2") == ROTATED
    assert rotate(store, "r1", "x", jti="jti-x") == REUSED
    assert rotate(store, "r2", "r3", jti="jti-3") == REVOKED
    assert store.is_jti_denied("jti-1") and store.is_jti_denied("jti-2")
    assert not store.is_jti_denied("jti-x") and not store.is_jti_denied("jti-3")  # never issued
    (family,) = store.rows("families")
    assert family["revoked_reason"] == "refresh token reuse" and family["revoked_at"] == T0 + 10
    # nothing was stored for the refused attempts
    assert len(store.rows("refresh_tokens")) == 2


def test_reuse_does_not_deny_access_tokens_that_already_expired(store: TokenStore) -> None:
    start(store, "r1", jti="old")
    assert rotate(store, "r1", "r2", now=T0 + ACCESS + 5, jti="new") == ROTATED
    assert rotate(store, "r1", "r3", now=T0 + ACCESS + 6) == REUSED
    assert [row["jti"] for row in store.rows("denied_jtis")] == ["new"]


def test_unknown_token(store: TokenStore) -> None:
    assert rotate(store, "never-issued", "x") == UNKNOWN
    assert store.rows("refresh_tokens") == []


def test_refresh_token_idle_expiry(store: TokenStore) -> None:
    start(store, "r1")
    assert rotate(store, "r1", "r2", now=T0 + REFRESH) == EXPIRED
    start(store, "s1", jti="s-jti")
    assert rotate(store, "s1", "s2", now=T0 + REFRESH - 1, jti="s-jti-2") == ROTATED


def test_family_absolute_lifetime_caps_every_token(store: TokenStore) -> None:
    start(store, "r0")
    for step in range(1, 5):  # refresh every 3000 s, inside the idle lifetime
        outcome = rotate(store, f"r{step - 1}", f"r{step}", now=T0 + 3000 * step,
                         jti=f"step-{step}")
        assert outcome == ROTATED
    last = next(r for r in store.rows("refresh_tokens")
                if r["token_hash"] == hash_refresh_token("r4"))
    assert last["expires_at"] == T0 + FAMILY  # not 12000 + REFRESH: the family ends first
    assert rotate(store, "r4", "r5", now=T0 + FAMILY - 1, jti="jti-5") == ROTATED
    assert rotate(store, "r5", "r6", now=T0 + FAMILY, jti="jti-6") == FAMILY_EXPIRED


def test_times_are_stored_as_whole_seconds(store: TokenStore) -> None:
    start(store, "r1", now=T0 + 0.75)  # type: ignore[arg-type]
    (family,) = store.rows("families")
    assert family["created_at"] == T0 and family["expires_at"] == T0 + FAMILY
    assert isinstance(family["created_at"], int)


def test_end_a_login_by_either_token(store: TokenStore) -> None:
    family_a = start(store, "a1", jti="a-jti")
    family_b = start(store, "b1", jti="b-jti")
    assert store.end_login_of_refresh_token("a1", now=T0 + 1) == (ENDED, family_a)
    assert store.end_login_of_refresh_token("a1", now=T0 + 2) == (REVOKED, family_a)  # already
    assert store.end_login_of_refresh_token("nope", now=T0 + 2) == (UNKNOWN, None)
    assert store.is_jti_denied("a-jti") and not store.is_jti_denied("b-jti")
    assert store.end_login(family_b, now=T0 + 3)
    assert not store.end_login(family_b, now=T0 + 4)  # a second logout ends nothing
    assert not store.end_login("unknown-family", now=T0 + 3)
    assert store.is_jti_denied("b-jti")
    assert rotate(store, "b1", "b2") == REVOKED


def test_logout_with_a_spent_refresh_token_is_reuse(store: TokenStore) -> None:
    family = start(store, "c1", jti="c-jti")
    assert rotate(store, "c1", "c2", jti="c2-jti") == ROTATED
    assert store.end_login_of_refresh_token("c1", now=T0 + 20) == (REUSED, family)
    assert store.is_jti_denied("c2-jti")
    assert rotate(store, "c2", "c3", now=T0 + 30) == REVOKED


def test_the_store_hashes_refresh_tokens_itself(store: TokenStore) -> None:
    start(store, "raw-token")
    (row,) = store.rows("refresh_tokens")
    assert row["token_hash"] == hash_refresh_token("raw-token")
    assert "raw-token" not in str(store.rows("refresh_tokens"))


def test_deny_jti_is_idempotent_and_purged_after_exp(store: TokenStore) -> None:
    store.deny_jti("j1", T0 + 100, now=T0)
    store.deny_jti("j1", T0 + 100, now=T0 + 1, reason="again")
    assert store.is_jti_denied("j1")
    assert [r["reason"] for r in store.rows("denied_jtis")] == ["revoked"]
    assert store.purge_expired(now=T0 + 99) == 0
    assert store.purge_expired(now=T0 + 100) == 1
    assert not store.is_jti_denied("j1")


def test_purge_removes_whole_families_a_day_after_their_lifetime(store: TokenStore) -> None:
    start(store, "old", jti="old-jti")
    start(store, "new", now=T0 + 3600, jti="new-jti")
    store.purge_expired(now=T0 + FAMILY)
    assert len(store.rows("families")) == 2  # kept a while, so a late refresh hears "too old"
    assert rotate(store, "old", "x", now=T0 + FAMILY) == FAMILY_EXPIRED
    store.purge_expired(now=T0 + FAMILY + FAMILY_RETENTION)
    assert [r["sub"] for r in store.rows("families")] == ["alice"]
    assert [r["token_hash"] for r in store.rows("refresh_tokens")] == [hash_refresh_token("new")]
    assert rotate(store, "old", "x", now=T0 + FAMILY + FAMILY_RETENTION) == UNKNOWN


def test_rows_only_shows_known_tables(store: TokenStore) -> None:
    with pytest.raises(ValueError, match="unknown table"):
        store.rows("families; DROP TABLE families")


def test_a_failed_write_rolls_back_and_the_store_keeps_working(store: TokenStore) -> None:
    start(store, "r1", jti="jti-1")
    with pytest.raises(sqlite3.IntegrityError):
        start(store, "r1", jti="jti-other")  # same refresh hash: the insert fails mid-transaction
    assert len(store.rows("families")) == 1  # the second family row was rolled back
    assert rotate(store, "r1", "r2") == ROTATED


def test_data_survives_reopening_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "keep.db")
    first = TokenStore(path)
    start(first, "r1")
    first.close()
    second = TokenStore(path)
    try:
        assert rotate(second, "r1", "r2") == ROTATED
    finally:
        second.close()


def test_in_memory_store_works() -> None:
    memory = TokenStore()
    start(memory, "r1")
    assert rotate(memory, "r1", "r2") == ROTATED
    memory.close()


# -- threads ---------------------------------------------------------------------------------------
def test_concurrent_rotations_of_one_token_from_two_connections(tmp_path: Path) -> None:
    """Two TokenStores on one file stand for two processes: the thread lock alone cannot
    serialise them, ``BEGIN IMMEDIATE`` and the conditional UPDATE must."""
    path = str(tmp_path / "race.db")
    stores = [TokenStore(path), TokenStore(path)]
    try:
        for round_ in range(5):
            start(stores[0], f"r{round_}", jti=f"start-{round_}")
            barrier = threading.Barrier(16)

            def racer(index: int, token: str = f"r{round_}",
                      barrier: threading.Barrier = barrier) -> str:
                barrier.wait()
                return rotate(stores[index % 2], token, f"{token}-next-{index}",
                              jti=f"{token}-{index}")

            outcomes = run_concurrently(racer, 16, timeout=30)
            assert len(outcomes) == 16
            assert outcomes.count(ROTATED) == 1, outcomes
            assert set(outcomes) - {ROTATED} <= {REUSED, REVOKED}
    finally:
        for s in stores:
            s.close()


def test_concurrent_logins_and_lookups_lose_nothing(store: TokenStore) -> None:
    def worker(w: int) -> None:
        for i in range(50):
            start(store, f"w{w}-{i}", jti=f"w{w}-{i}")
            store.deny_jti(f"d{w}-{i}", T0 + 100, now=T0)
            assert store.is_jti_denied(f"d{w}-{i}")

    run_concurrently(worker, 8)
    assert len(store.rows("families")) == 400
    assert len(store.rows("refresh_tokens")) == 400
    assert len(store.rows("denied_jtis")) == 400
