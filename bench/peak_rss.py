"""Run one command and report its own peak RSS, CPU and wall time as JSON in a file.

Why a separate small process: on Linux a child's ru_maxrss starts from the RSS of the process that
forked it (exec records the old address space's high-water mark). Spawned straight from the bench
process (hundreds of MB after generating data), every `digest` run would seem that big. Started
from this tiny process instead (python -S: no site, no imports beyond os/time/json), the baseline is
a few MB, far under any `digest` command's real peak.

    python -S bench/peak_rss.py RESULT.json COMMAND ARGS...
"""

import json
import os
import sys
import time


def main() -> int:
    result, command = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    pid = os.posix_spawn(command[0], command, os.environ)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    with open(result, "w") as handle:
        json.dump(
            {
                "code": code,
                "seconds": seconds,
                "max_rss_kb": usage.ru_maxrss,
                "cpu_s": usage.ru_utime + usage.ru_stime,
            },
            handle,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
