/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_lockspace.c: the named-resource API of core/lockspace.c:
 * lifecycle, exclusive and shared holds, owners, busy in and out of the
 * process, autocreate, name checks, the exec handover, fork. Other
 * processes look at the kernel locks with the raw syscall (tu_probe). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lockspace.h"
#include "util.h"

static char dir[64];

static void rm_dir(const char *d)
{
	char p[PATH_MAX];
	struct dirent *e;
	DIR *dp = opendir(d);

	if (!dp)
		return;
	while ((e = readdir(dp))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
		if (unlink(p) < 0)
			rm_dir(p);
	}
	closedir(dp);
	rmdir(d);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/lockspace-ls-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	rm_dir(dir);
}

TestSuite(lockspace, .init = setup, .fini = teardown);

static const char *at(const char *name)
{
	static __thread char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

static int exists(const char *name)
{
	struct stat st;

	return stat(at(name), &st) == 0;
}

/* The lock another process sees on the whole file (F_UNLCK, F_RDLCK,
 * F_WRLCK), and which pid holds it. */
static int seen(const char *path, pid_t *pid)
{
	return tu_probe(path, 0, 0, pid);
}

static void assert_held_by_me(const char *path, int type)
{
	pid_t pid = 0;

	cr_assert_eq(seen(path, &pid), type, "%s: lock %d, expected %d", path,
		     seen(path, NULL), type);
	cr_assert_eq(pid, getpid());
}

static void assert_free(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0 && errno == ENOENT)
		return;
	cr_assert_eq(seen(path, NULL), F_UNLCK, "%s is still locked", path);
}

static int fd_count(void)
{
	DIR *dp = opendir("/proc/self/fd");
	int n = 0;

	cr_assert_not_null(dp);
	while (readdir(dp))
		n++;
	closedir(dp);
	return n;
}

static void touch(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	cr_assert_geq(fd, 0);
	close(fd);
}

/* Another process holding a lock on path, taken with the raw syscall. */
struct holder {
	pid_t pid;
	int ctl;
};

