"""Returns an open lock in its result: nothing JSON can carry."""

import threading
from typing import Any

from cjm_broken_common import WorkingPlugin


class UnencodableResult(WorkingPlugin):
    plugin_name = "cjm-broken-result"

    def execute(self, text: str = "") -> dict[str, Any]:
        return {"text": text, "lock": threading.Lock()}
