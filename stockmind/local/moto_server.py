"""moto in server mode: a real S3 + SQS HTTP endpoint on 127.0.0.1, shared by every process."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from stockmind.local.ports import LOOPBACK, process_is_alive, stop_process_group, wait_for_port


@dataclass(frozen=True)
class MotoServer:
    port: int
    pid: int

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @classmethod
    def start(cls, port: int, log_path: Path) -> MotoServer:
        moto = Path(sys.executable).with_name("moto_server")
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [str(moto), "-H", LOOPBACK, "-p", str(port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                # Its own session: it outlives `stockmind local up`, and `down` stops the whole group.
                start_new_session=True,
            )
        wait_for_port(port, timeout_s=30, what="moto server")
        return cls(port=port, pid=process.pid)

    def is_running(self) -> bool:
        return process_is_alive(self.pid)

    def stop(self) -> None:
        stop_process_group(self.pid)