static int holder_start(struct holder *h, const char *path, int type)
{
	int ready[2], ctl[2];
	char ok = 0;

	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(ctl), 0);
	h->pid = fork();
	cr_assert_geq(h->pid, 0);
	if (h->pid == 0) {
		struct flock fl = {.l_type = (short)type, .l_whence = SEEK_SET};
		int fd = (int)syscall(SYS_openat, AT_FDCWD, path,
				      type == F_WRLCK ? O_RDWR : O_RDONLY);

		close(ready[0]);
		close(ctl[1]);
		ok = fd >= 0 && syscall(SYS_fcntl, fd, F_SETLK, &fl) == 0;
		if (write(ready[1], &ok, 1) != 1 || read(ctl[0], &ok, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(ctl[0]);
	if (read(ready[0], &ok, 1) != 1)
		ok = 0;
	close(ready[0]);
	h->ctl = ctl[1];
	return ok ? 0 : -1;
}

static void holder_stop(struct holder *h)
{
	close(h->ctl);
	waitpid(h->pid, NULL, 0);
}

/* ---- new and free --------------------------------------------------- */

Test(lockspace, new_with_directory_creates_it_0700_and_names_it)
{
	char sub[PATH_MAX], *real;
	struct lockspace *ls;
	struct stat st;

	snprintf(sub, sizeof(sub), "%s/sub", dir);
	ls = lockspace_new(sub);
	cr_assert_not_null(ls);
	cr_assert_eq(stat(sub, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0700);
	real = realpath(sub, NULL);
	cr_assert_str_eq(lockspace_dir(ls), real);
	free(real);
	lockspace_free(ls);
	ls = lockspace_new(sub); /* an existing directory is fine */
	cr_assert_not_null(ls);
	lockspace_free(ls);
}

Test(lockspace, new_without_directory_has_none)
{
	struct lockspace *ls = lockspace_new(NULL);

	cr_assert_not_null(ls);
	cr_assert_null(lockspace_dir(ls));
	lockspace_free(ls);
	lockspace_free(NULL);
}

Test(lockspace, new_refuses_empty_and_non_directory)
{
	touch(at("file"));
	errno = 0;
	cr_assert_null(lockspace_new(""));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(lockspace_new(at("file")));
	cr_assert_eq(errno, ENOTDIR);
}

/* ---- create and delete -------------------------------------------- */

Test(lockspace, create_delete_lifecycle_exists_missing)
{
	struct lockspace *ls = lockspace_new(dir);
	struct stat st;

	cr_assert_eq(lockspace_create_resource(ls, "r"), 0);
	cr_assert_eq(stat(at("r"), &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(lockspace_create_resource(ls, "r"), -EEXIST);
	cr_assert_eq(lockspace_delete_resource(ls, "r"), 0);
	cr_assert(!exists("r"));
	cr_assert_eq(lockspace_delete_resource(ls, "r"), -ENOENT);
	lockspace_free(ls);
}

Test(lockspace, delete_held_here_is_busy_and_keeps_the_lock)
{
	struct lockspace *ls = lockspace_new(dir);
	struct lockspace *other = lockspace_new(dir);

	cr_assert_eq(lockspace_create_resource(ls, "r"), 0);
	cr_assert_eq(lockspace_acquire(ls, "r", 1, 0), 0);
	cr_assert_eq(lockspace_delete_resource(ls, "r"), -EBUSY);
	/* Another lockspace must not open and close the file to find out. */
	cr_assert_eq(lockspace_delete_resource(other, "r"), -EBUSY);
	assert_held_by_me(at("r"), F_WRLCK);
	cr_assert(exists("r"));
	cr_assert_eq(lockspace_release(ls, "r", 1), 0);
	cr_assert_eq(lockspace_delete_resource(other, "r"), 0);
	lockspace_free(other);
	lockspace_free(ls);
}

Test(lockspace, delete_held_by_another_process_is_busy)
{
	struct lockspace *ls = lockspace_new(dir);
	struct holder h;

	cr_assert_eq(lockspace_create_resource(ls, "r"), 0);
	cr_assert_eq(holder_start(&h, at("r"), F_RDLCK), 0);
	cr_assert_eq(lockspace_delete_resource(ls, "r"), -EBUSY);
	cr_assert(exists("r"));
	holder_stop(&h);
	cr_assert_eq(lockspace_delete_resource(ls, "r"), 0);
	lockspace_free(ls);
}

/* ---- exclusive ------------------------------------------------------ */

Test(lockspace, exclusive_is_busy_in_process_without_touching_the_kernel)
{
	struct lockspace *ls = lockspace_new(dir);
	struct lockspace *other = lockspace_new(dir);
	int n;

	touch(at("r"));
	cr_assert_eq(lockspace_acquire(ls, "r", 1, 0), 0);
	n = fd_count();
	cr_assert_eq(lockspace_acquire(ls, "r", 2, 0), -EBUSY);
	cr_assert_eq(lockspace_acquire(ls, "r", 2, LOCKSPACE_SHARED), -EBUSY);
	cr_assert_eq(lockspace_acquire(ls, "r", 1, 0), -EBUSY);
	cr_assert_eq(lockspace_acquire(other, "r", 3, 0), -EBUSY);
	cr_assert_eq(lockspace_acquire(other, "r", 3, LOCKSPACE_SHARED),
		     -EBUSY);
	cr_assert_eq(lockspace_acquire(other, "r", 3, LOCKSPACE_AUTOCREATE),
		     -EBUSY);
	cr_assert_eq(fd_count(), n);
	/* Had any of them opened and closed the file, the lock would be
	 * gone. */
	assert_held_by_me(at("r"), F_WRLCK);
	lockspace_free(other);
	lockspace_free(ls);
}

Test(lockspace, exclusive_is_busy_when_another_process_holds_it)
{
	struct lockspace *ls = lockspace_new(dir);
	struct holder h;

	touch(at("r"));
	cr_assert_eq(holder_start(&h, at("r"), F_RDLCK), 0);
	cr_assert_eq(lockspace_acquire(ls, "r", 1, 0), -EBUSY);
	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_SHARED), 0);
	cr_assert_eq(lockspace_release(ls, "r", 1), 0);
	holder_stop(&h);
	cr_assert_eq(holder_start(&h, at("r"), F_WRLCK), 0);
	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_SHARED), -EBUSY);
	holder_stop(&h);
	cr_assert_eq(lockspace_acquire(ls, "r", 1, 0), 0);
	lockspace_free(ls);
}

Test(lockspace, exclusive_is_seen_by_others_and_released_on_free)
{
	struct lockspace *ls = lockspace_new(dir);
	struct holder h;

	touch(at("r"));
	cr_assert_eq(lockspace_acquire(ls, "r", 1, 0), 0);
	assert_held_by_me(at("r"), F_WRLCK);
	cr_assert_eq(holder_start(&h, at("r"), F_RDLCK), -1);
	holder_stop(&h);
	lockspace_free(ls);
	assert_free(at("r"));
	cr_assert(exists("r")); /* not autocreated: kept */
}

Test(lockspace, acquire_of_missing_resource_without_autocreate_is_enoent)
{
	struct lockspace *ls = lockspace_new(dir);

	cr_assert_eq(lockspace_acquire(ls, "r", 1, 0), -ENOENT);
	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_SHARED), -ENOENT);
	cr_assert(!exists("r"));
	cr_assert_eq(lockspace_acquire(ls, "r", 1, 1u << 7), -EINVAL);
	cr_assert_eq(lockspace_acquire(ls, "r", -1, 0), -EINVAL);
	lockspace_free(ls);
}

