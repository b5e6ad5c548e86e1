#!/usr/bin/env bash
# The channelhub benchmark, in one command.
#
#   bench/run.sh                  full run (about 24 minutes on 2 cores; stuck adds ~7, mcp ~2, mux ~1)
#   bench/run.sh quick            small sizes, short runs (about 6 minutes; stuck adds ~2, mcp ~1, mux ~0.5)
#   bench/run.sh quick fanout nats channelhub   only these scenarios / targets
#   bench/run.sh full mcp channelhub             MCP waits vs REST long-polls (issue 27)
#   bench/run.sh full mux channelhub nats        one socket, many channels (issue 28)
#   bench/run.sh full -- --subscribers 5000      extra flags for the load generator
#   bench/run.sh head full                       benchmark the last commit, not the working tree
#   bench/run.sh at=5609d60 quick publish         benchmark that commit
#
# Scenarios: fanout multinode connections publish latency catchup stuck auth mcp mux. Targets: channelhub nats sockudo
# (fanout runs against each; latency against channelhub on SQLite and on PostgreSQL, and nats).
# (multinode: the fan-out workloads against 3 channelhub nodes sharing one PostgreSQL database;
# publish: 64 clients on one channel and over 100, on one node per database and on 3 PostgreSQL nodes;
# latency: 1 000 subscribers over 10 channels at 1 000 events/s, publish-to-receive percentiles
# side by side plus channelhub's own stage timings from /metrics;
# stuck: subscribers that never read plus one reader, ~100 MB of 8 KB events, server RSS before/peak/after;
# auth: WebSocket connects per credential kind, server CPU per connect;
# mcp: 1 000 agents (500 quick) over 100 channels at 100 events/s looping MCP wait_for_events, then
# the same long-polling REST, each on a fresh SQLite node: wake-up latency, server CPU per 1 000
# wake-ups, server RSS per waiter, and MCP ÷ REST;
# mux: 1 000 sockets x 10 subscriptions over 100 channels (quick: 200 over 20) on /api/v1/ws, the
# same subscriptions as 10 000 per-channel sockets, and 1 000 NATS connections of 10 subjects, each
# on a fresh server: idle RSS per subscription, and at maximum rate frames/s and server CPU per frame.)
# Builds channelhub and the load generator in release mode under
# CARGO_TARGET_DIR (default target/bench inside the checkout, git-ignored), installs Sockudo once under
# ~/.cache/channelhub-bench/sockudo, and writes results to bench/results/.
set -euo pipefail

bench_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$bench_dir")
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target/bench}
cache=${BENCH_CACHE:-$HOME/.cache/channelhub-bench}

mode=full head=0 commit=HEAD scenarios=() targets=() extra=() notes=()
while (($#)); do
    case $1 in
        quick | full) mode=$1 ;;
        head) head=1 ;;
        at=*) head=1 commit=${1#at=} ;;
        fanout | multinode | connections | publish | latency | catchup | stuck | auth | mcp | mux) scenarios+=("$1") ;;
        channelhub | nats | sockudo) targets+=("$1") ;;
        --) shift; extra=("$@"); break ;;
        *) echo "unknown argument: $1 (see the header of $0)" >&2; exit 2 ;;
    esac
    shift
done
((${#scenarios[@]})) || scenarios=(fanout multinode connections publish latency catchup stuck auth mcp mux)
((${#targets[@]})) || targets=(channelhub nats sockudo)
join() { local IFS=,; echo "$*"; }

# As many open files as this machine allows (the server inherits it).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "open files limit: $(ulimit -n)"

echo "== building channelhub (release)"
rev=$(git -C "$repo" rev-parse --short "$commit")
build_head() {
    snapshot=$CARGO_TARGET_DIR/server-src-head
    # Re-extract only when the commit changed, so an unchanged commit is not recompiled.
    if [[ $(cat "$snapshot/.bench-rev" 2>/dev/null) != "$(git -C "$repo" rev-parse "$commit")" ]]; then
        rm -rf "$snapshot" && mkdir -p "$snapshot"
        git -C "$repo" archive "$commit" | tar -x -C "$snapshot"
        git -C "$repo" rev-parse "$commit" >"$snapshot/.bench-rev"
    fi
    # Its own target dir: both trees are the same package, and cargo would
    # take one tree's binary as up to date for the other.
    CARGO_TARGET_DIR=$CARGO_TARGET_DIR/head-build cargo build --release --manifest-path "$snapshot/Cargo.toml"
    server_bin=$CARGO_TARGET_DIR/head-build/release/channelhub
}
if ((head)); then
    build_head
    notes+=("server built from commit $rev (git archive $commit; uncommitted changes ignored)")
elif cargo build --release --manifest-path "$repo/Cargo.toml"; then
    server_bin=$CARGO_TARGET_DIR/release/channelhub
    notes+=("server built from the working tree at $rev$(git -C "$repo" diff --quiet HEAD -- src Cargo.toml || echo ' plus uncommitted changes')")
else
    # Someone is mid-edit: benchmark the last commit rather than nothing.
    echo "== the working tree does not build; benchmarking commit $rev instead"
    build_head
    notes+=("the working tree did not compile at run time; server built from commit $rev")
fi

echo "== building the load generator (release)"
cargo build --release --manifest-path "$bench_dir/Cargo.toml"
bench_bin=$CARGO_TARGET_DIR/release/channelhub-bench

sockudo_args=()
if [[ " ${targets[*]} " == *" sockudo "* && " ${scenarios[*]} " == *" fanout "* ]]; then
    sockudo_bin=$cache/sockudo/bin/sockudo
    if [[ ! -x $sockudo_bin ]] && ! command -v protoc >/dev/null && command -v apt-get >/dev/null; then
        # metrics-exporter-tcp (a sockudo dependency) runs protoc in its build script.
        echo "== installing protoc (protobuf-compiler) for the sockudo build"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null) || true
    fi
    if [[ ! -x $sockudo_bin ]] && ! command -v protoc >/dev/null; then
        notes+=("sockudo not benchmarked: its build needs protoc (apt-get install protobuf-compiler), which could not be installed")
    elif [[ ! -x $sockudo_bin ]]; then
        echo "== installing sockudo (once; log in $cache/sockudo-install.log)"
        mkdir -p "$cache"
        if ! CARGO_TARGET_DIR=$CARGO_TARGET_DIR/sockudo-build timeout 5400 \
            cargo install sockudo --locked --root "$cache/sockudo" >"$cache/sockudo-install.log" 2>&1; then
            notes+=("sockudo not benchmarked: cargo install failed: $(grep -m1 -E '^error' "$cache/sockudo-install.log" || tail -n1 "$cache/sockudo-install.log")")
        fi
    fi
    [[ -x $sockudo_bin ]] && sockudo_args=(--sockudo-bin "$sockudo_bin")
fi

args=(--server-bin "$server_bin" --results-dir "$bench_dir/results"
      --scenarios "$(join "${scenarios[@]}")" --targets "$(join "${targets[@]}")")
[[ $mode == quick ]] && args+=(--quick)
for n in "${notes[@]}"; do args+=(--note "$n"); done
echo "== running: $bench_bin ${args[*]} ${extra[*]}"
exec "$bench_bin" "${args[@]}" "${sockudo_args[@]}" "${extra[@]}"
