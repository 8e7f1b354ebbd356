/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/progs/contract.c: an unmodified program that checks the contract
 * of DESIGN.md against the kernel, in one process: random opens, dups,
 * closes, locks and unlocks on two files, with a model of what the
 * process must hold (a lock lives until unlocked, or until the last
 * descriptor of its open file description is closed); after each step
 * the anchors' locks (the shim's descriptors, numbers >= MAXFD, in
 * /proc/self/fdinfo) must be exactly the model's. Run under the shim.
 * Usage: contract SEED; prints "seed N ok" and exits 0, or the first
 * difference and exits 1. CONTRACT_VERBOSE=1 prints the steps (not V: make
 * exports its command line, and make check V=1 would print them all).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/syscall.h>
#define NB 64
#define NF 2
#define MAXFD 64
static int ofd_of[MAXFD], acc_of[MAXFD], file_of[MAXFD]; /* -1 closed */
static int type_[NF][NB];
static unsigned long long hold[NF][NB];
static int next_ofd = 1;
static ino_t inos[NF];
static void kernel(int f, int *kt)
{
	memset(kt, 0, sizeof(int) * NB);
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		if (fd < MAXFD) /* the band starts lower under ulimit -n 1024 */
			continue;
		char p[64], line[256];
		snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
		FILE *fi = fopen(p, "r");
		if (!fi)
			continue;
		while (fgets(line, sizeof line, fi)) {
			char kind[16], adv[16], t[16], end[32];
			unsigned maj, min;
			unsigned long ino;
			long long s;
			int pid;
			if (strncmp(line, "lock:", 5) ||
			    sscanf(line + 5,
				   "%*d: %15s %15s %15s %d %x:%x:%lu %lld %31s",
				   kind, adv, t, &pid, &maj, &min, &ino, &s,
				   end) != 9)
				continue;
			if (ino != inos[f])
				continue;
			long long e = strcmp(end, "EOF") ? atoll(end) : NB - 1;
			for (long long b = s; b <= e && b < NB; b++)
				kt[b] = strcmp(t, "WRITE") ? 1 : 2;
		}
		fclose(fi);
	}
	closedir(d);
}
int main(int argc, char **argv)
{
	unsigned seed = argc > 1 ? atoi(argv[1]) : 1;
	srand(seed);
	char path[NF][64];
	for (int f = 0; f < NF; f++) {
		snprintf(path[f], 64, "/tmp/lockspace-contract-%d-%d", getpid(),
			 f);
		close(open(path[f], O_RDWR | O_CREAT, 0644));
		struct stat st;
		stat(path[f], &st);
		inos[f] = st.st_ino;
	}
	for (int i = 0; i < MAXFD; i++)
		ofd_of[i] = -1;
	for (int step = 0; step < 5000; step++) {
		int op = rand() % 10, fd = rand() % 12 + 3;
		char what[128] = "";
		if (op < 2) { /* open */
			int f = rand() % NF,
			    acc = rand() % 2 ? O_RDWR : O_RDONLY;
			int n = open(path[f], acc);
			if (n >= MAXFD) {
				close(n);
				continue;
			}
			{
				int slot;
				for (slot = 1; slot < 64; slot++) {
					int used = 0;
					for (int i = 0; i < MAXFD; i++)
						if (ofd_of[i] == slot)
							used = 1;
					for (int ff = 0; ff < NF && !used; ff++)
						for (int b = 0; b < NB; b++)
							if (hold[ff][b] &
							    (1ULL << slot))
								used = 1;
					if (!used)
						break;
				}
				if (slot == 64) {
					close(n);
					continue;
				}
				ofd_of[n] = slot;
				(void)next_ofd;
			}
			acc_of[n] = acc;
			file_of[n] = f;
			snprintf(what, sizeof what, "open f%d -> %d", f, n);
		} else if (op < 3) {
			if (ofd_of[fd] < 0)
				continue;
			int n = dup(fd);
			if (n >= MAXFD) {
				close(n);
				continue;
			}
			ofd_of[n] = ofd_of[fd];
			acc_of[n] = acc_of[fd];
			file_of[n] = file_of[fd];
			snprintf(what, sizeof what, "dup %d -> %d", fd, n);
		} else if (op < 5) {
			if (ofd_of[fd] < 0)
				continue;
			int o = ofd_of[fd], f = file_of[fd], last = 1;
			close(fd);
			ofd_of[fd] = -1;
			for (int i = 0; i < MAXFD; i++)
				if (ofd_of[i] == o)
					last = 0;
			if (last)
				for (int b = 0; b < NB; b++) {
					hold[f][b] &= ~(1ULL << (o % 64));
					if (!hold[f][b])
						type_[f][b] = 0;
				}
			snprintf(what, sizeof what, "close %d (last %d)", fd,
				 last);
		} else {
			if (ofd_of[fd] < 0)
				continue;
			int f = file_of[fd], s = rand() % NB,
			    len = rand() % 10 + 1,
			    t = op < 8 ? (rand() % 2 ? F_RDLCK : F_WRLCK)
				       : F_UNLCK;
			if (t == F_WRLCK && acc_of[fd] == O_RDONLY)
				t = F_RDLCK;
			struct flock fl = {
			    .l_type = t, .l_start = s, .l_len = len};
			int r = fcntl(fd, F_SETLK, &fl);
			if (r) {
				printf(
				    "seed %u step %d: lock fd %d failed %s\n",
				    seed, step, fd, strerror(errno));
				return 1;
			}
			for (int b = s; b < s + len && b < NB; b++) {
				if (t == F_UNLCK) {
					type_[f][b] = 0;
					hold[f][b] = 0;
				} else {
					type_[f][b] = t == F_WRLCK ? 2 : 1;
					hold[f][b] |= 1ULL << (ofd_of[fd] % 64);
				}
			}
			snprintf(what, sizeof what, "%s fd %d f%d %d-%d",
				 t == F_UNLCK	? "unlock"
				 : t == F_WRLCK ? "W"
						: "R",
				 fd, f, s, s + len - 1);
		}
		if (getenv("CONTRACT_VERBOSE"))
			printf("%d: %s\n", step, what);
		for (int f = 0; f < NF; f++) {
			int kt[NB];
			kernel(f, kt);
			for (int b = 0; b < NB; b++)
				if (kt[b] != type_[f][b]) {
					printf(
					    "seed %u step %d after [%s]: f%d "
					    "byte %d kernel %d model %d\n",
					    seed, step, what, f, b, kt[b],
					    type_[f][b]);
					for (int i = 3; i < MAXFD; i++) {
						if (fcntl(i, F_GETFD) < 0 &&
						    ofd_of[i] < 0)
							continue;
						printf(" fd %d model ofd %d "
						       "file %d | kcmp-equal:",
						       i, ofd_of[i],
						       file_of[i]);
						for (int j = 3; j < MAXFD;
						     j++) {
							if (j != i &&
							    syscall(SYS_kcmp,
								    getpid(),
								    getpid(), 0,
								    i, j) == 0)
								printf(" %d",
								       j);
						}
						printf("\n");
					}
					return 1;
				}
		}
	}
	for (int f = 0; f < NF; f++)
		unlink(path[f]);
	printf("seed %u ok\n", seed);
	return 0;
}
