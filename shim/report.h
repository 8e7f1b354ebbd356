/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/report.h: the tree's report file of lockspace-run --report.
 *
 * When LOCKSPACE_PRELOAD_REPORT names an absolute path (lockspace-run
 * --report makes the file and names it), every process that loads the
 * shim appends one line to it at its start (the constructor) and one at
 * its exit (a destructor; a fork child writes only that one), so that
 * the wrapper can say, after COMMAND ended, how many processes of its
 * tree ran the shim and what they did:
 *
 *   start pid=42 ppid=41 name=apache2
 *   exit pid=43 ppid=42 name=apache2 locks=261 files=1 fallbacks=0
 *
 * The file is only appended to, never made: a variable naming a path
 * that does not exist writes nothing. A process whose environment lost
 * the variable (a master that cleans its children's environment) or
 * that ends without running destructors (_exit, a signal) is missing
 * from it, or has only its start line.
 */
#ifndef LOCKSPACE_SHIM_REPORT_H
#define LOCKSPACE_SHIM_REPORT_H

/* The constructor: remember the file, write the start line. */
void report_start(void);

#endif
