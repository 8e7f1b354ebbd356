/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/progs/cfgprog.c: an "unmodified program" for the configuration
 * and logging tests. No header or library of ours: it only calls libc.
 *
 *   cfgprog [STEP...]
 *
 * Runs the steps, prints "ok" and exits 7 (a status of its own, which the
 * shim must pass through whatever the configuration says). Steps:
 *
 *   lock:PATH          open PATH read-write and F_SETLK a write lock on
 *                      bytes 0-9; prints "lock = RC"
 *   lock2:PATH         then F_SETLK bytes 0-9 through a second open of
 *                      PATH; prints "lock2 = RC" or "lock2 = -1 EAGAIN"
 *                      (0 under conflicts = process, EAGAIN under fd)
 *   steal:LOG:OTHER    close every descriptor that names LOG with the raw
 *                      syscall (past any interposer), then put OTHER
 *                      (opened for appending) at the same numbers, as a
 *                      daemon that closes what it finds and opens files
 *                      of its own would; prints "stolen = N"
 *   dlopen:LIB         dlopen(LIB) (a setuid program gets no LD_PRELOAD)
 *   secure             prints "secure = getauxval(AT_SECURE)"
 *   env:NAME           prints "NAME = value" or "NAME = (unset)"
 *   exit:N             exit with N instead of 7 (after "ok")
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

static int lock_fd(int fd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
			   .l_start = 0, .l_len = 10};

	return fcntl(fd, F_SETLK, &fl);
}

static void report(const char *step, int rc)
{
	if (rc < 0)
		printf("%s = -1 %s\n", step,
		       errno == EAGAIN ? "EAGAIN" : strerror(errno));
	else
		printf("%s = %d\n", step, rc);
}

static int steal(const char *log, const char *other)
{
	char link[300], target[PATH_MAX];
	int fds[64], n = 0, stolen = 0;
	struct dirent *e;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while ((e = readdir(d)) && n < 64) {
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		if (!strcmp(target, log))
			fds[n++] = atoi(e->d_name);
	}
	closedir(d);
	for (int i = 0; i < n; i++) {
		int o;

		syscall(SYS_close, fds[i]);
		o = open(other, O_WRONLY | O_APPEND | O_CREAT, 0644);
		if (o < 0)
			continue;
		if (o != fds[i]) {
			syscall(SYS_dup3, o, fds[i], 0);
			syscall(SYS_close, o);
		}
		stolen++;
	}
	return stolen;
}

int main(int argc, char **argv)
{
	int status = 7, fd = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		char *a = argv[i], *arg = strchr(a, ':');

		if (arg)
			arg++;
		if (!strncmp(a, "lock:", 5)) {
			fd = open(arg, O_RDWR | O_CREAT, 0644);
			report("lock", fd < 0 ? -1 : lock_fd(fd));
		} else if (!strncmp(a, "lock2:", 6)) {
			int fd2 = open(arg, O_RDWR);

			report("lock2", fd2 < 0 ? -1 : lock_fd(fd2));
		} else if (!strncmp(a, "steal:", 6)) {
			char *other = strchr(arg, ':');

			if (!other)
				return 2;
			*other++ = 0;
			printf("stolen = %d\n", steal(arg, other));
		} else if (!strncmp(a, "dlopen:", 7)) {
			if (!dlopen(arg, RTLD_NOW | RTLD_GLOBAL))
				printf("dlopen = %s\n", dlerror());
		} else if (!strcmp(a, "secure")) {
			printf("secure = %lu\n", getauxval(AT_SECURE));
		} else if (!strncmp(a, "env:", 4)) {
			const char *v = getenv(arg);

			printf("%s = %s\n", arg, v ? v : "(unset)");
		} else if (!strncmp(a, "exit:", 5)) {
			status = atoi(arg);
		} else {
			fprintf(stderr, "cfgprog: unknown step %s\n", a);
			return 2;
		}
	}
	printf("ok\n");
	(void)fd; /* kept open: its lock lives until exit */
	return status;
}
