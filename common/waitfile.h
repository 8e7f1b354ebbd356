/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * common/waitfile.h: the deadlock registry, written by the preload
 * library (shim/deadlock.c) before a thread blocks and read by other
 * shimmed processes and lockspace-locks.
 *
 * Layout. Each user has a directory of its own, in each of a few places
 * (README.md, "Deadlocks", says why):
 *
 *   /run/user/<uid>/lockspace/   (where logind made /run/user/<uid>)
 *   /run/lockspace/<uid>/        (/run/lockspace: root's, mode 1777)
 *   /dev/shm/lockspace-<uid>/
 *
 * ($LOCKSPACE_WAIT_DIR, a list of directories separated by ':', replaces
 * these parents for tests: <dir>/<uid>/). A writer publishes in the first
 * place that works; a reader looks in all of them. In a user directory,
 * one file per waiting process:
 *
 *   <pid>:  lockspace-wait 1 <starttime of pid, /proc/PID/stat #22>
 *           <pid> <tid> <maj>:<min>:<ino> <start> <end|-1> <R|W>
 *           ... one line per waiting thread
 *
 * (device numbers in decimal, unlike /proc/locks), written as <pid>.tmp
 * and renamed over <pid>.
 *
 * Trust. Only what the kernel confirms counts. A user directory is used
 * only when it is a directory (never through a link) owned by its uid,
 * not writable by group or others, on its parent's filesystem, and its
 * parent is owned by root or by that uid and sticky if others may write
 * it: then only that uid (and root) can make, replace or remove its
 * entries. An entry is read without following a link or blocking, and
 * believed only when it is a regular file with one link, on the
 * directory's filesystem, owned by that uid, and the process it names
 * runs as that uid with the start time the entry claims. Directories
 * are 0700 and entries 0600: other users learn nothing from them.
 */
#ifndef LOCKSPACE_WAITFILE_H
#define LOCKSPACE_WAITFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define WF_MAGIC "lockspace-wait 1"
#define WF_SIZE_MAX 4096  /* bytes of one file */
#define WF_ENV "LOCKSPACE_WAIT_DIR"
#define WF_PLACES_MAX 8   /* places of the registry, at most */
#define WF_NAME_MAX 32    /* "<pid>.tmp", "lockspace-<uid>" */

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

/* ---- places and user directories ----------------------------------------- */

/* Where a user directory may be: <base>/<prefix><uid>[/<sub>]. */
struct wf_place {
	char base[200];
	const char *prefix, *sub;
	int make_base; /* root makes a missing base, mode 1777 */
};

/* The places, in the order a writer tries them: the list in env (the
 * value of $LOCKSPACE_WAIT_DIR, or NULL for the built-in places). The
 * count. */
int wf_places(const char *env, struct wf_place *p, int max);

/* A user directory as the checks last found it. */
struct wf_dirid {
	dev_t dev;
	ino_t ino;
	int ok;
};

/* The user directory of uid in place p, checked as above: a descriptor
 * (O_DIRECTORY, close-on-exec; close it with pf_close), or -1 with *why
 * (a constant string) and errno (ENOENT: there is none). create: make
 * it, mode 0700, when it is missing. id caches the last directory that
 * passed the checks: when the path still names it, the parent is not
 * checked again. */
int wf_dir_open(const struct wf_place *p, uid_t uid, int create,
		struct wf_dirid *id, const char **why);
/* fn for each user directory in place p that passes the checks, with
 * its uid and a descriptor (closed after fn returns), until fn returns
 * non-zero (returned). skip: a uid not to look at (-1: none). */
typedef int (*wf_dir_fn)(void *arg, uid_t uid, int dfd);
int wf_each_dir(const struct wf_place *p, uid_t skip, wf_dir_fn fn,
		void *arg);
/* fn for each entry of the user directory dfd that is named after a
 * process (<pid>, or <pid>.tmp with tmp set), until fn returns non-zero
 * (returned). No allocation, no DIR stream. */
typedef int (*wf_entry_fn)(void *arg, pid_t pid, int tmp);
int wf_each_entry(int dfd, wf_entry_fn fn, void *arg);

/* The entry of process pid in the user directory dfd of uid, read and
 * checked as above: the count of waits (at most max), or -1 with *why
 * when it cannot be trusted or is stale; *gone is set when the process
 * is not running (the entry may be removed). */
int wf_read(int dfd, uid_t uid, pid_t pid, struct wf_wait *w, int max,
	    const char **why, int *gone);

/* Write text (len bytes) as the entry of pid in the user directory dfd:
 * <pid>.tmp, made without following a link, renamed over <pid>; the
 * temporary file never stays behind. 0, or -errno. */
int wf_write(int dfd, pid_t pid, const char *text, size_t len);
/* Remove pid's entry, and with tmp a <pid>.tmp a killed writer left: 0,
 * or -errno (-ENOENT: there was none). */
int wf_remove(int dfd, pid_t pid, int tmp);

#endif
