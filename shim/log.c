/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/log.c: the events, one logfmt line each, and the at-exit summary.
 *
 * An event may be written with the table's mutex held, from a thread
 * that a signal interrupted inside the shim, or in a program that closed
 * every descriptor it found. So a line is formatted into a stack buffer
 * and written with one write(2) (lines of two threads or processes never
 * interleave), nothing is allocated, no stdio FILE or lock is used, and
 * the caller's errno is kept. syslog(3) is not used for the same reason
 * (glibc's allocates and locks): the datagram goes to /dev/log directly.
 *
 * The log file (or the syslog socket) is ours, in the band, marked
 * FD_OURS, so the program's close(), fcntl() and dup() never meet it.
 * A program can still close it past the interposer (a raw syscall), and
 * its number may then hold a stranger's file: before each write, fstat()
 * says whether it is still our file, and if not a new one is opened. The
 * old number is left alone (it is no longer ours to close or unmark).
 */
#include "log.h"
#include "defs.h"
#include "band.h"
#include "config.h"
#include "fdstate.h"
#include "real.h"
#include "trace.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <errno.h>
#include <execinfo.h>
#include <stdlib.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Set by log_setup() in the constructor, read-only afterwards (the
 * defaults serve notes written before it). */
static int lg_dest = LOGD_STDERR;
static int lg_level = LOGL_NOTICE;
static int lg_backtrace;
static int lg_report;
static const char *lg_mode = "protect";
static int lg_counting; /* a summary will be written */
static char lg_path[PATH_MAX];

/* The destination's descriptor (file or socket), -1 for none, and the
 * identity that says it is still ours. Replaced with a CAS; a loser
 * closes its own. */
static _Atomic int lg_fd = -1;
static _Atomic uint64_t lg_dev, lg_ino;

static _Atomic long counters[LOGC_N];
static _Atomic long held_peak;
static atomic_int summary_done;
static int lg_forked; /* a fork child that has not exec'ed */

static const char *const level_tag[] = {"error", "warning", "notice",
					"info", "debug"};

static int open_dest(void)
{
	struct stat st;
	int fd, hi;

	if (lg_dest == LOGD_FILE) {
		/* O_NONBLOCK: a FIFO without a reader must not hang us. */
		fd = open(lg_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
				   O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600);
	} else if (lg_dest == LOGD_SYSLOG) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX,
					 .sun_path = "/dev/log"};

		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 &&
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			raw_close(fd);
			fd = -1;
		}
	} else {
		return -1;
	}
	if (fd < 0)
		return -1;
	/* In the band, which grows when full. */
	hi = band_dup(fd, 0);
	if (hi >= 0) {
		raw_close(fd);
		fd = hi;
	}
	if (fstat(fd, &st) < 0) {
		raw_close(fd);
		return -1;
	}
	atomic_store(&lg_dev, (uint64_t)st.st_dev);
	atomic_store(&lg_ino, (uint64_t)st.st_ino);
	return fd;
}

/* Our descriptor, checked, reopened when the program took it; -1 when
 * there is none to be had (the line then goes to stderr). */
static int dest_fd(void)
{
	int fd = atomic_load(&lg_fd), nfd;
	struct stat st;

	if (lg_dest == LOGD_STDERR)
		return 2;
	if (fd >= 0 && fstat(fd, &st) == 0 &&
	    (uint64_t)st.st_dev == atomic_load(&lg_dev) &&
	    (uint64_t)st.st_ino == atomic_load(&lg_ino))
		goto mark;
	nfd = open_dest();
	if (nfd < 0)
		return -1;
	if (!atomic_compare_exchange_strong(&lg_fd, &fd, nfd)) {
		raw_close(nfd);
		return fd; /* another thread's fresh one */
	}
	fd = nfd;
mark:
	/* Marked here rather than at open: the constructor may open it
	 * before fdstate_init(), and a fork child's table forgets it. The
	 * number is ours (fstat just said so), so no other path writes its
	 * state: table_lock is not needed, and must not be taken here. */
	if (fd_state && fdstate_get(fd) != FD_OURS)
		fdstate_own(fd, NULL);
	return fd;
}

