#!/usr/bin/env bash
# CI stage: a real single-node SLURM cluster from Debian's packages, and the tiny config through
# `snakemake --executor slurm` on it (profiles/slurm + tests/slurm/profile), checked by tests/slurm.
#
# Needs: root on Debian 12 without systemd, .venv set up (./setup.sh; requirements.txt pins the plugin).
# Starts munged, slurmctld and slurmd itself, in the foreground of background jobs, and stops them by
# PID on every exit, failed or not. /etc/slurm/slurm.conf and gres.conf become symlinks into a
# temporary directory for the run (jobs need the config there) and are put back afterwards.
# Exits non-zero on any failure, and on any skipped test. Env: SLURM_STAGE_TIMEOUT (s, default 1200).
# shellcheck source=.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TIMEOUT=${SLURM_STAGE_TIMEOUT:-1200}
PACKAGES=(slurmctld slurmd slurm-client munge)

[ "$(id -u)" = 0 ] || die "needs root (it installs packages and runs the SLURM daemons)"
.venv/bin/python -c 'import snakemake_executor_plugin_slurm' 2>/dev/null ||
    die "snakemake-executor-plugin-slurm is not installed in .venv: it belongs in requirements.txt (./setup.sh)"

STAGE=$(mktemp -d /tmp/tale-of-two-slurm.XXXXXX)
PIDS=()        # daemons we started, in start order
NAMES=()
ETC_MOVED=()   # /etc/slurm files we moved aside, to put back
ETC_LINKED=()  # /etc/slurm symlinks we made, to remove
POLICY_RC_CREATED=0
STATUS=1

