"""The lane's full-screen display (`keyun gate run` on a terminal): PASS or STOP in large, the
seat, the masked name and the reason, and a status line (online or offline, uploads waiting).

A barcode scanner or identity-card reader in keyboard mode types into the scan field and ends
with Enter, so the field keeps the focus.  Scans from the lane's socket show here too (`shown`,
called from the socket's threads).  The decisions are the lane's (terminals/gate_lane.py); this
module only shows them.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widgets import Footer, Input, Static

from . import boarding_core as core
from .gate_lane import Lane


class GateDisplay(App):
    CSS = """
    #verdict { height: 7; content-align: center middle; text-style: bold; }
    #verdict.pass { background: $success; color: $text; }
    #verdict.stop { background: $error; color: $text; }
    #detail { height: 5; content-align: center middle; }
    #status { dock: bottom; height: 1; }
    """
    BINDINGS = [("ctrl+q", "quit", "Quit")]

    def __init__(self, lane: Lane, title: str):
        super().__init__()
        self.lane = lane
        self.title = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("SCAN A TICKET OR AN IDENTITY CARD", id="verdict")
            yield Static("", id="detail")
            yield Input(placeholder="scan", id="scan")
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#scan", Input).focus()
        self.set_interval(1.0, self.refresh_status)
        self.refresh_status()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        event.input.value = ""
        if text:
            self.show(self.lane.scan(text))

    def shown(self, decision: core.Decision) -> None:
        """From another thread (the socket): show a decision on the screen."""
        self.call_from_thread(self.show, decision)

    def show(self, decision: core.Decision) -> None:
        verdict = self.query_one("#verdict", Static)
        verdict.set_classes("pass" if decision.passed else "stop")
        if decision.passed:
            verdict.update(f"PASS 请通行   seat {decision.seat}")
        elif decision.awaiting_document:
            verdict.update("SCAN THE IDENTITY CARD 请刷身份证")
        else:
            verdict.update(f"STOP 禁止通行   {decision.reason}")
        self.query_one("#detail", Static).update(f"{decision.holder_name}   {decision.ticket_id}\n{decision.message}")
        self.refresh_status()

    def refresh_status(self) -> None:
        status = self.lane.status()
        link = "online" if status["online"] else "OFFLINE: deciding locally"
        self.query_one("#status", Static).update(
            f"gate {status['gate']}  {link}  uploads waiting {status['queue_depth']}  "
            f"tickets held {status['tickets_known']}  conflicts {status['conflicts']}"
        )
