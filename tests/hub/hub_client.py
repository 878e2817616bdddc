"""A client of a running JupyterHub for the hub tests: the admin API, users' tokens, kernels."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from pathlib import Path

REQUEST_TIMEOUT = 30
START_TIMEOUT = 90


class Hub:
    def __init__(self, url: str, admin_token: str, log: Path):
        import requests

        self.url = url.rstrip("/")
        self.admin = requests.Session()
        self.admin.headers["Authorization"] = f"token {admin_token}"
        self.log = log
        self.tokens: dict[str, str] = {}

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no hub log)"

    def api(self, method: str, path: str, **kw):
        return self.admin.request(method, f"{self.url}/hub/api{path}", timeout=REQUEST_TIMEOUT, **kw)

    def as_user(self, name: str):
        import requests

        s = requests.Session()
        s.headers["Authorization"] = f"token {self.tokens[name]}"
        return s

    def get(self, name: str, path: str, **kw):
        return self.as_user(name).get(f"{self.url}{path}", timeout=REQUEST_TIMEOUT, **kw)

    def post(self, name: str, path: str, **kw):
        return self.as_user(name).post(f"{self.url}{path}", timeout=REQUEST_TIMEOUT, **kw)

    def wait_ready(self, name: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            model = self.api("GET", f"/users/{name}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return
            time.sleep(1)
        raise AssertionError(f"server for {name} not ready in {START_TIMEOUT}s\n{self.log_tail()}")

    def run_code(self, name: str, code: str, server: str | None = None, timeout: float = START_TIMEOUT) -> dict:
        """Run code in a new kernel, as `name`; the code prints one JSON line.

        The kernel runs on the user's own server, or on `server` (a path such as
        ``/services/<course>``: the formgrader service, which instructors may reach).
        """
        out, error = self._run(name, code, server, timeout)
        if error is not None:
            raise AssertionError("\n".join(error["traceback"]))
        return json.loads(out.strip().splitlines()[-1])

    def run_error(self, name: str, code: str, timeout: float = START_TIMEOUT) -> dict:
        """Run code that must fail, in a new kernel on `name`'s server: the error as the notebook shows it.

        Returns ``ename``, ``evalue`` and ``traceback`` (the lines the notebook prints, colour codes removed).
        """
        out, error = self._run(name, code, None, timeout)
        assert error is not None, f"the code ran without an error; it printed: {out[-500:]}"
        ansi = re.compile(r"\x1b\[[0-9;]*m")
        return {"ename": error["ename"], "evalue": error["evalue"],
                "traceback": [ansi.sub("", line) for line in error["traceback"]]}

    def _run(self, name: str, code: str, server: str | None, timeout: float) -> tuple[str, dict | None]:
        base = server or f"/user/{name}"
        r = self.post(name, f"{base}/api/kernels", json={"name": "python3"})
        assert r.status_code == 201, (r.status_code, r.text)
        kernel_id = r.json()["id"]
        try:
            return asyncio.run(
                asyncio.wait_for(self._execute(name, f"{base}/api/kernels/{kernel_id}/channels", code),
                                 timeout=timeout)
            )
        finally:
            self.as_user(name).delete(f"{self.url}{base}/api/kernels/{kernel_id}", timeout=REQUEST_TIMEOUT)

    async def _execute(self, name: str, channels: str, code: str) -> tuple[str, dict | None]:
        """Run code; returns what it printed and the error content (None when it ran without one)."""
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        ws_url = self.url.replace("http://", "ws://") + channels
        conn = await websocket_connect(
            HTTPRequest(ws_url, headers={"Authorization": f"token {self.tokens[name]}"})
        )
        msg_id = uuid.uuid4().hex
        conn.write_message(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "username": name,
                        "session": uuid.uuid4().hex,
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        stdout: list[str] = []
        error = None
        try:
            while True:
                raw = await conn.read_message()
                if raw is None:
                    raise AssertionError("kernel websocket closed")
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                if kind == "stream" and msg["content"]["name"] == "stdout":
                    stdout.append(msg["content"]["text"])
                elif kind == "error":
                    error = msg["content"]
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    return "".join(stdout), error
        finally:
            conn.close()
