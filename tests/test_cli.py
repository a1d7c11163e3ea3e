"""``python -m helpers serve NAME``: first line, exit codes, signals and ``--clock``, as the
contract says, for every server."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from helpers.servers import accepted_options, available
from tests.support import ROOT, TIMEOUT, CliServer, assert_json_error, start_cli_server

# an end-to-end suite of the CLI's processes, signals and exit codes: `make e2e` (CI runs it
# right after `make test`)
pytestmark = pytest.mark.e2e

SERVER_NAMES = list(available())


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "helpers", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)


def test_unknown_name_exits_2_and_lists_the_names() -> None:
    result = run_cli("serve", "no-such-server")  # a process of its own: the real exit code
    assert result.returncode == 2
    assert "no-such-server" in result.stderr
    for name in SERVER_NAMES:
        assert name in result.stderr
    assert result.stdout == ""


def test_every_server_is_registered() -> None:
    assert {"cookies", "sessions", "tokens"} <= set(SERVER_NAMES)


# -- refusals: every command line the CLI must refuse, run in one process ------------------
# Starting Python and importing the servers is most of what each refusal costs, so one child
# process runs them all through ``helpers.__main__.main`` (what ``python -m helpers`` calls as
# ``sys.exit(main())``), each with its own stdout and stderr; the test above checks that one
# refusal gives the same exit code from a process of its own.
RUN_EACH = """
import contextlib, io, json, sys
from helpers.__main__ import main

