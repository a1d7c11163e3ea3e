"""The demo users: the course's file at the course's cost, the tests' copy, and ``--users``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from werkzeug.security import check_password_hash

from helpers import users
from helpers.paths import DATA_DIR
from tests.support import DEMO_PASSWORDS, ROOT, TEST_USERS, TIMEOUT, login, start_cli_server

COURSE_USERS = DATA_DIR / "users.json"


def test_the_course_file_hashes_every_password_at_the_course_cost() -> None:
    loaded = users.load_users(COURSE_USERS)
    assert set(loaded) == set(DEMO_PASSWORDS)
    for name, user in loaded.items():
        assert user.password_hash.startswith(users.PASSWORD_METHOD + "$")
        assert check_password_hash(user.password_hash, DEMO_PASSWORDS[name])


def test_the_tests_copy_holds_the_same_users_at_a_lower_cost() -> None:
    course, copy = users.load_users(COURSE_USERS), users.load_users(TEST_USERS)
    assert {n: u.role for n, u in copy.items()} == {n: u.role for n, u in course.items()}
    for name, user in copy.items():
        cost = int(user.password_hash.split("$")[0].split(":")[1])
        assert cost < 2**15
        assert check_password_hash(user.password_hash, DEMO_PASSWORDS[name])
        assert not check_password_hash(user.password_hash, DEMO_PASSWORDS[name] + "!")
    assert "DEMO ONLY" in json.loads(TEST_USERS.read_text(encoding="utf-8"))["_comment"]


def test_load_users_reads_the_file_named_at_call_time(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    other = tmp_path / "users.json"
    other.write_text(json.dumps({"users": {"carol": {
        "password_hash": users.hash_password("x"), "role": "user"}}}), encoding="utf-8")
    monkeypatch.setattr(users, "USERS_FILE", other)
    assert list(users.load_users()) == ["carol"]


@pytest.mark.parametrize(("name", "refusal"), [("sessions", (401, "invalid_credentials")),
                                              ("tokens", (400, "invalid_grant"))])
def test_serve_users_serves_the_named_file(tmp_path: Path, name: str,
                                           refusal: tuple[int, str]) -> None:
    other = tmp_path / "users.json"
    other.write_text(json.dumps({"users": {"carol": {
        "password_hash": users.hash_password("rainbow"), "role": "user"}}}), encoding="utf-8")
    server = start_cli_server(name, "--users", str(other))
    try:
        assert login(server.url, "carol", "rainbow").status_code == 200
        refused = login(server.url, "alice")
        assert (refused.status_code, refused.json()["error"]) == refusal
        assert requests.get(f"{server.url}/me", timeout=TIMEOUT).status_code == 401
    finally:
        assert server.stop() == 0


def test_serve_users_with_a_missing_file_exits_1_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nobody.json"
    done = subprocess.run([sys.executable, "-m", "helpers", "serve", "sessions", "--users",
                           str(missing)], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("cannot start sessions:") and str(missing) in done.stderr
