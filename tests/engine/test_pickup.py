"""取票 in the trip owner (engine/pickup.py): an order's or a document's tickets printed once, a
retry given the same tickets, nothing revealed for a wrong code or document, and replay."""

from __future__ import annotations

from keyun.engine import commands as c
from keyun.engine import events as ev
from keyun.engine.events import Holder
from keyun.engine.reasons import Reason
from keyun.engine.shard import ShardEngine

from .conftest import DEPARTS_MS, NOW, TRIP, A, C, Desk, make_engine

BUYER = "A000009"
ZHANG_DOC, LI_DOC, OTHER_DOC = b"z" * 32, b"l" * 32, b"o" * 32
ZHANG = Holder(BUYER, "P1", "张*", "RESIDENT_ID", "110105********002X", ZHANG_DOC)
LI = Holder(BUYER, "P2", "李*", "PASSPORT", "E******78", LI_DOC)


def paid_order(desk):
    hold = desk.ok(c.PlaceHold(desk.rid(), TRIP, A, C, seat_count=2, buyer=BUYER, holders=(ZHANG, LI)))
    order = desk.ok(c.CreateOrder(desk.rid(), hold.hold_id, c.PayMethod.WEPAY, BUYER))
    return desk.ok(c.RecordPayment(desk.rid(), order.order_id, c.PayMethod.WEPAY, "wx-1", order.amount_fen, NOW))


def by_order(request_id: str, order_id: str, document: bytes) -> c.PickUpTickets:
    return c.PickUpTickets(request_id, TRIP, document, order_id=order_id, by="A000006")


def test_an_order_is_picked_up_once_by_any_of_its_passengers_documents(desk):
    order = paid_order(desk)
    printed = desk.ok(by_order("p1", order.order_id, LI_DOC))
    assert sorted(t.ticket_id for t in printed.tickets) == sorted(t.ticket_id for t in order.tickets)
    assert all(t.printed_at_ms == NOW and t.printed_by == "A000006" for t in printed.tickets)
    again = desk.ok(by_order("p1", order.order_id, LI_DOC))  # a retry: the same tickets
    assert again == printed
    refused = desk.refused(by_order("p2", order.order_id, ZHANG_DOC), Reason.TICKET_ALREADY_PRINTED)
    assert refused.fact("ticket_id") in {t.ticket_id for t in order.tickets} and "*" in refused.message


def test_a_wrong_document_or_order_code_is_refused_alike_and_changes_nothing(desk):
    order = paid_order(desk)
    wrong_doc = desk.refused(by_order("w1", order.order_id, OTHER_DOC), Reason.NOTHING_TO_PICK_UP)
    wrong_code = desk.refused(by_order("w2", f"{TRIP}-O99", ZHANG_DOC), Reason.NOTHING_TO_PICK_UP)
    assert wrong_doc.message == wrong_code.message


def test_by_document_alone_only_that_documents_tickets_and_not_after_the_coach_left(desk):
    order = paid_order(desk)
    found = desk.ok(c.FindPickUps(ZHANG_DOC))
    assert [t.holder.document_index for t in found.tickets] == [ZHANG_DOC]
    (ticket,) = found.tickets
    printed = desk.ok(c.PickUpTickets("d1", TRIP, ZHANG_DOC, ticket_ids=(ticket.ticket_id,)))
    assert [t.ticket_id for t in printed.tickets] == [ticket.ticket_id]
    # Li's ticket of the same order is still to be picked up; Zhang's may not be named for Li.
    desk.refused(c.PickUpTickets("d2", TRIP, LI_DOC, ticket_ids=(ticket.ticket_id,)), Reason.NOTHING_TO_PICK_UP)
    assert desk.ok(c.FindPickUps(ZHANG_DOC)).tickets[0].printed_at_ms == NOW
    # Once the coach has left, nothing is found or printed.
    gone = DEPARTS_MS + 60 * 60 * 1000
    assert desk.ok(c.FindPickUps(LI_DOC), gone).tickets == ()
    desk.refused(by_order("late", order.order_id, LI_DOC), Reason.NOTHING_TO_PICK_UP, gone)


class JournaledDesk(Desk):
    """A desk that keeps every batch's journal entries, as an owner's log would."""

    def __init__(self, engine: ShardEngine) -> None:
        super().__init__(engine)
        self.journal: list[tuple[int, list]] = []

    def run(self, item, now: int | None = None):
        reply = super().run(item, now)
        self.journal.append((self.now if now is None else now, self.last_entries))
        return reply


def test_printed_is_a_durable_fact_replayed_from_the_journal():
    desk = JournaledDesk(make_engine())
    order = paid_order(desk)
    printed = desk.ok(by_order("p1", order.order_id, ZHANG_DOC), NOW + 1000)
    assert any(isinstance(e, ev.TicketsPrinted) for _, entries in desk.journal for x in entries for e in x.events)
    replayed = make_engine()
    for now, entries in desk.journal:
        replayed.replay(now, entries)
    assert replayed.state.trips[TRIP].tickets == desk.engine.state.trips[TRIP].tickets
    again = Desk(replayed)
    assert again.ok(by_order("p1", order.order_id, ZHANG_DOC), NOW + 2000) == printed  # the retry, after a restart
    again.refused(by_order("p2", order.order_id, ZHANG_DOC), Reason.TICKET_ALREADY_PRINTED)
