"""A stream that never ends (and never looks at cancel)."""

import itertools
import time
from collections.abc import Generator

from cjm_broken_common import WorkingPlugin


class EndlessStream(WorkingPlugin):
    plugin_name = "cjm-broken-stream"

    def execute_stream(self, text: str = "") -> Generator[str, None, None]:
        for i in itertools.count():
            time.sleep(0.05)
            yield f"{text}-{i}"
