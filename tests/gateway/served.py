"""A real `grievance serve` for the end-to-end tests: its own database, Prefect home and ports,
accounts made with the command line first; the ports its process tree listens on (read from
/proc); a headless Chromium driven over the DevTools protocol."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent
PASSWORDS = {"desk": "desk password 1", "law": "law password 1", "road": "road password 1"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RetryingOn503(httpx.HTTPTransport):
    """Sends a request again when the answer is 503, as Prefect's own client does (its server
    answers 503 "Service Unavailable" for what it deems retryable, such as SQLite's "database
    is locked" while the watchdog writes): at most 5 tries, 0.5 s, 1 s, ... apart."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in range(1, 6):
            response = super().handle_request(request)
            if response.status_code != 503 or attempt == 5:
                return response
            response.close()
            time.sleep(0.5 * attempt)
        raise AssertionError("unreachable")


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    home: Path
    env: dict[str, str]
    log: Path

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own command line
            [str(BIN / "grievance"), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def session(self, name: str, password: str | None = None) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30, transport=RetryingOn503())
        answer = client.post(
            "/login",
            data={"username": name, "password": password or PASSWORDS[name]},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text[:300]
        return client


def start(home: Path, extra: dict[str, str] | None = None) -> Served:
    """Units and accounts through the command line, then `grievance serve` on a free port
    (`extra`: more environment, e.g. a shorter watchdog interval)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PREFECT_API_URL", "GRIEVANCE_STAMP_KEY", "PREFECT_API_AUTH_STRING")
        and not k.startswith("PREFECT_SERVER_API_AUTH")
    }
    env |= {
        "GRIEVANCE_DATABASE_URL": f"sqlite:///{home / 'grievance.db'}",
        "PREFECT_HOME": str(home / "prefect"),
        "GRIEVANCE_INBOX_DIR": str(home / "inbox"),
        "GRIEVANCE_REPORT_DIR": str(home / "reports"),
        "GRIEVANCE_IMPORT_DIR": str(home / "imports"),
        "GRIEVANCE_ACTOR": "ops",
        "PYTHONUNBUFFERED": "1",
    } | (extra or {})
    served = Served("", None, home, env, home / "serve.log")  # type: ignore[arg-type]
    for code, name in (("ROAD", "市道路运输管理处"), ("LAW", "执法支队")):
        assert served.cli("unit", "add", code, "--name", name).returncode == 0
    for name, role, unit in (
        ("desk", "dispatcher", None),
        ("law", "handler", "LAW"),
        ("road", "handler", "ROAD"),
    ):
        args = ["user", "add", name, "--role", role, "--password-stdin"]
        args += ["--unit", unit] if unit else []
        done = served.cli(*args, stdin=PASSWORDS[name] + "\n")
        assert done.returncode == 0, done.stderr
    port = free_port()
    served.url = f"http://127.0.0.1:{port}"
    with open(served.log, "wb") as out:
        served.process = subprocess.Popen(  # noqa: S603 - our own command line
            [str(BIN / "grievance"), "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(f"{served.url}/gate/health", timeout=2).status_code == 200 and (
                b"deployments are being served" in served.log.read_bytes()
            ):
                return served
        except httpx.HTTPError:
            pass
        if served.process.poll() is not None or time.monotonic() > deadline:
            stop(served)
            raise AssertionError(
                "grievance serve did not start:\n" + served.log.read_text()[-3000:]
            )
        time.sleep(0.5)


def stop(served: Served) -> None:
    if served.process.poll() is None:
        os.killpg(served.process.pid, signal.SIGTERM)
        try:
            served.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(served.process.pid, signal.SIGKILL)
            served.process.wait()


# ----------------------------------------------------------------------- the process tree
def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def process_tree(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def listening_ports(pids: list[int]) -> set[int]:
    """The TCP ports the processes listen on (IPv4 and IPv6), from /proc."""
    inodes: set[str] = set()
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        try:
            links = [os.readlink(fd) for fd in fds.iterdir()]
        except OSError:
            continue
        inodes |= {m[1] for link in links if (m := re.match(r"socket:\[(\d+)\]", link))}
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if parts[3] == "0A" and parts[9] in inodes:  # 0A: LISTEN
                ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


# ----------------------------------------------------------------------- the browser
@dataclass
class Browser:
    """Headless Chromium over the DevTools protocol: one page, its own profile."""

    process: subprocess.Popen[str]
    socket: Any
    session: str = ""
    counter: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)

    def send(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        self.counter += 1
        message: dict[str, Any] = {"id": self.counter, "method": method, "params": params or {}}
        if self.session and not kw.get("browser"):
            message["sessionId"] = self.session
        self.socket.send(json.dumps(message))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            reply = json.loads(self.socket.recv(timeout=60))
            if reply.get("id") == self.counter:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)
        raise AssertionError(f"{method}: no answer")

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def goto(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete'")

    def wait_for(self, condition: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.evaluate(f"Boolean({condition})"):
                    return
            except AssertionError:
                pass  # the page is being replaced
            time.sleep(0.25)
        raise AssertionError(f"not so after {timeout} s: {condition}")

    def close(self) -> None:
        self.socket.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def browser(chromium: str, profile: Path) -> Browser:
    from websockets.sync.client import connect

    process = subprocess.Popen(  # noqa: S603 - a fixed browser and flags
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "--window-size=1400,1000",
            "about:blank",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    url = None
    while url is None and time.monotonic() < deadline:
        line = process.stderr.readline()
        if match := re.search(r"DevTools listening on (ws://\S+)", line):
            url = match[1]
    assert url, "Chromium gave no DevTools address"
    driver = Browser(process, connect(url, max_size=None, open_timeout=30))
    target = driver.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    attached = driver.send("Target.attachToTarget", {"targetId": target, "flatten": True})
    driver.session = attached["sessionId"]
    driver.send("Page.enable")
    driver.send("Runtime.enable")
    return driver
