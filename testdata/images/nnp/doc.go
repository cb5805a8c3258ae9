// Command nnp is the setuid probe of the nonewprivs test image.
//
// The image installs it as /usr/local/bin/nnp, owned 0:0 with mode 04755, so
// running it as any user makes the kernel raise its effective uid to 0 unless
// the process runs with no_new_privs, which forbids exec from granting
// privileges. It prints its effective uid, and the conformance suite reads
// that line from the container log: "Effective uid: 0" when escalation is
// allowed, the caller's own uid when it is not. It is built statically
// (CGO_ENABLED=0) so it needs nothing from the image but itself.
package main
