"""cjm-plugin-system 0.0.28 beside us: its venv, the same trivial plugin, a driver process.

Their proxy lives in their own venv (it cannot share our interpreter), so a driver process in
that venv holds it and answers requests one JSON line at a time (``cps_driver.py``). The plugin
is ``cjm_bench_echo``: the echo example's behaviour (10 progress steps, a history line per call,
``execute_stream`` yields the words of ``text``) without the cjm-docker import, written under
bench/out/ and put on the worker's PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))

from queue_bench import CPS_VERSION, OUT, cps_python  # noqa: E402

PLUGIN_SOURCE = textwrap.dedent('''
    """The echo example for cjm-plugin-system 0.0.28 (no cjm-docker import)."""
    import os


    class EchoPlugin:
        name = "cjm-example-echo"
        version = "0.1.0"

        def __init__(self):
            self._progress, self._status_message = 0.0, ""

        def initialize(self, config=None):
            pass

        def execute(self, text="", sleep=0.0, steps=10, record=True):
            steps = max(1, int(steps))
            for i in range(steps):
                self._progress, self._status_message = i / steps, f"step {i + 1}/{steps}"
            self._progress, self._status_message = 1.0, "done"
            if not record:
                return {"text": text, "length": len(text), "history": ""}
            history = os.path.join(os.environ.get("CJM_DATA_DIR", "/tmp"), "cjm-example-echo",
                                   "history.log")
            os.makedirs(os.path.dirname(history), exist_ok=True)
            with open(history, "a", encoding="utf-8") as fh:
                fh.write(text + "\\n")
            return {"text": text, "length": len(text), "history": history}

        def execute_stream(self, text="", sleep=0.0):
            words = text.split()
            for i, word in enumerate(words):
                self._progress, self._status_message = (i + 1) / max(1, len(words)), word
                yield word

        def get_config_schema(self):
            return {}

        def get_current_config(self):
            return {}

        def cleanup(self):
            pass
''').lstrip()


class CpsDriver:
    """The 0.0.28 driver process; ``call(op, **kwargs)`` returns its JSON answer."""

    def __init__(self) -> None:
        python = cps_python()
        plugin_dir = OUT / "cps-plugin"
        plugin_dir.mkdir(parents=True, exist_ok=True)
        (plugin_dir / "cjm_bench_echo.py").write_text(PLUGIN_SOURCE)
        data = OUT / "cps-run-data"
        data.mkdir(parents=True, exist_ok=True)
        manifest = {"name": "cjm-example-echo", "version": "0.1.0", "python_path": str(python),
                    "module": "cjm_bench_echo", "class": "EchoPlugin"}
        env = {**os.environ, "CJM_DATA_DIR": str(data), "PYTHONPATH": str(plugin_dir)}
        self.version = CPS_VERSION
        self.process = subprocess.Popen(
            [str(python), str(Path(__file__).with_name("cps_driver.py")), json.dumps(manifest)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env=env, cwd=data)

    def call(self, op: str, **kwargs: object) -> dict:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps({"op": op, **kwargs}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the cjm-plugin-system driver exited during {op!r}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"cjm-plugin-system {op!r} failed: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.close()
                self.process.wait(timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
