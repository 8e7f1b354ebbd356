/* SPDX-License-Identifier: LGPL-2.1-or-later */
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
 *   rawlock:N:T:WH:START:LEN the same with syscall(SYS_FCNTL), past any
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
 *   freopen[:PATH]           fopen(PATH, "r"), freopen(PATH, "r") over
 *                            it, then fclose
 *   closedir[:PATH]          opendir(PATH) then closedir
 *   scandir[:PATH]           scandir(PATH): opendir and closedir inside
 *                            libc; prints the count of entries
 *   getpwnam:USER  system:CMD
 *   setuid:UID:GID           give up root as a daemon does: setgroups to
 *                            GID alone, setgid(GID), setuid(UID)
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
 *   forkfds                  the same, printed by a forked child
 *   t:STEP                   run STEP in a new thread and join it
 *   ready                    print "ready", wait for a line on stdin
 *
 * Steps for exec and conflicts = fd (issue 4):
 *   reexec[:PATH[:FN[:noshim]]]
 *                            exec PATH ("self" or none: this program) with
 *                            the steps after this one (they run in the new
 *                            image; on failure, here); FN execv (default),
 *                            execve, execvp, fexecve; noshim drops
 *                            LD_PRELOAD. The names a..z and the time of
 *                            the exec go along in LOCKPROG_FDS, LOCKPROG_T0
 *   elapsed                  microseconds since the exec that started us
 *   cloexec:N:0|1            fcntl F_SETFD
 *   getfd:N                  fcntl F_GETFD
 *   getenv:NAME  setenv:NAME:VALUE  (in VALUE %P is our pid, %D and %I
 *                            the file's st_dev and st_ino, %a..%z fds)
 *   handoff                  length of LOCKSPACE_PRELOAD_HANDOFF in
 *                            /proc/self/environ (-1: none); for the memfd
 *                            form also the memfd's size, if still open
 *   stderr:PATH              stderr appends to PATH from now on
 *   pid                      print our pid
 *   heldlocks                count the "lock:" lines of /proc/self/fdinfo
 *   spawn:KIND ... end       run this program with the steps up to "end"
 *                            as a child, KIND posix_spawn|system|popen,
 *                            and wait for it; its lines start with "c."
 *   many:DIR:N               open DIR/0..N-1 (created) and write-lock
 *                            each whole; prints how many were locked
 *   bg:STEP  join            run STEP in a new thread / join those threads
 *                            (t: and bg: run "STEP;STEP;..." in order)
 *   post:K  await:K          K 0..9: set flag K / wait (up to 5 s) until
 *                            another thread of ours set it
 *   ms:STEP                  run STEP, then print "ms:STEP = MILLISECONDS"
 *   sleep:MS  watchdog:MS    sleep / exit 99 if still running after MS
 *   dupfd:NEW:OLD[:cloexec]  fcntl F_DUPFD (F_DUPFD_CLOEXEC)
 *
 * Steps for forks, execs and descriptors the shim does not see (issue 16):
 *   probe:START:LEN          another open file description of the file
 *                            (raw syscalls) asks F_OFD_GETLK for a write
 *                            lock: prints u, r or w (it conflicts with
 *                            this process's POSIX locks as another
 *                            process would, and is seen at once; its
 *                            descriptor stays open, close-on-exec)
 *   sleeper / sleeper_end    a child forked with the raw syscall (no
 *                            atfork handler, no libc) that keeps copies
 *                            of every descriptor until sleeper_end
 *   forkclose:COUNT          COUNT times: open x, write-lock it, fork (the
 *                            child exits at once), close x and probe at
 *                            once; prints how many probes saw a lock
 *   forkupgrade:COUNT        COUNT times: open x, read-lock it, fork (the
 *                            child exits at once), write-lock x; prints
 *                            how many write locks failed
 *   _forkunlock:N:START:LEN  a _Fork() child unlocks the range and exits
 *   cloneunlock:N:START:LEN  the same in a clone() child (own memory)
 *   clonevmclose:N           a clone(CLONE_VM | CLONE_VFORK) child closes
 *                            N and exits
 *   ofdgetlk:N:T:WH:START:LEN  F_OFD_GETLK; prints type, start, len and
 *                            pid ("self" when it is ours)
 *   rawclose:N  ringclose:N  close N with syscall(SYS_close) / with an
 *                            io_uring IORING_OP_CLOSE (raw syscalls):
 *                            past any interposer
 *   scmcopy:NEW:OLD          NEW = a copy of OLD sent to ourselves over a
 *                            unix socket pair (SCM_RIGHTS)
 *   pidfdcopy:NEW:OLD        NEW = pidfd_getfd(pidfd_open(getpid()), OLD)
 *   prober:START:LEN / probed  a child (raw fork and syscalls) tries
 *                            F_SETLK for a write lock over the range
 *                            again and again, from another process, until
 *                            probed, which prints 1 if it ever got it
 *                            (0 when the range was busy every time)
 *   longpath:N               PATH = N directories that do not exist
 *   rlimit:N                 RLIMIT_NOFILE's soft limit = N
 *   fill / unfill            open /dev/null until EMFILE, print how many
 *                            / close those again
 *   dupfdmin:NEW:OLD:MIN     fcntl F_DUPFD with the minimum MIN
 *   memfd:N:SEALS:TEXT       a memfd named as the shim's hand-over, with
 *                            TEXT (expanded as setenv's VALUE) and the
 *                            seals named in SEALS (s shrink, g grow,
 *                            w write, S seal), becomes N
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/io_uring.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The kernel's fcntl for this program's struct flock, the one glibc's
 * fcntl makes: on i386 fcntl64 (the old fcntl refuses the 64-bit and the
 * OFD commands). */
#ifdef SYS_fcntl64
#define SYS_FCNTL SYS_fcntl64
#else
#define SYS_FCNTL SYS_fcntl
#endif

#define MAXF 8

extern char **environ;

static const char *path;
static int fds[26];
static int inofd = -1;
static const char *prefix = "";	/* "c." in a spawned child */
static int g_argc, g_next;	/* the steps, and the next one to run */
static char **g_argv;
static pthread_t bgs[16];
static pthread_mutex_t flags_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flags_cv = PTHREAD_COND_INITIALIZER;
static int flags[10];		/* post/await, flags_mu */
static int nbg;

static void say(const char *step, long rc, int err)
{
	if (rc < 0)
		printf("%s%s = %ld %s\n", prefix, step, rc,
		       strerrorname_np(err));
	else
		printf("%s%s = %ld\n", prefix, step, rc);
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

/* ---- forks (issue 16) ------------------------------------------------------ */

static int sleeper_pipe = -1;
static pid_t sleeper_pid;

/* The probe's descriptor stays open: closing it would drop this
 * process's POSIX locks on the file. The kernel's OFD commands take
 * struct flock64 (the same as struct flock but on 32-bit machines
 * without _FILE_OFFSET_BITS=64). */
static char probe_type(off_t start, off_t len)
{
	struct flock64 fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = start, .l_len = len };
	static int fd = -1;
	long r;

	if (fd < 0)
		fd = (int)syscall(SYS_openat, AT_FDCWD, path,
				  O_RDONLY | O_CLOEXEC);
	r = fd < 0 ? -1 : syscall(SYS_FCNTL, fd, F_OFD_GETLK, &fl);
	if (r < 0)
		return '?';
	return fl.l_type == F_UNLCK ? 'u' : fl.l_type == F_RDLCK ? 'r' : 'w';
}

static long sleeper(void)
{
	int p[2];
	char c;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = (pid_t)syscall(SYS_fork);
	if (pid == 0) {
		syscall(SYS_close, p[1]);
		while (syscall(SYS_read, p[0], &c, 1) > 0)
			;
		syscall(SYS_exit_group, 0);
	}
	close(p[0]);
	sleeper_pipe = p[1];
	sleeper_pid = pid;
	return pid < 0 ? -1 : 0;
}

static long sleeper_end(void)
{
	int st;

	close(sleeper_pipe);
	sleeper_pipe = -1;
	return waitpid(sleeper_pid, &st, 0) == sleeper_pid ? 0 : -1;
}

/* COUNT rounds of a lock, a fork and at once a close (upgrade 0) or a
 * write lock over the read lock (upgrade 1). */
static long fork_rounds(int count, int upgrade)
{
	struct flock fl = { .l_whence = SEEK_SET };
	long bad = 0;

	for (int i = 0; i < count; i++) {
		int x = open(path, O_RDWR), st;
		pid_t c;

		fl.l_type = upgrade ? F_RDLCK : F_WRLCK;
		if (x < 0 || fcntl(x, F_SETLK, &fl) < 0)
			return -1;
		c = fork();
		if (c == 0)
			_exit(0);
		if (upgrade) {
			fl.l_type = F_WRLCK;
			bad += fcntl(x, F_SETLK, &fl) < 0;
			close(x);
		} else {
			close(x);
			bad += probe_type(0, 0) != 'u';
		}
		waitpid(c, &st, 0);
	}
	return bad;
}

static struct flock clone_fl;
static int clone_fd;

static int clone_unlock(void *arg)
{
	(void)arg;
	return fcntl(clone_fd, F_SETLK, &clone_fl) < 0 ? errno : 0;
}

static int clone_close(void *arg)
{
	(void)arg;
	return close(clone_fd) < 0 ? errno : 0;
}

/* The child (of _Fork: kind 0, clone: 1, clone with CLONE_VM and
 * CLONE_VFORK: 2) unlocks or closes, and exits with errno or 0. */
static long child_kind(int kind, int fd, char **f)
{
	static char stack[1 << 16] __attribute__((aligned(16)));
	pid_t c;
	int st;

	clone_fd = fd;
	memset(&clone_fl, 0, sizeof(clone_fl));
	clone_fl.l_type = F_UNLCK;
	clone_fl.l_start = atoll(f[2]);
	clone_fl.l_len = atoll(f[3]);
	if (kind == 0) {
		c = _Fork();
		if (c == 0)
			_exit(clone_unlock(NULL));
	} else if (kind == 1) {
		c = clone(clone_unlock, stack + sizeof(stack), SIGCHLD, NULL);
	} else {
		c = clone(clone_close, stack + sizeof(stack),
			  CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
	}
	if (c < 0 || waitpid(c, &st, 0) != c)
		return -1;
	errno = WIFEXITED(st) ? WEXITSTATUS(st) : EINTR;
	return errno ? -1 : 0;
}

static void expand(char *out, size_t len, const char *v);

static int prober_stop = -1, prober_res = -1;
static pid_t prober_pid;

static long prober(off_t start, off_t len)
{
	int stop[2], res[2];
	pid_t pid;
	char c;

	if (pipe2(stop, O_NONBLOCK) < 0 || pipe(res) < 0)
		return -1;
	pid = (pid_t)syscall(SYS_fork);
	if (pid == 0) {
		struct flock fl = { .l_whence = SEEK_SET, .l_start = start,
				    .l_len = len };
		int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR);
		char c, got = '0';
		int first = 1;

		syscall(SYS_close, stop[1]);
		while (fd >= 0 && syscall(SYS_read, stop[0], &c, 1) < 0) {
			fl.l_type = F_WRLCK;
			if (syscall(SYS_FCNTL, fd, F_SETLK, &fl) == 0) {
				got = '1';
				fl.l_type = F_UNLCK;
				syscall(SYS_FCNTL, fd, F_SETLK, &fl);
				break;
			}
			if (first)
				syscall(SYS_write, res[1], "r", 1);
			first = 0;
		}
		syscall(SYS_write, res[1], &got, 1);
		syscall(SYS_exit_group, 0);
	}
	close(stop[0]);
	close(res[1]);
	prober_stop = stop[1];
	prober_res = res[0];
	prober_pid = pid;
	/* it runs: it has asked once */
	if (pid < 0 || read(prober_res, &c, 1) != 1 || c != 'r')
		return -1;
	return 0;
}

static long probed(void)
{
	char c = '?';
	int st;

	close(prober_stop);
	if (read(prober_res, &c, 1) != 1)
		c = '?';
	close(prober_res);
	waitpid(prober_pid, &st, 0);
	return c == '1' ? 1 : c == '0' ? 0 : -1;
}

static long long_path(int n)
{
	size_t len = (size_t)n * 24 + 1, k = 0;
	char *p = malloc(len);
	long r;

	if (!p)
		return -1;
	for (int i = 0; i < n; i++)
		k += (size_t)snprintf(p + k, len - k, "%s/nonexistent/%d",
				      i ? ":" : "", i);
	r = setenv("PATH", p, 1);
	free(p);
	return r;
}

static int filled[65536], nfilled;

static long fill_fds(void)
{
	int fd;

	while (nfilled < 65536 && (fd = open("/dev/null", O_RDONLY)) >= 0)
		filled[nfilled++] = fd;
	return errno == EMFILE ? nfilled : -1;
}

static long unfill_fds(void)
{
	while (nfilled > 0)
		close(filled[--nfilled]);
	return 0;
}

/* A copy of fd through a unix socket pair, as another process would
 * send it. */
static long scm_copy(int fd)
{
	char data = 'x', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &data, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	int sv[2], got = -1;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sv[0], &m, 0) == 1) {
		memset(cbuf, 0, sizeof(cbuf));
		m.msg_controllen = sizeof(cbuf);
		if (recvmsg(sv[1], &m, 0) == 1 && (c = CMSG_FIRSTHDR(&m)) &&
		    c->cmsg_type == SCM_RIGHTS)
			memcpy(&got, CMSG_DATA(c), sizeof(int));
	}
	close(sv[0]);
	close(sv[1]);
	return got;
}