/* One line: head and body (either may be empty), then '\n', in one
 * writev(2) (or one datagram). */
static void emit(int level, const char *head, size_t hn, const char *body,
		 size_t bn)
{
	int fd = dest_fd();
	struct iovec iov[4];

	if (fd >= 0 && lg_dest == LOGD_SYSLOG) {
		char tag[64];
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 3};
		int h = snprintf(tag, sizeof(tag),
				 "<%d>lockspace-preload[%d]: ",
				 (1 << 3) | (level + 3), (int)getpid());

		/* One datagram, without the '\n'. */
		iov[0].iov_base = tag;
		iov[0].iov_len = (size_t)h;
		iov[1].iov_base = (void *)head;
		iov[1].iov_len = hn;
		iov[2].iov_base = (void *)body;
		iov[2].iov_len = bn;
		if (sendmsg(fd, &mh, MSG_NOSIGNAL) >= 0)
			return;
		fd = -1;
	}
	if (fd < 0)
		fd = 2;
	iov[0].iov_base = (void *)head;
	iov[0].iov_len = hn;
	iov[1].iov_base = (void *)body;
	iov[1].iov_len = bn;
	iov[2].iov_base = "\n";
	iov[2].iov_len = 1;
	while (writev(fd, iov, 3) < 0 && errno == EINTR)
		;
}

/* ---- which program: comm and exe, read once per image --------------------
 * At the first event (a fork child shares its parent's, an exec'd image
 * reads its own). A thread that finds another one reading reads for
 * itself, into its own buffers: a signal handler never waits here. */
static char id_comm[64], id_exe[1024];
static atomic_int id_state; /* 0 unread, 1 being read, 2 read */

static void read_ident(char *comm, size_t clen, char *exe, size_t elen)
{
	int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	ssize_t n = -1;

	if (fd >= 0) {
		n = read(fd, comm, clen - 1);
		raw_close(fd);
	}
	if (n > 0 && comm[n - 1] == '\n')
		n--;
	comm[n > 0 ? n : 0] = 0;
	/* No descriptor to be had (EMFILE): this thread's name, which is
	 * the program's unless it renamed its threads. */
	if (n <= 0 && clen > 16 && prctl(PR_GET_NAME, comm) < 0)
		comm[0] = 0;
	n = readlink("/proc/self/exe", exe, elen - 1);
	exe[n > 0 ? n : 0] = 0;
}

static void ident(const char **comm, const char **exe, char *cbuf,
		  size_t clen, char *ebuf, size_t elen);

void log_program(char *comm, size_t clen, char *exe, size_t elen)
{
	char cb[64], eb[1024];
	const char *c, *e;

	ident(&c, &e, cb, sizeof(cb), eb, sizeof(eb));
	snprintf(comm, clen, "%s", c);
	snprintf(exe, elen, "%s", e);
}

/* The program's comm and exe (for this call: they may be the caller's
 * own buffers, filled now). */
static void ident(const char **comm, const char **exe, char *cbuf,
		  size_t clen, char *ebuf, size_t elen)
{
	int st = atomic_load_explicit(&id_state, memory_order_acquire);

	if (st != 2) {
		st = 0;
		if (!atomic_compare_exchange_strong(&id_state, &st, 1)) {
			read_ident(cbuf, clen, ebuf, elen);
			*comm = cbuf;
			*exe = ebuf;
			return;
		}
		read_ident(id_comm, sizeof(id_comm), id_exe, sizeof(id_exe));
		atomic_store_explicit(&id_state, 2, memory_order_release);
	}
	*comm = id_comm;
	*exe = id_exe;
}

/* RFC 3339 UTC with milliseconds, without gmtime_r (it takes glibc's
 * tz lock); days to civil date after H. Hinnant's algorithm. */
static int fmt_time(char *buf, size_t len)
{
	struct timespec ts;
	long long days, secs, y, era, doe, yoe, doy, mp, d, m;

	clock_gettime(CLOCK_REALTIME, &ts);
	secs = ts.tv_sec % 86400;
	days = ts.tv_sec / 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	return snprintf(buf, len, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld."
			"%03ldZ", y, m, d, secs / 3600, secs / 60 % 60,
			secs % 60, ts.tv_nsec / 1000000);
}

