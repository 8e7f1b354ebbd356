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
#include "band.h"
#include "config.h"
#include "fdstate.h"
#include "real.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <stdlib.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
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

static void emit(int level, char *line, size_t n)
{
	int fd = dest_fd();

	if (fd >= 0 && lg_dest == LOGD_SYSLOG) {
		char head[64];
		struct iovec iov[2];
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
		int h = snprintf(head, sizeof(head),
				 "<%d>lockspace-preload[%d]: ",
				 (1 << 3) | (level + 3), (int)getpid());

		/* One datagram, without the '\n', and no copy of the line. */
		iov[0].iov_base = head;
		iov[0].iov_len = (size_t)h;
		iov[1].iov_base = line;
		iov[1].iov_len = n - 1;
		if (sendmsg(fd, &mh, MSG_NOSIGNAL) >= 0)
			return;
		fd = -1;
	}
	if (fd < 0)
		fd = 2;
	while (write(fd, line, n) < 0 && errno == EINTR)
		;
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

static void vlog(int level, const char *event, const char *fmt, va_list ap)
{
	char buf[LOG_LINE_MAX], ts[80];
	size_t room = sizeof(buf) - 1; /* for the '\n' */
	int n, m;

	if (level < LOGL_ERROR || level > LOGL_DEBUG)
		level = LOGL_ERROR;
	fmt_time(ts, sizeof(ts));
	n = snprintf(buf, room, "event=%s ts=%s pid=%d tid=%d level=%s",
		     event, ts, (int)getpid(), (int)syscall(SYS_gettid),
		     level_tag[level]);
	if (n < 0)
		return;
	if ((size_t)n >= room)
		n = (int)room - 1;
	if (fmt && *fmt && (size_t)n + 1 < room) {
		buf[n++] = ' ';
		m = vsnprintf(buf + n, room - (size_t)n, fmt, ap);
		if (m < 0)
			m = 0;
		if ((size_t)m >= room - (size_t)n) {
			n = (int)room - 1;
			memcpy(buf + n - 3, "...", 3);
		} else {
			n += m;
		}
	}
	buf[n++] = '\n';
	emit(level, buf, (size_t)n);
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

/* One frame as "object+0xoff (symbol+0xoff)", unquoted. */
static int fmt_frame(char *buf, size_t len, void *addr)
{
	Dl_info di;
	const char *obj, *slash;

	/* A return address may be one past its function's end: look up the
	 * call instruction itself. */
	if (!addr || !dladdr((char *)addr - 1, &di) || !di.dli_fname)
		return snprintf(buf, len, "%p", addr);
	obj = di.dli_fname;
	slash = strrchr(obj, '/');
	if (slash)
		obj = slash + 1;
	if (!*obj)
		obj = "?";
	if (di.dli_sname && di.dli_saddr)
		return snprintf(buf, len, "%s+0x%lx (%s+0x%lx)", obj,
				(unsigned long)((char *)addr -
						(char *)di.dli_fbase),
				di.dli_sname,
				(unsigned long)((char *)addr -
						(char *)di.dli_saddr));
	return snprintf(buf, len, "%s+0x%lx", obj,
			(unsigned long)((char *)addr - (char *)di.dli_fbase));
}

void log_caller(char *buf, size_t len, void *ret_addr)
{
	char tmp[512];

	fmt_frame(tmp, sizeof(tmp), ret_addr);
	log_quote(buf, len, tmp);
}

int log_backtrace_enabled(void)
{
	return lg_backtrace;
}

int log_backtrace(char *buf, size_t len)
{
	void *frames[32];
	char tmp[1024];
	Dl_info self;
	size_t o = 0;
	int n, shown = 0;

	if (!len)
		return 0;
	if (!lg_backtrace) {
		log_quote(buf, len, "-");
		return 0;
	}
	n = backtrace(frames, 32);
	if (!dladdr((void *)log_backtrace, &self))
		self.dli_fbase = NULL;
	tmp[0] = 0;
	for (int i = 0; i < n && shown < 8; i++) {
		Dl_info di;
		int m;

		/* The shim's own frames say nothing to the user. */
		if (self.dli_fbase && dladdr(frames[i], &di) &&
		    di.dli_fbase == self.dli_fbase)
			continue;
		if (shown && o + 4 < sizeof(tmp)) {
			memcpy(tmp + o, " < ", 3);
			o += 3;
		}
		m = fmt_frame(tmp + o, sizeof(tmp) - o, frames[i]);
		if (m < 0 || o + (size_t)m >= sizeof(tmp)) {
			tmp[o] = 0;
			break;
		}
		o += (size_t)m;
		shown++;
	}
	log_quote(buf, len, tmp);
	return shown;
}

void log_count(enum log_counter c, long n)
{
	long now, peak;

	if ((unsigned)c >= LOGC_N)
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
static void log_atfork_child(void)
{
	for (int i = 0; i < LOGC_N; i++)
		atomic_store(&counters[i], 0);
	atomic_store(&held_peak, 0);
	atomic_store(&summary_done, 0);
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
	lg_level = c->log_level;
	lg_backtrace = c->backtrace;
	lg_report = report;
	lg_dest = c->log_dest;
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
