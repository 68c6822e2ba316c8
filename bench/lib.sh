# SPDX-License-Identifier: MIT
# What bench/run and bench/http/run share; each sources it (POSIX sh, after
# `set -eu`). It sets up:
#  - the cores: servers (the code measured) on $srv_core, load generators and
#    sinks on $load_core, each process pinned with taskset;
#  - $tmp, a directory removed on exit, and $pids, the processes this shell
#    started, each killed with its descendants on exit (and on INT/TERM);
#  - helpers to wait for a server's announced port, to stop and reap it, to
#    pick figures out of KEY=VALUE output, and to print a result line:
#      NAME weft=X PEER=Y unit=U ratio=R   (R > 1: weft is ahead)
# Helpers set globals rather than print, where a process is started, so that
# every process is started by the calling shell and the exit trap can kill it.

srv_core=1  # servers
load_core=0 # load generators, sinks

pin() {
    taskset -c "$srv_core" "$@"
}

pin_load() {
    taskset -c "$load_core" "$@"
}

tmp=$(mktemp -d)
pids=""

# tree PID: PID and its descendants (nginx's worker, strace's child...).
tree() {
    echo "$1"
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        tree "$c"
    done
}

cleanup() {
    all=""
    for p in $pids; do
        all="$all $(tree "$p")"
    done
    for p in $all; do
        kill -KILL "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "$0: $*" >&2
    exit 1
}

# await_port PID FILE: sets port to what process PID announced as
# "(127.0.0.1:PORT)" on its stderr (FILE), waiting up to 30 s (valgrind
# starts slowly).
await_port() {
    i=0
    while [ $i -lt 300 ]; do
        port=$(sed -n 's/.*(127\.0\.0\.1:\([0-9][0-9]*\)).*/\1/p' "$2" | head -n 1)
        [ -n "$port" ] && return 0
        kill -0 "$1" 2>/dev/null || {
            cat "$2" >&2
            fail "$1 exited before listening"
        }
        sleep 0.1
        i=$((i + 1))
    done
    fail "nothing listening after 30 s"
}

# forget PID: it has exited and been waited for; the exit trap leaves it be
# (its number may be reused).
forget() {
    pids=$(echo " $pids " | sed "s/ $1 / /")
}

# reap PID: up to 30 s to exit, then SIGKILL.
reap() {
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 300 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    forget "$1"
}

# stop PID: SIGTERM (nginx's fast shutdown; callgrind writes its output on
# the way out), then reap.
stop() {
    kill -TERM "$1" 2>/dev/null || true
    reap "$1"
}

# field KEY TEXT: the value of KEY=VALUE in TEXT (fails when missing).
field() {
    v=$(echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p")
    [ -n "$v" ] || fail "no $1 in '$2'"
    echo "$v"
}

# best higher|lower A B: the better of two figures (an empty A loses).
best() {
    awk -v m="$1" -v a="$2" -v b="$3" 'BEGIN {
        if (a == "") print b; else if (m == "higher") print (a > b ? a : b); else print (a < b ? a : b)
    }'
}

# line NAME PEER WEFT PEER_VALUE UNIT higher|lower [WHY]: one result line;
# the ratio is weft's speed over the peer's, inverted when lower is better.
# With no weft figure and a WHY, a comment with the peer's figure instead.
line() {
    [ -n "$4" ] || fail "$1: the $2 figure is missing"
    if [ -z "$3" ]; then
        [ $# -ge 7 ] && [ -n "$7" ] || fail "$1: the weft figure is missing"
        echo "# $1 $2=$4 unit=$5 (no weft figure: $7)"
        return
    fi
    awk -v n="$1" -v peer="$2" -v w="$3" -v p="$4" -v u="$5" -v better="$6" 'BEGIN {
        r = better == "higher" ? (p > 0 ? w / p : 0) : (w > 0 ? p / w : 0)
        printf "%s weft=%s %s=%s unit=%s ratio=%.2f\n", n, w, peer, p, u, r
    }'
}

# Wall-clock figures suffer when others share the machine: say how busy it is.
load_average() {
    echo "# load average before the $1 benchmarks: $(cut -d ' ' -f 1-3 /proc/loadavg)"
}
