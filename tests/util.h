/* tests/util.h: helpers shared by the test files. */
#ifndef LOCKSPACE_TESTS_UTIL_H
#define LOCKSPACE_TESTS_UTIL_H

#include <stdint.h>
#include <sys/types.h>

/* One lock line of /proc/locks. end is -1 for EOF. */
struct kernel_lock {
	char kind[16]; /* POSIX, OFDLCK, FLOCK */
	char type[16]; /* READ, WRITE */
	pid_t pid;
	int64_t start, end;
};

/* A fresh temporary file of size bytes; its path is written to path. */
int tu_tmpfile(char *path, size_t len, off_t size);
/* Locks of /proc/locks on the file of fd (skipping waiters "->"), sorted by
 * start; returns the count, at most max. */
int tu_kernel_locks(int fd, struct kernel_lock *out, int max);
/* From a forked child, with the raw syscall (no preload in the way), ask
 * F_GETLK for a write lock over [start, start + len); returns the l_type
 * the child saw and fills pid when non-NULL. */
int tu_probe(const char *path, off_t start, off_t len, pid_t *pid);
/* Path of a built test program, and the preload line to use. */
const char *tu_prog(const char *name);
const char *tu_preload(void);
/* Run argv (argv[0] a tu_prog path) with or without the shim; returns the
 * exit status (or 128 + signal) and captures stdout into out. */
int tu_run(int preload, const char *const *argv, const char *const *env,
	   char *out, size_t outlen);

#endif