static long pidfd_copy(int fd)
{
	int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	long r = pfd < 0 ? -1 : pidfd_getfd(pfd, fd, 0);
	int e = errno;

	if (pfd >= 0)
		close(pfd);
	errno = e;
	return r;
}

/* IORING_OP_CLOSE of fd on a ring of one entry, with the raw syscalls
 * (no liburing): the result of the close, or -1 with errno. */
static long ring_close(int fd)
{
	struct io_uring_params p;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	unsigned *tail, *idx, *ctail, *chead;
	size_t sqlen, cqlen;
	char *sq, *cq;
	long r;
	int ring;

	memset(&p, 0, sizeof(p));
	ring = (int)syscall(SYS_io_uring_setup, 1, &p);
	if (ring < 0)
		return -1;
	sqlen = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cqlen = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (cqlen > sqlen)
		sqlen = cqlen;
	sq = mmap(NULL, sqlen, PROT_READ | PROT_WRITE, MAP_SHARED, ring,
		  IORING_OFF_SQ_RING);
	sqe = mmap(NULL, p.sq_entries * sizeof(*sqe), PROT_READ | PROT_WRITE,
		   MAP_SHARED, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || sqe == MAP_FAILED ||
	    !(p.features & IORING_FEAT_SINGLE_MMAP)) {
		errno = ENOSYS;
		return -1;
	}
	cq = sq;
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_CLOSE;
	sqe->fd = fd;
	idx = (unsigned *)(sq + p.sq_off.array);
	tail = (unsigned *)(sq + p.sq_off.tail);
	idx[*tail & *(unsigned *)(sq + p.sq_off.ring_mask)] = 0;
	__atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
	r = syscall(SYS_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS,
		    NULL, 0);
	chead = (unsigned *)(cq + p.cq_off.head);
	ctail = (unsigned *)(cq + p.cq_off.tail);
	if (r >= 0 && __atomic_load_n(ctail, __ATOMIC_ACQUIRE) != *chead) {
		cqe = (struct io_uring_cqe *)(cq + p.cq_off.cqes) +
		      (*chead & *(unsigned *)(cq + p.cq_off.ring_mask));
		r = cqe->res;
		__atomic_store_n(chead, *chead + 1, __ATOMIC_RELEASE);
	} else if (r >= 0) {
		r = -EIO;
	}
	munmap(sqe, p.sq_entries * sizeof(*sqe));
	munmap(sq, sqlen);
	syscall(SYS_close, ring);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

static long make_memfd(const char *name, const char *seals, const char *text)
{
	char v[4096];
	int fd = memfd_create("lockspace-handoff", MFD_ALLOW_SEALING), add = 0;

	if (fd < 0)
		return -1;
	expand(v, sizeof(v), text);
	if (write(fd, v, strlen(v)) != (ssize_t)strlen(v))
		return -1;
	add |= strchr(seals, 's') ? F_SEAL_SHRINK : 0;
	add |= strchr(seals, 'g') ? F_SEAL_GROW : 0;
	add |= strchr(seals, 'w') ? F_SEAL_WRITE : 0;
	add |= strchr(seals, 'S') ? F_SEAL_SEAL : 0;
	if (fcntl(fd, F_ADD_SEALS, add) < 0)
		return -1;
	fds[name[0] - 'a'] = fd;
	return fd;
}

/* The steps above: 1 when step was one of them (rc and errno set, or
 * its line printed: *printed). */
static int fork_step(char **f, int n, const char *step, long *rc,
		     int *printed)
{
	int fd = n > 1 ? fdof(f[1]) : -1;

	if (!strcmp(f[0], "ofdgetlk")) {
		struct flock fl;

		fill(&fl, f, n, 2);
		if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
			return *rc = -1, 1;
		printf("%s%s = 0 type=%s start=%lld len=%lld pid=", prefix,
		       step, tname(fl.l_type), (long long)fl.l_start,
		       (long long)fl.l_len);
		if (fl.l_pid == getpid())
			printf("self\n");
		else
			printf("%d\n", (int)fl.l_pid);
		fflush(stdout);
		*printed = 1;
	} else if (!strcmp(f[0], "probe")) {
		printf("%s%s = %c\n", prefix, step,
		       probe_type(atoll(f[1]), atoll(f[2])));
		fflush(stdout);
		*printed = 1;
	} else if (!strcmp(f[0], "sleeper")) {
		*rc = sleeper();
	} else if (!strcmp(f[0], "sleeper_end")) {
		*rc = sleeper_end();
	} else if (!strcmp(f[0], "forkclose")) {
		*rc = fork_rounds(atoi(f[1]), 0);
	} else if (!strcmp(f[0], "forkupgrade")) {
		*rc = fork_rounds(atoi(f[1]), 1);
	} else if (!strcmp(f[0], "_forkunlock")) {
		*rc = child_kind(0, fd, f);
	} else if (!strcmp(f[0], "cloneunlock")) {
		*rc = child_kind(1, fd, f);
	} else if (!strcmp(f[0], "clonevmclose")) {
		*rc = child_kind(2, fd, f);
	} else if (!strcmp(f[0], "rawclose")) {
		*rc = syscall(SYS_close, fd);
	} else if (!strcmp(f[0], "ringclose")) {
		*rc = ring_close(fd);
	} else if (!strcmp(f[0], "scmcopy") || !strcmp(f[0], "pidfdcopy")) {
		*rc = f[0][0] == 's' ? scm_copy(fdof(f[2]))
				     : pidfd_copy(fdof(f[2]));
		if (*rc >= 0)
			fds[f[1][0] - 'a'] = (int)*rc;
	} else if (!strcmp(f[0], "prober")) {
		*rc = prober(atoll(f[1]), atoll(f[2]));
	} else if (!strcmp(f[0], "probed")) {
		*rc = probed();
	} else if (!strcmp(f[0], "longpath")) {
		*rc = long_path(atoi(f[1]));
	} else if (!strcmp(f[0], "rlimit")) {
		struct rlimit rl;

		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = (rlim_t)atol(f[1]);
		*rc = setrlimit(RLIMIT_NOFILE, &rl);
	} else if (!strcmp(f[0], "fill")) {
		*rc = fill_fds();
	} else if (!strcmp(f[0], "unfill")) {
		*rc = unfill_fds();
	} else if (!strcmp(f[0], "dupfdmin")) {
		*rc = fcntl(fdof(f[2]), F_DUPFD, atoi(f[3]));
		if (*rc >= 0)
			fds[f[1][0] - 'a'] = (int)*rc;
	} else if (!strcmp(f[0], "memfd")) {
		*rc = make_memfd(f[1], f[2], n > 3 ? f[3] : "");
	} else {
		return 0;
	}
	return 1;
}

/* A thread runs its steps, separated by ';', in order. */
static void *thread_main(void *arg)
{
	char *steps = strdup(arg), *save = NULL, *st;

	for (st = strtok_r(steps, ";", &save); st;
	     st = strtok_r(NULL, ";", &save))
		do_step(st);
	free(steps);
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

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* The names a..z for the next image, and the time of the exec. */
static void export_state(void)
{
	char buf[26 * 12 + 1] = "", num[32];

	for (int i = 0; i < 26; i++) {
		snprintf(num, sizeof(num), "%d,", fds[i]);
		strcat(buf, num);
	}
	setenv("LOCKPROG_FDS", buf, 1);
	snprintf(num, sizeof(num), "%lld", now_us());
	setenv("LOCKPROG_T0", num, 1);
}

static void import_state(void)
{
	const char *v = getenv("LOCKPROG_FDS");

	for (int i = 0; v && *v && i < 26; i++) {
		fds[i] = atoi(v);
		v = strchr(v, ',');
		v = v ? v + 1 : NULL;
	}
	unsetenv("LOCKPROG_FDS");
	if (getenv("LOCKPROG_PREFIX"))
		prefix = getenv("LOCKPROG_PREFIX");
}

/* The steps from g_next up to "end" (or all, when !upto_end), as the
 * arguments of a new run of this program. argv[0] is exe. */
static char **child_argv(const char *exe, int upto_end, int *last)
{
	char **av = calloc((size_t)g_argc + 3, sizeof(*av));
	int n = 0, i;

	av[n++] = (char *)exe;
	av[n++] = (char *)path;
	for (i = g_next; i < g_argc; i++) {
		if (upto_end && !strcmp(g_argv[i], "end"))
			break;
		av[n++] = g_argv[i];
	}
	av[n] = NULL;
	*last = i;
	return av;
}

static void self_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	buf[n > 0 ? n : 0] = 0;
}

static long reexec(char **f, int n)
{
	char exe[4096], **av;
	int last, err;

	self_exe(exe, sizeof(exe));
	av = child_argv(n > 1 && strcmp(f[1], "self") ? f[1] : exe, 0,
			&last);
	export_state();
	if (n > 3 && !strcmp(f[3], "noshim"))
		unsetenv("LD_PRELOAD");
	if (n < 3 || !strcmp(f[2], "execv")) {
		execv(av[0], av);
	} else if (!strcmp(f[2], "execve")) {
		execve(av[0], av, environ);
	} else if (!strcmp(f[2], "execvp")) {
		execvp(av[0], av);
	} else if (!strcmp(f[2], "fexecve")) {
		int efd = open(av[0], O_RDONLY | O_CLOEXEC);

		if (efd >= 0)
			fexecve(efd, av, environ);
	}
	err = errno;
	free(av);
	errno = err;
	return -1;
}

/* Run the steps up to "end" in a child of the given kind; skip them. */
static long spawn_child(const char *kind)
{
	char exe[4096], cmd[16384], **av;
	long rc = -1;
	int last, st;

	self_exe(exe, sizeof(exe));
	av = child_argv(exe, 1, &last);
	export_state();
	setenv("LOCKPROG_PREFIX", "c.", 1);
	if (!strcmp(kind, "posix_spawn")) {
		pid_t c;

		errno = posix_spawn(&c, exe, NULL, NULL, av, environ);
		if (!errno && waitpid(c, &st, 0) == c)
			rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	} else {
		size_t len = 0;

		cmd[0] = 0;
		for (int i = 0; av[i]; i++) {
			len += (size_t)snprintf(cmd + len, sizeof(cmd) - len,
						"%s'%s'", i ? " " : "", av[i]);
			if (len >= sizeof(cmd))
				return -1;
		}
		if (!strcmp(kind, "system")) {
			st = system(cmd);
			rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		} else {
			FILE *p = popen(cmd, "r");
			char line[1024];

			while (p && fgets(line, sizeof(line), p)) {
				fputs(line, stdout);
				fflush(stdout);
			}
			st = p ? pclose(p) : -1;
			rc = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		}
	}
	unsetenv("LOCKPROG_PREFIX");
	free(av);
	g_next = last + 1;
	return rc;
}

static long count_held_locks(void)
{
	DIR *d = opendir("/proc/self/fdinfo");
	struct dirent *e;
	long n = 0;

	while (d && (e = readdir(d))) {
		char p[300], line[512];
		FILE *s;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/self/fdinfo/%s", e->d_name);
		s = fopen(p, "r");
		while (s && fgets(line, sizeof(line), s))
			n += !strncmp(line, "lock:", 5);
		if (s)
			fclose(s);
	}
	if (d)
		closedir(d);
	return n;
}

/* "handoff = LEN" or "handoff = LEN memfd=SIZE" (memfd=-1: closed). */
static void print_handoff(const char *step)
{
	static const char var[] = "LOCKSPACE_PRELOAD_HANDOFF=";
	static char env[1 << 20];
	int efd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
	ssize_t len = 0, r;
	long vlen = -1, mfd = -1;

	while (efd >= 0 && (r = read(efd, env + len,
				     sizeof(env) - 1 - (size_t)len)) > 0)
		len += r;
	if (efd >= 0)
		close(efd);
	env[len] = 0;
	for (char *p = env; p < env + len; p += strlen(p) + 1)
		if (!strncmp(p, var, sizeof(var) - 1)) {
			p += sizeof(var) - 1;
			vlen = (long)strlen(p);
			if (!strncmp(p, "LSH1 memfd ", 11))
				mfd = atol(p + 11);
			break;
		}
	if (mfd >= 0) {
		struct stat st;

		printf("%s%s = %ld memfd=%lld\n", prefix, step, vlen,
		       fstat((int)mfd, &st) ? -1LL : (long long)st.st_size);
	} else {
		printf("%s%s = %ld\n", prefix, step, vlen);
	}
	fflush(stdout);
}

/* VALUE with %P, %D, %I and %a..%z replaced. */
static void expand(char *out, size_t len, const char *v)
{
	struct stat st;
	size_t n = 0;

	memset(&st, 0, sizeof(st));
	stat(path, &st);
	for (; *v && n + 32 < len; v++) {
		if (*v != '%' || !v[1]) {
			out[n++] = *v;
			continue;
		}
		v++;
		if (*v == 'P')
			n += (size_t)sprintf(out + n, "%d", (int)getpid());
		else if (*v == 'D')
			n += (size_t)sprintf(out + n, "%llu",
					     (unsigned long long)st.st_dev);
		else if (*v == 'I')
			n += (size_t)sprintf(out + n, "%llu",
					     (unsigned long long)st.st_ino);
		else if (*v >= 'a' && *v <= 'z')
			n += (size_t)sprintf(out + n, "%d", fds[*v - 'a']);
		else
			out[n++] = *v;
	}
	out[n] = 0;
}

static long lock_many(const char *dir, int count)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char p[4096];
	long locked = 0;

	for (int i = 0; i < count; i++) {
		int fd;

		snprintf(p, sizeof(p), "%s/%d", dir, i);
		fd = open(p, O_RDWR | O_CREAT, 0600);
		if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0)
			break;
		locked++;
	}
	return locked;
}

