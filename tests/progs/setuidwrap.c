/* tests/progs/setuidwrap.c: a setuid-root wrapper, as an unmodified
 * program would be one. No header or library of ours.
 *
 *   setuidwrap PROGRAM [ARGS...]
 *
 * Installed set-user-ID root and run by another user, it prints
 *
 *   uid=RUID euid=EUID fcntl=OBJECT
 *
 * (OBJECT: the file that defines the fcntl this program calls, which is
 * a preloaded library's when one was loaded), then becomes root for good
 * (setgid(0), setuid(0): the exec that follows is no secure execution)
 * and execs PROGRAM with the environment it was given.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	void *f = dlsym(RTLD_DEFAULT, "fcntl");
	Dl_info info;

	if (argc < 2) {
		fprintf(stderr, "usage: setuidwrap PROGRAM [ARGS...]\n");
		return 2;
	}
	printf("uid=%d euid=%d fcntl=%s\n", (int)getuid(), (int)geteuid(),
	       f && dladdr(f, &info) && info.dli_fname ? info.dli_fname : "?");
	fflush(stdout);
	if (setgid(0) < 0 || setuid(0) < 0) {
		perror("setuidwrap: setuid");
		return 1;
	}
	execv(argv[1], argv + 1);
	perror("setuidwrap: exec");
	return 127;
}
