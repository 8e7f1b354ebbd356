#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""examples/pyloss.py [PATH]: a Python program that loses its lock.

save() locks the file, then check_size() reads it through a second
descriptor; the end of the with block closes that one, and POSIX drops
save()'s lock there. Under lockspace-run --observe --report the event
names this file's line (py-caller) besides the interpreter's frame.
"""
import fcntl
import os
import sys

DB = sys.argv[1] if len(sys.argv) > 1 else "/tmp/lockspace-pyloss.db"


def check_size():
    with open(DB, "rb") as f:   # a second descriptor of the file
        f.read(1)               # the end of the block closes it


def save(fd):
    fcntl.lockf(fd, fcntl.LOCK_EX)
    check_size()
    os.write(fd, b"x")


fd = os.open(DB, os.O_RDWR | os.O_CREAT, 0o644)
save(fd)
