"""Run by tests/test_cluster.py in a process of its own: a two-node Ray cluster on this machine.

The head node runs the gateway; owners may only run on the second node, which advertises the
owner resource (as the node holding the data directory would).  Prints one JSON line of facts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

from keyun.app.server import create_server
from keyun.terminals.client import KeyunClient

sys.path.insert(0, str(Path(__file__).parent.parent))
from keyun.gateway.credentials import FAST_TEST_PARAMS  # noqa: E402
from tests.conftest import logged_in, schedule_trip  # noqa: E402


async def main() -> dict:
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "object_store_memory": 100 * 1024**2, "include_dashboard": False},
    )
    data_node = cluster.add_node(num_cpus=1, resources={"keyun_owner": 16}, object_store_memory=100 * 1024**2)
    ray.init(address=cluster.address, namespace="keyun", log_to_driver=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            server = create_server(
                "cluster",
                Path(tmp) / "data",
                2,
                owner_resource="keyun_owner",
                key_dir=Path(tmp) / "keys",
                password_params=FAST_TEST_PARAMS,
                demo_accounts=True,
            )
            port = await server.start("127.0.0.1", 0)
            owner_nodes = {report["node"] for report in await server.pool.ready()}

            def drive() -> int:
                with logged_in(KeyunClient(f"127.0.0.1:{port}")) as client:
                    trip_id = schedule_trip(client, "C1", dt.timedelta(hours=5))
                    return len(client.sell(trip_id, "AAA", "DDD", seat_count=3).tickets)

            sold = await asyncio.to_thread(drive)
            await server.stop()
            return {
                "nodes": len(ray.nodes()),
                "owner_nodes": sorted(owner_nodes),
                "data_node": data_node.node_id,
                "head_node": ray.get_runtime_context().get_node_id(),
                "sold": sold,
            }
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
