"""What a server the benches started uses, read from Linux's /proc: its processes, their CPU time and
resident memory. CPU time per request is the figure to compare on a shared machine, where other jobs
stretch wall-clock times by a factor of two or more. Elsewhere (no /proc) the answers are empty."""

from __future__ import annotations

import os
from pathlib import Path


def _read(pid: str, name: str) -> bytes:
    try:
        return (Path("/proc") / pid / name).read_bytes()
    except OSError:
        return b""


def _parent(pid: str) -> str:
    fields = _read(pid, "stat").rsplit(b")", 1)[-1].split()  # after the command's name: state, ppid, ...
    return fields[1].decode() if len(fields) > 1 else ""


def server_pids(port: int) -> list[str]:
    """The process started with `--port PORT`, then each process it started (its workers)."""
    pids = [p for p in os.listdir("/proc") if p.isdigit()] if os.path.isdir("/proc") else []
    main = [p for p in pids if f"--port\0{port}\0".encode() in _read(p, "cmdline") + b"\0"]
    return main + [p for p in pids if _parent(p) in main]


def rss_mb(pid: str) -> float | None:
    rss = [line for line in _read(pid, "status").splitlines() if line.startswith(b"VmRSS:")]
    return round(int(rss[0].split()[1]) / 1024, 1) if rss else None


def cpu_ms(pids: list[str]) -> float:
    """User and system CPU time the processes have used so far, in ms."""
    total = 0
    for pid in pids:
        fields = _read(pid, "stat").rsplit(b")", 1)[-1].split()
        if len(fields) > 12:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total * 1e3 / os.sysconf("SC_CLK_TCK")
