"""The Prometheus endpoint, scraped during load and parsed with prometheus-client's own parser."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from keyun.terminals.client import KeyunClient

from .audit import Load
from .conftest import ServerThread, logged_in, schedule_trip


def scrape(port: int) -> dict[str, list]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(samples, name: str, **labels) -> float:
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


DOCS = Path(__file__).resolve().parents[1] / "docs"


def metrics_used(path: Path) -> set[str]:
    """The metric families a sample file's queries name (a histogram's _bucket is its family)."""
    return {re.sub(r"_(bucket|count|sum|total)$", "", name) for name in re.findall(r"\bkeyun_\w+", path.read_text())}


def test_the_dashboard_is_grafana_json_over_the_sample_alerts():
    dashboard = json.loads((DOCS / "grafana" / "keyun-dashboard.json").read_text())
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    charts = [p for p in panels if p["type"] != "row"]
    assert charts and all(p["targets"] and all(t["expr"] and t["refId"] for t in p["targets"]) for p in charts)
    assert all(p["datasource"]["uid"] == "${datasource}" for p in charts)  # chosen when imported
    # Laid out on Grafana's 24-column grid without overlaps.
    cells = set()
    for p in panels:
        box = p["gridPos"]
        assert 0 <= box["x"] and box["x"] + box["w"] <= 24
        area = {(x, y) for x in range(box["x"], box["x"] + box["w"]) for y in range(box["y"], box["y"] + box["h"])}
        assert not area & cells, p["title"]
        cells |= area
    # Every query is balanced and rates only counters and histograms' series.
    for expr in (t["expr"] for p in charts for t in p["targets"]):
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr
        for rated in re.findall(r"(?:rate|increase)\((keyun_\w+)", expr):
            assert rated.endswith(("_total", "_bucket", "_sum", "_count")), expr
    # The alerts the descriptions name are the sample rules' own.
    alerts = set(re.findall(r"alert: (\w+)", (DOCS / "prometheus" / "keyun-alerts.yml").read_text()))
    named = set(re.findall(r"\bKeyun[A-Z]\w+", json.dumps(dashboard)))
    assert named and named <= alerts, named - alerts


def test_metrics_during_load(ray_session, tmp_path):
    server = ServerThread(tmp_path, shards=2)
    try:
        port = server.server.metrics.serve("127.0.0.1", 0)
        with logged_in(KeyunClient(server.target)) as client:
            trip_ids = [schedule_trip(client, f"M{n}", dt.timedelta(minutes=30), vehicle="coach45") for n in range(2)]
            load = Load(server.target, trip_ids, workers=4).start()
            load.wait_for(80)
            during = scrape(port)
            record = load.stop()
        after = scrape(port)
    finally:
        server.stop()

    assert value(during["keyun_rpc_requests"], "keyun_rpc_requests_total", method="Sell", code="OK") > 0
    assert (
        value(after["keyun_rpc_requests"], "keyun_rpc_requests_total", method="Sell", code="OK")
        >= len({t for t in record.sold}) / 2
    )
    assert value(after["keyun_rpc_duration_seconds"], "keyun_rpc_duration_seconds_count", method="Sell") > 0
    assert value(after["keyun_tickets_sold"], "keyun_tickets_sold_total") == len(record.sold)
    assert value(after["keyun_refunds"], "keyun_refunds_total") == len(record.refunded)
    assert value(after["keyun_check_ins"], "keyun_check_ins_total") == len(record.checked_in)
    assert value(after["keyun_gateway_batch_items"], "keyun_gateway_batch_items_count") > 0
    # Owner metrics come from the owner processes, one series per shard; the accounts owner is "accounts".
    assert {s.labels["shard"] for s in after["keyun_owner_up"] if s.value == 1} == {"0", "1", "accounts"}
    assert value(after["keyun_wal_fsync_seconds"], "keyun_wal_fsync_seconds_count") > 0
    assert value(after["keyun_owner_batch_commands"], "keyun_owner_batch_commands_count") > 0
    assert {s.labels["shard"] for s in after["keyun_owner_queue_depth"]} == {"0", "1", "accounts"}
    assert {(s.labels["shard"], s.labels["generation"]) for s in after["keyun_owner_gc_seconds"]} >= {
        (shard, g) for shard in "01" for g in "012"
    }
    assert value(after["keyun_owner_trips"], "keyun_owner_trips") == len(trip_ids)  # summed over the shards
    assert {s.labels["shard"] for s in after["keyun_owner_trips_archived"]} == {"0", "1"}
    if sys.platform.startswith("linux"):  # the process collector reads /proc
        memory = {s.labels["shard"]: s.value for s in after["keyun_owner_process_resident_memory_bytes"]}
        assert set(memory) == {"0", "1", "accounts"} and min(memory.values()) > 10 * 2**20
        assert value(after["keyun_owner_process_cpu_seconds"], "keyun_owner_process_cpu_seconds_total", shard="0") > 0
    # The sales' audit records went through the trip owners, which count what they sent on; the
    # login's through the accounts owner.
    assert {s.labels["shard"] for s in after["keyun_audit_outbox_records"]} == {"0", "1", "accounts"}
    assert value(after["keyun_audit_records_sent"], "keyun_audit_records_sent_total") > 0
    assert value(after["keyun_audit_records_sent"], "keyun_audit_records_sent_total", shard="accounts") > 0
    # Every metric the sample alert rules and the dashboard use is served.  Wallet notifications
    # are counted only where payments are on, which this server does not have.
    for sample in ("prometheus/keyun-alerts.yml", "grafana/keyun-dashboard.json"):
        used = metrics_used(DOCS / sample) - (
            {"keyun_payment_notifications"} if sample.startswith("grafana") else set()
        )
        assert used and used <= set(after), (sample, used - set(after))
    # Labels stay bounded: no trip or ticket ids anywhere.
    assert not any(trip_ids[0] in str(s.labels) for samples in after.values() for s in samples)