/* ---- exclusive autocreate ----------------------------------------- */

Test(lockspace, exclusive_autocreate_creates_and_deletes_on_release)
{
	struct lockspace *ls = lockspace_new(dir);
	struct stat st;

	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_AUTOCREATE), 0);
	cr_assert_eq(stat(at("r"), &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	assert_held_by_me(at("r"), F_WRLCK);
	cr_assert_eq(lockspace_release(ls, "r", 1), 0);
	cr_assert(!exists("r"));
	/* also by release_owner and by free */
	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_AUTOCREATE), 0);
	cr_assert_eq(lockspace_release_owner(ls, 1), 1);
	cr_assert(!exists("r"));
	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_AUTOCREATE), 0);
	lockspace_free(ls);
	cr_assert(!exists("r"));
}

/* One process of the race: acquire and release "race" in a loop; each
 * time it wins, the file at the path must be the one it locked. */
static int race_loop(int rounds)
{
	struct lockspace *ls = lockspace_new(dir);
	int i, won = 0;

	for (i = 0; i < rounds; i++) {
		pid_t pid = 0;
		int rc = lockspace_acquire(ls, "race", getpid(),
					   LOCKSPACE_AUTOCREATE);

		if (rc == -EBUSY)
			continue;
		if (rc)
			return -1;
		won++;
		if (i % 8 == 0 &&
		    (seen(at("race"), &pid) != F_WRLCK || pid != getpid()))
			return -2;
		if (lockspace_release(ls, "race", getpid()))
			return -3;
	}
	lockspace_free(ls);
	return won;
}

Test(lockspace, exclusive_autocreate_survives_the_delete_recreate_race)
{
	pid_t child[2];
	int i, status, won;

	for (i = 0; i < 2; i++) {
		child[i] = fork();
		cr_assert_geq(child[i], 0);
		if (child[i] == 0)
			_exit(race_loop(2000) < 0 ? 1 : 0);
	}
	won = race_loop(2000);
	cr_assert_geq(won, 0, "race_loop failed: %d", won);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(waitpid(child[i], &status, 0), child[i]);
		cr_assert(WIFEXITED(status) && !WEXITSTATUS(status));
	}
	cr_assert(!exists("race"));
}

/* ---- shared --------------------------------------------------------- */

Test(lockspace, shared_admits_several_owners_and_is_busy_for_exclusive)
{
	struct lockspace *ls = lockspace_new(dir);
	struct holder h;

	touch(at("r"));
	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_SHARED), 0);
	cr_assert_eq(lockspace_acquire(ls, "r", 2, LOCKSPACE_SHARED), 0);
	cr_assert_eq(lockspace_acquire(ls, "r", 3, LOCKSPACE_SHARED), 0);
	cr_assert_eq(lockspace_acquire(ls, "r", 2, LOCKSPACE_SHARED), -EBUSY);
	cr_assert_eq(lockspace_acquire(ls, "r", 4, 0), -EBUSY);
	assert_held_by_me(at("r"), F_RDLCK);
	cr_assert_eq(holder_start(&h, at("r"), F_RDLCK), 0);
	holder_stop(&h);
	cr_assert_eq(holder_start(&h, at("r"), F_WRLCK), -1);
	holder_stop(&h);
	lockspace_free(ls);
	assert_free(at("r"));
}

