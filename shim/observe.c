/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/observe.c: telling the user where a lock would be (or was) lost.
 *
 * A close of any descriptor of a file drops every POSIX lock the process
 * holds on it. Under mode = observe the kernel really drops them: each
 * close that drops ranges taken through another descriptor (or through
 * another descriptor of the same description) is a lock-loss event, and
 * the table forgets those ranges as the kernel did. Under mode = protect
 * the anchors keep them, and the same place logs lock-loss-prevented at
 * level info. Closes inside libc that no interposer sees are found at the
 * next lock request on the file, and at exit, by comparing the table with
 * the locks the kernel lists in /proc/self/fdinfo: lock-loss-unseen.
 *
 * The work is split around the real close: what will be lost is gathered
 * before it (the descriptor still names the file), with the table locked;
 * the table is changed and the event written after it, with nothing
 * locked (dladdr(), behind log_caller(), takes the loader's lock).
 */
#include "observe.h"
#include "anchor.h"
#include "fdstate.h"
#include "files.h"
#include "callsite.h"
#include "log.h"
#include "posixbe.h"
#include "procfs.h"
#include "real.h"
#include "trace.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

void loss_add(struct loss *l, int fd, int64_t s, int64_t e, int type)
{
	if (l->n < LOSS_MAX) {
		l->r[l->n].fd = fd;
		l->r[l->n].start = s;
		l->r[l->n].end = e;
		l->r[l->n].type = type;
		l->n++;
	} else {
		l->more++;
	}
}

struct piece_ctx {
	struct loss *l;
	const struct ls_file *f;
	int fd;
	int64_t s, e;
};

static int map_piece(void *arg, int64_t s, int64_t e, int type)
{
	struct piece_ctx *c = arg;

	loss_add(c->l, c->fd, s < c->s ? c->s : s, e > c->e ? c->e : e, type);
	return 0;
}

static int held_piece(void *arg, int64_t s, int64_t e, int type)
{
	struct piece_ctx *c = arg;

	(void)type;
	c->s = s;
	c->e = e;
	return lsr_set_visit(&c->f->t.map, s, e, map_piece, c);
}

/* The ranges of f that a close of a descriptor of holder closing (NULL:
 * a descriptor the shim does not track) drops under plain POSIX and the
 * contract keeps: every other holder's, and the closing holder's own
 * when it keeps another descriptor. table_lock held. */
static void gather(struct loss *l, struct ls_file *f,
		   const struct ls_holder *closing, int last)
{
	struct piece_ctx c = {.l = l, .f = f};
	const struct ls_holder *o;

	for (o = f->ofds; o; o = o->fnext) {
		const struct lsr_set *held;

		if (o == closing && last)
			continue;
		held = lst_holder_ranges(&f->t, o->id);
		if (!held)
			continue;
		c.fd = o->fd;
		lsr_set_visit(held, 0, LSR_OFF_MAX, held_piece, &c);
	}
	if (!l->n && !l->more)
		return;
	l->active = 1;
	l->observe = f->pol.mode == MODE_OBSERVE;
	l->dev = f->t.key.dev;
	l->ino = f->t.key.ino;
}

static void set_path(struct loss *l, int fd)
{
	char link[40];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, l->path, sizeof(l->path) - 1);
	l->path[n > 0 ? n : 0] = 0;
}

/* A loss gathered before the close of fd: say where it happens. */
static void loss_name(struct loss *l, int fd, const char *func, void *caller)
{
	if (!l->active)
		return;
	l->fd = fd;
	l->func = func;
	l->caller = caller;
	set_path(l, fd);
}

static int wants(const struct ls_file *f)
{
	return f->pol.mode == MODE_OBSERVE || log_enabled(LOGL_INFO) ||
	       log_reporting() || trace_active();
}

void loss_init(struct loss *l)
{
	l->active = 0;
	l->n = l->more = 0;
}

void loss_tracked(struct loss *l, struct ls_holder *o, int fd,
		  const char *func, void *caller)
{
	struct ls_file *f = o->file;

	if (!wants(f))
		return;
	gather(l, f, o, o->ndesc == 1);
	loss_name(l, fd, func, caller);
}

