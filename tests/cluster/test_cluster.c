/* tests/cluster/test_cluster.c: locks on a shared cluster filesystem, seen
 * from another "host" (issue 22; make check-cluster, tests/cluster/run.sh).
 *
 * One GlusterFS volume is mounted twice through its FUSE client: mount A
 * ($LOCKSPACE_CLUSTER_A) plays one host, mount B ($LOCKSPACE_CLUSTER_B)
 * the other. An unmodified program (tests/progs/lockprog) runs its steps
 * on a file through A, without and with the shim, and at each "ready" a
 * probe (tu_probe: a forked child, raw F_GETLK) opens the same file
 * through B: what B sees is what the cluster holds, not what A's kernel
 * remembers. A third mount C ($LOCKSPACE_CLUSTER_C, --enable-ino32) has
 * inode numbers below 2^32, to tell the exec hand-over's two failures
 * apart.
 *
 * As in tests/test_protect.c, each test proves its point both ways: a
 * close that POSIX lets drop the lock drops it without the shim and not
 * with it; a release the contract keeps happens in both runs. The tests
 * named fs_* pin down what the filesystem itself does, plain and shimmed
 * alike (README, "Network and cluster filesystems"): if one fails, the
 * README is out of date, not the shim.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define FILE_SIZE 1000

/* One file of the volume, by its path through each mount. */
struct cfile {
	char name[64];
	char a[4096], b[4096], c[4096];	/* c: "" without mount C */
};

static const char *mount_dir(char which)
{
	static const char *const var[] = { "LOCKSPACE_CLUSTER_A",
					   "LOCKSPACE_CLUSTER_B",
					   "LOCKSPACE_CLUSTER_C" };
	const char *d = getenv(var[which - 'A']);

	return d && *d ? d : NULL;
}

static void need_mounts(void)
{
	cr_assert(mount_dir('A') && mount_dir('B'),
		  "LOCKSPACE_CLUSTER_A and _B must name the two mounts of one "
		  "volume: run make check-cluster (tests/cluster/run.sh)");
}

/* A fresh file of size bytes (a directory when dir), created through A. */
static void cfile_new(struct cfile *f, off_t size, int dir)
{
	static int seq;
	int fd;

	need_mounts();
	snprintf(f->name, sizeof(f->name), "t%d-%d-%ld", (int)getpid(), seq++,
		 (long)time(NULL));
	snprintf(f->a, sizeof(f->a), "%s/%s", mount_dir('A'), f->name);
	snprintf(f->b, sizeof(f->b), "%s/%s", mount_dir('B'), f->name);
	f->c[0] = 0;
	if (mount_dir('C'))
		snprintf(f->c, sizeof(f->c), "%s/%s", mount_dir('C'), f->name);
	if (dir) {
		cr_assert(mkdir(f->a, 0700) == 0, "mkdir %s: %s", f->a,
			  strerror(errno));
		return;
	}
	fd = open(f->a, O_RDWR | O_CREAT | O_EXCL, 0600);
	cr_assert(fd >= 0, "create %s: %s", f->a, strerror(errno));
	cr_assert(ftruncate(fd, size) == 0, "ftruncate: %s", strerror(errno));
	close(fd);
}

static void cfile_del(const struct cfile *f)
{
	if (unlink(f->a) < 0)
		rmdir(f->a);
}

/* The shim's log of a run goes to a file of its own. */
struct shimlog {
	char path[64];
	char env[96];
	char text[16384];
};

static void shimlog_init(struct shimlog *l)
{
	int fd;

	snprintf(l->path, sizeof(l->path), "/tmp/lockspace-cluster-logXXXXXX");
	fd = mkstemp(l->path);
	cr_assert(fd >= 0);
	close(fd);
	snprintf(l->env, sizeof(l->env), "LOCKSPACE_PRELOAD_LOG=%s", l->path);
	l->text[0] = 0;
}

