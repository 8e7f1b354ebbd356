/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/progs/flockprog.c: the lock calls of an "unmodified program"
 * through each struct flock layout glibc has (issue 18), for the
 * integration tests. No header or library of ours: it only calls libc.
 *
 *   flockprog PATH STEP...
 *
 * Built as a 64-bit program, and for make check's 32-bit pass as an
 * i386 one with and without _FILE_OFFSET_BITS=64. On i386 fcntl's
 * commands 5, 6, 7 take a struct flock with 32-bit l_start and l_len
 * (struct flock of a program without _FILE_OFFSET_BITS=64), 12, 13, 14
 * (F_GETLK64...) take struct flock64, through fcntl and fcntl64 alike;
 * the OFD commands take the program's struct flock through fcntl (glibc
 * converts it) and struct flock64 through fcntl64 and through the fcntl
 * of programs linked before glibc 2.28 (fcntl@GLIBC_2.0, which is
 * glibc's fcntl64: SYM fcntl20, i386 only). On x86_64 there is
 * one layout and 5 == 12: the steps that name a 32-bit layout print
 * "skip" there. Each step prints "STEP = RESULT", RESULT "-1 ENAME" or
 * the return value, then for an F_GETLK the answer. Steps:
 *
 *   own                  F_SETLK, the program's own F_RDLCK on byte 0 (so
 *                        that the shim answers from its table after)
 *   get:SYM:LAYOUT[:START:LEN]   F_GETLK for F_WRLCK over START, LEN
 *                        (default 0, 0): SYM fcntl, fcntl64 or fcntl20,
 *                        LAYOUT 32
 *                        (command 5, struct flock32), 64 (12, flock64),
 *                        native (F_GETLK with struct flock), ofd
 *                        (F_OFD_GETLK with SYM's struct: fcntl's struct
 *                        flock, fcntl64's flock64)
 *   set:SYM:LAYOUT:T:WH:START:LEN  F_SETLK of type T (r, w, u or a
 *                        number) from WH (set, cur, end)
 *   bad:CMD:KIND         command 5, 6 or 12 with the pointer KIND null
 *                        (and badfd: descriptor -1 with a NULL pointer)
 *   lockf:SYM:OP:LEN     SYM lockf or lockf64, OP test, tlock, ulock
 *   lose                 open the file again and close it: plain POSIX
 *                        drops every lock of the process on it
 *   seek:OFF             lseek64(SEEK_SET) (a 32-bit program reaches
 *                        offsets past 2^31 only so)
 *   ready                print "ready", wait for a line on stdin
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The kernel's two layouts, as a program sees them on i386. */
struct fl32 {
	short l_type, l_whence;
	int32_t l_start, l_len;
	pid_t l_pid;
};
struct fl64 {
	short l_type, l_whence;
	int64_t l_start, l_len;
	pid_t l_pid;
} __attribute__((packed, aligned(4)));

static const char *path;
static int fd = -1;

static const char *ename(int e)
{
	switch (e) {
	case EINVAL: return "EINVAL";
	case EOVERFLOW: return "EOVERFLOW";
	case EFAULT: return "EFAULT";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case EACCES: return "EACCES";
	}
	return "E?";
}

static short tnum(const char *t)
{
	return !strcmp(t, "r") ? F_RDLCK : !strcmp(t, "w") ? F_WRLCK :
	       !strcmp(t, "u") ? F_UNLCK : (short)atoi(t);
}

static short wnum(const char *w)
{
	return !strcmp(w, "set") ? SEEK_SET : !strcmp(w, "cur") ? SEEK_CUR :
	       !strcmp(w, "end") ? SEEK_END : (short)atoi(w);
}

static const char *tname(short t)
{
	return t == F_RDLCK ? "r" : t == F_WRLCK ? "w" : t == F_UNLCK ? "u" :
								      "?";
}

/* An F_GETLK's answer, printed after the return value. */
static char ans[128];

static void answer(short type, long long start, long long len, pid_t pid)
{
	if (type == F_UNLCK)
		snprintf(ans, sizeof(ans), " type=u");
	else
		snprintf(ans, sizeof(ans), " type=%s start=%lld len=%lld pid=%s",
			 tname(type), start, len,
			 pid == getpid() ? "self" : pid > 0 ? "other" : "-1");
}

#if defined(__i386__)
/* What a program linked before glibc 2.28 calls for fcntl. */
__asm__(".symver fcntl_glibc_2_0, fcntl@GLIBC_2.0");
extern int fcntl_glibc_2_0(int fd, int cmd, ...);
#endif

/* The symbol a program imports, by name (fcntl20: fcntl@GLIBC_2.0). */
static int call(const char *sym, int cmd, void *arg)
{
#if defined(__i386__)
	if (!strcmp(sym, "fcntl20"))
		return fcntl_glibc_2_0(fd, cmd, arg);
#endif
	return !strcmp(sym, "fcntl64") ? fcntl64(fd, cmd, arg)
				       : fcntl(fd, cmd, arg);
}

/* One lock call through a layout; 1 when it was not run here. */
static int lock_call(const char *sym, const char *layout, int get,
		     short type, short whence, long long start,
		     long long len, int *rc)
{
	int cmd = get ? F_GETLK : F_SETLK;

	if (sizeof(long) == 8 && !strcmp(sym, "fcntl20"))
		return 1; /* i386 only */
	if (!strcmp(layout, "32") || !strcmp(layout, "64")) {
		int wide = !strcmp(layout, "64");

		if (sizeof(long) == 8)
			return 1; /* one layout: the native steps test it */
		cmd = (get ? 5 : 6) + (wide ? 7 : 0);
		if (wide) {
			struct fl64 fl = {type, whence, start, len, 0};

			*rc = call(sym, cmd, &fl);
			if (*rc == 0 && get)
				answer(fl.l_type, fl.l_start, fl.l_len,
				       fl.l_pid);
		} else {
			struct fl32 fl = {type, whence, (int32_t)start,
					  (int32_t)len, 0};

			*rc = call(sym, cmd, &fl);
			if (*rc == 0 && get)
				answer(fl.l_type, fl.l_start, fl.l_len,
				       fl.l_pid);
		}
		return 0;
	}
	if (!strcmp(layout, "ofd")) {
		if (strcmp(sym, "fcntl")) {
			struct flock64 fl = {.l_type = type, .l_whence = whence,
					     .l_start = start, .l_len = len};

			*rc = call(sym, get ? F_OFD_GETLK : F_OFD_SETLK, &fl);
			if (*rc == 0 && get)
				answer(fl.l_type, fl.l_start, fl.l_len,
				       fl.l_pid);
		} else {
			struct flock fl = {.l_type = type, .l_whence = whence,
					   .l_start = (off_t)start,
					   .l_len = (off_t)len};

			*rc = fcntl(fd, get ? F_OFD_GETLK : F_OFD_SETLK, &fl);
			if (*rc == 0 && get)
				answer(fl.l_type, fl.l_start, fl.l_len,
				       fl.l_pid);
		}
		return 0;
	}
	{
		struct flock fl = {.l_type = type, .l_whence = whence,
				   .l_start = (off_t)start,
				   .l_len = (off_t)len};

		*rc = call(sym, cmd, &fl);
		if (*rc == 0 && get)
			answer(fl.l_type, fl.l_start, fl.l_len, fl.l_pid);
	}
	return 0;
}

static int step(char **f, int n, int *rc)
{
	if (!strcmp(f[0], "own") && n == 1) {
		struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET,
				   .l_start = 0, .l_len = 1};

		*rc = fcntl(fd, F_SETLK, &fl);
	} else if (!strcmp(f[0], "get") && (n == 3 || n == 5)) {
		return lock_call(f[1], f[2], 1, F_WRLCK, SEEK_SET,
				 n == 5 ? strtoll(f[3], NULL, 0) : 0,
				 n == 5 ? strtoll(f[4], NULL, 0) : 0, rc);
	} else if (!strcmp(f[0], "set") && n == 7) {
		return lock_call(f[1], f[2], 0, tnum(f[3]), wnum(f[4]),
				 strtoll(f[5], NULL, 0),
				 strtoll(f[6], NULL, 0), rc);
	} else if (!strcmp(f[0], "bad") && n == 3) {
		int cmd = atoi(f[1]);

		if (sizeof(long) == 8 && cmd != 5 && cmd != 6)
			return 1;
		*rc = fcntl(!strcmp(f[2], "badfd") ? -1 : fd, cmd, NULL);
	} else if (!strcmp(f[0], "lockf") && n == 4) {
		int op = !strcmp(f[2], "test") ? F_TEST :
			 !strcmp(f[2], "tlock") ? F_TLOCK : F_ULOCK;
		long long len = strtoll(f[3], NULL, 0);

		*rc = !strcmp(f[1], "lockf64") ? lockf64(fd, op, len)
					       : lockf(fd, op, (off_t)len);
	} else if (!strcmp(f[0], "lose") && n == 1) {
		int other = open(path, O_RDONLY);

		*rc = other < 0 ? -1 : close(other);
	} else if (!strcmp(f[0], "seek") && n == 2) {
		*rc = lseek64(fd, strtoll(f[1], NULL, 0), SEEK_SET) < 0 ? -1
									: 0;
	} else {
		fprintf(stderr, "flockprog: bad step\n");
		exit(2);
	}
	return 0;
}

int main(int argc, char **argv)
{
	char line[64];

	if (argc < 2) {
		fprintf(stderr, "usage: flockprog PATH STEP...\n");
		return 2;
	}
	path = argv[1];
	fd = open(path, O_RDWR);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	for (int i = 2; i < argc; i++) {
		char buf[256], *f[8] = {""}, *save = NULL;
		int n = 0, rc = 0, skipped;

		if (!strcmp(argv[i], "ready")) {
			printf("ready\n");
			fflush(stdout);
			if (!fgets(line, sizeof(line), stdin))
				return 0;
			continue;
		}
		snprintf(buf, sizeof(buf), "%s", argv[i]);
		for (char *t = strtok_r(buf, ":", &save); t && n < 8;
		     t = strtok_r(NULL, ":", &save))
			f[n++] = t;
		errno = 0;
		ans[0] = 0;
		skipped = step(f, n, &rc);
		if (skipped)
			printf("%s = skip\n", argv[i]);
		else if (rc < 0)
			printf("%s = -1 %s\n", argv[i], ename(errno));
		else
			printf("%s = %d%s\n", argv[i], rc, ans);
		fflush(stdout);
	}
	return 0;
}
