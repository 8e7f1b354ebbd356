/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * common/procfs.h: what /proc says about locks and processes, read and
 * parsed in one place for the preload library, lockspace-locks and the
 * tests.
 *
 * /proc/locks and /proc/PID/fdinfo/FD are generated as they are read: a
 * read in pieces of a list that changes meanwhile skips or repeats
 * entries, and a fixed buffer cuts a descriptor's list past a few
 * hundred locks. So a file is read to its end into a buffer that grows.
 * A lock line reads (with "lock:\t" before it in fdinfo, "-> " before
 * the kind in a waiter's line of /proc/locks)
 *     1: OFDLCK ADVISORY  WRITE -1 fe:00:1234 0 EOF
 *
 * Nothing here depends on the preload library: no function of ours is
 * called through the PLT (descriptors are closed with the raw syscall,
 * directories are read with getdents64, not with opendir()/closedir(),
 * which the preload library interposes). Only pf_read() and
 * pf_pid_locks_each() allocate.
 */
#ifndef LOCKSPACE_PROCFS_H
#define LOCKSPACE_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PF_EOF INT64_MAX /* the end of a lock "to EOF" (LSR_OFF_MAX) */
#define PF_SHIM_NAME "liblockspace-preload" /* in /proc/PID/maps */

enum { PF_POSIX, PF_OFD, PF_FLOCK, PF_OTHER };
enum { PF_READ = 1, PF_WRITE = 2 }; /* the values of LSR_RDLCK/WRLCK */

struct pf_lock {
	int kind;          /* PF_POSIX, PF_OFD, PF_FLOCK, PF_OTHER */
	char kind_name[12]; /* as the kernel prints it: POSIX, OFDLCK, ... */
	char mode_name[12]; /* READ, WRITE (or a lease's mode) */
	int waiter;        /* a "->" line: a request, not a lock */
	int type;          /* PF_READ or PF_WRITE */
	pid_t pid;         /* -1 for an OFD lock */
	dev_t dev;
	uint64_t ino;
	int64_t start, end; /* inclusive; end PF_EOF: to EOF */
};

/* The whole of a /proc file, NUL-terminated, *len bytes (len may be
 * NULL); free() it. NULL with errno on error. */
char *pf_read(const char *path, size_t *len);
/* One lock line (of /proc/locks or an fdinfo "lock:" line) into l: 0, or
 * -1 when it is not one. */
int pf_lock_parse(const char *line, struct pf_lock *l);
/* fn for each lock line of the fdinfo file at path (one record: read
 * until a read comes back short), until it returns non-zero (returned);
 * -1 with errno when the file cannot be read. */
typedef int (*pf_lock_fn)(void *arg, const struct pf_lock *l);
int pf_locks_each(const char *path, pf_lock_fn fn, void *arg);

/* fn for each lock held through a descriptor of pid (its fdinfo "lock:"
 * lines), descriptors in descending order when desc, until fn returns
 * non-zero (returned). fd is the descriptor the lock is listed under. -1
 * when the process cannot be read. */
typedef int (*pf_fd_lock_fn)(void *arg, int fd, const struct pf_lock *l);
int pf_pid_locks_each(pid_t pid, int desc, pf_fd_lock_fn fn, void *arg);

/* fn for each entry of the directory at path whose name is a number
 * (a pid, a descriptor), with that number, until fn returns non-zero
 * (returned). -1 with errno when the directory cannot be opened. No
 * allocation, no DIR stream. */
typedef int (*pf_num_fn)(void *arg, long num);
int pf_dir_numbers(const char *path, pf_num_fn fn, void *arg);

/* Field 22 of /proc/PID/stat (the start time, in clock ticks after
 * boot), or 0 when the process is gone. No allocation. */
unsigned long long pf_start_time(pid_t pid);
/* Whether pid's /proc/PID/maps names the preload library. No
 * allocation. */
int pf_runs_shim(pid_t pid);

/* Where the preload library's band of its own descriptors starts for a
 * process whose soft RLIMIT_NOFILE is nofile (shim/band.h; the band grows
 * lower only when it is full): the viewer and the library share it. */
int pf_band_start(unsigned long long nofile);

/* Close a descriptor with the raw syscall, keeping errno. */
void pf_close(int fd);

#endif
