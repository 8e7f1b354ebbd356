/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/handoff.h: the exec hand-over, one type written and read here.
 *
 * The old image describes the locks it keeps across exec in a struct
 * handoff and writes it as text (handoff_emit) into the environment
 * variable LOCKSPACE_PRELOAD_HANDOFF (or a sealed memfd it names); the
 * new image parses the text back into the same type (handoff_parse),
 * checks every claim against the kernel (adopt.c), then takes it in.
 * Format, version 1, tokens separated by single spaces:
 *
 *   LSH1 <pid> <nfiles> { F <dev> <ino> <anchor> <rw> <nmap>
 *       { <start> <end> <type> } <nholders>
 *       { H <accmode> <nfds> { <fd> } <nranges> { <start> <end> } } }
 *       [ D <ndups> { <fd> } ]
 *       [ P <npfiles> { Q <dev> <ino> <nmap> { <start> <end> <type> }
 *         <nholders> { H ... } <nkept> { <fd> } } ]
 *
 * P: the files under backend = posix (posixbe.h), which have no anchor:
 * the kernel holds their map as the process's POSIX locks, and kept are
 * the descriptors the shim keeps open across exec, whose close would
 * drop those locks.
 *
 * dev and ino are unsigned 64-bit (a FUSE filesystem's inode numbers
 * reach past 2^63), types 1 (read) and 2 (write), offsets inclusive and
 * sorted. The parser is a pull parser (hp_*), one function per element
 * of the grammar, so that the path that has no memory to build the
 * struct (adopt.c) reads the same grammar with the same checks. Pure:
 * no descriptor, no process state; the fuzzer compiles it on its own.
 */
#ifndef LOCKSPACE_SHIM_HANDOFF_H
#define LOCKSPACE_SHIM_HANDOFF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HANDOFF_MAGIC "LSH1"

struct hf_range {
	int64_t start, end;
	int type; /* LSR_RDLCK, LSR_WRLCK */
};

struct hf_span {
	int64_t start, end;
};

/* One holder kept across exec: its descriptors and what it holds. */
struct hf_holder {
	int accmode;
	size_t nfds;
	int *fds;
	size_t nr;
	struct hf_span *r;
};

/* One file: its anchor (kept open across exec), the anchor's ranges
 * (the map) and the holders that stay. */
struct hf_file {
	uint64_t dev, ino;
	int anchor, rw;
	size_t nmap;
	struct hf_range *map;
	size_t nh;
	struct hf_holder *h;
};

/* One file under backend = posix: its map (the process's POSIX locks),
 * the holders that stay, the descriptors kept for it. */
struct hf_pfile {
	uint64_t dev, ino;
	size_t nmap;
	struct hf_range *map;
	size_t nh;
	struct hf_holder *h;
	size_t nk;
	int *kept;
};

struct handoff {
	pid_t pid;
	size_t nf;
	struct hf_file *f;
	size_t nd;
	int *dups; /* descriptors known as dups of a description that
		    * holds nothing (FD_DUP) */
	size_t np;
	struct hf_pfile *p;
};

/* The text of h: malloc'ed, NUL-terminated, *len bytes; NULL when there
 * is no memory. */
char *handoff_emit(const struct handoff *h, size_t *len);
/* Parse len bytes of text (need not be NUL-terminated) naming pid self,
 * with descriptors at most fdmax, into *out (handoff_free() it): 0, or
 * -1 with *why (HANDOFF_NOMEM when only memory was missing). */
int handoff_parse(const char *text, size_t len, pid_t self, int64_t fdmax,
		  struct handoff *out, const char **why);
void handoff_free(struct handoff *h);

/* For the old image building a hand-over: v appended to the array *a of
 * *n (capacity *cap, grown by doubling): 0, or -ENOMEM. */
int hf_push_int(int **a, size_t *n, size_t *cap, int v);
/* An lsr_set_visit() step that fills map (types kept) or, when map is
 * NULL, spans, from n on. */
struct hf_fill {
	struct hf_range *map;
	struct hf_span *spans;
	size_t n;
};
int hf_fill_step(void *arg, int64_t s, int64_t e, int type);
extern const char HANDOFF_NOMEM[];

/* ---- the pull parser ------------------------------------------------------ */
struct hp {
	const char *p, *end;
	int64_t fdmax;
	const char *why; /* the first error */
};

void hp_init(struct hp *ps, const char *text, size_t len, int64_t fdmax);
/* Each returns 0, or -1 with ps->why. Counts are checked against the
 * bytes left, so that no count can ask for more than the text holds. */
int hp_header(struct hp *ps, pid_t self, size_t *nfiles);
/* "F dev ino anchor rw nmap": f's fields but map and h. */
int hp_file(struct hp *ps, struct hf_file *f);
/* One range of the map; prev is the one before it (NULL: the first). */
int hp_range(struct hp *ps, const struct hf_range *prev, struct hf_range *r);
int hp_count(struct hp *ps, size_t *n, int per);
/* "H accmode nfds" */
int hp_holder(struct hp *ps, int *accmode, size_t *nfds);
int hp_fd(struct hp *ps, int *fd);
int hp_span(struct hp *ps, struct hf_span *s);
/* " D ndups", optional: *nd 0 when the text ends here. */
int hp_dups(struct hp *ps, size_t *nd);
/* " P npfiles", optional likewise. */
int hp_posix(struct hp *ps, size_t *np);
/* "Q dev ino nmap": f's fields but map, h and kept. */
int hp_pfile(struct hp *ps, struct hf_pfile *f);
/* Nothing may follow. */
int hp_end(struct hp *ps);

#endif
