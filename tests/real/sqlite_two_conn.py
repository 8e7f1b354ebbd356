#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tests/real/sqlite_two_conn.py JOURNAL: one process, two connections to
the same database (SQLite counts its locks per inode inside the process and
relies on POSIX locks being process-wide), checked from another process.
JOURNAL: delete | wal. Prints OK and exits 0, or FAIL ... and exits 1."""
import os
import sqlite3
import subprocess
import sys
import tempfile

journal = sys.argv[1] if len(sys.argv) > 1 else "delete"
d = tempfile.mkdtemp(prefix="lockspace-real-")
db = os.path.join(d, "db")


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def other_can_write():
    """Whether another process can start a write transaction now."""
    code = ("import sqlite3,sys\n"
            "c=sqlite3.connect(sys.argv[1],timeout=0,isolation_level=None)\n"
            "try:\n c.execute('BEGIN IMMEDIATE'); c.execute('ROLLBACK')\n"
            "except sqlite3.OperationalError as e: print(e); sys.exit(3)\n")
    r = subprocess.run([sys.executable, "-c", code, db],
                       capture_output=True, text=True, timeout=30)
    if r.returncode not in (0, 3):
        fail("probe: " + r.stdout + r.stderr)
    return r.returncode == 0


def connect():
    return sqlite3.connect(db, timeout=0, isolation_level=None)


a = connect()
a.execute("PRAGMA journal_mode=" + journal)
a.execute("CREATE TABLE t (x INTEGER)")
b = connect()

for rnd in range(20):
    a.execute("BEGIN IMMEDIATE")
    a.execute("INSERT INTO t VALUES (?)", (rnd,))
    # The second connection cannot write while the first does ...
    try:
        b.execute("BEGIN IMMEDIATE")
        fail("second connection got a write lock during the first's")
    except sqlite3.OperationalError as e:
        if "locked" not in str(e):
            fail("second connection: " + str(e))
    # ... and reads the committed state.
    n = b.execute("SELECT count(*) FROM t").fetchone()[0]
    if n != rnd:
        fail("second connection read %d rows, want %d" % (n, rnd))
    # A third connection opens and closes the file meanwhile (SQLite defers
    # the close of its descriptor while locks are held on the inode).
    c = connect()
    c.execute("SELECT count(*) FROM t").fetchone()
    c.close()
    if rnd % 5 == 0 and other_can_write():
        fail("another process could write during a write transaction")
    a.execute("COMMIT")
    # Now the roles swap.
    b.execute("BEGIN IMMEDIATE")
    try:
        a.execute("BEGIN IMMEDIATE")
        fail("first connection got a write lock during the second's")
    except sqlite3.OperationalError as e:
        if "locked" not in str(e):
            fail("first connection: " + str(e))
    b.execute("ROLLBACK")

# A read transaction on one connection and a write on the other.
a.execute("BEGIN")
a.execute("SELECT count(*) FROM t").fetchone()
b.execute("BEGIN IMMEDIATE")
b.execute("INSERT INTO t VALUES (100)")
b.execute("COMMIT" if journal == "wal" else "ROLLBACK")
a.execute("COMMIT")
if not other_can_write():
    fail("the database stayed locked after every transaction ended")
b.close()
n = a.execute("SELECT count(*) FROM t").fetchone()[0]
want = 21 if journal == "wal" else 20
ok = a.execute("PRAGMA integrity_check").fetchone()[0]
mode = a.execute("PRAGMA journal_mode").fetchone()[0]
a.close()
print("journal=%s rows=%d integrity=%s" % (mode, n, ok))
if n != want or ok != "ok" or mode != journal:
    fail("want %d rows" % want)
for f in os.listdir(d):
    os.unlink(os.path.join(d, f))
os.rmdir(d)
print("OK")
