"""Locust scenarios over gRPC, against a running Keyun with the demo network (`make run`).

    .venv/bin/locust -f bench/locustfile.py --headless -u 500 -r 50 -t 60s --host 127.0.0.1:50051

Users: EchoUser (the ceiling), OwnerEchoUser (the echo with one round trip to a trip owner),
StationDayUser (searches, seat maps, sales, refunds of its own tickets) and RushSaleUser
(everyone after tomorrow's first Shijiazhuang→Beijing coaches).  Pick some with their class names
after the options, e.g. `... RushSaleUser`.  bench/load.py is the faster generator for figures;
this is for people who know Locust's UI and reports.  Each user logs in first, as the demo seller
unless KEYUN_USER / KEYUN_PASSWORD say otherwise.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
import uuid

import grpc
from locust import User, between, task

from keyun.v1 import catalog_pb2, catalog_pb2_grpc, diagnostics_pb2, diagnostics_pb2_grpc, sales_pb2, sales_pb2_grpc

CHINA = dt.timezone(dt.timedelta(hours=8))
ROUTES = [("SJZ", "BJ"), ("SJZ", "BD"), ("HD", "SJZ"), ("BD", "TJ"), ("TS", "TJ"), ("SJZY", "CZ")]
BUSINESS = {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.NOT_FOUND}


def tomorrow() -> str:
    return (dt.datetime.now(CHINA) + dt.timedelta(days=1)).date().isoformat()


class GrpcUser(User):
    """A Locust user whose calls are gRPC calls, reported to Locust like HTTP requests."""

    abstract = True
    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        from keyun.gateway.demo_accounts import DEMO_PASSWORD
        from keyun.terminals.client import KeyunClient

        self.client = KeyunClient(self.host)
        self.client.login(os.environ.get("KEYUN_USER") or "seller", os.environ.get("KEYUN_PASSWORD") or DEMO_PASSWORD)
        self.channel = self.client.channel  # carries the access token, refreshed when it expires
        self.catalog = catalog_pb2_grpc.CatalogStub(self.channel)
        self.sales = sales_pb2_grpc.SalesStub(self.channel)
        self.diagnostics = diagnostics_pb2_grpc.DiagnosticsStub(self.channel)

    def on_stop(self) -> None:
        self.client.logout()
        self.client.close()

    def call(self, name: str, method, request):
        """Call, time and report; business refusals (sold out...) count as answered, not failed."""
        started = time.perf_counter()
        response, exception = None, None
        try:
            response = method(request, timeout=10)
        except grpc.RpcError as error:
            if error.code() not in BUSINESS:
                exception = error
        self.environment.events.request.fire(
            request_type="grpc",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=response.ByteSize() if response is not None else 0,
            exception=exception,
            context={},
        )
        return response


class EchoUser(GrpcUser):
    @task
    def echo(self) -> None:
        self.call("Echo", self.diagnostics.Echo, diagnostics_pb2.EchoRequest(payload=bytes(80), response_bytes=1100))


class OwnerEchoUser(GrpcUser):
    """The echo that also makes one round trip to a trip owner: the ceiling of calls that reach one."""

    @task
    def echo(self) -> None:
        self.call(
            "Echo via owner",
            self.diagnostics.Echo,
            diagnostics_pb2.EchoRequest(payload=bytes(80), response_bytes=1100, via_owner=True),
        )


class StationDayUser(GrpcUser):
    def on_start(self) -> None:
        super().on_start()
        self.tickets: list[str] = []

    def offers(self, a: str, b: str):
        response = self.call(
            "SearchTrips",
            self.catalog.SearchTrips,
            catalog_pb2.SearchTripsRequest(from_station=a, to_station=b, date=tomorrow()),
        )
        return list(response.offers) if response is not None else []

    @task(5)
    def search(self) -> None:
        self.offers(*random.choice(ROUTES))

    @task(1)
    def seat_map(self) -> None:
        a, b = random.choice(ROUTES)
        offers = self.offers(a, b)
        if offers:
            self.call(
                "GetSeatMap",
                self.catalog.GetSeatMap,
                catalog_pb2.GetSeatMapRequest(trip_id=random.choice(offers).trip.trip_id, from_station=a, to_station=b),
            )

    @task(3)
    def sell(self) -> None:
        a, b = random.choice(ROUTES)
        offers = self.offers(a, b)
        if offers:
            request = sales_pb2.SellRequest(
                request_id=uuid.uuid4().hex,
                trip_id=random.choice(offers).trip.trip_id,
                from_station=a,
                to_station=b,
                seat_count=1,
            )
            response = self.call("Sell", self.sales.Sell, request)
            if response is not None:
                self.tickets += [t.ticket_id for t in response.tickets]

    @task(1)
    def refund(self) -> None:
        if self.tickets:
            ticket_id = self.tickets.pop(random.randrange(len(self.tickets)))
            self.call(
                "Refund", self.sales.Refund, sales_pb2.RefundRequest(request_id=uuid.uuid4().hex, ticket_id=ticket_id)
            )


class RushSaleUser(GrpcUser):
    wait_time = between(0.0, 0.05)

    def on_start(self) -> None:
        super().on_start()
        response = self.call(
            "SearchTrips",
            self.catalog.SearchTrips,
            catalog_pb2.SearchTripsRequest(from_station="SJZ", to_station="BJ", date=tomorrow()),
        )
        self.trip_ids = [o.trip.trip_id for o in response.offers][:2] if response is not None else []

    @task
    def buy(self) -> None:
        if self.trip_ids:
            request = sales_pb2.SellRequest(
                request_id=uuid.uuid4().hex,
                trip_id=random.choice(self.trip_ids),
                from_station="SJZ",
                to_station="BJ",
                seat_count=random.choice([1, 2]),
            )
            self.call("Sell (rush)", self.sales.Sell, request)