Test(lockspace, shared_is_released_only_after_the_last_owner)
{
	struct lockspace *ls = lockspace_new(dir);

	touch(at("r"));
	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_SHARED), 0);
	cr_assert_eq(lockspace_acquire(ls, "r", 2, LOCKSPACE_SHARED), 0);
	cr_assert_eq(lockspace_release(ls, "r", 1), 0);
	assert_held_by_me(at("r"), F_RDLCK);
	cr_assert_eq(lockspace_release(ls, "r", 1), -EPERM);
	cr_assert_eq(lockspace_release(ls, "r", 2), 0);
	assert_free(at("r"));
	cr_assert_eq(lockspace_release(ls, "r", 2), -ENOENT);
	lockspace_free(ls);
}

Test(lockspace, shared_autocreate_keeps_the_file)
{
	struct lockspace *ls = lockspace_new(dir);
	unsigned fl = LOCKSPACE_SHARED | LOCKSPACE_AUTOCREATE;

	cr_assert_eq(lockspace_acquire(ls, "r", 1, fl), 0);
	cr_assert(exists("r"));
	assert_held_by_me(at("r"), F_RDLCK);
	cr_assert_eq(lockspace_release(ls, "r", 1), 0);
	cr_assert(exists("r"));
	assert_free(at("r"));
	lockspace_free(ls);
}

/* ---- without a directory, owners, names ----------------------------- */

Test(lockspace, lock_by_absolute_path_without_directory)
{
	struct lockspace *ls = lockspace_new(NULL);
	struct lockspace *other = lockspace_new(NULL);
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", at("abs"));
	cr_assert_eq(lockspace_acquire(ls, path, 1, LOCKSPACE_AUTOCREATE), 0);
	assert_held_by_me(path, F_WRLCK);
	cr_assert_eq(lockspace_acquire(other, path, 2, 0), -EBUSY);
	cr_assert_eq(lockspace_acquire(ls, "abs", 1, 0), -EINVAL);
	cr_assert_eq(lockspace_acquire(ls, "", 1, 0), -EINVAL);
	cr_assert_eq(lockspace_release(ls, path, 1), 0);
	assert_free(path);
	cr_assert(!exists("abs"));
	lockspace_free(other);
	lockspace_free(ls);
}

Test(lockspace, release_owner_releases_mixed_resources)
{
	struct lockspace *ls = lockspace_new(dir);
	unsigned sh = LOCKSPACE_SHARED | LOCKSPACE_AUTOCREATE;

	cr_assert_eq(lockspace_acquire(ls, "x", 7, LOCKSPACE_AUTOCREATE), 0);
	cr_assert_eq(lockspace_acquire(ls, "both", 7, sh), 0);
	cr_assert_eq(lockspace_acquire(ls, "both", 8, sh), 0);
	cr_assert_eq(lockspace_acquire(ls, "mine", 7, sh), 0);
	cr_assert_eq(lockspace_acquire(ls, "theirs", 8, LOCKSPACE_AUTOCREATE),
		     0);
	cr_assert_eq(lockspace_release_owner(ls, 7), 3);
	assert_free(at("x"));
	cr_assert(!exists("x"));
	assert_held_by_me(at("both"), F_RDLCK);
	assert_free(at("mine"));
	assert_held_by_me(at("theirs"), F_WRLCK);
	cr_assert_eq(lockspace_release_owner(ls, 7), 0);
	cr_assert_eq(lockspace_release(ls, "both", 7), -EPERM);
	cr_assert_eq(lockspace_release_owner(ls, 8), 2);
	assert_free(at("both"));
	assert_free(at("theirs"));
	lockspace_free(ls);
}