results = []
for argv in json.loads(sys.stdin.read()):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code
    results.append({"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()})
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def taken_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory, taken_port: int) -> dict[str, dict]:
    """``{case: {"code", "stdout", "stderr"}}`` for every refused command line."""
    missing_dir = tmp_path_factory.mktemp("cli") / "no-such-dir" / "x.db"
    cases = {
        "no command": [],
        "serve without a name": ["serve"],
        "port in use": ["serve", SERVER_NAMES[0], "--port", str(taken_port)],
        **{f"unopenable --db for {name}": ["serve", name, "--db", str(missing_dir)]
           for name in ("sessions", "tokens")},
        "cookies --db": ["serve", "cookies", "--db", "x.db"],
        "cookies --redis": ["serve", "cookies", "--redis", "redis://127.0.0.1:1/0"],
    }
    done = subprocess.run([sys.executable, "-c", RUN_EACH], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, input=json.dumps(list(cases.values())))
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(zip(cases, json.loads(done.stdout), strict=True))


def test_missing_name_is_a_usage_error(refusals: dict[str, dict]) -> None:
    assert refusals["serve without a name"]["code"] == 2
    assert refusals["no command"]["code"] == 2


def test_port_in_use_is_a_clear_error(refusals: dict[str, dict]) -> None:
    result = refusals["port in use"]
    assert result["code"] == 1
    assert "cannot listen" in result["stderr"]
    assert "Traceback" not in result["stderr"]


@pytest.mark.parametrize("name", ["sessions", "tokens"])
def test_a_db_path_that_cannot_be_opened_is_one_clear_line(refusals: dict[str, dict],
                                                           name: str) -> None:
    result = refusals[f"unopenable --db for {name}"]
    assert result["code"] == 1
    assert result["stderr"].startswith(f"cannot start {name}:")
    assert "Traceback" not in result["stderr"]
    assert result["stdout"] == ""


@pytest.mark.parametrize(("name", "option"), [("cookies", "--db"), ("cookies", "--redis")])
def test_an_option_the_server_does_not_take_exits_2_with_one_line(refusals: dict[str, dict],
                                                                 name: str, option: str) -> None:
    result = refusals[f"{name} {option}"]
    assert result["code"] == 2
    assert result["stderr"].strip() == f"server {name!r} does not support {option}"
    assert result["stdout"] == ""


# -- servers: each in a process of its own, stopped by a signal -----------------------------
@pytest.mark.parametrize("name", SERVER_NAMES)
def test_first_line_then_serves_until_sigterm_and_exits_0(name: str, tmp_path) -> None:
    options = accepted_options(available()[name])
    extra = ["--db", str(tmp_path / f"{name}.db")] if "db" in options else []
    server = start_cli_server(name, *extra)
    assert server.first_line == f"Serving {name} on {server.url}"
    assert_json_error(requests.get(server.url + "/definitely-not-a-route", timeout=TIMEOUT), 404)
    # without --clock the clock route does not exist
    no_clock = requests.post(f"{server.url}/_clock", json={"advance": 60}, timeout=TIMEOUT)
    assert_json_error(no_clock, 404)
    assert server.stop(signal.SIGTERM) == 0
    assert server.process.stdout is None or server.process.stdout.closed


def test_every_server_module_follows_the_naming_rule() -> None:
    """``python -m helpers serve NAME`` imports only helpers/servers/NAME(.py or /), so the
    factory must come from there."""
    for name, create_app in available().items():
        module = create_app.__module__
        assert module == f"helpers.servers.{name}" or module.startswith(f"helpers.servers.{name}.")


def test_a_package_is_a_server_too() -> None:
    assert available()["tokens"].__module__ == "helpers.servers.tokens.app"


# -- --port, Ctrl-C and --clock: one server process for all their checks ---------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def clocked() -> Iterator[CliServer]:
    """``cookies --clock --port PORT``, stopped at the end with Ctrl-C (SIGINT): exit 0, no
    traceback. One server takes SIGINT; the handler is the same for all of them."""
    running = start_cli_server("cookies", "--clock", "--port", str(free_port()))
    yield running
    running.stop_cleanly(signal.SIGINT)


def test_port_option_is_honoured(clocked: CliServer) -> None:
    port = clocked.process.args[clocked.process.args.index("--port") + 1]
    assert clocked.url == f"http://127.0.0.1:{port}"
    assert clocked.first_line == f"Serving cookies on http://127.0.0.1:{port}"  # loopback only


def test_the_clock_route_moves_the_servers_clock(clocked: CliServer) -> None:
    first = clocked.advance(0)
    later = clocked.advance(3600)
    assert 3600 <= later - first < 3660
    assert abs(first - time.time()) < 3600 * 24 * 365 * 20  # the course clock, in epoch seconds


@pytest.mark.parametrize("body", [
    b'{"advance": -1}', b'{"advance": "60"}', b'{"advance": true}', b'{"advance": null}',
    b'{"advance": [60]}', b'{"advance": 1e400}', b'{"advance": NaN}', b'{"advance": 1e12}',
    b"{}", b"[60]", b"60", b"not json", b"", b'{"advance": 1, "advance": 2}',
    b'{"advance": ' + b"9" * 5000 + b"}", b"[" * 50000 + b"]" * 50000,
], ids=["negative", "string", "bool", "null", "list", "overflow", "nan", "huge", "no-advance",
        "array", "number", "garbage", "empty", "repeated", "giant-number", "deep"])
def test_bad_clock_requests_are_400_json(clocked: CliServer, body: bytes) -> None:
    before = clocked.advance(0)
    answer = requests.post(f"{clocked.url}/_clock", data=body, timeout=TIMEOUT,
                           headers={"Content-Type": "application/json"})
    assert_json_error(answer, 400 if len(body) <= 64 * 1024 else 413)
    assert clocked.advance(0) - before < 60  # and the clock did not move


def test_the_clock_route_wants_json_and_post(clocked: CliServer) -> None:
    as_form = requests.post(f"{clocked.url}/_clock", data={"advance": "1"}, timeout=TIMEOUT)
    assert_json_error(as_form, 415)
    assert_json_error(requests.get(f"{clocked.url}/_clock", timeout=TIMEOUT), 405)
    big = requests.post(f"{clocked.url}/_clock", data=b"{" + b" " * 70_000 + b"}",
                        headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
    assert_json_error(big, 413)
    assert clocked.process.poll() is None
