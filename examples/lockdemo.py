#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""examples/lockdemo.py PATH holder|waiter: the lock loss, with a witness.

The holder takes a write lock on PATH, and 0.3 s later reads the file
through another descriptor (open, close): POSIX drops its lock there. It
holds on for another 0.3 s, then unlocks. The waiter, started meanwhile,
blocks in F_SETLKW for the same lock. Plain (and under observe) the
waiter gets the lock at the holder's close, while the holder still thinks
it holds it; under the shim's protect, only at the unlock.
examples/trace-demo.sh runs both under lockspace-run --trace-html.
"""
import fcntl
import os
import sys
import time

path, role = sys.argv[1], sys.argv[2]


def peek():
    fd = os.open(path, os.O_RDONLY)
    os.read(fd, 16)
    os.close(fd)          # here POSIX drops the holder's lock


fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
if role == "holder":
    fcntl.lockf(fd, fcntl.LOCK_EX)
    time.sleep(0.3)
    peek()
    time.sleep(0.3)
    fcntl.lockf(fd, fcntl.LOCK_UN)
else:
    time.sleep(0.1)
    fcntl.lockf(fd, fcntl.LOCK_EX)     # F_SETLKW: waits for the holder
    print("waiter: got the lock after", role)
    fcntl.lockf(fd, fcntl.LOCK_UN)
os.close(fd)