Test(lockspace, bad_names_are_einval)
{
	struct lockspace *ls = lockspace_new(dir);
	char longname[NAME_MAX + 2];
	const char *bad[] = {"", ".", "..", "a/b", "/abs", "a/", longname,
			     NULL};
	int i;

	memset(longname, 'n', NAME_MAX + 1);
	longname[NAME_MAX + 1] = 0;
	for (i = 0; bad[i] || i == 0; i++) {
		const char *n = bad[i];

		cr_assert_eq(lockspace_create_resource(ls, n), -EINVAL, "%s", n);
		cr_assert_eq(lockspace_delete_resource(ls, n), -EINVAL, "%s", n);
		cr_assert_eq(lockspace_acquire(ls, n, 1, LOCKSPACE_AUTOCREATE),
			     -EINVAL, "%s", n);
		cr_assert_eq(lockspace_release(ls, n, 1), -EINVAL, "%s", n);
	}
	cr_assert_eq(lockspace_acquire(ls, NULL, 1, 0), -EINVAL);
	cr_assert_eq(lockspace_release(ls, NULL, 1), -EINVAL);
	/* NAME_MAX itself is a fine name */
	longname[NAME_MAX] = 0;
	cr_assert_eq(lockspace_acquire(ls, longname, 1, LOCKSPACE_AUTOCREATE),
		     0);
	lockspace_free(ls);
	ls = lockspace_new(NULL);
	cr_assert_eq(lockspace_acquire(ls, "relative", 1, 0), -EINVAL);
	cr_assert_eq(lockspace_create_resource(ls, "./x"), -EINVAL);
	lockspace_free(ls);
}

Test(lockspace, resource_that_is_not_a_regular_file_is_einval)
{
	struct lockspace *ls = lockspace_new(dir);

	cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
	cr_assert_eq(mkdir(at("d"), 0700), 0);
	cr_assert_eq(lockspace_acquire(ls, "fifo", 1, LOCKSPACE_SHARED),
		     -EINVAL);
	cr_assert_eq(lockspace_acquire(ls, "d", 1, LOCKSPACE_SHARED), -EINVAL);
	lockspace_free(ls);
}

/* ---- threads, fork, descriptors ------------------------------------- */

static int inside;

static void *thread_loop(void *arg)
{
	struct lockspace *ls = arg;
	intptr_t bad = 0;
	int i, rc;

	for (i = 0; i < 3000; i++) {
		rc = lockspace_acquire(ls, "t", 1, LOCKSPACE_AUTOCREATE);
		if (rc == -EBUSY)
			continue;
		if (rc || __atomic_add_fetch(&inside, 1, __ATOMIC_SEQ_CST) != 1)
			bad++;
		__atomic_sub_fetch(&inside, 1, __ATOMIC_SEQ_CST);
		if (lockspace_release(ls, "t", 1))
			bad++;
	}
	return (void *)bad;
}

Test(lockspace, threads_of_two_lockspaces_never_hold_together)
{
	struct lockspace *ls[3] = {lockspace_new(dir), lockspace_new(dir),
				   lockspace_new(dir)};
	pthread_t t[3];
	void *bad;
	int i;

	for (i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, thread_loop, ls[i]),
			     0);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(pthread_join(t[i], &bad), 0);
		cr_assert_null(bad);
		lockspace_free(ls[i]);
	}
	cr_assert(!exists("t"));
}

Test(lockspace, fork_child_holds_none_of_the_locks)
{
	struct lockspace *ls = lockspace_new(dir);
	pid_t child, parent = getpid();
	int status;

	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_AUTOCREATE), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		int fd = open(at("r"), O_RDWR);

		/* The kernel reports the parent's lock to the child. */
		if (fd < 0 || fcntl(fd, F_GETLK, &fl) < 0 ||
		    fl.l_type != F_WRLCK || fl.l_pid != parent)
			_exit(1);
		if (fcntl(fd, F_SETLK, &fl) == 0)
			_exit(2);
		close(fd);
		/* Freeing the inherited copy must not delete the parent's
		 * autocreated file. */
		lockspace_free(ls);
		if (!exists("r"))
			_exit(3);
		_exit(0);
	}
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0);
	assert_held_by_me(at("r"), F_WRLCK);
	lockspace_free(ls);
	cr_assert(!exists("r"));
}

Test(lockspace, no_descriptor_is_leaked)
{
	int before = fd_count();
	struct lockspace *ls = lockspace_new(dir);
	struct lockspace *other = lockspace_new(dir);

	cr_assert_eq(lockspace_create_resource(ls, "c"), 0);
	cr_assert_eq(lockspace_acquire(ls, "a", 1, LOCKSPACE_AUTOCREATE), 0);
	cr_assert_eq(lockspace_acquire(other, "a", 1, 0), -EBUSY);
	cr_assert_eq(lockspace_acquire(ls, "c", 1, LOCKSPACE_SHARED), 0);
	cr_assert_eq(lockspace_acquire(ls, "c", 2, LOCKSPACE_SHARED), 0);
	cr_assert_eq(lockspace_acquire(ls, "nope", 1, 0), -ENOENT);
	cr_assert_eq(fd_count(), before + 2);
	cr_assert_eq(lockspace_release_owner(ls, 1), 2);
	cr_assert_eq(lockspace_delete_resource(other, "c"), -EBUSY);
	lockspace_free(ls);
	cr_assert_eq(lockspace_delete_resource(other, "c"), 0);
	lockspace_free(other);
	cr_assert_eq(fd_count(), before);
}

