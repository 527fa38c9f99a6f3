/* idle-spinner.c: the Linux baseline's idle poller, a SCHED_IDLE thread spinning on one worker cpu until it is killed. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * What --idle-poll-us gives the Linux configurations so that they burn the
 * same idle cpu as Syrup's (kernel-shim/poller.c): the same pause loop at the
 * same SCHED_IDLE policy, so it keeps the worker cpu's vCPU out of halt (a
 * wake then skips the halted-vCPU exit) and yields to any worker at once. It
 * has no delegated wakes to make: a Linux server's futex wakes are made by
 * its dispatcher, wherever that runs. Usage: idle-spinner CPU
 */
int main(int argc, char **argv)
{
	char *end;
	long cpu = argc == 2 ? strtol(argv[1], &end, 10) : -1;
	if (argc != 2 || *end || cpu < 0 || cpu >= CPU_SETSIZE) {
		fprintf(stderr, "usage: idle-spinner CPU\n");
		return 2;
	}
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	struct sched_param sp = {0};
	if (sched_setaffinity(0, sizeof(set), &set) != 0 || sched_setscheduler(0, SCHED_IDLE, &sp) != 0) {
		fprintf(stderr, "idle-spinner: cpu %ld: %s\n", cpu, strerror(errno));
		return 1;
	}
	printf("spinning\n");
	fflush(stdout);
	for (;;)
		__builtin_ia32_pause();
}
