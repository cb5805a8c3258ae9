// Command eventbench measures event delivery end to end on a real
// logbookd: the time from a container's exit (the finished_at its shim
// recorded) to a GetContainerEvents subscriber receiving the STOPPED event
// that says so, while -pods pods churn and -subscribers clients follow the
// stream, and the daemon's journal throughput in the same run. make bench
// runs it (hack/bench.d/events.sh); it prints figures, never a verdict.
//
// It starts the offline test registry and a throwaway logbookd (its own
// root, state and socket; host-network pods, so no CNI is involved), then
// runs two phases of -duration each with the same churn: first with
// -subscribers reading clients, then with one more client that opens its
// stream and never reads (stalled). Each churning worker runs a pod, a
// busybox container in it that exits after -run-for (default 1s; 0 runs
// `true`, whose exit races its own start), waits for the container's exit event,
// and removes the pod, over and over. Every client has its own connection.
package main
