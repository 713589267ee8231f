"""Parallel password guesses against one account, through gRPC (issue 16, item 1).

A burst of concurrent `Accounts/Login` calls, the right password among them, must get no more
argon2id checks than the policy allows failures, and the right password must get no answer that
a wrong one would not have got: each refused attempt answers the same whatever its password.
The checks are counted from outside the process, on the gateway's /metrics.
"""

from __future__ import annotations

import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from keyun.engine.accounts import AccountRules
from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import accounts_pb2, accounts_pb2_grpc

from .conftest import ServerThread

RIGHT = "Tr1p-to-Tianjin"
# The refusals a burst may get besides BAD_CREDENTIALS: each is decided before any hash.
REFUSALS = {"TOO_MANY_LOGIN_ATTEMPTS", "LOGIN_THROTTLED", "ACCOUNT_LOCKED"}


@pytest.fixture(scope="module", params=[5, 3], ids=["policy-5", "policy-3"])
def station(request, ray_session, tmp_path_factory):
    # The default lock-out (15 minutes), so no lock can lift during a burst however slow the machine.
    rules = AccountRules(max_failed_logins=request.param)
    server = ServerThread(tmp_path_factory.mktemp("bursts"), shards=1, account_rules=rules, demo_accounts=False)
    metrics_port = server.server.metrics.serve("127.0.0.1", 0)
    yield server, rules, metrics_port
    server.stop()


def password_checks(metrics_port: int) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    return sum(
        s.value for s in samples if s.name == "keyun_login_password_checks_total" and s.labels.get("account") == "known"
    )


def burst(target: str, phone: str, passwords: list[str]) -> list[tuple]:
    """Every login at once (a barrier releases them together); each answer as (code, reason,
    message, facts), or ("OK",)."""
    channel = grpc.insecure_channel(target)
    stub = accounts_pb2_grpc.AccountsStub(channel)
    start = threading.Barrier(len(passwords))

    def one(password: str) -> tuple:
        start.wait()
        try:
            stub.Login(accounts_pb2.LoginRequest(login_name=phone, password=password), timeout=60)
            return ("OK",)
        except grpc.RpcError as error:
            refused = KeyunError.from_rpc(error)
            return (refused.code, refused.reason, refused.message, tuple(sorted(refused.facts.items())))

    try:
        with ThreadPoolExecutor(len(passwords)) as pool:
            return list(pool.map(one, passwords))
    finally:
        channel.close()


@pytest.mark.parametrize("guesses", [40, 100])
def test_a_burst_of_guesses_gets_no_more_hashes_than_the_policy_and_the_right_password_no_other_answer(
    station, guesses
):
    server, rules, metrics_port = station
    phone = f"137{rules.max_failed_logins}{guesses:03d}0000"[:11]
    with KeyunClient(server.target, attempts=1) as client:
        client.call(
            client.accounts.Register,
            accounts_pb2.RegisterRequest(request_id=f"reg-burst-{guesses}", phone=phone, password=RIGHT),
        )
    passwords = [f"Wrong-guess-{n}" for n in range(guesses - 1)] + [RIGHT]  # the right one is sent last
    before = password_checks(metrics_port)
    answers = burst(server.target, phone, passwords)
    hashes = password_checks(metrics_port) - before

    *wrong, right = answers
    assert all(a[1] in {"BAD_CREDENTIALS", *REFUSALS} for a in wrong), {a[:2] for a in wrong}
    failures = [a[1] for a in wrong].count("BAD_CREDENTIALS")  # each one a password checked and wrong
    if right == ("OK",):
        # The right password was one of the checks the policy allows, as in a serial run.  Its
        # success restarts the count of failures, as any login does, so the rest of the burst
        # may get at most that many checks again: fewer than the policy's failures before it,
        # and as many after it.
        assert 1 <= hashes <= 2 * rules.max_failed_logins
        assert failures <= min(hashes - 1, 2 * rules.max_failed_logins - 1)
    else:
        assert right in set(wrong), (
            f"the right password got {right}, which no wrong one got: {sorted(map(str, set(wrong)))}"
        )
        assert 1 <= hashes <= rules.max_failed_logins, (
            f"{hashes} password checks for a policy of {rules.max_failed_logins}"
        )
        assert failures <= hashes
