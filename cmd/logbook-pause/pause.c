/*
 * logbook-pause: the infra process of every pod sandbox logbook runs.
 *
 * A pod's shared namespaces (network, IPC, UTS and, when the pod asks for
 * it, PID) have to outlive any one of its containers, so each sandbox starts
 * with one process whose only job is to exist: it holds the namespaces open
 * and costs nothing while it does. logbook ships this process itself, built
 * from this file, so creating a sandbox never needs a pause image to be
 * pulled (and the pause images the conformance suite pulls are free to be
 * removed without breaking running pods).
 *
 * What it does, and why:
 *
 *   - It sleeps in pause(2). It never polls and never wakes on its own.
 *
 *   - SIGINT and SIGTERM make it exit 0. As PID 1 of a PID namespace, a
 *     process gets no signal from inside the namespace unless it installed a
 *     handler for it, so without these handlers `kill` from a sibling
 *     container would do nothing and a stop would always end in SIGKILL.
 *     Exiting 0 lets a runtime tell an orderly stop from a crash.
 *
 *   - SIGCHLD makes it reap. When the pod shares one PID namespace, pause is
 *     its init: every process orphaned in the pod (a daemon that double
 *     forked, the children of an exec'd shell) is re-parented to it, and
 *     would stay a zombie forever if nobody waited for it.
 *
 *   - `-v` prints the version and exits 0, so an operator (or a test) can
 *     tell which build a node runs without starting a pod.
 *
 * Everything a signal handler calls is async-signal-safe (write, waitpid,
 * _exit), errno is preserved across the reaper, and the binary is linked
 * statically so it runs in an empty root filesystem:
 *
 *   cc -static -Os -s -o bin/logbook-pause cmd/logbook-pause/pause.c
 *
 * Define LOGBOOK_PAUSE_VERSION (-DLOGBOOK_PAUSE_VERSION='"x.y.z"') to stamp
 * a release version.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef LOGBOOK_PAUSE_VERSION
#define LOGBOOK_PAUSE_VERSION "0.1.0"
#endif

static void say(const char *msg)
{
	size_t len = strlen(msg);

	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, msg, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		msg += n;
		len -= (size_t)n;
	}
}

static void on_stop(int sig)
{
	say(sig == SIGINT ? "logbook-pause: SIGINT, exiting\n"
			  : "logbook-pause: SIGTERM, exiting\n");
	_exit(0);
}

static void on_child(int sig)
{
	int saved = errno;

	(void)sig;
	/* One SIGCHLD may stand for many exits: reap until none is left. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

static int handle(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	/* A stop must not interrupt a reap half-way, nor the reverse. */
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaddset(&sa.sa_mask, SIGCHLD);
	return sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		printf("logbook-pause %s\n", LOGBOOK_PAUSE_VERSION);
		return 0;
	}
	if (handle(SIGINT, on_stop, 0) < 0 || handle(SIGTERM, on_stop, 0) < 0 ||
	    handle(SIGCHLD, on_child, SA_NOCLDSTOP | SA_RESTART) < 0) {
		perror("logbook-pause: sigaction");
		return 1;
	}
	/* After the handlers: once this line is out, a stop is handled. */
	if (getpid() != 1)
		say("logbook-pause: warning: not PID 1, orphans of the pod will not be reaped here\n");

	for (;;)
		pause();
}