stop_pid() { # name pid [seconds]: TERM, wait (default 15 s), then KILL
    local name=$1 pid=$2 tenths=$((${3:-15} * 10)) waited=0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && [ $waited -lt "$tenths" ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$name (pid $pid) still running after SIGTERM: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    say "stopped $name (pid $pid)"
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [ -n "${TESTS_PID:-}" ]; then
        # Interrupted while the tests ran: `timeout` passes SIGTERM on to pytest and the Snakemake
        # runs under it (one process group), and SIGKILLs them 30 s later.
        stop_pid "the tests (timeout)" "$TESTS_PID" 45
    fi
    if [ ${#PIDS[@]} -gt 0 ] && [ -n "${SLURMCTLD_PID:-}" ] && kill -0 "$SLURMCTLD_PID" 2>/dev/null; then
        # Jobs still queued or running (a test that failed midway): cancel them, so that no job
        # step outlives slurmd.
        local jobs
        jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
        if [ -n "${jobs// /}" ]; then
            say "cancelling leftover SLURM jobs: $jobs"
            # shellcheck disable=SC2086
            scancel $jobs
            for _ in $(seq 1 30); do
                [ -z "$(squeue -h -t running,completing -o %i 2>/dev/null)" ] && break
                sleep 0.5
            done
        fi
    fi
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${NAMES[$i]}" "${PIDS[$i]}"
    done
    for f in "${ETC_LINKED[@]}"; do rm -f "$f"; done
    for f in "${ETC_MOVED[@]}"; do mv -f "$STAGE/etc-backup/$(basename "$f")" "$f" && say "restored $f"; done
    [ "$POLICY_RC_CREATED" = 1 ] && rm -f /usr/sbin/policy-rc.d
    if [ "$rc" = 0 ] && [ "$STATUS" = 0 ]; then
        rm -rf "$STAGE"
    else
        say "daemon logs, kept in $STAGE:"
        for log in "$STAGE"/log/*.log; do
            [ -f "$log" ] || continue
            echo "----- $log (last 40 lines)" >&2
            tail -n 40 "$log" >&2
        done
    fi
    say "stage took $(($(date +%s) - STARTED_AT)) s, exit status $rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. Packages -------------------------------------------------------------------------------
missing=()
for pkg in "${PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        # Keep the packages' init scripts from starting daemons of their own during the install.
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$STAGE/apt.log" 2>&1 ||
        die "apt-get install ${missing[*]} failed: $(tail -n 20 "$STAGE/apt.log")"
    if [ "$POLICY_RC_CREATED" = 1 ]; then
        rm -f /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=0
    fi
fi
say "$(slurmctld -V), $(munged -V 2>&1 | head -n 1)"
unset SLURM_CONF # jobs read /etc/slurm/slurm.conf (the plugin's job step drops SLURM_CONF)

# --- 2. Config ---------------------------------------------------------------------------------
# munged insists that every directory above its socket is searchable by all, and the key private.
chmod 711 "$STAGE"
mkdir -p "$STAGE/munge" "$STAGE/munge-run" "$STAGE/log" "$STAGE/ctld" "$STAGE/slurmd" "$STAGE/etc-backup"
chmod 700 "$STAGE/munge"
chmod 711 "$STAGE/munge-run"
MUNGE_SOCKET="$STAGE/munge-run/munge.socket"
mungekey --create --keyfile="$STAGE/munge/munge.key" || die "mungekey --create failed"

HOST=$(hostname -s)
NODE=$(slurmd -C | head -n 1) # NodeName=<host> CPUs=... RealMemory=...
[[ "$NODE" == "NodeName=$HOST "* ]] || die "unexpected 'slurmd -C' output: $NODE"
cat >"$STAGE/slurm.conf" <<EOF
# Written by .ci/slurm.sh: one node, no accounting, a fake GPU.
ClusterName=taleoftwo-ci
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$STAGE/ctld
SlurmdSpoolDir=$STAGE/slurmd
SlurmctldPidFile=$STAGE/slurmctld.pid
SlurmdPidFile=$STAGE/slurmd.pid
SlurmctldLogFile=$STAGE/log/slurmctld.log
SlurmdLogFile=$STAGE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MailProg=/bin/true
ReturnToService=2
# Finished jobs stay visible to squeue and scontrol for an hour: job states come from squeue.
MinJobAge=3600
GresTypes=gpu
$NODE NodeAddr=127.0.0.1 Gres=gpu:1 State=UNKNOWN
PartitionName=ci Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
# The fake GPU: schedulable (sbatch --gpus=1), but there is no device behind it.
echo "Name=gpu File=/dev/null" >"$STAGE/gres.conf"
mkdir -p /etc/slurm
for f in slurm.conf gres.conf; do
    if [ -e "/etc/slurm/$f" ] || [ -L "/etc/slurm/$f" ]; then
        mv "/etc/slurm/$f" "$STAGE/etc-backup/$f"
        ETC_MOVED+=("/etc/slurm/$f")
        say "moved the existing /etc/slurm/$f aside (put back at the end)"
    fi
    ln -s "$STAGE/$f" "/etc/slurm/$f"
    ETC_LINKED+=("/etc/slurm/$f")
done

# --- 3. Daemons --------------------------------------------------------------------------------
start() { # name command...: runs in the background, output to $STAGE/log/<name>.out
    local name=$1
    shift
    "$@" >"$STAGE/log/$name.out" 2>&1 &
    PIDS+=("$!")
    NAMES+=("$name")
    say "started $name (pid $!)"
}
wait_for() { # seconds description command...
    local seconds=$1 what=$2
    shift 2
    local deadline=$(($(date +%s) + seconds))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || die "$what not ready after $seconds s"
        for i in "${!PIDS[@]}"; do
            kill -0 "${PIDS[$i]}" 2>/dev/null || die "${NAMES[$i]} exited: $(tail -n 20 "$STAGE/log/${NAMES[$i]}.out")"
        done
        sleep 0.2
    done
}
munge_works() { munge -S "$MUNGE_SOCKET" -n | unmunge -S "$MUNGE_SOCKET"; }
node_idle() { [ "$(sinfo -h -n "$HOST" -o %T)" = idle ]; }

start munged munged --foreground --socket="$MUNGE_SOCKET" --key-file="$STAGE/munge/munge.key" \
    --pid-file="$STAGE/munge-run/munged.pid" --log-file="$STAGE/log/munged.log" --seed-file="$STAGE/munge/munged.seed"
wait_for 15 munged munge_works
start slurmctld slurmctld -D -i
SLURMCTLD_PID=${PIDS[-1]}
wait_for 30 slurmctld scontrol ping
start slurmd slurmd -D
wait_for 60 "node $HOST (idle)" node_idle
sinfo >&2

# --- 4. The run and its checks ---------------------------------------------------------------
# tests/slurm: a local run, the SLURM run and a failing SLURM run, each under `timeout -k` too.
say "pytest tests/slurm (at most $TIMEOUT s)"
# In the background, so that a signal to this script is acted on at once (see cleanup).
TALE_OF_TWO_SLURM=1 TALE_OF_TWO_SLURMCTLD_LOG="$STAGE/log/slurmctld.log" \
    timeout -k 30 "$TIMEOUT" .venv/bin/python -m pytest tests/slurm -n 0 -v -p no:cacheprovider --durations=5 \
    --basetemp="$STAGE/pytest" --no-skips &
TESTS_PID=$!
tests_rc=0
wait "$TESTS_PID" || tests_rc=$?
TESTS_PID=
[ "$tests_rc" = 0 ] || die "tests/slurm failed (status $tests_rc; a skipped test fails it too: --no-skips)"
STATUS=0
say "passed"