static void *watchdog_main(void *arg)
{
	struct timespec ts;
	long ms = (long)arg;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
	printf("%swatchdog = fired\n", prefix);
	fflush(stdout);
	_exit(99);
	return NULL;
}

static void do_step(const char *step)
{
	char buf[512], *f[MAXF], *save = NULL, *tok;
	struct flock fl;
	long rc = 0;
	int n = 0, fd, printed = 0;

	if (!strncmp(step, "t:", 2)) {
		pthread_t t;

		pthread_create(&t, NULL, thread_main, (void *)(step + 2));
		pthread_join(t, NULL);
		return;
	}
	if (!strncmp(step, "bg:", 3)) {
		if (nbg < 16)
			pthread_create(&bgs[nbg++], NULL, thread_main,
				       (void *)(step + 3));
		return;
	}
	if (!strncmp(step, "ms:", 3)) {
		long long t0 = now_us();

		do_step(step + 3);
		printf("%s%s = %lld\n", prefix, step, (now_us() - t0) / 1000);
		fflush(stdout);
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

	if (fork_step(f, n, step, &rc, &printed)) {
		if (printed)
			return;
	} else if (!strcmp(f[0], "open")) {
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
		rc = syscall(SYS_FCNTL, fd, F_SETLK, &fl);
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
	} else if (!strcmp(f[0], "freopen")) {
		FILE *s = fopen(n > 1 ? f[1] : path, "r");

		if (s)
			s = freopen(n > 1 ? f[1] : path, "r", s);
		rc = s ? fclose(s) : -1;
	} else if (!strcmp(f[0], "closedir")) {
		DIR *d = opendir(n > 1 ? f[1] : path);

		rc = d ? closedir(d) : -1;
	} else if (!strcmp(f[0], "scandir")) {
		struct dirent **list;

		rc = scandir(n > 1 ? f[1] : path, &list, NULL, NULL);
		for (long i = 0; i < rc; i++)
			free(list[i]);
		if (rc >= 0)
			free(list);
	} else if (!strcmp(f[0], "getpwnam")) {
		rc = getpwnam(f[1]) ? 0 : -1;
	} else if (!strcmp(f[0], "setuid")) {
		gid_t g = (gid_t)atoi(f[2]);

		rc = setgroups(1, &g);
		if (rc == 0)
			rc = setgid(g);
		if (rc == 0)
			rc = setuid((uid_t)atoi(f[1]));
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
	} else if (!strcmp(f[0], "forkfds")) {
		pid_t c = fork();

		if (c == 0) {
			print_fds(step);
			_exit(0);
		}
		waitpid(c, NULL, 0);
		return;
	} else if (!strcmp(f[0], "reexec")) {
		rc = reexec(f, n);	/* returns only when it failed */
	} else if (!strcmp(f[0], "elapsed")) {
		const char *t0 = getenv("LOCKPROG_T0");

		rc = t0 ? now_us() - atoll(t0) : -1;
	} else if (!strcmp(f[0], "cloexec")) {
		rc = fcntl(fd, F_SETFD, atoi(f[2]) ? FD_CLOEXEC : 0);
	} else if (!strcmp(f[0], "getfd")) {
		rc = fcntl(fd, F_GETFD);
	} else if (!strcmp(f[0], "getenv")) {
		const char *v = getenv(f[1]);

		printf("%s%s = %s\n", prefix, step, v ? v : "(unset)");
		fflush(stdout);
		return;
	} else if (!strcmp(f[0], "setenv")) {
		char v[4096];

		expand(v, sizeof(v), n > 2 ? step + strlen(f[0]) +
			strlen(f[1]) + 2 : "");
		rc = setenv(f[1], v, 1);
	} else if (!strcmp(f[0], "handoff")) {
		print_handoff(step);
		return;
	} else if (!strcmp(f[0], "stderr")) {
		int efd = open(f[1], O_WRONLY | O_CREAT | O_APPEND, 0600);

		rc = efd < 0 ? -1 : dup2(efd, 2);
		if (efd > 2)
			close(efd);
	} else if (!strcmp(f[0], "pid")) {
		rc = getpid();
	} else if (!strcmp(f[0], "heldlocks")) {
		rc = count_held_locks();
	} else if (!strcmp(f[0], "post") || !strcmp(f[0], "await")) {
		struct timespec end;
		int k = atoi(f[1]) % 10;

		clock_gettime(CLOCK_REALTIME, &end);
		end.tv_sec += 5;
		pthread_mutex_lock(&flags_mu);
		if (f[0][0] == 'p') {
			flags[k] = 1;
			pthread_cond_broadcast(&flags_cv);
		}
		while (!flags[k] && rc == 0)
			rc = -pthread_cond_timedwait(&flags_cv, &flags_mu,
						     &end);
		pthread_mutex_unlock(&flags_mu);
		if (rc < 0)
			errno = (int)-rc;
	} else if (!strcmp(f[0], "spawn")) {
		rc = spawn_child(f[1]);
	} else if (!strcmp(f[0], "many")) {
		rc = lock_many(f[1], atoi(f[2]));
	} else if (!strcmp(f[0], "join")) {
		for (int i = 0; i < nbg; i++)
			pthread_join(bgs[i], NULL);
		rc = nbg;
		nbg = 0;
	} else if (!strcmp(f[0], "sleep")) {
		struct timespec ts = { atoi(f[1]) / 1000,
				       (atoi(f[1]) % 1000) * 1000000L };

		rc = nanosleep(&ts, NULL);
	} else if (!strcmp(f[0], "watchdog")) {
		pthread_t t;

		rc = pthread_create(&t, NULL, watchdog_main,
				    (void *)(long)atoi(f[1]));
		if (rc == 0)
			pthread_detach(t);
	} else if (!strcmp(f[0], "dupfd")) {
		rc = fcntl(fdof(f[2]), n > 3 ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
		if (rc >= 0)
			fds[f[1][0] - 'a'] = (int)rc;
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
	import_state();
	g_argc = argc;
	g_argv = argv;
	for (g_next = 2; g_next < argc;)
		do_step(argv[g_next++]);
	return 0;
}
