"""Draw the panels of deploy/grafana-dashboard.json from a real bots run (docs/operations.md).

No Grafana here, so this plays its part: it starts a gateway and a recognition worker (Redis
embedded), a real Prometheus scraping both every 2 s, and a bots run against the gateway; then it
asks Prometheus for every panel query over the run, exactly as the dashboard would (with
$__rate_interval set to 20 s), and draws the panels in the dashboard's own grid with matplotlib.

    .venv/bin/pip install -e ".[docs]"      # matplotlib
    apt-get install prometheus              # Debian's package; only its binary is used
    .venv/bin/python scripts/dashboard_picture.py --out docs/screenshots/dashboard.png

Every process is started here and stopped at the end; nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = REPO_ROOT / "deploy" / "grafana-dashboard.json"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def query_range(prometheus: str, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{prometheus}/api/v1/query_range?{params}", timeout=30) as reply:
        body = json.load(reply)
    if body["status"] != "success":
        raise RuntimeError(f"{expr}: {body}")
    return body["data"]["result"]


def legend(template: str, labels: dict[str, str]) -> str:
    for key, value in labels.items():
        template = template.replace("{{" + key + "}}", value)
    return template


def draw(
    dashboard: dict[str, Any],
    series: dict[int, list[tuple[str, list[float], list[float]]]],
    span: tuple[float, float],
    out: Path,
) -> None:
    import matplotlib
    import matplotlib.dates
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    rows = max(panel["gridPos"]["y"] + panel["gridPos"]["h"] for panel in dashboard["panels"])
    figure = plt.figure(figsize=(24, rows * 0.42), facecolor="#111217")
    grid = figure.add_gridspec(rows, 24, hspace=0.0, wspace=0.0)
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        if panel["type"] == "row":
            axis = figure.add_subplot(grid[pos["y"], :])
            axis.axis("off")
            axis.text(
                0.0,
                0.2,
                panel["title"],
                color="#ccccdc",
                fontsize=13,
                weight="bold",
                transform=axis.transAxes,
            )
            continue
        # Leave a little room around each panel, as Grafana does.
        axis = figure.add_subplot(
            grid[pos["y"] + 1 : pos["y"] + pos["h"] - 1, pos["x"] + 1 : pos["x"] + pos["w"] - 1]
        )
        axis.set_facecolor("#181b1f")
        axis.set_title(panel["title"], color="#ccccdc", fontsize=11, loc="left")
        axis.tick_params(colors="#9fa7b3", labelsize=8)
        for spine in axis.spines.values():
            spine.set_color("#2c3235")
        axis.grid(color="#2c3235", linewidth=0.6)
        for name, times, values in series[panel["id"]]:
            axis.plot([datetime.fromtimestamp(t) for t in times], values, linewidth=1.6, label=name)
        if series[panel["id"]]:
            axis.legend(
                fontsize=7, loc="upper left", facecolor="#181b1f", labelcolor="#ccccdc", edgecolor="#2c3235"
            )
        else:
            axis.text(0.5, 0.5, "no data", color="#9fa7b3", ha="center", transform=axis.transAxes)
        axis.set_xlim(datetime.fromtimestamp(span[0]), datetime.fromtimestamp(span[1]))
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
        axis.xaxis.set_major_formatter(matplotlib.dates.DateFormatter("%H:%M:%S"))
        unit = panel["fieldConfig"]["defaults"].get("unit", "")
        axis.set_ylabel(
            {"s": "seconds", "bytes": "bytes", "reqps": "per second", "percentunit": "share of a core"}.get(
                unit, ""
            ),
            color="#9fa7b3",
            fontsize=8,
        )
    assert len(panels) == len(series)
    figure.savefig(out, dpi=60, facecolor=figure.get_facecolor(), bbox_inches="tight")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshots" / "dashboard.png")
    parser.add_argument("--prometheus", default="prometheus", help="the Prometheus binary")
    parser.add_argument("--rooms", type=int, default=3)
    parser.add_argument("--duration", type=float, default=60.0, help="the bots' --duration")
    args = parser.parse_args()
    dashboard = json.loads(DASHBOARD.read_text())

    with tempfile.TemporaryDirectory(prefix="doodle-dashboard-") as scratch:
        work = Path(scratch)
        gateway_port, worker_port, prometheus_port = free_port(), free_port(), free_port()
        redis_port = free_port()
        env = {**os.environ, "DOODLE_LOG_FORMAT": "json", "DOODLE_REDIS_DATA_DIR": str(work / "redis")}
        logs = (work / "processes.log").open("w")
        processes: list[subprocess.Popen[bytes]] = []
        try:
            # A Redis both the gateway and the worker reach: the embedded binary, started by hand.
            from server.redis_embedded import redis_server_binary

            processes.append(
                subprocess.Popen(
                    [
                        str(redis_server_binary()),
                        "--port",
                        str(redis_port),
                        "--bind",
                        "127.0.0.1",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                    ],
                    stdout=logs,
                    stderr=logs,
                )
            )
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
            time.sleep(0.5)
            processes.append(
                subprocess.Popen(
                    [
                        str(BIN / "doodle-party"),
                        "serve",
                        "--port",
                        str(gateway_port),
                        "--redis-url",
                        redis_url,
                        "--recognition",
                        "workers",
                    ],
                    env=env,
                    stdout=logs,
                    stderr=logs,
                )
            )
            processes.append(
                subprocess.Popen(
                    [
                        str(BIN / "doodle-party"),
                        "worker",
                        "--redis-url",
                        redis_url,
                        "--name",
                        "worker-1",
                        "--metrics-port",
                        str(worker_port),
                        "--metrics-host",
                        "127.0.0.1",
                    ],
                    env=env,
                    stdout=logs,
                    stderr=logs,
                )
            )
            config = work / "prometheus.yml"
            config.write_text(
                "global: {scrape_interval: 2s, evaluation_interval: 2s}\n"
                "scrape_configs:\n"
                f"  - job_name: gateway\n    static_configs: [{{targets: ['127.0.0.1:{gateway_port}']}}]\n"
                f"  - job_name: worker\n    static_configs: [{{targets: ['127.0.0.1:{worker_port}']}}]\n"
            )
            prometheus = f"http://127.0.0.1:{prometheus_port}"
            processes.append(
                subprocess.Popen(
                    [
                        args.prometheus,
                        f"--config.file={config}",
                        f"--storage.tsdb.path={work / 'tsdb'}",
                        f"--web.listen-address=127.0.0.1:{prometheus_port}",
                    ],
                    stdout=logs,
                    stderr=logs,
                )
            )
            wait_http(f"http://127.0.0.1:{gateway_port}/healthz")
            wait_http(f"http://127.0.0.1:{worker_port}/metrics")
            wait_http(f"{prometheus}/-/ready")
            start = time.time()
            subprocess.run(
                [
                    str(BIN / "doodle-party"),
                    "bots",
                    "--url",
                    f"ws://127.0.0.1:{gateway_port}/",
                    "--quiet",
                    "--rooms",
                    str(args.rooms),
                    "--players",
                    "4",
                    "--spectators",
                    "1",
                    "--rounds",
                    "2",
                    "--round-seconds",
                    "15",
                    "--stagger",
                    "5",
                    "--duration",
                    str(args.duration),
                    "--churn",
                    "0.2",
                ],
                env=env,
                check=True,
            )
            time.sleep(10)  # a few scrapes of the quiet after the games
            end = time.time()
            series: dict[int, list[tuple[str, list[float], list[float]]]] = {}
            for panel in dashboard["panels"]:
                if panel["type"] == "row":
                    continue
                series[panel["id"]] = []
                for target in panel["targets"]:
                    expr = target["expr"].replace("$__rate_interval", "20s")
                    for result in query_range(prometheus, expr, start, end, 2):
                        times = [float(t) for t, _ in result["values"]]
                        values = [float(v) for _, v in result["values"]]
                        name = legend(target.get("legendFormat", ""), result["metric"]) or expr
                        series[panel["id"]].append((name, times, values))
            draw(dashboard, series, (start, end), args.out)
        finally:
            for process in reversed(processes):
                process.send_signal(signal.SIGTERM)
            for process in reversed(processes):
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
            logs.close()
    print(f"wrote {args.out} ({end - start:.0f} s of metrics)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
