"""The floor of any iopub observer, for bench/extension.py: subscribe to a kernel, take its
messages as the sidecar does (gclog's own Subscription: receive, check the signature, decode),
in the sidecar's batches during a burst (a lag of BURST_LAG_S after each batch), and record
nothing: no observer, no privacy filter, no store, no samplers.

    python -m bench.bare_subscriber CONNECTION_FILE

prints ``ready`` once the kernel has welcomed it, then runs until killed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from gclog.jupyter.subscription import Subscription
from gclog.observe.observation import BURST_LAG_S


def main() -> None:
    subscription = Subscription(json.loads(Path(sys.argv[1]).read_text()))
    if not subscription.wait_connected(10):
        sys.exit("the kernel did not welcome the subscriber")
    print("ready", flush=True)
    while True:
        if subscription.receive(1000):
            time.sleep(BURST_LAG_S)  # the most the sidecar ever batches: fewest wake-ups


if __name__ == "__main__":
    main()