/* The head of every line: event=NAME ts= pid= tid= level= comm= exe=. */
static size_t fmt_head(char *buf, size_t len, int level, const char *event)
{
	char ts[80], cb[64], eb[1024], qc[160], qe[1100];
	const char *comm, *exe;
	int n;

	fmt_time(ts, sizeof(ts));
	ident(&comm, &exe, cb, sizeof(cb), eb, sizeof(eb));
	log_quote(qc, sizeof(qc), *comm ? comm : "?");
	log_quote(qe, sizeof(qe), *exe ? exe : "?");
	n = snprintf(buf, len, "event=%s ts=%s pid=%d tid=%d level=%s "
		     "comm=%s exe=%s", event, ts, (int)getpid(),
		     (int)syscall(SYS_gettid), level_tag[level], qc, qe);
	if (n < 0)
		return 0;
	return (size_t)n >= len ? len - 1 : (size_t)n;
}

/* head, then " " and body unless it is empty; a body cut to fit ends
 * in "...". */
static void write_line(int level, const char *event, const char *body,
		       size_t bn)
{
	char head[1400];
	size_t hn;

	if (level < LOGL_ERROR || level > LOGL_DEBUG)
		level = LOGL_ERROR;
	hn = fmt_head(head, sizeof(head) - 1, level, event);
	if (bn)
		head[hn++] = ' ';
	emit(level, head, hn, body, bn);
}

static void vlog(int level, const char *event, const char *fmt, va_list ap)
{
	char buf[LOG_LINE_MAX];
	int m = 0;

	if (fmt && *fmt) {
		m = vsnprintf(buf, sizeof(buf), fmt, ap);
		if (m < 0)
			m = 0;
		if ((size_t)m >= sizeof(buf)) {
			m = (int)sizeof(buf) - 1;
			memcpy(buf + m - 3, "...", 3);
		}
	}
	write_line(level, event, buf, (size_t)m);
}

void log_text(int level, const char *event, const char *body)
{
	int saved = errno;

	if (!log_enabled(level))
		return;
	write_line(level, event, body, strlen(body));
	errno = saved;
}

int log_enabled(int level)
{
	return level <= lg_level;
}

void log_event(int level, const char *event, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vlog(level, event, fmt, ap);
	va_end(ap);
	errno = saved;
}

static void log_force(int level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void log_force(int level, const char *event, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, event, fmt, ap);
	va_end(ap);
}

static int plain_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || strchr("_./:+@,-", ch);
}