/* ---- export and import ---------------------------------------------- */

/* The exec'd half of export_exec_import_keeps_the_locks: runs before
 * Criterion's main when the state variable is set, and exits. */
static int import_side(const char *state)
{
	const char *d = getenv("LSTEST_DIR");
	int ready = atoi(getenv("LSTEST_READY") ?: "-1");
	int wait = atoi(getenv("LSTEST_WAIT") ?: "-1");
	struct lockspace *ls;
	char path[PATH_MAX], c = 'R';
	pid_t pid = 0;

	snprintf(path, sizeof(path), "%s/x", d ? d : "");
	/* The locks survived exec on their own, before any import. */
	if (tu_probe(path, 0, 0, &pid) != F_WRLCK || pid != getpid())
		return 10;
	ls = lockspace_import(state);
	if (!ls)
		return 11;
	if (!d || !lockspace_dir(ls) || strcmp(lockspace_dir(ls), d))
		return 12;
	if (lockspace_acquire(ls, "x", 5, 0) != -EBUSY ||
	    lockspace_acquire(ls, "s", 202, LOCKSPACE_SHARED) != 0)
		return 13;
	if (write(ready, &c, 1) != 1)
		return 14;
	while (read(wait, &c, 1) > 0)
		;
	if (lockspace_release(ls, "x", 100) != 0 ||
	    lockspace_release_owner(ls, 200) != 1 ||
	    lockspace_release(ls, "s", 201) != 0)
		return 15;
	lockspace_free(ls);
	return 0;
}

__attribute__((constructor)) static void import_side_main(void)
{
	const char *state = getenv("LSTEST_STATE");

	if (state)
		_exit(import_side(state));
}

static void export_and_exec(int ready, int wait)
{
	struct lockspace *ls = lockspace_new(dir);
	unsigned sh = LOCKSPACE_SHARED | LOCKSPACE_AUTOCREATE;
	char num[16], *state;

	if (!ls || lockspace_acquire(ls, "x", 100, LOCKSPACE_AUTOCREATE) ||
	    lockspace_acquire(ls, "s", 200, sh) ||
	    lockspace_acquire(ls, "s", 201, sh))
		_exit(20);
	state = lockspace_export(ls);
	if (!state)
		_exit(21);
	setenv("LSTEST_STATE", state, 1);
	setenv("LSTEST_DIR", lockspace_dir(ls), 1);
	snprintf(num, sizeof(num), "%d", ready);
	setenv("LSTEST_READY", num, 1);
	snprintf(num, sizeof(num), "%d", wait);
	setenv("LSTEST_WAIT", num, 1);
	execl("/proc/self/exe", "lockspace-tests", (char *)NULL);
	_exit(22);
}

Test(lockspace, export_exec_import_keeps_the_locks)
{
	int ready[2], wait[2], status;
	pid_t child, pid = 0;
	char c;

	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(wait), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		close(ready[0]);
		close(wait[1]);
		export_and_exec(ready[1], wait[0]);
	}
	close(ready[1]);
	close(wait[0]);
	if (read(ready[0], &c, 1) != 1) {
		waitpid(child, &status, 0);
		cr_assert_fail("import side failed: status %d",
			       WEXITSTATUS(status));
	}
	cr_assert_eq(seen(at("x"), &pid), F_WRLCK);
	cr_assert_eq(pid, child);
	cr_assert_eq(seen(at("s"), &pid), F_RDLCK);
	cr_assert_eq(pid, child);
	close(wait[1]);
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0);
	assert_free(at("x"));
	assert_free(at("s"));
	cr_assert(!exists("x"));
	cr_assert(exists("s"));
	close(ready[0]);
}

