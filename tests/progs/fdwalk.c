/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/progs/fdwalk.c: a daemon-style descriptor walker, an "unmodified
 * program" for the integration tests.
 *
 *   fdwalk PATH
 *
 * Opens PATH twice (a, b), write-locks all of it through a, then walks
 * /proc/self/fd and, for every number above 2 other than a and the walk's
 * own descriptor, prints "fd N getfd=R close=R" (R is 0 or an errno name).
 * b is its own, so it closes fine, which drops the lock under plain POSIX.
 * Then it dup2s a onto the first number it found that it never opened (or
 * 200) and closes that again: "dup2 N=R close=R". Prints "ready", waits for
 * a line on stdin, exits.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *res(int rc)
{
	return rc < 0 ? strerrorname_np(errno) : "0";
}

int main(int argc, char **argv)
{
	int a, b, nums[256], n = 0, foreign = -1, self, rc;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct dirent *e;
	char line[64];
	DIR *d;

	if (argc != 2)
		return 2;
	a = open(argv[1], O_RDWR);
	b = open(argv[1], O_RDWR);
	if (a < 0 || b < 0 || fcntl(a, F_SETLK, &fl) < 0) {
		perror("fdwalk");
		return 1;
	}
	printf("a=%d b=%d\n", a, b);
	d = opendir("/proc/self/fd");
	if (!d)
		return 1;
	self = dirfd(d);
	while ((e = readdir(d)) && n < 256) {
		int num = atoi(e->d_name);

		if (e->d_name[0] != '.' && num > 2 && num != a && num != self)
			nums[n++] = num;
	}
	closedir(d);
	for (int i = 0; i < n; i++) {
		const char *g, *c;

		rc = fcntl(nums[i], F_GETFD);
		g = res(rc);
		rc = close(nums[i]);
		c = res(rc);
		printf("fd %d getfd=%s close=%s\n", nums[i], g, c);
		if (nums[i] != b && foreign < 0)
			foreign = nums[i];
	}
	if (foreign < 0)
		foreign = 200;
	rc = dup2(a, foreign);
	printf("dup2 %s", rc == foreign ? "ok" : res(rc));
	rc = close(foreign);
	printf(" close=%s\n", res(rc));
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 3;
	return 0;
}
