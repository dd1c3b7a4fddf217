"""Wait until a server started in the background answers HTTP (any status counts: an unauthenticated 403
means it is up). Exit 0 once it answers; 1 when the process died or SECONDS passed.
Usage: python scripts/wait_ready.py URL PID SECONDS  (used by scripts/gcs_up.sh and scripts/azurite_up.sh)
"""

import os
import sys
import time
import urllib.error
import urllib.request

url, pid, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(1)
    try:
        with urllib.request.urlopen(url, timeout=2):
            sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit(1)