/* table_lock held. */
void loss_untracked_locked(struct loss *l, int fd, const char *func,
			   void *caller)
{
	struct ls_file *f;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return;
	f = file_find(st.st_dev, st.st_ino);
	if (f && wants(f)) {
		fmu_lock(&f->mu);
		gather(l, f, NULL, 0);
		fmu_unlock(&f->mu);
	}
	loss_name(l, fd, func, caller);
}

void loss_untracked(struct loss *l, int fd, const char *func, void *caller)
{
	struct crit c;

	if (guard_passthrough())
		return;
	crit_enter(&c, 0);
	loss_untracked_locked(l, fd, func, caller);
	crit_leave(&c);
}

static void ranges_text(char *buf, size_t len, const struct loss *l)
{
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < l->n && off + 1 < len; i++) {
		char end[24];
		int n;

		if (l->r[i].end == LSR_OFF_MAX)
			snprintf(end, sizeof(end), "EOF");
		else
			snprintf(end, sizeof(end), "%lld",
				 (long long)l->r[i].end);
		n = snprintf(buf + off, len - off, "%sfd%d:%c:%lld-%s",
			     i ? "," : "", l->r[i].fd,
			     l->r[i].type == LSR_WRLCK ? 'W' : 'R',
			     (long long)l->r[i].start, end);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (l->more && off + 1 < len)
		snprintf(buf + off, len - off, ",+%zu more", l->more);
}

/* Appends to a line's body; cut lines end in "..." (log.c). */
struct body {
	char *buf;
	size_t len, off;
};

static void put(struct body *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put(struct body *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->off + 1 >= b->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->buf + b->off, b->len - b->off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->len - b->off) {
		b->off = b->len - 1;
		memcpy(b->buf + b->off - 3, "...", 3);
		return;
	}
	b->off += (size_t)n;
}

/* " key=" and a quoted value written in place by fn. */
static void put_value(struct body *b, const char *key, const char *val)
{
	put(b, " %s=", key);
	if (b->off + 1 < b->len) {
		log_quote(b->buf + b->off, b->len - b->off, val);
		b->off += strlen(b->buf + b->off);
	}
}

/* The event, to the log and to the trace. held: f->mu is (an unseen
 * loss): the call site (unknown there anyway) and the interpreter's
 * frames are looked up only when nothing of ours is held (log.h). */
static void write_event(const struct loss *l, const char *event, int level,
			int held)
{
	char line[LOG_LINE_MAX], ranges[1024], v[LOG_BT_MAX + 64];
	struct body b = {line, sizeof(line), 0};
	int logit = log_enabled(level), tr = trace_active();
	size_t nh = 0;

	if (!logit && !tr)
		return;
	ranges_text(ranges, sizeof(ranges), l);
	log_caller(v, sizeof(v), held ? NULL : l->caller);
	if (tr)
		trace_loss(l, event, ranges, v, !held);
	if (!logit)
		return;
	put_value(&b, "path", l->path[0] ? l->path : "?");
	put(&b, " dev=%u:%u ino=%lu", major(l->dev), minor(l->dev),
	    (unsigned long)l->ino);
	if (l->fd < 0)
		put(&b, " fd=-");
	else
		put(&b, " fd=%d", l->fd);
	put(&b, " func=%s holder-fds=", l->func ? l->func : "?");
	/* The holders' descriptors, each once. */
	for (size_t i = 0; i < l->n; i++) {
		size_t j;

		for (j = 0; j < i && l->r[j].fd != l->r[i].fd; j++)
			;
		if (j == i)
			put(&b, "%s%d", nh++ ? "," : "", l->r[i].fd);
	}
	if (!nh)
		put(&b, "-");
	put(&b, " lost=%s caller=%s", ranges, v);
	if (!held && log_py_stack(v, sizeof(v), 1) > 0)
		put(&b, " py-caller=%s", v);
	if (!held && log_backtrace_enabled()) {
		if (log_backtrace(v, sizeof(v)) > 0)
			put(&b, " backtrace=%s", v);
		if (log_py_stack(v, sizeof(v), 8) > 0)
			put(&b, " py-backtrace=%s", v);
	}
	log_text(level, event, line + (line[0] == ' '));
}

