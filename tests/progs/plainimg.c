/* tests/progs/plainimg.c: the image lockprog execs into when the new
 * image must run without the shim (issue 16): built dynamic (plainimg),
 * static (plainimg-static) and with musl (plainimg-musl, when musl-gcc
 * is there), none of which loads an LD_PRELOAD library of glibc's. No
 * header of ours.
 *
 *   plainimg PATH STEP...
 *
 * The descriptor names a..z come from LOCKPROG_FDS, as lockprog passes
 * them. Steps, written and printed as lockprog's (WH must be set):
 *   getlk:N:T:WH:START:LEN   F_GETLK; prints type, start, len, pid
 *   lock:N:T:WH:START:LEN[:wait]  F_SETLK (F_SETLKW)
 *   close:N  fds  ready  watchdog:MS (exit 99 if still running after MS)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static int fds[26];

static const char *ename(int e)
{
	switch (e) {
	case EAGAIN:
		return "EAGAIN";
	case EBADF:
		return "EBADF";
	case EDEADLK:
		return "EDEADLK";
	case EINTR:
		return "EINTR";
	case EINVAL:
		return "EINVAL";
	case ENOLCK:
		return "ENOLCK";
	}
	return "E?";
}

static int fdof(const char *n)
{
	return n[0] >= 'a' && n[0] <= 'z' ? fds[n[0] - 'a'] : atoi(n);
}

static short ltype(const char *s)
{
	return *s == 'r' ? F_RDLCK : *s == 'w' ? F_WRLCK : F_UNLCK;
}

static void on_alarm(int sig)
{
	(void)sig;
	printf("watchdog = fired\n");
	fflush(stdout);
	_exit(99);
}

static void step(const char *st)
{
	char buf[256], *f[8] = { 0 }, *save = NULL;
	struct flock fl;
	long rc = 0;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", st);
	for (char *t = strtok_r(buf, ":", &save); t && n < 8;
	     t = strtok_r(NULL, ":", &save))
		f[n++] = t;
	for (int i = n; i < 8; i++)
		f[i] = "";
	memset(&fl, 0, sizeof(fl));
	fl.l_type = ltype(f[2]);
	fl.l_whence = SEEK_SET;
	fl.l_start = atoll(f[4]);
	fl.l_len = atoll(f[5]);
	errno = 0;
	if (!strcmp(f[0], "getlk")) {
		rc = fcntl(fdof(f[1]), F_GETLK, &fl);
		if (rc == 0) {
			printf("%s = 0 type=%c start=%lld len=%lld pid=%d\n", st,
			       fl.l_type == F_RDLCK ? 'r' :
			       fl.l_type == F_WRLCK ? 'w' : 'u',
			       (long long)fl.l_start, (long long)fl.l_len,
			       (int)fl.l_pid);
			fflush(stdout);
			return;
		}
	} else if (!strcmp(f[0], "lock")) {
		rc = fcntl(fdof(f[1]), n > 6 ? F_SETLKW : F_SETLK, &fl);
	} else if (!strcmp(f[0], "close")) {
		rc = close(fdof(f[1]));
	} else if (!strcmp(f[0], "watchdog")) {
		struct itimerval it = { { 0, 0 }, { atoi(f[1]) / 1000,
						    atoi(f[1]) % 1000 * 1000 } };

		signal(SIGALRM, on_alarm);
		rc = setitimer(ITIMER_REAL, &it, NULL);
	} else if (!strcmp(f[0], "fds")) {
		DIR *d = opendir("/proc/self/fd");
		struct dirent *e;

		printf("%s = [", st);
		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.' && atoi(e->d_name) > 2 &&
			    atoi(e->d_name) != dirfd(d))
				printf(" %s", e->d_name);
		printf(" ]\n");
		fflush(stdout);
		if (d)
			closedir(d);
		return;
	} else if (!strcmp(f[0], "ready")) {
		printf("ready\n");
		fflush(stdout);
		if (!fgets(buf, sizeof(buf), stdin))
			exit(3);
		return;
	} else {
		printf("%s = unknown step\n", st);
		exit(2);
	}
	if (rc < 0)
		printf("%s = -1 %s\n", st, ename(errno));
	else
		printf("%s = %ld\n", st, rc);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *v = getenv("LOCKPROG_FDS");

	for (int i = 0; i < 26; i++) {
		fds[i] = v && *v ? atoi(v) : -1;
		v = v ? strchr(v, ',') : NULL;
		v = v ? v + 1 : NULL;
	}
	for (int i = 2; i < argc; i++)
		step(argv[i]);
	return 0;
}