static const char *shimlog_read(struct shimlog *l)
{
	FILE *s = fopen(l->path, "r");
	size_t n = s ? fread(l->text, 1, sizeof(l->text) - 1, s) : 0;

	l->text[n] = 0;
	if (s)
		fclose(s);
	unlink(l->path);
	return l->text;
}

/* lockprog on prog_path with steps, plain then under the shim, probing
 * probe_path as ex says; each run must exit 0. The runs stay in tu_out[]
 * (tu_res, tu_expect_res read them). */
static void script_on(const char *prog_path, const char *probe_path,
		      const char *const *env, const char *const *steps,
		      const struct tu_expect *ex, int nex, tu_ready_fn fn,
		      void *arg)
{
	for (int shim = 0; shim <= 1; shim++) {
		int st = tu_script_run(shim, "lockprog", prog_path, probe_path,
				       steps, env, ex, nex, fn, arg,
				       &tu_out[shim]);

		cr_expect_eq(st, 0, "[%s] lockprog exited with %d; output:\n%s",
			     how(shim), st, tu_out[shim].buf);
	}
}

/* The program on A, the probes through B. */
static void script(const struct cfile *f, const char *const *steps,
		   const struct tu_expect *ex, int nex, tu_ready_fn fn,
		   void *arg)
{
	script_on(f->a, f->b, NULL, steps, ex, nex, fn, arg);
}