/* After the real close: in observe mode the kernel dropped every range
 * of the file, so the table does too; then the event. */
void loss_finish(struct loss *l, int closed)
{
	int saved = errno;

	if (!l->active)
		return;
	if (!closed) {
		errno = saved;
		return; /* the close failed: nothing was dropped */
	}
	if (l->observe) {
		struct ls_file *f;
		struct crit c;

		crit_enter(&c, 0);
		f = file_find(l->dev, l->ino);
		if (f) {
			fmu_lock(&f->mu);
			if (lst_prepare_unlock(&f->t, files_pool()) == 0)
				file_unlock(f, 0, LSR_OFF_MAX);
			fmu_unlock(&f->mu);
		}
		crit_leave(&c);
		log_count(LOGC_OBSERVED, 1);
		write_event(l, "lock-loss", LOGL_WARNING, 0);
	} else {
		log_count(LOGC_PREVENTED, 1);
		write_event(l, "lock-loss-prevented", LOGL_INFO, 0);
	}
	errno = saved;
}

/* ---- closes nobody saw ---------------------------------------------------- */

/* Walking the kernel's set over one range of the table: the parts not
 * covered with the same type were lost. */
struct diff_ctx {
	struct loss *l;
	int type, done;
	int64_t pos, end;
};

static int diff_step(void *arg, int64_t ks, int64_t ke, int ktype)
{
	struct diff_ctx *d = arg;

	if (ktype != d->type)
		return 0;
	if (ks > d->pos)
		loss_add(d->l, -1, d->pos, ks - 1, d->type);
	if (ke >= d->end) {
		d->done = 1;
		return 1;
	}
	if (ke + 1 > d->pos)
		d->pos = ke + 1;
	return 0;
}

struct unseen_ctx {
	struct loss *l;
	const struct lsr_set *k;
};

static int kernel_step(void *arg, int64_t s, int64_t e, int type)
{
	struct unseen_ctx *c = arg;
	struct diff_ctx d = {.l = c->l, .type = type, .pos = s, .end = e};

	lsr_set_visit(c->k, s, e, diff_step, &d);
	if (!d.done && d.pos <= e)
		loss_add(c->l, -1, d.pos, e, type);
	return 0;
}

/* Adding the process's own POSIX locks to a set. */
struct own_ctx {
	struct lsr_set *k;
	pid_t self;
};

static int own_step(void *arg, const struct pf_lock *l)
{
	struct own_ctx *c = arg;
	struct lsr_pool *p = files_pool();

	if (l->kind != PF_POSIX || l->waiter || l->pid != c->self)
		return 0;
	if (lsr_pool_fill(p, LSR_APPLY_NODES) < 0)
		return -1;
	lsr_set_apply(c->k, p, l->start, l->end, l->type);
	return 0;
}

/* The POSIX locks of this process on f's file, as the kernel lists them
 * in the fdinfo of the holders' descriptors, into set k. A POSIX lock is
 * listed only in the fdinfo of the description it was taken through:
 * under backend = posix that may be a kept descriptor's (posixbe.h). */
static int fdinfo_locks(void *arg, int fd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	return pf_locks_each(path, own_step, arg) != 0;
}

static int kernel_locks(struct ls_file *f, struct lsr_set *k)
{
	struct own_ctx c = {.k = k, .self = table_owner};
	const struct ls_holder *o;

	for (o = f->ofds; o; o = o->fnext)
		if (fdinfo_locks(&c, o->fd))
			return -1;
	if (posixbe_file(f) && posixbe_each_kept(f, fdinfo_locks, &c))
		return -1;
	return 0;
}

