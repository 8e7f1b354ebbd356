/* tests/progs/lockprog.c: a scriptable "unmodified program" for the
 * integration tests. No header or library of ours: it only calls libc.
 *
 *   lockprog PATH STEP...
 *
 * Each STEP is one argument, fields separated by ':'. Descriptors have
 * one-letter names (a..z); "#N" names the literal number N. Each step
 * prints one line "STEP = RC" or "STEP = -1 ENAME" on stdout. Steps:
 *
 *   open:N:MODE[:PATH]       MODE r, w or rw; PATH defaults to the file
 *   lock:N:T:WH:START:LEN[:wait]   fcntl F_SETLK (F_SETLKW with "wait");
 *                            T r|w|u or a number, WH set|cur|end or a number
 *   rawlock:N:T:WH:START:LEN the same with syscall(SYS_fcntl), past any
 *                            interposer
 *   getlk:N:T:WH:START:LEN   F_GETLK; prints type, start, len and pid
 *   ptr:N:CMD:KIND           CMD getlk|setlk|setlkw with a bad struct
 *                            pointer, KIND null|unmapped|ro
 *   intr:N:T:START:LEN:MS    F_SETLKW with a SIGALRM handler (no
 *                            SA_RESTART) firing after MS milliseconds
 *   lockf:N:CMD:LEN          CMD lock|tlock|ulock|test
 *   seek:N:OFF               lseek(SEEK_SET)
 *   close:N  dup:NEW:OLD  dup2:OLD:NEW  dup3:OLD:NEW
 *   close_range:N  closefrom:N     from N's number (to ~0 for close_range)
 *   fclose[:PATH]            fopen(PATH, "r") then fclose
 *   closedir[:PATH]          opendir(PATH) then closedir
 *   getpwnam:USER  system:CMD
 *   forkunlock:N:START:LEN   a forked child unlocks the range and exits
 *   forklock:N:T:START:LEN   a forked child tries F_SETLK, prints errno
 *   vfork_close:N            a vfork child closes N then execs /bin/true
 *   vfork_dup2:OLD:NEW       a vfork child dup2s OLD over NEW, then execs
 *   exec[:PATH]              execv(PATH); prints the errno on failure
 *   loop:N:COUNT             COUNT F_SETLK write/unlock cycles on N
 *   rlimit_tight             RLIMIT_NOFILE = the lowest free number
 *   watch / events           inotify watch on the file (IN_CLOSE_WRITE,
 *                            IN_OPEN) / print the IN_CLOSE_WRITE count
 *   fds                      print the numbers above 2 in /proc/self/fd
 *   t:STEP                   run STEP in a new thread and join it
 *   ready                    print "ready", wait for a line on stdin
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXF 8

static const char *path;
static int fds[26];
static int inofd = -1;

static void say(const char *step, long rc, int err)
{
	if (rc < 0)
		printf("%s = %ld %s\n", step, rc, strerrorname_np(err));
	else
		printf("%s = %ld\n", step, rc);
	fflush(stdout);
}

static int fdof(const char *name)
{
	if (name[0] == '#')
		return atoi(name + 1);
	if (name[0] >= 'a' && name[0] <= 'z')
		return fds[name[0] - 'a'];
	return -1;
}

static short ltype(const char *s)
{
	if (!strcmp(s, "r"))
		return F_RDLCK;
	if (!strcmp(s, "w"))
		return F_WRLCK;
	if (!strcmp(s, "u"))
		return F_UNLCK;
	return (short)atoi(s);
}

static short lwhence(const char *s)
{
	if (!strcmp(s, "set"))
		return SEEK_SET;
	if (!strcmp(s, "cur"))
		return SEEK_CUR;
	if (!strcmp(s, "end"))
		return SEEK_END;
	return (short)atoi(s);
}

static const char *tname(int t)
{
	return t == F_RDLCK ? "r" : t == F_WRLCK ? "w" : t == F_UNLCK ? "u"
								   : "?";
}

static void fill(struct flock *fl, char **f, int n, int at)
{
	memset(fl, 0, sizeof(*fl));
	if (n > at + 3) {
		fl->l_type = ltype(f[at]);
		fl->l_whence = lwhence(f[at + 1]);
		fl->l_start = strtoll(f[at + 2], NULL, 0);
		fl->l_len = strtoll(f[at + 3], NULL, 0);
	}
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void do_step(const char *step);

static void *thread_main(void *arg)
{
	do_step(arg);
	return NULL;
}

static int lowest_free(void)
{
	int n;

	for (n = 0; n < 65536; n++)
		if (fcntl(n, F_GETFD) < 0 && errno == EBADF)
			return n;
	return n;
}

static void print_fds(const char *step)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int self = d ? dirfd(d) : -1;

	printf("%s = [", step);
	while (d && (e = readdir(d))) {
		int n = atoi(e->d_name);

		if (e->d_name[0] != '.' && n > 2 && n != self)
			printf(" %d", n);
	}
	printf(" ]\n");
	fflush(stdout);
	if (d)
		closedir(d);
}

static void do_step(const char *step)
{
	char buf[512], *f[MAXF], *save = NULL, *tok;
	struct flock fl;
	long rc = 0;
	int n = 0, fd;

	if (!strncmp(step, "t:", 2)) {
		pthread_t t;

		pthread_create(&t, NULL, thread_main, (void *)(step + 2));
		pthread_join(t, NULL);
		return;
	}
	snprintf(buf, sizeof(buf), "%s", step);
	for (tok = strtok_r(buf, ":", &save); tok && n < MAXF;
	     tok = strtok_r(NULL, ":", &save))
		f[n++] = tok;
	for (int i = n; i < MAXF; i++)
		f[i] = "";
	fd = n > 1 ? fdof(f[1]) : -1;
	errno = 0;

	if (!strcmp(f[0], "open")) {
		int fl2 = !strcmp(f[2], "r") ? O_RDONLY :
			  !strcmp(f[2], "w") ? O_WRONLY : O_RDWR;

		rc = open(n > 3 ? f[3] : path, fl2);
		if (rc >= 0)
			fds[f[1][0] - 'a'] = (int)rc;
	} else if (!strcmp(f[0], "lock")) {
		fill(&fl, f, n, 2);
		rc = fcntl(fd, n > 6 ? F_SETLKW : F_SETLK, &fl);
	} else if (!strcmp(f[0], "rawlock")) {
		fill(&fl, f, n, 2);
		rc = syscall(SYS_fcntl, fd, F_SETLK, &fl);
	} else if (!strcmp(f[0], "getlk")) {
		fill(&fl, f, n, 2);
		rc = fcntl(fd, F_GETLK, &fl);
		if (rc == 0) {
			printf("%s = 0 type=%s start=%lld len=%lld pid=%d\n",
			       step, tname(fl.l_type), (long long)fl.l_start,
			       (long long)fl.l_len, (int)fl.l_pid);
			fflush(stdout);
			return;
		}
	} else if (!strcmp(f[0], "ptr")) {
		int cmd = !strcmp(f[2], "getlk") ? F_GETLK :
			  !strcmp(f[2], "setlk") ? F_SETLK : F_SETLKW;
		void *p = NULL;

		if (!strcmp(f[3], "unmapped")) {
			p = mmap(NULL, 4096, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			munmap(p, 4096);
		} else if (!strcmp(f[3], "ro")) {
			struct flock *r;

			r = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			r->l_type = F_RDLCK;
			r->l_whence = SEEK_SET;
			mprotect(r, 4096, PROT_READ);
			p = r;
		}
		errno = 0;
		rc = fcntl(fd, cmd, p);
	} else if (!strcmp(f[0], "intr")) {
		struct sigaction sa;
		struct itimerval it;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm;
		sigaction(SIGALRM, &sa, NULL);
		memset(&it, 0, sizeof(it));
		it.it_value.tv_usec = atoi(f[5]) * 1000L;
		memset(&fl, 0, sizeof(fl));
		fl.l_type = ltype(f[2]);
		fl.l_start = atoll(f[3]);
		fl.l_len = atoll(f[4]);
		setitimer(ITIMER_REAL, &it, NULL);
		rc = fcntl(fd, F_SETLKW, &fl);
		memset(&it, 0, sizeof(it));
		setitimer(ITIMER_REAL, &it, NULL);
	} else if (!strcmp(f[0], "lockf")) {
		int cmd = !strcmp(f[2], "lock") ? F_LOCK :
			  !strcmp(f[2], "tlock") ? F_TLOCK :
			  !strcmp(f[2], "ulock") ? F_ULOCK : F_TEST;

		rc = lockf(fd, cmd, atoll(f[3]));
	} else if (!strcmp(f[0], "seek")) {
		rc = lseek(fd, atoll(f[2]), SEEK_SET);
	} else if (!strcmp(f[0], "close")) {
		rc = close(fd);
	} else if (!strcmp(f[0], "dup")) {
		rc = dup(fdof(f[2]));
		if (rc >= 0)
			fds[f[1][0] - 'a'] = (int)rc;
	} else if (!strcmp(f[0], "dup2")) {
		rc = dup2(fd, fdof(f[2]));
	} else if (!strcmp(f[0], "dup3")) {
		rc = dup3(fd, fdof(f[2]), O_CLOEXEC);
	} else if (!strcmp(f[0], "close_range")) {
		rc = close_range((unsigned)fd, ~0U, 0);
	} else if (!strcmp(f[0], "closefrom")) {
		closefrom(fd);
	} else if (!strcmp(f[0], "fclose")) {
		FILE *s = fopen(n > 1 ? f[1] : path, "r");

		rc = s ? fclose(s) : -1;
	} else if (!strcmp(f[0], "closedir")) {
		DIR *d = opendir(n > 1 ? f[1] : path);

		rc = d ? closedir(d) : -1;
	} else if (!strcmp(f[0], "getpwnam")) {
		rc = getpwnam(f[1]) ? 0 : -1;
	} else if (!strcmp(f[0], "system")) {
		rc = system(f[1]);
	} else if (!strcmp(f[0], "forkunlock") || !strcmp(f[0], "forklock")) {
		int unl = f[0][4] == 'u', st;
		pid_t c;

		memset(&fl, 0, sizeof(fl));
		fl.l_type = unl ? F_UNLCK : ltype(f[2]);
		fl.l_start = atoll(f[unl ? 2 : 3]);
		fl.l_len = atoll(f[unl ? 3 : 4]);
		c = fork();
		if (c == 0) {
			if (fcntl(fd, F_SETLK, &fl) < 0)
				_exit(errno);
			_exit(0);
		}
		waitpid(c, &st, 0);
		rc = WIFEXITED(st) ? -WEXITSTATUS(st) : -1000;
		if (rc < 0) {
			say(step, -1, (int)-rc);
			return;
		}
	} else if (!strcmp(f[0], "vfork_close") ||
		   !strcmp(f[0], "vfork_dup2")) {
		int st, dup = f[0][6] == 'd', to = fdof(f[2]);
		pid_t c = vfork();

		if (c == 0) {
			if (dup)
				dup2(fd, to);
			else
				close(fd);
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		waitpid(c, &st, 0);
		rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	} else if (!strcmp(f[0], "exec")) {
		const char *p = n > 1 ? f[1] : path;

		printf("exec\n");
		fflush(stdout);
		execl(p, p, (char *)NULL);
		rc = -1;
	} else if (!strcmp(f[0], "loop")) {
		int count = atoi(f[2]);

		memset(&fl, 0, sizeof(fl));
		for (int i = 0; i < count && rc == 0; i++) {
			fl.l_type = F_WRLCK;
			rc = fcntl(fd, F_SETLK, &fl);
			fl.l_type = F_UNLCK;
			if (rc == 0)
				rc = fcntl(fd, F_SETLK, &fl);
		}
	} else if (!strcmp(f[0], "rlimit_tight")) {
		struct rlimit rl;

		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = (rlim_t)lowest_free();
		rc = setrlimit(RLIMIT_NOFILE, &rl);
		if (rc == 0)
			rc = (long)rl.rlim_cur;
	} else if (!strcmp(f[0], "watch")) {
		inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		rc = inofd < 0 ? -1 :
			inotify_add_watch(inofd, path,
					  IN_CLOSE_WRITE | IN_OPEN);
	} else if (!strcmp(f[0], "events")) {
		union {
			struct inotify_event e;
			char b[4096];
		} u;
		char *ev = u.b;
		ssize_t len;

		while ((len = read(inofd, ev, sizeof(u))) > 0)
			for (char *p = ev; p < ev + len;) {
				struct inotify_event *e = (void *)p;

				if (e->mask & IN_CLOSE_WRITE)
					rc++;
				p += sizeof(*e) + e->len;
			}
	} else if (!strcmp(f[0], "fds")) {
		print_fds(step);
		return;
	} else if (!strcmp(f[0], "ready")) {
		char line[64];

		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			exit(3);
		return;
	} else {
		printf("%s = unknown step\n", step);
		fflush(stdout);
		exit(2);
	}
	say(step, rc, errno);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: lockprog PATH STEP...\n");
		return 2;
	}
	path = argv[1];
	for (int i = 0; i < 26; i++)
		fds[i] = -1;
	for (int i = 2; i < argc; i++)
		do_step(argv[i]);
	return 0;
}
