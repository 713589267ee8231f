"""The Uploads service: uploads to the transport authority, asked of the report projector, whose
process uploads (actors/authority_uploader.py, docs/authority.md).  The gateway holds no DuckDB
connection and does no HTTP to the platform: it awaits the projector's answer."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import grpc

from keyun.engine.reasons import Reason, reject
from keyun.v1 import uploads_pb2, uploads_pb2_grpc

from .errors import abort
from .owners import ask_reports

OFF = (
    "this server does not upload to the transport authority: start keyun serve with --authority-url and "
    "--authority-key-file (or --sandbox-authority), with reports on"
)


class UploadsService(uploads_pb2_grpc.UploadsServicer):
    def __init__(self, projector: Any):
        """`projector`: the report projector's handle, None when reports are off."""
        self.projector = projector

    async def _ask(self, context: grpc.aio.ServicerContext, method: str, *args: Any) -> dict:
        answer = None if self.projector is None else await ask_reports(self.projector, method, *args)
        if answer is None:
            await abort(context, reject(Reason.UPLOADS_OFF, OFF))
        assert answer is not None
        return answer

    async def UploadStatus(self, request, context):
        status = await self._ask(context, "upload_status")
        return uploads_pb2.UploadStatusResponse(
            platform_url=status["base_url"],
            station_id=status["station_id"],
            connected=status["connected"],
            last_ping_ms=status["last_ping_ms"],
            last_error=status["last_error"][:500],
            waiting_batches=status["waiting_batches"],
            waiting_records=status["waiting_records"],
            oldest_waiting_seconds=status["oldest_waiting_s"],
            acked_batches=status["acked_batches"],
            acked_records=status["acked_records"],
            last_ack_ms=status["last_ack_ms"],
            waiting=[
                uploads_pb2.WaitingBatch(
                    batch_id=b["batch_id"],
                    category=b["category"],
                    records=b["records"],
                    attempts=b["attempts"],
                    last_error=b["last_error"][:500],
                    age_seconds=b["age_s"],
                    next_try_in_seconds=b["next_try_in_s"],
                )
                for b in status["waiting"]
            ],
            reconciliations=[
                uploads_pb2.Reconciliation(
                    date=r["day"], checked_ms=r["checked_ms"], match=r["match"], differences=r["differences"]
                )
                for r in status["reconciliations"]
            ],
        )

    async def ResendUploads(self, request, context):
        day = await self._date(context, request.date, required=False)
        answer = await self._ask(context, "upload_resend", day)
        return uploads_pb2.ResendUploadsResponse(queued_batch_ids=answer["queued"], waiting_batches=answer["waiting"])

    async def ReconcileUploads(self, request, context):
        day = await self._date(context, request.date, required=True)
        answer = await self._ask(context, "upload_reconcile", day)
        response = uploads_pb2.ReconcileUploadsResponse(
            date=day, reachable=answer["reachable"], error=str(answer.get("error", ""))[:500]
        )
        if answer["reachable"]:
            response.match = bool(answer.get("match"))
            response.station.CopyFrom(_totals(answer["station"]))
            response.platform.CopyFrom(_totals(answer.get("platform") or {}))
            response.differences = json.dumps(answer.get("differences", {}), sort_keys=True, ensure_ascii=False)
        return response

    async def _date(self, context: grpc.aio.ServicerContext, text: str, required: bool) -> str:
        if not text and not required:
            return ""
        try:
            if len(text) != 10:
                raise ValueError(text)
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            await abort(
                context, reject(Reason.INVALID_FIELD, f"date: {text[:40]!r} is not a date YYYY-MM-DD", field="date")
            )
            raise AssertionError("abort raises") from None


def _totals(totals: dict) -> uploads_pb2.TransactionTotals:
    return uploads_pb2.TransactionTotals(
        counts={k: int(v) for k, v in totals.get("counts", {}).items()},
        amounts_fen={k: int(v) for k, v in totals.get("amounts", {}).items()},
    )