void loss_report(struct loss *l, const struct ls_file *f, const char *event,
		 int level, const char *func, int fd)
{
	l->fd = fd;
	l->func = func;
	l->caller = NULL;
	l->active = 1;
	l->dev = f->t.key.dev;
	l->ino = f->t.key.ino;
	l->path[0] = 0;
	if (f->ofds)
		set_path(l, f->ofds->fd);
	write_event(l, event, level, 1);
}

int observe_forget_lost(struct ls_file *f, const char *event,
			const char *func, int fd)
{
	struct lsr_set k;
	struct loss l;
	struct unseen_ctx c = {.l = &l, .k = &k};

	memset(&l, 0, sizeof(l));
	lsr_set_init(&k);
	if (kernel_locks(f, &k) == 0)
		lsr_set_visit(&f->t.map, 0, LSR_OFF_MAX, kernel_step, &c);
	lsr_set_clear(&k, files_pool());
	if (!l.n)
		return 0;
	/* Name the holders that lost each piece. */
	for (size_t i = 0; i < l.n; i++) {
		const struct ls_holder *o;

		for (o = f->ofds; o; o = o->fnext) {
			const struct lsr_set *held =
				lst_holder_ranges(&f->t, o->id);

			if (held && lsr_set_type_at(held, l.r[i].start)) {
				l.r[i].fd = o->fd;
				break;
			}
		}
	}
	for (size_t i = 0; i < l.n; i++)
		if (lst_prepare_unlock(&f->t, files_pool()) == 0)
			file_unlock(f, l.r[i].start, l.r[i].end);
	log_count(LOGC_OBSERVED, 1);
	loss_report(&l, f, event, LOGL_WARNING, func, fd);
	return (int)(l.n + l.more);
}

/* f->mu held, observe mode or backend = posix: what the table holds and
 * the kernel does not was lost by a close the shim did not see. Forget
 * it, and say so. */
void observe_unseen(struct ls_file *f)
{
	if ((f->pol.mode != MODE_OBSERVE && !posixbe_file(f)) ||
	    !f->t.map.root)
		return;
	/* One F_OFD_GETLK per range says, most of the time, that nothing
	 * was lost: the walk of fdinfo only when it cannot tell. */
	if (posixbe_file(f) && posixbe_all_held(f))
		return;
	observe_forget_lost(f, "lock-loss-unseen", "unseen", -1);
}

/* At exit: the same comparison for every file under observe. */
__attribute__((destructor)) static void observe_at_exit(void)
{
	struct lst_file *lf;
	struct crit c;
	size_t i;

	if (!atomic_load(&watch_closes) || guard_passthrough())
		return;
	crit_enter(&c, 1);
	for (i = 0; (lf = lst_table_next(&files_table, &i));)
		observe_unseen((struct ls_file *)lf);
	crit_leave(&c);
}

/* ---- mode = observe: the lock requests ---------------------------------- */

/* The kernel decides, through the program's own descriptor; the table
 * follows. The request goes as the absolute range resolved before: a
 * SEEK_CUR offset shared with another process (after fork) may move
 * between that and the kernel's own reading, and the table must record
 * what the kernel locked. */
int observe_set(int fd, int cmd, const struct flock *ufl, int type,
		int64_t start, int64_t end)
{
	struct flock fl = *ufl;
	struct ls_holder *o;
	struct ls_file *f;
	struct crit c;

	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = end == LSR_OFF_MAX ? 0 : end - start + 1;
	if (real_fcntl(fd, cmd, &fl) < 0)
		return -errno;
	crit_enter(&c, 0);
	o = fdstate_holder(fd);
	if (o) {
		struct lsr_pool *p = files_pool();

		f = o->file;
		fmu_lock(&f->mu);
		if (type == LSR_UNLCK) {
			if (lst_prepare_unlock(&f->t, p) == 0)
				file_unlock(f, start, end);
		} else if (lst_prepare_lock(&f->t, p, o->id) == 0) {
			file_lock(f, o->id, start, end, type);
			log_count(LOGC_LOCKS, 1);
		}
		fmu_unlock(&f->mu);
	}
	crit_leave(&c);
	return 0;
}