/* The text after "STEP = " in lockprog's output out, or "(no output)". */
static const char *out_res(const char *out, const char *step)
{
	static __thread char res[512];
	size_t n = strlen(step);

	for (const char *l = out; l && *l;) {
		if (!strncmp(l, step, n) && !strncmp(l + n, " = ", 3)) {
			size_t len = strcspn(l + n + 3, "\n");

			if (len >= sizeof(res))
				len = sizeof(res) - 1;
			memcpy(res, l + n + 3, len);
			res[len] = 0;
			return res;
		}
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return "(no output)";
}

/* lockprog on path (another host's program), without or with the shim, to
 * the end; its output in out. */
static void other_host(int shim, const char *path, const char *const *steps,
		       char *out, size_t len)
{
	const char *argv[32];
	int n = 0, st;

	argv[n++] = tu_prog("lockprog");
	argv[n++] = path;
	for (int i = 0; steps[i] && n < 31; i++)
		argv[n++] = steps[i];
	argv[n] = NULL;
	st = tu_run(shim, argv, NULL, out, len);
	cr_expect_eq(st, 0, "[%s] lockprog on %s exited with %d:\n%s",
		     how(shim), path, st, out);
}

/* ---- the lock loss, seen from the other host ----------------------------- */

/* DESIGN.md, "The problem": thread A locks through fd1, thread B opens fd2,
 * locks it (granted: a process never conflicts with itself) and closes
 * it. Plain POSIX drops the lock on the whole cluster; the shim keeps it. */
Test(cluster, two_thread_close_of_other_fd_keeps_lock_on_other_host,
     .timeout = 60)
{
	struct cfile f;

	cfile_new(&f, FILE_SIZE, 0);
	script(&f,
	       STEPS("t:open:a:rw", "t:lock:a:w:set:0:0", "ready",
		     "t:open:b:rw", "t:lock:b:w:set:0:0", "t:close:b",
		     "ready", "close:a", "ready"),
	       EXPECT({ 0, 0, 0, W, W }, { 1, 0, 0, U, W }, { 2, 0, 0, U, U },
		      { 3, 0, 0, U, U }), NULL, NULL);
	tu_expect_res("lock:b:w:set:0:0", "0");
	tu_expect_res("close:b", "0");
	cfile_del(&f);
}

/* fclose() of another stream of the file, inside libc: the same. */
Test(cluster, fclose_of_other_stream_keeps_lock_on_other_host, .timeout = 60)
{
	struct cfile f;
	char step[4200];

	cfile_new(&f, FILE_SIZE, 0);
	snprintf(step, sizeof(step), "fclose:%s", f.a);
	script(&f,
	       STEPS("open:a:rw", "lock:a:r:set:0:100", "lock:a:w:set:200:0",
		     "ready", step, "ready"),
	       EXPECT({ 0, 0, 100, R, R }, { 0, 200, 0, W, W },
		      { 1, 0, 100, U, R }, { 1, 200, 0, U, W },
		      { 2, 0, 0, U, U }), NULL, NULL);
	tu_expect_res(step, "0");
	cfile_del(&f);
}

/* ---- conflicts between the hosts ----------------------------------------- */

struct other_steps {
	const char *path;	/* through the other mount */
	const char *const *steps;
	const char *const *want;	/* per step */
};

/* At ready 0: the other host's program, plain and shimmed, gets exactly
 * the answers POSIX gives against the first host's locks. */
static void other_host_at_ready(int shim, int ready, struct tu_proc *p,
				void *arg)
{
	const struct other_steps *o = arg;
	char out[8192];

	(void)p;
	if (ready != 0)
		return;
	for (int oshim = 0; oshim <= 1; oshim++) {
		other_host(oshim, o->path, o->steps, out, sizeof(out));
		for (int i = 0; o->want[i]; i++)
			cr_expect_str_eq(out_res(out, o->steps[i + 1]),
					 o->want[i],
					 "host A %s, host B %s: %s = %s, "
					 "want %s\nhost B:\n%s",
					 how(shim), how(oshim), o->steps[i + 1],
					 out_res(out, o->steps[i + 1]),
					 o->want[i], out);
	}
}

Test(cluster, read_and_write_locks_conflict_across_hosts, .timeout = 60)
{
	struct cfile f;

	cfile_new(&f, FILE_SIZE, 0);
	struct other_steps o = {
		.path = f.b,
		.steps = STEPS("open:a:rw", "lock:a:r:set:0:10",
			       "lock:a:w:set:0:10", "lock:a:r:set:20:10",
			       "lock:a:w:set:25:1", "lock:a:w:set:40:10",
			       "lock:a:u:set:0:0"),
		.want = STEPS("0", "-1 EAGAIN", "-1 EAGAIN", "-1 EAGAIN", "0",
			      "0"),
	};
	script(&f,
	       STEPS("open:a:rw", "lock:a:r:set:0:10", "lock:a:w:set:20:10",
		     "ready", "lock:a:u:set:0:0", "ready"),
	       EXPECT({ 0, 0, 10, R, R }, { 0, 20, 10, W, W },
		      { 0, 40, 10, U, U }, { 1, 0, 0, U, U }),
	       other_host_at_ready, &o);
	cfile_del(&f);
}

/* F_SETLKW on the other host waits for this one's lock, and is granted
 * when it is unlocked. */
struct waiter_arg {
	const char *path;
	struct tu_proc w;
};

static void waiter_at_ready(int shim, int ready, struct tu_proc *p, void *arg)
{
	struct waiter_arg *a = arg;
	const char *argv[] = { tu_prog("lockprog"), a->path, "open:a:rw",
			       "lock:a:w:set:0:0:wait", "ready", NULL };
	int st;

	(void)p;
	if (ready == 0) {
		cr_assert(tu_proc_start(&a->w, shim, argv, NULL) == 0);
		cr_expect(tu_proc_ready(&a->w, 1000) < 0,
			  "[%s] host B's F_SETLKW did not wait:\n%s",
			  how(shim), a->w.buf);
		return;
	}
	cr_expect(tu_proc_ready(&a->w, 10000) == 0,
		  "[%s] host B's F_SETLKW not granted after the unlock:\n%s",
		  how(shim), a->w.buf);
	tu_proc_continue(&a->w);
	st = tu_proc_finish(&a->w, 10000);
	cr_expect_eq(st, 0, "[%s] host B exited with %d", how(shim), st);
	cr_expect_str_eq(out_res(a->w.buf, "lock:a:w:set:0:0:wait"), "0",
			 "[%s] host B:\n%s", how(shim), a->w.buf);
}

Test(cluster, setlkw_on_other_host_waits_until_unlock, .timeout = 60)
{
	struct cfile f;
	struct waiter_arg a;

	cfile_new(&f, FILE_SIZE, 0);
	a.path = f.b;
	script(&f,
	       STEPS("open:a:rw", "lock:a:w:set:0:0", "ready",
		     "lock:a:u:set:0:0", "ready"),
	       NO_EXPECT, waiter_at_ready, &a);
	cfile_del(&f);
}

/* ---- fork ---------------------------------------------------------------- */

/* A forked child owns none of its parent's locks: its F_SETLK conflicts
 * with them, and its unlock releases nothing, on the cluster too. */
Test(cluster, fork_child_owns_nothing, .timeout = 60)
{
	struct cfile f;

	cfile_new(&f, FILE_SIZE, 0);
	script(&f,
	       STEPS("open:a:rw", "lock:a:w:set:0:100", "forklock:a:w:0:10",
		     "forkunlock:a:0:0", "ready", "open:b:r", "close:b",
		     "ready"),
	       EXPECT({ 0, 0, 100, W, W }, { 1, 0, 100, U, W },
		      { 2, 0, 0, U, U }), NULL, NULL);
	tu_expect_res("forklock:a:w:0:10", "-1 EAGAIN");
	tu_expect_res("forkunlock:a:0:0", "0");
	cfile_del(&f);
}

/* ---- exec (issue 22, items 1 and 2) -------------------------------------- */

/* A lock through a descriptor that survives exec survives it, the new image
 * keeps it against a close of another descriptor (shim), and the close of
 * the inherited descriptor releases it (both). The new image must have
 * taken the hand-over: no "ignoring the exec hand-over" in its log. */
static void exec_handover(const char *prog_path, const char *probe_path)
{
	struct shimlog log;
	const char *env[2];
	const char *text, *why;

	shimlog_init(&log);
	env[0] = log.env;
	env[1] = NULL;
	script_on(prog_path, probe_path, env,
		  STEPS("open:a:rw", "lock:a:w:set:0:0", "ready", "reexec",
			"ready", "open:b:r", "close:b", "ready", "close:a",
			"ready"),
		  EXPECT({ 0, 0, 0, W, W }, { 1, 0, 0, W, W },
			 { 2, 0, 0, U, W }, { 3, 0, 0, U, U },
			 { 4, 0, 0, U, U }), NULL, NULL);
	text = shimlog_read(&log);
	why = strstr(text, "ignoring the exec hand-over");
	cr_expect_null(why, "[shim] the new image refused the hand-over: %.*s",
		       why ? (int)strcspn(why, "\"\n") : 0, why ? why : "");
}

/* Item 1: GlusterFS's inode numbers are >= 2^63; the hand-over must read
 * the unsigned 64-bit numbers it writes. */
Test(cluster, exec_handover_of_file_with_inode_above_2_63, .timeout = 60)
{
	struct cfile f;
	struct stat st;

	for (int i = 0; i < 16; i++) {
		cfile_new(&f, FILE_SIZE, 0);
		cr_assert(stat(f.a, &st) == 0);
		if ((uint64_t)st.st_ino > (uint64_t)INT64_MAX)
			break;
		cfile_del(&f);
	}
	cr_assert((uint64_t)st.st_ino > (uint64_t)INT64_MAX,
		  "no file of this volume has an inode number >= 2^63 "
		  "(last %ju): the test does not apply",
		  (uintmax_t)st.st_ino);
	exec_handover(f.a, f.b);
	cfile_del(&f);
}

/* Item 2: with small inode numbers (mount C, --enable-ino32) the hand-over
 * parses; FUSE has no lock: lines in /proc/self/fdinfo, and the check
 * that the anchors hold the claimed locks must hold there all the same. */
Test(cluster, exec_handover_validated_without_fdinfo_locks, .timeout = 60)
{
	struct cfile f;
	struct stat st;

	cfile_new(&f, FILE_SIZE, 0);
	if (!f.c[0]) {
		cfile_del(&f);
		cr_skip_test("no LOCKSPACE_CLUSTER_C (--enable-ino32 mount)");
	}
	cr_assert(stat(f.c, &st) == 0, "stat %s: %s", f.c, strerror(errno));
	cr_assert((uint64_t)st.st_ino <= UINT32_MAX,
		  "mount C has inode %ju: not an --enable-ino32 mount",
		  (uintmax_t)st.st_ino);
	exec_handover(f.c, f.b);
	cfile_del(&f);
}

/* ---- locks taken past the shim (issue 22, item 3) ------------------------ */

/* The lckpwdf() case: glibc's internal fcntl (here the raw syscall) takes a
 * POSIX lock the shim never sees; then the program locks the file through
 * fcntl. The shim must fall back to POSIX locks for the file (it cannot
 * tell by F_OFD_GETLK's l_pid on FUSE, which is -1), so the raw lock stays
 * held while the program locks another range, and fcntl over the same
 * range is granted at once, not refused or waited on (a hang: watchdog and
 * ready timeout). */
Test(cluster, posix_lock_taken_past_the_shim_is_kept, .timeout = 60)
{
	struct cfile f;
	struct shimlog log;
	const char *env[2];
	const char *text;

	cfile_new(&f, FILE_SIZE, 0);
	shimlog_init(&log);
	env[0] = log.env;
	env[1] = NULL;
	script_on(f.a, f.b, env,
		  STEPS("watchdog:15000", "open:a:rw", "rawlock:a:w:set:0:10",
			"ready", "lock:a:w:set:100:10", "ready",
			"lock:a:w:set:0:10", "lock:a:w:set:0:10:wait",
			"lock:a:r:set:0:10:wait", "lock:a:w:set:0:10", "ready"),
		  EXPECT({ 0, 0, 10, W, W }, { 1, 0, 10, W, W },
			 { 1, 100, 10, W, W }, { 2, 0, 10, W, W },
			 { 2, 100, 10, W, W }, { 3, 0, 0, U, U }), NULL, NULL);
	text = shimlog_read(&log);
	tu_expect_res("lock:a:w:set:100:10", "0");
	tu_expect_res("lock:a:w:set:0:10", "0");
	tu_expect_res("lock:a:w:set:0:10:wait", "0");
	tu_expect_res("lock:a:r:set:0:10:wait", "0");
	cr_expect(strstr(text, "taken past the shim"),
		  "[shim] no fallback to POSIX locks for the file; log:\n%s",
		  text);
	cfile_del(&f);
}

/* ---- F_GETLK across hosts ------------------------------------------------ */

/* On this loopback cluster the other host's F_GETLK names the holder's pid,
 * plain or shimmed on either side (the brick reports the pid the client
 * sent; between real hosts it is a pid of another machine). */
static void getlk_at_ready(int shim, int ready, struct tu_proc *p, void *arg)
{
	const struct cfile *f = arg;
	const char *holder = tu_proc_result(p, "pid");
	char want[128], out[8192];
	pid_t pid = 0;
	int t;

	(void)ready;
	cr_assert(holder, "no pid line:\n%s", p->buf);
	t = tu_probe(f->b, 0, 0, &pid);
	cr_expect(t == W && pid == atoi(holder),
		  "[%s] raw F_GETLK from host B: type %d pid %d, want a write "
		  "lock of pid %s", how(shim), t, (int)pid, holder);
	snprintf(want, sizeof(want), "0 type=w start=0 len=10 pid=%s", holder);
	for (int oshim = 0; oshim <= 1; oshim++) {
		other_host(oshim, f->b, STEPS("open:a:r", "getlk:a:w:set:0:0"),
			   out, sizeof(out));
		cr_expect_str_eq(out_res(out, "getlk:a:w:set:0:0"), want,
				 "host A %s, host B %s: F_GETLK %s, want %s",
				 how(shim), how(oshim),
				 out_res(out, "getlk:a:w:set:0:0"), want);
	}
}

Test(cluster, getlk_from_other_host_names_the_pid, .timeout = 60)
{
	struct cfile f;

	cfile_new(&f, FILE_SIZE, 0);
	script(&f, STEPS("pid", "open:a:rw", "lock:a:w:set:0:10", "ready"),
	       NO_EXPECT, getlk_at_ready, &f);
	cfile_del(&f);
}

/* ---- what the filesystem itself does (README), plain and shimmed --------- */

/* FUSE leaves locks on a directory to the kernel of each mount: another
 * mount (host) does not see them; the same mount does. */
static void dir_seen_on_same_mount(int shim, int ready, struct tu_proc *p,
				   void *arg)
{
	const struct cfile *f = arg;
	int t = tu_probe(f->a, 0, 0, NULL);

	(void)ready;
	(void)p;
	cr_expect_eq(t, R, "[%s] the same mount sees %d, want a read lock",
		     how(shim), t);
}

Test(cluster, fs_directory_locks_are_local_to_a_mount, .timeout = 60)
{
	struct cfile f;

	cfile_new(&f, 0, 1);
	script(&f, STEPS("open:a:r", "lock:a:r:set:0:0", "ready"),
	       EXPECT({ 0, 0, 0, U, U }), dir_seen_on_same_mount, &f);
	cfile_del(&f);
}

/* A lock-order cycle across the two hosts gets no EDEADLK (GlusterFS does
 * not look for cycles, and F_SETLKW through FUSE is not even interrupted
 * by a signal): both wait until one of them dies, then the other is
 * granted. The same under the shim (its deadlock check reads the holders
 * from /proc, which FUSE does not fill). */
Test(cluster, fs_lock_order_cycle_across_hosts_waits_without_edeadlk,
     .timeout = 60)
{
	struct cfile f;

	cfile_new(&f, FILE_SIZE, 0);
	for (int shim = 0; shim <= 1; shim++) {
		const char *a[] = { tu_prog("lockprog"), f.a, "open:a:rw",
				    "lock:a:w:set:0:1", "ready",
				    "lock:a:w:set:1:1:wait", "ready", NULL };
		const char *b[] = { tu_prog("lockprog"), f.b, "open:a:rw",
				    "lock:a:w:set:1:1", "ready",
				    "lock:a:w:set:0:1:wait", "ready", NULL };
		struct tu_proc pa, pb;
		int st;

		cr_assert(tu_proc_start(&pa, shim, a, NULL) == 0);
		cr_assert(tu_proc_ready(&pa, 10000) == 0, "%s", pa.buf);
		cr_assert(tu_proc_start(&pb, shim, b, NULL) == 0);
		cr_assert(tu_proc_ready(&pb, 10000) == 0, "%s", pb.buf);
		tu_proc_continue(&pa);
		usleep(300 * 1000);
		tu_proc_continue(&pb);
		cr_expect(tu_proc_ready(&pb, 2000) < 0 &&
			  tu_proc_ready(&pa, 10) < 0,
			  "[%s] the cycle did not wait:\nA:\n%s\nB:\n%s",
			  how(shim), pa.buf, pb.buf);
		st = tu_proc_finish(&pb, 0);	/* SIGKILL */
		cr_expect(tu_proc_ready(&pa, 10000) == 0,
			  "[%s] A not granted after B died:\n%s", how(shim),
			  pa.buf);
		cr_expect_str_eq(out_res(pa.buf, "lock:a:w:set:1:1:wait"), "0",
				 "[%s] A:\n%s", how(shim), pa.buf);
		cr_expect_str_eq(out_res(pb.buf, "lock:a:w:set:0:1:wait"),
				 "(no output)", "[%s] B (status %d):\n%s",
				 how(shim), st, pb.buf);
		tu_proc_continue(&pa);
		st = tu_proc_finish(&pa, 10000);
		cr_expect_eq(st, 0, "[%s] A exited with %d", how(shim), st);
	}
	cfile_del(&f);
}
