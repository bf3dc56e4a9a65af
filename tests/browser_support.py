"""Support for the dashboard tests: synthetic model folders, a `panel serve explorer`
subprocess, and headless Chromium.

The browser is Debian's chromium (Playwright's own download is not used): its path comes from
$RATE2SPIKE_CHROMIUM, default /usr/bin/chromium.
"""

from __future__ import annotations

import re
from pathlib import Path

from rate2spike.explorer.latency import (CHROMIUM_ARGS, CHROMIUM_ENV, DashboardServer, chromium_path,  # noqa: F401
                                         free_port)

REPO = Path(__file__).resolve().parent.parent
CLIENT_GONE = ("WebSocketClosedError", "StreamClosedError")  # Tornado: a tab closed while being written to


def server_problems(log: str) -> list[str]:
    """Tracebacks and ERROR records in a server log, leaving out those that only say a browser
    tab went away while the server was writing to it (Tornado logs those; nothing is wrong)."""
    records = re.split(r"\n(?=\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} )", log)
    return [record for record in records if ("Traceback" in record or "ERROR" in record)
            and not any(gone in record for gone in CLIENT_GONE)]


PanelServer = DashboardServer  # `panel serve explorer` of the installed package (editable: this checkout)