char *log_quote(char *dst, size_t len, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	int plain = *p != 0;

	if (!len)
		return dst;
	for (const unsigned char *q = p; *q && plain; q++)
		plain = plain_char(*q);
	if (plain && strlen(s) < len) {
		memcpy(dst, s, strlen(s) + 1);
		return dst;
	}
	if (len < 6) {
		dst[0] = 0;
		return dst;
	}
	dst[o++] = '"';
	for (; *p; p++) {
		char esc[5];
		size_t k = 0;

		if (*p == '"' || *p == '\\') {
			esc[k++] = '\\';
			esc[k++] = (char)*p;
		} else if (*p < 0x20 || *p == 0x7f) {
			k = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", *p);
		} else {
			esc[k++] = (char)*p;
		}
		if (o + k + 5 > len) { /* room for ...", NUL */
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(dst + o, esc, k);
		o += k;
	}
	dst[o++] = '"';
	dst[o] = 0;
	return dst;
}

int log_backtrace_enabled(void)
{
	return lg_backtrace;
}

void log_count(enum log_counter c, long n)
{
	long now, peak;

	/* Only a summary reads them: no shared write on every lock call
	 * (threads locking different files would pass the line between
	 * their caches) when none is asked for. */
	if ((unsigned)c >= LOGC_N || !lg_counting)
		return;
	now = atomic_fetch_add(&counters[c], n) + n;
	if (c != LOGC_HELD)
		return;
	peak = atomic_load(&held_peak);
	while (now > peak &&
	       !atomic_compare_exchange_weak(&held_peak, &peak, now))
		;
}

long log_counter(enum log_counter c)
{
	return (unsigned)c < LOGC_N ? atomic_load(&counters[c]) : 0;
}

void log_summary(void)
{
	long v[LOGC_N], any = 0;
	int saved = errno;

	if (!lg_report && lg_level < LOGL_INFO)
		return;
	if (atomic_exchange(&summary_done, 1))
		return;
	for (int i = 0; i < LOGC_N; i++) {
		v[i] = atomic_load(&counters[i]);
		any |= v[i];
	}
	/* A fork child that did nothing of its own would only repeat
	 * zeros, once for each subshell. */
	if (lg_forked && !any)
		return;
	log_force(LOGL_INFO, "summary",
		  "mode=%s locks=%ld files=%ld peak_held=%ld prevented=%ld "
		  "observed=%ld fallbacks=%ld",
		  lg_mode, v[LOGC_LOCKS],
		  v[LOGC_FILES], atomic_load(&held_peak), v[LOGC_PREVENTED],
		  v[LOGC_OBSERVED], v[LOGC_FALLBACKS]);
	errno = saved;
}

/* Destructors of a preloaded library run after the program's own. A
 * process that never took a lock never read the configuration; under
 * lockspace-run --report its summary still says that it ran the shim. */
__attribute__((destructor)) static void log_fini(void)
{
	if (!config_read_yet()) {
		const char *r = secure_getenv("LOCKSPACE_PRELOAD_REPORT");

		if (!r || !*r || !strcmp(r, "0"))
			return;
		config_ensure();
	}
	log_summary();
}

/* The child owns none of its parent's locks: it counts from zero. */
CHILD_CODE static void log_atfork_child(void)
{
	trace_atfork_child();
	for (int i = 0; i < LOGC_N; i++)
		if (atomic_load(&counters[i]))
			atomic_store(&counters[i], 0);
	if (atomic_load(&held_peak))
		atomic_store(&held_peak, 0);
	if (atomic_load(&summary_done))
		atomic_store(&summary_done, 0);
	if (!lg_forked)
		lg_forked = 1;
}

void log_init(void)
{
	pthread_atfork(NULL, NULL, log_atfork_child);
}

void log_setup(const struct config *c, int report, int mode)
{
	int fd;

	lg_mode = config_mode_name(mode);
	lg_counting = report || c->log_level >= LOGL_INFO;
	lg_level = c->log_level;
	lg_backtrace = c->backtrace;
	lg_report = report;
	lg_dest = c->log_dest;
	trace_setup(c->trace_path[0] ? c->trace_path : NULL);
	if (lg_dest == LOGD_FILE)
		snprintf(lg_path, sizeof(lg_path), "%s", c->log_path);
	if (lg_dest == LOGD_STDERR)
		return;
	fd = open_dest();
	if (fd < 0) {
		char q[PATH_MAX + 16], r[128];
		int err = errno;

		lg_dest = LOGD_STDERR;
		log_quote(q, sizeof(q), c->log_dest == LOGD_FILE ? c->log_path
								 : "syslog");
		log_quote(r, sizeof(r), strerror(err));
		log_force(LOGL_ERROR, "log-error",
			  "log=%s reason=%s fallback=stderr", q, r);
		return;
	}
	atomic_store(&lg_fd, fd);
	if (fd_state)
		fdstate_own(fd, NULL);
}

void log_note(const char *fmt, ...)
{
	char msg[512], q[sizeof(msg) + 64];
	int saved = errno;
	va_list ap;

	if (!log_enabled(LOGL_NOTICE))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_quote(q, sizeof(q), msg);
	log_force(LOGL_NOTICE, "note", "msg=%s", q);
	errno = saved;
}

/* Whether the at-exit summary was asked for (lockspace-run --report): the
 * shim then looks at closes it would otherwise not, to count them. */
int log_reporting(void)
{
	return lg_report;
}
