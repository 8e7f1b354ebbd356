/* tests/progs/cancelprog.c: threads cancelled in F_SETLKW, an "unmodified
 * program" for the integration tests (issue 16). No header of ours.
 *
 *   cancelprog PATH mutual ROUNDS
 *       Each round another process (a raw fork child, raw syscalls)
 *       write-locks bytes 0-9 of PATH; four threads, each through a
 *       descriptor of its own, block in F_SETLKW for them; the holder
 *       lets go, and each thread that gets through cancels the other
 *       three, then unlocks. Prints "mutual = ROUNDS" when every round
 *       ended, and "hung" (exit 99) when one did not end in 10 s.
 *   cancelprog PATH disabled
 *       A thread holds bytes 0-9 through descriptor a; another thread
 *       disables cancellation and asks F_SETLKW for them through
 *       descriptor b, and is cancelled while it waits (under conflicts =
 *       fd it waits for the first thread); then the first lets go.
 *       The waiter must not be cancelled inside F_SETLKW: once the
 *       cancellation was sent it enables cancellation again and calls
 *       pthread_testcancel(); it prints "disabled = RC canceled-after"
 *       (RC the call's result) when the cancellation came there.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
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

#define NT 4

static const char *path;
static pthread_t th[NT];
static int tfd[NT];
static pthread_barrier_t bar;

static void ms(long n)
{
	struct timespec ts = { n / 1000, (n % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void *watchdog(void *arg)
{
	ms((long)arg);
	printf("hung\n");
	fflush(stdout);
	_exit(99);
	return NULL;
}

/* Another process holds W 0-9 until *release is closed. */
static pid_t hold(int *release)
{
	int up[2], down[2];
	char c;
	pid_t pid;

	if (pipe(up) || pipe(down))
		exit(2);
	pid = (pid_t)syscall(SYS_fork);
	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
				    .l_len = 10 };
		int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR);

		syscall(SYS_close, down[1]);
		if (fd < 0 || syscall(SYS_FCNTL, fd, F_SETLK, &fl) < 0)
			syscall(SYS_exit_group, 1);
		syscall(SYS_write, up[1], "x", 1);
		while (syscall(SYS_read, down[0], &c, 1) > 0)
			;
		syscall(SYS_exit_group, 0);
	}
	close(up[1]);
	close(down[0]);
	if (read(up[0], &c, 1) != 1)
		exit(2);
	close(up[0]);
	*release = down[1];
	return pid;
}

static void *mutual_thread(void *arg)
{
	int i = (int)(long)arg;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_len = 10 };

	pthread_barrier_wait(&bar);
	if (fcntl(tfd[i], F_SETLKW, &fl) == 0) {
		for (int j = 0; j < NT; j++)
			if (j != i)
				pthread_cancel(th[j]);
		fl.l_type = F_UNLCK;
		fcntl(tfd[i], F_SETLK, &fl);
	}
	return NULL;
}

static int mutual(int rounds)
{
	for (int r = 0; r < rounds; r++) {
		int release;
		pid_t h = hold(&release);

		pthread_barrier_init(&bar, NULL, NT + 1);
		for (int i = 0; i < NT; i++) {
			tfd[i] = open(path, O_RDWR);
			pthread_create(&th[i], NULL, mutual_thread,
				       (void *)(long)i);
		}
		pthread_barrier_wait(&bar);
		ms(2);
		close(release);
		waitpid(h, NULL, 0);
		for (int i = 0; i < NT; i++)
			pthread_join(th[i], NULL);
		for (int i = 0; i < NT; i++)
			close(tfd[i]);
		pthread_barrier_destroy(&bar);
	}
	return rounds;
}

static int dis_fd, dis_rc = -2, dis_after;
static volatile int dis_waiting, dis_sent;

static void *disabled_thread(void *arg)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_len = 10 };

	(void)arg;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	dis_waiting = 1;
	dis_rc = fcntl(dis_fd, F_SETLKW, &fl);
	while (!dis_sent)
		ms(1);
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	dis_after = 1;
	pthread_testcancel();
	dis_after = 2;
	return NULL;
}

static void *holder_thread(void *arg)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_len = 10 };

	return (void *)(long)fcntl(*(int *)arg, F_SETLK, &fl);
}

static void disabled(void)
{
	struct flock un = { .l_type = F_UNLCK, .l_whence = SEEK_SET,
			    .l_len = 10 };
	int a = open(path, O_RDWR);
	pthread_t h, t;
	void *res;

	dis_fd = open(path, O_RDWR);
	pthread_create(&h, NULL, holder_thread, &a);
	pthread_join(h, &res);
	pthread_create(&t, NULL, disabled_thread, NULL);
	while (!dis_waiting)
		ms(1);
	ms(50);
	pthread_cancel(t);
	dis_sent = 1;
	ms(50);
	fcntl(a, F_SETLK, &un);
	pthread_join(t, &res);
	printf("disabled = %d %s\n", dis_rc,
	       res != PTHREAD_CANCELED ? "not-canceled" :
	       dis_after == 1 ? "canceled-after" : "canceled-inside");
	fflush(stdout);
	close(a);
	close(dis_fd);
}

int main(int argc, char **argv)
{
	pthread_t w;

	if (argc < 3)
		return 2;
	path = argv[1];
	pthread_create(&w, NULL, watchdog, (void *)10000L);
	if (!strcmp(argv[2], "mutual")) {
		printf("mutual = %d\n", mutual(argc > 3 ? atoi(argv[3]) : 20));
		fflush(stdout);
	} else if (!strcmp(argv[2], "disabled")) {
		disabled();
	} else {
		return 2;
	}
	return 0;
}
