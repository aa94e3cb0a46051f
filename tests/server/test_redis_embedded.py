"""The embedded redis-server: a restart never runs two servers on one append-only file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import redis

from server.redis_embedded import EmbeddedRedis

REPO = Path(__file__).resolve().parents[2]

_OWNER = """
import sys, time
from pathlib import Path
import redis
from server.redis_embedded import EmbeddedRedis
server = EmbeddedRedis(data_dir=Path(sys.argv[1])).start()
redis.Redis.from_url(server.url).set("kept", "yes")
print(server.process.pid, flush=True)
time.sleep(60)
"""


def test_a_restart_stops_the_server_a_killed_gateway_left(tmp_path: Path) -> None:
    """The redis-server of a SIGKILLed owner keeps running (own session); the next start on the same
    data dir stops it first (SIGTERM, so it finishes its writes) and then has its data."""
    owner = subprocess.Popen([sys.executable, "-c", _OWNER, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE)
    try:
        assert owner.stdout is not None
        leftover = int(owner.stdout.readline())
        owner.kill()
        owner.wait(10)
        assert Path(f"/proc/{leftover}").exists()  # it outlived its owner
        with EmbeddedRedis(data_dir=tmp_path) as server:
            assert not Path(f"/proc/{leftover}").exists()
            client = redis.Redis.from_url(server.url)
            assert client.get("kept") == b"yes"
            client.close()
    finally:
        owner.kill()
