"""A client in another language: tests/node/contract.js drives login, a sale, an order paid in
cash and check-in through stubs loaded from the .proto files, asks reflection v1 for the services,
and decodes a refusal's google.rpc.Status trailer with the vendored proto/google/rpc files.  Here
a real server runs it, and what it reports is checked against the server's own records."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import grpc
import pytest

from keyun.engine.reasons import Reason
from keyun.gateway.demo_accounts import DEMO_PASSWORD
from keyun.v1 import common_pb2, orders_pb2, orders_pb2_grpc

NODE_TESTS = Path(__file__).parent / "node"
# Node's own start and the calls of one small station day, with room for a slow shared machine.
NODE_RUN_TIMEOUT_S = 120


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Node conformance client (tests/node) was not run")
    if not (NODE_TESTS / "node_modules" / "@grpc" / "grpc-js").exists():
        pytest.skip("tests/node/node_modules is missing: run `make test`, which installs it with `npm ci`")
    return node


def test_a_node_client_sells_orders_and_checks_in_through_the_proto_files(keyun):
    node = node_or_skip()
    trip_id = keyun.trip(dt.timedelta(minutes=30), vehicle="coach45")  # boarding is open
    run = subprocess.run(
        [node, str(NODE_TESTS / "contract.js"), keyun.target, trip_id, "master", DEMO_PASSWORD],
        capture_output=True,
        text=True,
        timeout=NODE_RUN_TIMEOUT_S,
    )
    assert run.returncode == 0, f"node failed:\n{run.stderr}\n{run.stdout}"
    result = json.loads(run.stdout.strip().splitlines()[-1])

    assert {"keyun.v1.Sales", "grpc.reflection.v1.ServerReflection"} <= set(result["services"])
    # The server's side of what the Node client says it did.
    for ticket_id in (result["sold"], result["ordered"]):
        ticket = keyun.client.ticket(ticket_id)
        assert (ticket.trip.trip_id, ticket.status, ticket.gate_id) == (
            trip_id,
            common_pb2.TICKET_STATUS_CHECKED_IN,
            "G1",
        )
    order = keyun.client.call(
        orders_pb2_grpc.OrdersStub(keyun.client.channel).GetOrder, orders_pb2.GetOrderRequest(order_id=result["order"])
    ).order
    assert order.status == orders_pb2.ORDER_STATUS_TICKETED and [t.ticket_id for t in order.tickets] == [
        result["ordered"]
    ]

    # The second scan's refusal, as decoded in Node from grpc-status-details-bin.
    refusal = result["refusal"]
    assert refusal["grpc_code"] == refusal["code"] == grpc.StatusCode.ALREADY_EXISTS.value[0]
    (info,) = [d for d in refusal["details"] if d["type"] == "google.rpc.ErrorInfo"]
    assert (info["reason"], info["domain"]) == ("ALREADY_CHECKED_IN", "keyun.v1")
    assert info["metadata"]["reason_code"] == str(Reason.ALREADY_CHECKED_IN.value)