Test(lockspace, export_clears_close_on_exec_and_round_trips_names)
{
	struct lockspace *ls = lockspace_new(dir);
	char *state, *p;
	int fd;

	cr_assert_eq(lockspace_acquire(ls, "a b%\xc3\xa9", 3,
				       LOCKSPACE_AUTOCREATE),
		     0);
	state = lockspace_export(ls);
	cr_assert_not_null(state);
	cr_assert_not_null(strstr(state, "/a%20b%25%C3%A9\n"), "%s", state);
	p = strstr(state, "fd=");
	cr_assert_not_null(p);
	fd = atoi(p + 3);
	cr_assert_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	free(state);
	lockspace_free(ls);
}

static char *state_for(int fd, const char *shared, const char *owners,
		       const char *path)
{
	char *s;

	cr_assert_geq(asprintf(&s,
			       "lockspace/1\ndir %s\nresource fd=%d shared=%s "
			       "autocreate=0 owners=%s spares= path=%s\nend\n",
			       dir, fd, shared, owners, path),
		      0);
	return s;
}

static void assert_refused(const char *state)
{
	struct lockspace *ls;

	errno = 0;
	ls = lockspace_import(state);
	cr_assert_null(ls, "imported: %s", state);
	cr_assert_eq(errno, EINVAL, "errno %d for: %s", errno, state);
}

Test(lockspace, import_adopts_a_valid_state_and_restores_close_on_exec)
{
	struct lockspace *ls;
	char *s;
	int fd;

	touch(at("r"));
	fd = open(at("r"), O_RDWR);
	cr_assert_geq(fd, 0);
	s = state_for(fd, "0", "9", at("r"));
	ls = lockspace_import(s);
	cr_assert_not_null(ls, "errno %d", errno);
	cr_assert_str_eq(lockspace_dir(ls), dir);
	assert_held_by_me(at("r"), F_WRLCK);
	cr_assert_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	cr_assert_eq(lockspace_acquire(ls, "r", 9, 0), -EBUSY);
	/* the same state again: the file is held in this process */
	assert_refused(s);
	cr_assert_eq(lockspace_release(ls, "r", 9), 0);
	assert_free(at("r"));
	cr_assert_eq(fcntl(fd, F_GETFD), -1); /* released means closed */
	lockspace_free(ls);
	free(s);
}

Test(lockspace, import_refuses_states_that_do_not_match_the_system)
{
	char *s, other[PATH_MAX];
	int fd, ro, fd2, q2;

	touch(at("r"));
	touch(at("q"));
	fd = open(at("r"), O_RDWR | O_CLOEXEC);
	ro = open(at("r"), O_RDONLY | O_CLOEXEC);
	fd2 = open(at("q"), O_RDWR | O_CLOEXEC);
	cr_assert(fd >= 0 && ro >= 0 && fd2 >= 0);
	snprintf(other, sizeof(other), "%s", at("q"));
	/* fd of another file, closed fd, read-only fd for exclusive */
	assert_refused(s = state_for(fd, "0", "1", other));
	free(s);
	assert_refused(s = state_for(999, "0", "1", at("r")));
	free(s);
	assert_refused(s = state_for(ro, "0", "1", at("r")));
	free(s);
	/* an exclusive resource with two owners, duplicated owners */
	assert_refused(s = state_for(fd, "0", "1,2", at("r")));
	free(s);
	assert_refused(s = state_for(fd, "1", "1,2,1", at("r")));
	free(s);
	/* a path outside the directory, missing file */
	assert_refused(s = state_for(fd, "0", "1", "/etc/passwd"));
	free(s);
	assert_refused(s = state_for(fd, "0", "1", at("missing")));
	free(s);
	/* duplicated names, duplicated fds, the same file twice */
	cr_assert_geq(asprintf(&s, "lockspace/1\ndir %s\n"
			       "resource fd=%d shared=1 autocreate=0 owners=1 "
			       "spares= path=%s/r\n"
			       "resource fd=%d shared=1 autocreate=0 owners=1 "
			       "spares= path=%s/r\nend\n",
			       dir, fd, dir, ro, dir), 0);
	assert_refused(s);
	free(s);
	cr_assert_geq(asprintf(&s, "lockspace/1\ndir %s\n"
			       "resource fd=%d shared=1 autocreate=0 owners=1 "
			       "spares=%d path=%s/r\nend\n",
			       dir, fd, fd, dir), 0);
	assert_refused(s);
	free(s);
	cr_assert_eq(link(other, at("r2")), 0); /* q and r2: one file */
	q2 = open(at("r2"), O_RDONLY | O_CLOEXEC);
	cr_assert_geq(q2, 0);
	cr_assert_geq(asprintf(&s, "lockspace/1\ndir %s\n"
			       "resource fd=%d shared=1 autocreate=0 owners=1 "
			       "spares= path=%s/q\n"
			       "resource fd=%d shared=1 autocreate=0 owners=1 "
			       "spares= path=%s/r2\nend\n",
			       dir, fd2, dir, q2, dir), 0);
	assert_refused(s);
	free(s);
	/* nothing was adopted, nothing closed */
	assert_free(at("r"));
	cr_assert_geq(fcntl(fd, F_GETFD), 0);
	cr_assert_geq(fcntl(ro, F_GETFD), 0);
	close(fd);
	close(ro);
	close(fd2);
	close(q2);
}

