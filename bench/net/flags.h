/* flags.h: the `--name value...` command-line parsing the benchmark's server and load generator share. */
#ifndef FLAGS_H
#define FLAGS_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* How a value is read into its destination; FLAG_MS reads milliseconds into a ns count. */
enum flag_kind { FLAG_INT, FLAG_U64, FLAG_MS, FLAG_DOUBLE, FLAG_STR };

/* A flag takes one value per non-NULL dst, all of the same kind. */
struct flag {
	const char *name;
	enum flag_kind kind;
	void *dst[2];
};

static inline void flag_store(enum flag_kind kind, void *dst, char *v)
{
	switch (kind) {
	case FLAG_INT: *(int *)dst = atoi(v); break;
	case FLAG_U64: *(uint64_t *)dst = strtoull(v, NULL, 10); break;
	case FLAG_MS: *(uint64_t *)dst = strtoull(v, NULL, 10) * 1000000ull; break;
	case FLAG_DOUBLE: *(double *)dst = atof(v); break;
	case FLAG_STR: *(const char **)dst = v; break;
	}
}

/* 0 when an argument is no flag of `flags` or lacks a value, so the caller can print its usage. */
static inline int parse_flags(int argc, char **argv, const struct flag *flags, int n)
{
	for (int i = 1; i < argc; i++) {
		const struct flag *f = NULL;
		for (int k = 0; k < n && !f; k++)
			if (!strcmp(argv[i], flags[k].name))
				f = &flags[k];
		int values = f ? 1 + (f->dst[1] != NULL) : 0;
		if (!f || i + values >= argc)
			return 0;
		for (int v = 0; v < values; v++)
			flag_store(f->kind, f->dst[v], argv[++i]);
	}
	return 1;
}

#endif
