"""Sampling profiles of the running processes with py-spy (no restart, no code change), summarised
as the functions that take the largest share of samples: on their own (self) and with what they
call (inclusive)."""
from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OWN = ("gateway/", "services/", "platform_kit/")
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def start(pid: int, out: Path, seconds: float, *, subprocesses: bool = False, rate: int = 100, gil: bool = True) -> subprocess.Popen | None:
    """py-spy recording `pid` for `seconds` into `out` (collapsed stacks, one line per stack)."""
    spy = shutil.which("py-spy") or str(Path(__file__).resolve().parents[1] / ".venv/bin/py-spy")
    if not Path(spy).exists():
        return None
    # --gil: only the thread holding the GIL is sampled, so the shares are of the Python CPU time
    # (threads waiting on a socket, a lock or PostgreSQL are left out). Without it every thread
    # that is not idle is sampled, C code that releases the GIL (argon2id) included.
    command = [spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(rate), "--format", "raw", "--output", str(out),
               "--nonblocking"] + (["--gil"] if gil else [])
    if subprocesses:
        command.append("--subprocesses")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _name(frame: str) -> str:
    """`function (path/to/module.py:12)` -> `module.py:function`, without the line (lines of one function add up)."""
    found = _FRAME.match(frame.strip())
    if not found:
        return frame.strip()
    path = found["file"]
    parts = Path(path).parts
    if path.startswith(f"{ROOT}/"):
        path = path[len(str(ROOT)) + 1:]
    elif not path.startswith("/") or path.startswith(OWN):
        pass  # relative to the repository already (python -m services.x)
    elif "site-packages" in parts:
        path = "/".join(parts[parts.index("site-packages") + 1:])
    elif len(parts) > 2:
        path = "/".join(parts[-2:])
    return f"{path}:{found['function']}"


def summarise(collapsed: Path, top: int = 15, idle: tuple[str, ...] = ("select", "poll", "epoll", "wait", "_wait", "sleep", "accept", "recv_into")) -> dict:
    """Shares of the busy samples: idle waits (threads parked in select, waits on locks) are left
    out, so the shares are of the work the process did."""
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    busy = 0
    total = 0
    if not collapsed.exists():
        return {"samples": 0}
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if f and not f.startswith("process ") and not f.startswith("thread ")]
        samples = int(count)
        total += samples
        if not frames:
            continue
        leaf = _name(frames[-1])
        if leaf.rsplit(":", 1)[-1] in idle:
            continue
        busy += samples
        self_counts[leaf] += samples
        for name in {_name(f) for f in frames}:
            inclusive[name] += samples
    share = lambda n: round(100 * n / busy, 1) if busy else 0.0  # noqa: E731
    return {
        "samples": total,
        "busy_samples": busy,
        "self": [{"function": f, "percent": share(n)} for f, n in self_counts.most_common(top)],
        "inclusive": [{"function": f, "percent": share(n)} for f, n in inclusive.most_common(top * 2)],
        # The repository's own functions with what they call: where a change would go (the
        # interceptors and loops that wrap every call, over 80 %, left out).
        "own_inclusive": [{"function": f, "percent": share(n)} for f, n in inclusive.most_common() if f.startswith(OWN) and share(n) <= 80][:top],
    }
