/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/progs/deepprog.c: an "unmodified program" that loads a library
 * (libdeeplock.so, beside it) with dlopen and locks through it.
 *
 *   deepprog PATH STEP...
 *
 *   dlopen:FLAGS:NAME  FLAGS deep (RTLD_NOW | RTLD_DEEPBIND) or local
 *                      (RTLD_NOW); NAME full (the absolute path) or origin
 *                      ("$ORIGIN/libdeeplock.so")
 *   open:N             the library opens PATH read-write as N (a..z)
 *   lock:N:T           the library locks all of N, T r|w|u (F_SETLK)
 *   openclose          the library opens and closes PATH read-only
 *   own                the library calls lockf(), which it defines itself
 *   ready              print "ready", wait for a line on stdin
 *
 * Each step prints "STEP = RC" or "STEP = -1 ENAME" (dlopen: the
 * dlerror() text).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *lib;
static int fds[26];

static void *sym(const char *name)
{
	void *p = lib ? dlsym(lib, name) : NULL;

	if (!p) {
		printf("no %s: %s\n", name, lib ? dlerror() : "not loaded");
		exit(2);
	}
	return p;
}

static void say(const char *step, long rc, int err)
{
	if (rc < 0)
		printf("%s = -1 %s\n", step, strerrorname_np(err));
	else
		printf("%s = %ld\n", step, rc);
	fflush(stdout);
}

static int lock_type(char c)
{
	return c == 'r' ? F_RDLCK : c == 'w' ? F_WRLCK : F_UNLCK;
}

int main(int argc, char **argv)
{
	const char *path;

	if (argc < 2) {
		fprintf(stderr, "usage: deepprog PATH STEP...\n");
		return 2;
	}
	path = argv[1];
	for (int i = 2; i < argc; i++) {
		char *step = argv[i], buf[256], *f[4] = {0};
		long rc = 0;
		int n = 0;

		snprintf(buf, sizeof(buf), "%s", step);
		for (char *p = strtok(buf, ":"); p && n < 4;
		     p = strtok(NULL, ":"))
			f[n++] = p;
		errno = 0;
		if (!strcmp(f[0], "dlopen") && n == 3) {
			char name[PATH_MAX];
			int flags = RTLD_NOW;
			ssize_t m;

			if (!strcmp(f[1], "deep"))
				flags |= RTLD_DEEPBIND;
			if (!strcmp(f[2], "origin")) {
				snprintf(name, sizeof(name),
					 "$ORIGIN/libdeeplock.so");
			} else {
				m = readlink("/proc/self/exe", name,
					     sizeof(name) - 1);
				if (m < 0)
					return 2;
				name[m] = 0;
				strcpy(strrchr(name, '/') + 1, "libdeeplock.so");
			}
			lib = dlopen(name, flags);
			if (!lib) {
				printf("%s = -1 %s\n", step, dlerror());
				fflush(stdout);
				continue;
			}
		} else if (!strcmp(f[0], "open") && n == 2) {
			int (*o)(const char *) = sym("deep_open");

			rc = fds[f[1][0] - 'a'] = o(path);
		} else if (!strcmp(f[0], "lock") && n == 3) {
			int (*l)(int, int) = sym("deep_lock");

			rc = l(fds[f[1][0] - 'a'], lock_type(f[2][0]));
		} else if (!strcmp(f[0], "openclose")) {
			int (*oc)(const char *) = sym("deep_openclose");

			rc = oc(path);
		} else if (!strcmp(f[0], "own")) {
			int (*own)(void) = sym("deep_own");

			rc = own();
		} else if (!strcmp(f[0], "ready")) {
			char line[64];

			printf("ready\n");
			fflush(stdout);
			if (!fgets(line, sizeof(line), stdin))
				return 3;
			continue;
		} else {
			printf("%s = unknown step\n", step);
			return 2;
		}
		say(step, rc, errno);
	}
	return 0;
}
