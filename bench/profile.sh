#!/usr/bin/env bash
# CPU profile of the channelhub server during one workload (perf record -g,
# cpu-clock at 499 Hz; no hardware counters on this VM).
#
#   bench/profile.sh publish     SQLite, 64 clients, single-event publishes
#   bench/profile.sh publish-pg  the same on PostgreSQL (one node)
#   bench/profile.sh publish-keyed  SQLite, 64 clients, single events each with an Idempotency-Key
#   bench/profile.sh fanout10k   10 000 subscribers, one channel, 100 events/s (the first workload)
#   bench/profile.sh latency     SQLite, 1 000 subscribers over 10 channels, 1 000 events/s
#   bench/profile.sh NAME report-only   only rebuild the summary from the recorded data
#
# Runs bench/run.sh (head quick, one scenario; PROFILE_AT=at=<commit> for
# another commit, PROFILE_AT=quick for the working tree) in the background,
# waits until the measured phase has begun, records the server for
# $PROFILE_SECONDS (default 5), then prints the top symbols to
# bench/results/profile-<name>.txt.
# Needs a previous `bench/run.sh` (the binaries) and `perf`.
set -euo pipefail

bench_dir=$(cd "$(dirname "$0")" && pwd)
seconds=${PROFILE_SECONDS:-5}
name=${1:?usage: $0 publish|publish-pg|publish-keyed|fanout10k|latency}
case $name in
    publish) run_args=("${PROFILE_AT:-head}" quick publish -- --publish-dbs sqlite --seconds 10)
             tag=publish-sqlite ready_fds=0 ;;
    publish-keyed) run_args=("${PROFILE_AT:-head}" quick publish -- --publish-dbs sqlite --publish-nodes 1 --publish-keyed-only --seconds 10)
                   tag=publish-sqlite ready_fds=0 ;;
    publish-pg) run_args=("${PROFILE_AT:-head}" quick publish -- --publish-dbs postgres --publish-nodes 1 --seconds 10)
                tag=publish-pg ready_fds=0 server_pattern="chbench_publish_pg_" ;;
    fanout10k) run_args=("${PROFILE_AT:-head}" quick fanout channelhub -- --subscribers 10000 --seconds 12)
               tag=fanout ready_fds=10000 ;;
    latency) run_args=("${PROFILE_AT:-head}" quick latency channelhub -- --seconds 12)
             tag=latency-sqlite ready_fds=1000 ;;
    *) echo "unknown workload $name" >&2; exit 2 ;;
esac
out=$bench_dir/results/profile-$name
log=$out.log
if [[ ${2:-} != report-only ]]; then
"$bench_dir/run.sh" "${run_args[@]}" >"$log" 2>&1 &
runner=$!
trap 'kill "$runner" 2>/dev/null || true' EXIT

pid=""
for _ in $(seq 600); do
    pid=$(pgrep -n -f -- "channelhub serve .*${server_pattern:-/$tag\.db}" || true)
    [[ -n $pid ]] && break
    sleep 0.5
done
[[ -n $pid ]] || { echo "server ($tag) did not start; see $log" >&2; exit 1; }
# Wait for the subscribers (open sockets) when there are any, then a moment
# for the publisher to start.
while (($(ls /proc/"$pid"/fd 2>/dev/null | wc -l) < ready_fds)); do sleep 0.5; done
sleep 1.5
echo "recording server $pid ($tag) for $seconds s"
perf record -e cpu-clock -F 499 -g -p "$pid" -o "$out.data" -- sleep "$seconds" 2>/dev/null
wait "$runner" || true
trap - EXIT
fi
report() {
    perf report -i "$out.data" -g none --stdio "$@" 2>/dev/null | grep -E '^ +[0-9]' \
        | sed -E 's/[[:space:]]+(-[[:space:]]+-)?[[:space:]]*$//' || true
}
{
    echo "# self time by symbol"; report --no-children --sort symbol --percent-limit 0.7
    echo "# self time by binary"; report --no-children --sort dso
    echo "# inclusive time (children), channelhub code and libraries, >= 3 %"
    report --children --sort symbol --percent-limit 3 | grep -v '\[k\]'
} >"$out.txt"
echo "profile summary: $out.txt (raw data: $out.data)"
cat "$out.txt"
