"""Sales/QuoteRefund: the exact fee Refund would keep, read before the seller confirms, through the
gRPC API of a real server."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest

from keyun.engine.identity import id_check_char
from keyun.terminals.client import KeyunClient, KeyunError, walk_in

from .conftest import logged_in


def refused(call) -> KeyunError:
    with pytest.raises(KeyunError) as caught:
        call()
    return caught.value


def test_a_quote_is_the_fee_the_refund_keeps_and_changes_nothing(keyun):
    trip = keyun.trip(dt.timedelta(days=1))
    adult = walk_in("11010119900307123" + id_check_char("11010119900307123"), "张三", insurance=True)
    (ticket,) = keyun.client.sell(trip, "AAA", "DDD", seat_numbers=("3",), passengers=(adult,)).tickets
    assert ticket.fare.insurance_fen > 0

    quote = keyun.client.quote_refund(ticket.ticket_id)
    assert quote.ticket_id == ticket.ticket_id and quote.fee_fen > 0
    assert keyun.client.quote_refund(ticket.ticket_id) == quote  # read-only: asking again changes nothing
    assert keyun.client.ticket(ticket.ticket_id).status == ticket.status

    refunded = keyun.client.refund(ticket.ticket_id)
    assert (refunded.refund_fee_fen, refunded.refunded_fen) == (quote.fee_fen, quote.refund_fen)
    # The station keeps its fee on the refundable components; the insurance goes back in full.
    assert quote.refund_fen <= ticket.price_fen - quote.fee_fen
    assert quote.refund_fen >= ticket.fare.insurance_fen

    # Refused as the refund itself would be now.
    assert refused(lambda: keyun.client.quote_refund(ticket.ticket_id)).reason == "ALREADY_REFUNDED"


def test_a_quote_needs_the_refund_permission_and_a_known_ticket(keyun):
    trip = keyun.trip(dt.timedelta(days=2))
    (ticket,) = keyun.client.sell(trip, "AAA", "BBB", seat_numbers=("1",)).tickets
    error = refused(lambda: keyun.client.quote_refund(f"{trip}-9999"))
    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "UNKNOWN_TICKET")
    error = refused(lambda: keyun.client.quote_refund("not a ticket"))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    with logged_in(KeyunClient(keyun.target), "inspector", clock=keyun.clock) as inspector:
        error = refused(lambda: inspector.quote_refund(ticket.ticket_id))
        assert error.code == grpc.StatusCode.PERMISSION_DENIED


def test_a_passenger_is_quoted_only_for_their_own_tickets(keyun):
    # Their own tickets are quoted in the site's browser test (tests/web/test_site.py).
    trip = keyun.trip(dt.timedelta(days=3))
    (ticket,) = keyun.client.sell(trip, "AAA", "BBB", seat_numbers=("2",)).tickets
    passenger = KeyunClient(keyun.target)
    passenger.register("13600001111", "Quote-Passw0rd")
    passenger.login("13600001111", "Quote-Passw0rd")
    error = refused(lambda: passenger.quote_refund(ticket.ticket_id))
    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "UNKNOWN_TICKET")
    passenger.close()
