/*
 * shim/handoff.h: the exec hand-over text (format in exec.c), parsed
 * without looking at the process: handoff_parse() checks syntax, bounds
 * and order only; exec.c checks every claim against the kernel.
 */
#ifndef LOCKSPACE_HANDOFF_H
#define LOCKSPACE_HANDOFF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct snap_range {
	int64_t start, end;
	int type;
};

struct hf_holder {
	int accmode, nfds, *fds;
	size_t nr;
	int64_t *r; /* start, end pairs */
};

struct hf_file {
	uint64_t dev, ino;
	int anchor, rw;
	size_t nmap;
	struct snap_range *map;
	size_t nh;
	struct hf_holder *h;
};

struct parser {
	const char *p, *end;
	const char *why;
};

int handoff_tok(struct parser *ps, int64_t *v, int64_t lo, int64_t hi);
/* The word w next (a separate token), or -1. */
int handoff_word(struct parser *ps, const char *w);
/* 0 and *out (handoff_free() it) and *dups (free() it), or -1 with
 * ps->why. The text must name pid self; descriptors must be at most
 * fdmax. */
int handoff_parse(struct parser *ps, pid_t self, int64_t fdmax,
		  struct hf_file **out, size_t *nout, int **dups,
		  size_t *ndups);
void handoff_free(struct hf_file *hf, size_t n);

#endif
