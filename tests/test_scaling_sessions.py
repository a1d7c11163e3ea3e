"""Two `sessions` servers sharing one real Redis: a black-box test of scaling out.

Both run as ``python -m helpers serve sessions --redis redis://...``, exactly as a reader
would start them. A login on one is valid on the other, a logout on one ends the
session on both, and when Redis goes away both answer a clear JSON 503 (never a 500,
never a traceback), then recover once Redis is back on the same port.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests

from helpers.notebook.live_server import LiveServer
from helpers.notebook.redis_server import RedisServer, free_port
from helpers.notebook.round_robin import RoundRobin
from tests.support import (
    TIMEOUT,
    CliServer,
    assert_json_error,
    login,
    need_redis_server,
    start_cli_server,
)


@dataclass
class Cluster:
    redis: RedisServer
    one: CliServer
    two: CliServer


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    need_redis_server()
    redis_server = RedisServer().start()
    servers: list[CliServer] = []
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:  # two interpreters start at once
            starting = [pool.submit(start_cli_server, "sessions", "--redis", redis_server.url)
                        for _ in range(2)]
            for future in starting:
                if future.exception() is None:
                    servers.append(future.result())
            for future in starting:
                future.result()  # a failed start fails the fixture, after the others are kept
        yield Cluster(redis_server, *servers)
    finally:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda server: server.stop(), servers))
        redis_server.stop()


def me(base_url: str, sid: str | None, cookie_name: str = "sid") -> requests.Response:
    cookies = {cookie_name: sid} if sid is not None else {}
    return requests.get(f"{base_url}/me", cookies=cookies, timeout=TIMEOUT)


def session_cookie(response: requests.Response) -> tuple[str, str]:
    """(name, value) of the session cookie a login set."""
    assert response.status_code == 200, response.text
    jar = response.cookies
    assert len(jar) == 1, f"one session cookie expected, got {list(jar.keys())}"
    name = next(iter(jar.keys()))
    return name, jar[name]


def assert_clean_503(response: requests.Response) -> None:
    assert_json_error(response, 503, "store_unavailable")
    assert "Traceback" not in response.text and "redis." not in response.text


def test_the_two_servers_are_separate_processes(cluster: Cluster) -> None:
    assert cluster.one.url != cluster.two.url
    assert cluster.one.process.pid != cluster.two.process.pid


def test_login_on_one_instance_is_valid_on_the_other(cluster: Cluster) -> None:
    name, sid = session_cookie(login(cluster.one.url))
    for server in (cluster.two, cluster.one, cluster.two):
        answer = me(server.url, sid, name)
        assert answer.status_code == 200, answer.text
        assert answer.json()["username"] == "alice"


def test_the_session_lives_in_redis(cluster: Cluster) -> None:
    from helpers.stores.redis_sessions import RedisSessionStore

    name, sid = session_cookie(login(cluster.two.url, "bob", "builder"))
    store = RedisSessionStore.from_url(cluster.redis.url)
    record = store.get(sid)
    assert record is not None and record.username == "bob"
    ttl = store.ttl(sid)
    assert ttl is not None and ttl > 0
    store.close()


def test_logout_on_the_second_instance_ends_the_session_on_the_first(cluster: Cluster) -> None:
    name, sid = session_cookie(login(cluster.one.url))
    assert me(cluster.one.url, sid, name).status_code == 200
    out = requests.post(f"{cluster.two.url}/logout", cookies={name: sid}, timeout=TIMEOUT)
    assert out.status_code == 204
    for server in (cluster.one, cluster.two):
        answer = me(server.url, sid, name)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]


def test_a_made_up_session_id_is_refused_on_both(cluster: Cluster) -> None:
    for server in (cluster.one, cluster.two):
        assert me(server.url, "not-a-session").status_code == 401
        assert me(server.url, None).status_code == 401


def test_redis_down_means_a_clear_503_on_both_then_recovery(cluster: Cluster) -> None:
    name, sid = session_cookie(login(cluster.one.url))
    assert me(cluster.two.url, sid, name).status_code == 200
    cluster.redis.stop()
    try:
        for server in (cluster.one, cluster.two):
            assert_clean_503(me(server.url, sid, name))
            assert_clean_503(login(server.url))
            # the servers themselves stay up and keep answering
            assert server.process.poll() is None
    finally:
        cluster.redis.start()
    # Redis keeps nothing on disk here, so the old session is gone after the restart:
    # the servers say 401 (not 503, not 500) and a new login works on both
    for server in (cluster.one, cluster.two):
        answer = me(server.url, sid, name)
        assert answer.status_code == 401, answer.text
    name, sid = session_cookie(login(cluster.two.url))
    for server in (cluster.one, cluster.two):
        answer = me(server.url, sid, name)
        assert answer.status_code == 200, answer.text
        assert answer.json()["username"] == "alice"


# --- the balancer of notebook 09, in front of the two real servers ------------------------


def test_round_robin_takes_turns_and_sticky_goes_back() -> None:
    policy = RoundRobin({"a": "", "b": "", "c": ""})
    assert [policy.order()[0] for _ in range(5)] == ["a", "b", "c", "a", "b"]
    assert policy.order() == ["c", "a", "b"]
    assert policy.order("b") == ["b", "c", "a"]  # sticky: that one first, the rest as fallback
    assert policy.order("unknown")[0] == "a"  # an unknown name is ignored: the next in turn


def test_a_balancer_over_both_servers_keeps_the_user_logged_in(cluster: Cluster) -> None:
    balancer = LiveServer(RoundRobin({"one": cluster.one.url, "two": cluster.two.url}),
                          name="test-balancer").start()
    try:
        client = requests.Session()
        answer = client.post(f"{balancer.url}/login",
                             json={"username": "bob", "password": "builder"},
                             timeout=TIMEOUT)
        assert answer.status_code == 200 and "sid" in client.cookies  # Set-Cookie passed through
        for _ in range(4):  # alternately on the second and the first server
            answer = client.get(f"{balancer.url}/me", timeout=TIMEOUT)
            assert answer.status_code == 200 and answer.json()["username"] == "bob"
        client.close()
    finally:
        balancer.stop()


def test_the_balancer_skips_an_instance_that_refuses_and_says_502_when_none_answers(
    cluster: Cluster,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with LiveServer(RoundRobin({"dead": dead, "live": cluster.one.url}), name="test-lb-1") as lb:
        for _ in range(3):
            assert requests.get(f"{lb.url}/me", timeout=TIMEOUT).status_code == 401  # live answered
    with LiveServer(RoundRobin({"dead": dead}), name="test-lb-2") as lb:
        answer = requests.get(f"{lb.url}/me", timeout=TIMEOUT)
        assert answer.status_code == 502 and answer.json()["error"] == "bad_gateway"
