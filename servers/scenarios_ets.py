"""The ETS in the lab: the file server on a thread pool and on a process pool, stress-tested from mesin2.

Each capture holds one `file_client.py stress` run: uploads then downloads, every file size x every client
count, all clients of a row at once. The default matrix (1 KB and 2 KB, 1 and 3 clients, 2 server workers)
keeps the committed samples small; `progjar lab --assignment ets --sizes 1MB,5MB --clients 1,5` makes the
ETS-sized ones (not to be committed).
"""
from __future__ import annotations

import json
import shutil
from typing import Optional

from servers.file_client import parse_size, size_label
from servers.labcore import SERVER, Lab, progress

FILE_PORT = 6666
SERVER_WORKERS = 2
SCENARIOS = ("ets-thread", "ets-process")
CAPTURES = {s: f"{s}.pcap" for s in SCENARIOS}
FILES = tuple(f"{s}.csv" for s in SCENARIOS)  # the table as the stress client wrote it
DEFAULTS = {"sizes": [1024, 2048], "clients": [1, 3]}


def parse_options(options: dict) -> dict:
    """--sizes 1MB,5MB --clients 1,5 (strings from the command line, or lists already) -> lists of ints."""
    parsed = dict(DEFAULTS)
    for key in ("sizes", "clients"):
        value = options.get(key)
        if value is None:
            continue
        items = value.split(",") if isinstance(value, str) else list(value)
        try:
            parsed[key] = [parse_size(str(x)) if key == "sizes" else int(x) for x in items]
        except Exception:
            raise ValueError(f"--{key}: cannot read {value!r} (e.g. --sizes 1MB,5MB --clients 1,5)") from None
        if not parsed[key] or min(parsed[key]) < 1:
            raise ValueError(f"--{key}: every value must be at least 1")
    unknown = set(options) - {"sizes", "clients"}
    if unknown:
        raise ValueError(f"ets takes no {', '.join(sorted(unknown))}")
    return parsed


def stress_run(lab: Lab, pool: str) -> dict:
    opts = parse_options(lab.options)
    sizes = ",".join(size_label(n) for n in opts["sizes"])
    clients = ",".join(str(n) for n in opts["clients"])
    key = f"ets-{pool}"

    def spoken(items: str) -> str:
        *rest, last = items.split(",")
        return f"{', '.join(rest)} and {last}" if rest else last

    def body():
        progress(f"{key}: file_server.py --pool {pool} --workers {SERVER_WORKERS}; stress from mesin2: upload and "
                 f"download of {sizes} by {clients} clients")
        lab.fresh_dir("mesin1", "files")
        srv = lab.program("mesin1", "file_server.py", ["--pool", pool, "--workers", str(SERVER_WORKERS)],
                          cwd=lab.machine_dir("mesin1"))
        srv.wait_for(r"waiting for connections", 10)
        args = ["--server", SERVER, "stress", "--operation", "upload,download", "--size", sizes,
                "--clients", clients, "--pool", pool, "--csv", f"{key}.csv", "--json", f"{key}.json"]
        stress = lab.finish(lab.program("mesin2", "file_client.py", args, cwd=lab.machine_dir("mesin2")), 600)
        steps = [lab.stop(srv), stress]
        shutil.copyfile(lab.machine_dir("mesin2") / f"{key}.csv", lab.workdir / f"{key}.csv")
        rows = json.loads((lab.machine_dir("mesin2") / f"{key}.json").read_text())["rows"]
        expected = {
            "assignment": "ets", "server": f"{SERVER}:{FILE_PORT}", "server_pool": pool,
            "server_workers": SERVER_WORKERS, "client_pool": pool,
            "table": [{k: r[k] for k in ("operation", "file_size", "clients", "successes", "failures")}
                      for r in rows],
            "measured": rows,  # times and throughputs as the client measured them (the capture's are close)
            "transfers": sum(r["clients"] for r in rows),
            "setup": "before the downloads of each size, one LIST (the file is already there from the uploads)",
        }
        return steps, expected, (
            f"ETS stress test against the {pool}-pool server ({SERVER_WORKERS} workers): from mesin2, "
            f"{spoken(clients)} clients at once upload, then download, files of {spoken(sizes)}; every transfer "
            "on its own connection, verified by size and sha256. With more clients than workers, a connection "
            "that arrives while every worker is busy is accepted at once but waits in the pool's queue (files "
            "this small take about a millisecond, so that is rare here; bigger --sizes show it).")
    return lab.scenario(key, CAPTURES[key], "mesin1", "eth0", body, buffer_kib=65536)


def run(lab: Lab, scenario: str, server_mode: Optional[str]) -> list[dict]:
    pools = ["thread", "process"] if scenario == "all" else [scenario.split("-", 1)[1]]
    return [stress_run(lab, pool) for pool in pools]