Test(lockspace, import_refuses_garbage_truncations_and_huge_numbers)
{
	static const char *const garbage[] = {
		"", "lockspace/1", "lockspace/1\n", "lockspace/2\ndir -\nend\n",
		"lockspace/1\ndir -\nend", "lockspace/1\ndir -\nend\nx",
		"lockspace/1\ndir \nend\n", "lockspace/1\ndir relative\nend\n",
		"lockspace/1\ndir /tmp/%\nend\n",
		"lockspace/1\ndir /tmp/%0\nend\n",
		"lockspace/1\ndir /tmp/%00\nend\n",
		"lockspace/1\ndir /tmp/%zz\nend\n",
		"lockspace/1\ndir /tmp\x01\nend\n",
		"lockspace/1\ndir -\nresource fd=99999999999999999999999 "
		"shared=0 autocreate=0 owners=1 spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=2147483648 shared=0 "
		"autocreate=0 owners=1 spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=-1 shared=0 autocreate=0 "
		"owners=1 spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=01 shared=0 autocreate=0 "
		"owners=1 spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=0 shared=2 autocreate=0 "
		"owners=1 spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=0 shared=0 autocreate=0 "
		"owners= spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=0 shared=0 autocreate=0 "
		"owners=4294967297 spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=0 shared=1 autocreate=0 "
		"owners=1,,2 spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=0 shared=1 autocreate=0 "
		"owners=1, spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=0 shared=0 autocreate=0 "
		"owners=1 spares= path=relative\nend\n",
		"lockspace/1\ndir -\nresource fd=0 shared=0 autocreate=0 "
		"owners=1 spares= path=\nend\n",
		NULL,
	};
	static const char flips[] = "09 \n%,-=x\x01\xff";
	struct lockspace *ls = lockspace_new(dir);
	char *state, *copy, huge[3 * PATH_MAX];
	size_t i, j, len;

	for (i = 0; garbage[i]; i++)
		assert_refused(garbage[i]);
	memset(huge, 'a', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = 0;
	memcpy(huge, "lockspace/1\ndir /", 17);
	assert_refused(huge);
	errno = 0;
	cr_assert_null(lockspace_import(NULL));
	cr_assert_eq(errno, EINVAL);

	cr_assert_eq(lockspace_acquire(ls, "x", 1, LOCKSPACE_AUTOCREATE), 0);
	cr_assert_eq(lockspace_acquire(ls, "s", 1, LOCKSPACE_SHARED |
					   LOCKSPACE_AUTOCREATE), 0);
	cr_assert_eq(lockspace_acquire(ls, "s", 2, LOCKSPACE_SHARED), 0);
	state = lockspace_export(ls);
	cr_assert_not_null(state);
	len = strlen(state);
	copy = malloc(len + 1);
	/* every truncation, and every byte changed to a few others: all
	 * refused (the whole state too: its files are held here) */
	for (i = 0; i <= len; i++) {
		memcpy(copy, state, i);
		copy[i] = 0;
		assert_refused(copy);
	}
	for (i = 0; i < len; i++) {
		for (j = 0; j < sizeof(flips) - 1; j++) {
			memcpy(copy, state, len + 1);
			copy[i] = flips[j];
			assert_refused(copy);
		}
	}
	free(copy);
	free(state);
	/* and none of it touched our locks */
	assert_held_by_me(at("x"), F_WRLCK);
	assert_held_by_me(at("s"), F_RDLCK);
	lockspace_free(ls);
}
