#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tests/real/counter.py lockf|fcntl [PROCS ITERS]: PROCS processes add 1
to counters in one file ITERS times each, each increment under a record
lock; the final values must be exact.
lockf: fcntl.lockf(LOCK_EX) over bytes 0-15, the counter in them.
fcntl: fcntl.fcntl(F_SETLKW) with struct flock over two separate byte
ranges, one counter in each, locked one after the other (each lock of a
range, then its unlock, leaves the other range's lock alone)."""
import fcntl
import os
import struct
import sys
import tempfile

how = sys.argv[1] if len(sys.argv) > 1 else "lockf"
procs = int(sys.argv[2]) if len(sys.argv) > 2 else 4
iters = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
RANGES = [(0, 16), (4096, 16)]


def flock(typ, start, length):
    # struct flock on Linux x86_64/aarch64: short, short, off_t, off_t, pid_t
    return struct.pack("hhqqi4x", typ, os.SEEK_SET, start, length, 0)


def bump(fd, off):
    v = int(os.pread(fd, 16, off).decode() or "0")
    os.pwrite(fd, b"%016d" % (v + 1), off)


def worker(path):
    fd = os.open(path, os.O_RDWR)
    for i in range(iters):
        if how == "lockf":
            fcntl.lockf(fd, fcntl.LOCK_EX, 16, 0, os.SEEK_SET)
            bump(fd, 0)
            fcntl.lockf(fd, fcntl.LOCK_UN, 16, 0, os.SEEK_SET)
        else:
            for start, length in RANGES:
                fcntl.fcntl(fd, fcntl.F_SETLKW,
                            flock(fcntl.F_WRLCK, start, length))
                bump(fd, start)
                fcntl.fcntl(fd, fcntl.F_SETLK,
                            flock(fcntl.F_UNLCK, start, length))
    os.close(fd)


fd, path = tempfile.mkstemp(prefix="lockspace-real-")
os.pwrite(fd, b"%016d" % 0, 0)
os.pwrite(fd, b"%016d" % 0, 4096)
os.close(fd)
pids = []
for p in range(procs):
    pid = os.fork()
    if pid == 0:
        try:
            worker(path)
            os._exit(0)
        except BaseException as e:
            print("worker:", e, flush=True)
            os._exit(1)
    pids.append(pid)
bad = 0
for pid in pids:
    _, st = os.waitpid(pid, 0)
    bad += st != 0
fd = os.open(path, os.O_RDONLY)
vals = [int(os.pread(fd, 16, off)) for off, _ in
        (RANGES if how == "fcntl" else RANGES[:1])]
os.close(fd)
os.unlink(path)
want = procs * iters
print("%s: counters=%s want=%d" % (how, vals, want))
if bad or any(v != want for v in vals):
    print("FAIL")
    sys.exit(1)
print("OK")
