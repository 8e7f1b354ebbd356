/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * common/waitfile.h: the wait files of the deadlock registry, written by
 * the preload library (shim/deadlock.c) before a thread blocks and read
 * by other shimmed processes and lockspace-locks:
 *
 *   <dir>/<pid>:  lockspace-wait 1 <starttime of pid, /proc/PID/stat #22>
 *                 <pid> <tid> <maj>:<min>:<ino> <start> <end|-1> <R|W>
 *                 ... one line per waiting thread
 *
 * (device numbers in decimal, unlike /proc/locks). The directory is
 * shared between users, so a reader trusts an entry only as far as the
 * kernel confirms it: wf_read() opens it without following a link or
 * blocking, takes only a regular file owned by the uid of the process it
 * names (or by root), and only while that process has the start time
 * the entry claims. What it returns still says only what the process
 * claims to wait for: a caller confirms each wait against the kernel's
 * own lists (/proc/locks) before it acts on it.
 */
#ifndef LOCKSPACE_WAITFILE_H
#define LOCKSPACE_WAITFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WF_MAGIC "lockspace-wait 1"
#define WF_SIZE_MAX 4096 /* bytes of one file */

struct wf_wait {
	pid_t pid, tid;
	dev_t dev;
	uint64_t ino;
	int64_t start, end; /* inclusive; end INT64_MAX: to EOF */
	int type;           /* 1 read, 2 write (LSR_RDLCK, LSR_WRLCK) */
};

/* The text of pid's entry (start time st) with its n waits into buf:
 * its length, or -1 when it does not fit in len (at most WF_SIZE_MAX). */
int wf_format(char *buf, size_t len, pid_t pid, unsigned long long st,
	      const struct wf_wait *w, int n);
/* The waits of text (NUL-terminated) that name pid, at most max, and
 * the start time it claims: the count, or -1 when it is not a wait
 * file. */
int wf_parse(const char *text, pid_t pid, unsigned long long *st,
	     struct wf_wait *w, int max);
/* The entry at path of process pid, read and checked as above: the
 * count of waits (at most max), or -1 with *why when it cannot be
 * trusted or is stale (the process is gone, another process has the
 * pid now, the file is not a regular file of the process's user). */
int wf_read(const char *path, pid_t pid, struct wf_wait *w, int max,
	    const char **why);

#endif
