#!/usr/bin/env python3
"""CPU time (utime + stime, in seconds) of a process, from /proc/PID/stat.

    proc-cpu.py read PID                  prints the seconds, e.g. 12.34
    proc-cpu.py sample PID OUT [INTERVAL] appends "<epoch seconds>\t<cpu seconds>" lines to
                                          OUT every INTERVAL seconds (default 0.5) until
                                          PID exits or this sampler gets SIGTERM/SIGINT

Used by scripts/bench-test-vs-autobahn.sh (BENCH_ALL=1) to measure the target's own CPU
time while each tester runs. Only the process itself is counted (not its children).
"""
import os
import signal
import sys
import time

try:
    HZ = os.sysconf("SC_CLK_TCK")
except (ValueError, OSError, AttributeError):
    HZ = 100


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    # Field 2 (comm) is in parentheses and may hold spaces: split after the last ')'.
    rest = s[s.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    utime, stime = int(rest[11]), int(rest[12])
    return (utime + stime) / HZ


def main(argv):
    if len(argv) >= 2 and argv[0] == "read":
        print(f"{cpu_seconds(int(argv[1])):.2f}")
        return 0
    if len(argv) >= 3 and argv[0] == "sample":
        pid, out = int(argv[1]), argv[2]
        interval = float(argv[3]) if len(argv) > 3 else 0.5
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        signal.signal(signal.SIGINT, lambda *_: stop.append(1))
        with open(out, "a", buffering=1) as f:
            while True:
                try:
                    c = cpu_seconds(pid)
                except (FileNotFoundError, ProcessLookupError):
                    break
                f.write(f"{time.time():.3f}\t{c:.2f}\n")
                if stop:
                    break
                time.sleep(interval)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
