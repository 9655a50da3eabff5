#!/usr/bin/env bash
# A real single-node Slurm for the batch tests: munged, slurmctld and slurmd as root.
#
#   .ci/slurm.sh install   apt-get install slurm-wlm munge where missing
#   .ci/slurm.sh start     start the daemons (idempotent); prints "SLURM_CONF=<path>"
#   .ci/slurm.sh stop      stop the daemons this script started
#   .ci/slurm.sh status    exit 0 when sbatch/squeue can reach the controller
#
# Everything lives in $GS_SLURM_DIR (default /tmp/gs-slurm): its own slurm.conf, state, logs
# and pid files, so the machine's /etc/slurm is left alone. Clients find the cluster through
# SLURM_CONF=$GS_SLURM_DIR/slurm.conf. The node has as many CPUs as the machine.
set -euo pipefail

DIR="${GS_SLURM_DIR:-/tmp/gs-slurm}"
CONF="$DIR/slurm.conf"
export SLURM_CONF="$CONF"

need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "slurm.sh: needs root (munged, slurmctld and slurmd run as root here)" >&2
        exit 3
    fi
}

install() {
    need_root
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
        && command -v sbatch >/dev/null; then
        return 0
    fi
    command -v apt-get >/dev/null || { echo "slurm.sh: no apt-get to install slurm-wlm and munge" >&2; exit 3; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

write_conf() {
    local host cpus mem_mb
    host="$(hostname -s)"
    cpus="$(nproc)"
    mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
    mkdir -p "$DIR/state" "$DIR/spool"
    cat > "$CONF.tmp" <<EOF
ClusterName=gs-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MinJobAge=30
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
}

is_running() {  # kill -0 also succeeds on a zombie that nobody reaped, so read the state
    local st
    st="$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" || true
    [ -n "$st" ] && [ "$st" != Z ]
}

alive() { [ -f "$1" ] && is_running "$(cat "$1")"; }

start_munge() {
    # a working daemon answers (a zombie left by a stopped one would fool pgrep)
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return 0; fi
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    if command -v runuser >/dev/null; then
        runuser -u munge -- /usr/sbin/munged
    else
        su -s /bin/sh munge -c /usr/sbin/munged
    fi
    touch "$DIR/munged.ours"
    for _ in $(seq 1 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0; sleep 0.25; done
    echo "slurm.sh: munged did not start; see /var/log/munge/munged.log" >&2
    return 1
}

wait_ready() {
    local i
    for i in $(seq 1 60); do
        if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then return 0; fi
        sleep 0.5
    done
    echo "slurm.sh: the node did not come up; see $DIR/slurmctld.log and $DIR/slurmd.log" >&2
    sinfo >&2 || true
    return 1
}

start() {
    need_root
    install
    mkdir -p "$DIR"
    alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid" || write_conf
    start_munge
    alive "$DIR/slurmctld.pid" || /usr/sbin/slurmctld -f "$CONF"
    alive "$DIR/slurmd.pid" || /usr/sbin/slurmd -f "$CONF"
    wait_ready
    echo "SLURM_CONF=$CONF"
}

ours() {
    # the daemons started with this script's slurm.conf (pid files, and any a lost pid file hid)
    { cat "$DIR/slurmd.pid" "$DIR/slurmctld.pid" 2>/dev/null || true
      pgrep -x -f "/usr/sbin/slurm(ctld|d) -f $CONF" || true; } | sort -u
}

running_of() { local p; for p in "$@"; do if is_running "$p"; then echo "$p"; fi; done; }

stop() {
    local pids
    pids="$(running_of $(ours))"
    if [ -n "$pids" ]; then
        kill $pids 2>/dev/null || true
        for _ in $(seq 1 40); do
            pids="$(running_of $pids)"
            if [ -z "$pids" ]; then break; fi
            sleep 0.25
        done
        if [ -n "$pids" ]; then kill -9 $pids 2>/dev/null || true; fi
    fi
    rm -f "$DIR/slurmd.pid" "$DIR/slurmctld.pid"
    if [ -f "$DIR/munged.ours" ] && [ -f /run/munge/munged.pid ]; then
        kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
        rm -f "$DIR/munged.ours"
    fi
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    status) alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid" && sinfo -h >/dev/null ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
