#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# A one-node Slurm cluster on this machine, for the integration tests.
#
#   tests/slurm/cluster.sh start  DIR   munged, slurmctld and slurmd; waits for the node
#   tests/slurm/cluster.sh status DIR   what runs; exit 0 when all three do
#   tests/slurm/cluster.sh stop   DIR   cancels the jobs, stops what start started
#
# Run as root.  Everything lives under DIR (created, and left world-readable:
# the test user's client commands read DIR/slurm.conf and talk to the munge
# socket there): a generated slurm.conf, a munge key made for it, state,
# spool, logs and pid files.  Nothing of the machine's own configuration
# (/etc/slurm, /etc/munge, /run/munge's socket) is used or changed: the
# daemons and the clients are pointed at DIR by SLURM_CONF (AuthInfo names
# DIR's munge socket), munged by its --socket/--key-file options.  Loopback
# only (CommunicationParameters=NoInAddrAny,NoCtldInAddrAny: the daemons
# bind the address their names resolve to, 127.0.0.1), on private ports.
#
# Clients:  export SLURM_CONF=DIR/slurm.conf   (start prints it)
# Both start and stop are idempotent.  Where the daemons cannot start, start
# exits 1 with one line "cluster.sh: error: ..." that says why, and stops
# what it started.
#
# Environment: SIF_SLURM_PORT (default 16817: slurmctld; +1 slurmd),
# SIF_SLURM_WAIT (seconds to wait for the node to be idle, default 60),
# SIF_SLURM_PLUGSTACK (plugstack.conf's line, e.g. "optional PATH/sif_spank.so").
set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin
ME=cluster.sh

die() { echo "$ME: error: $*" >&2; exit 1; }
note() { echo "$ME: $*"; }

usage() { echo "usage: $0 start|stop|status DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
CMD=$1
case $CMD in start|stop|status) ;; *) usage ;; esac
[ -n "$2" ] || usage
mkdir -p "$2" 2>/dev/null
DIR=$(cd "$2" 2>/dev/null && pwd) || die "$2: cannot create or enter the directory"
CONF=$DIR/slurm.conf
SOCK=$DIR/munge/munge.socket.2
PORT=${SIF_SLURM_PORT:-16817}
WAIT=${SIF_SLURM_WAIT:-60}
export SLURM_CONF=$CONF
# every process the daemons start carries this: stop finds stray slurmstepds by it
export SIF_SLURM_CLUSTER=$DIR

[ "$(id -u)" -eq 0 ] || die "run as root (the daemons run as root and munge)"

# alive NAME PIDFILE: the pid in PIDFILE runs and is NAME (not a reused pid)
pid_of() { local p; p=$(cat "$1" 2>/dev/null) && [ -n "$p" ] && echo "$p"; }
alive() {
	local p comm
	p=$(pid_of "$2") || return 1
	comm=$(cat "/proc/$p/comm" 2>/dev/null) || return 1
	case $comm in "$1"*) return 0 ;; esac
	return 1
}

node_state() { sinfo -h -N -o '%T' 2>/dev/null | head -n 1; }

# ---- status -----------------------------------------------------------------
status() {
	local ok=0 d
	for d in munged:munge/munged.pid slurmctld:run/slurmctld.pid slurmd:run/slurmd.pid; do
		if alive "${d%%:*}" "$DIR/${d#*:}"; then
			echo "${d%%:*}: running (pid $(pid_of "$DIR/${d#*:}"))"
		else
			echo "${d%%:*}: not running"
			ok=1
		fi
	done
	if [ $ok -eq 0 ]; then
		echo "node: $(node_state)"
		echo "export SLURM_CONF=$CONF"
	fi
	return $ok
}

# ---- stop -------------------------------------------------------------------
# kill_pidfile NAME PIDFILE: TERM, then KILL after 10 s
kill_pidfile() {
	local p i
	alive "$1" "$2" || { rm -f "$2"; return 0; }
	p=$(pid_of "$2")
	kill -TERM "$p" 2>/dev/null
	for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$p" 2>/dev/null; then
		note "$1 (pid $p) ignored SIGTERM for 10 s: SIGKILL"
		kill -KILL "$p" 2>/dev/null
		for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -f "$2"
}

# the slurmstepds this cluster's slurmd started (they outlive slurmd)
our_stepds() {
	local p
	for p in $(pgrep -x slurmstepd); do
		{ tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qx "SIF_SLURM_CLUSTER=$DIR" && echo "$p"
	done
}

stop() {
	local i jobs p
	if alive slurmctld "$DIR/run/slurmctld.pid"; then
		jobs=$(squeue -h -o %i 2>/dev/null)
		if [ -n "$jobs" ]; then
			note "cancelling jobs: $(echo $jobs)"
			scancel $jobs 2>/dev/null
			for i in $(seq 300); do
				[ -z "$(squeue -h -o %i 2>/dev/null)" ] && [ -z "$(our_stepds)" ] && break
				sleep 0.1
			done
		fi
	fi
	kill_pidfile slurmd "$DIR/run/slurmd.pid"
	kill_pidfile slurmctld "$DIR/run/slurmctld.pid"
	# whatever a job left (KillWait not over, or slurmd gone first)
	for p in $(our_stepds); do
		note "killing a leftover slurmstepd (pid $p) and its processes"
		pkill -KILL -P "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	kill_pidfile munged "$DIR/munge/munged.pid"
	rm -f "$SOCK" "$SOCK.lock"
	if [ -n "$(our_stepds)" ] || alive slurmd "$DIR/run/slurmd.pid" ||
	   alive slurmctld "$DIR/run/slurmctld.pid" || alive munged "$DIR/munge/munged.pid"; then
		die "some daemons of $DIR are still running: $(status | tr '\n' ' ')"
	fi
	note "stopped (nothing of $DIR runs)"
}

# ---- start ------------------------------------------------------------------
# show the end of a log, indented, on stderr
log_tail() { [ -f "$1" ] && tail -n 8 "$1" | sed 's/^/    /' >&2; }

# the last fatal or error line of a daemon's log, without its time stamp
log_reason() {
	local r
	r=$(grep -hE 'fatal|error' "$@" 2>/dev/null | tail -n 1 | sed 's/^\[[^]]*\] *//')
	[ -n "$r" ] && echo ": $r"
}

fail_start() {
	local msg=$1 log=${2:-}
	[ -n "$log" ] && log_tail "$log"
	stop >/dev/null 2>&1
	die "$msg"
}

install_packages() {
	local missing=() p
	for p in munge slurm-wlm; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	note "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$DIR/apt.log" 2>&1; then
		apt-get update -qq >>"$DIR/apt.log" 2>&1
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$DIR/apt.log" 2>&1 ||
			{ log_tail "$DIR/apt.log"; die "cannot install ${missing[*]} (apt-get: see $DIR/apt.log)"; }
	fi
}

port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

write_conf() {
	local node cpus mem line tmp
	node=$(hostname -s)
	# what slurmd itself finds on this machine, so the node is not drained
	# for having less than configured
	line=$(slurmd -C 2>/dev/null | head -n 1)
	cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$line")
	mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$line")
	[ -n "$cpus" ] || cpus=$(nproc)
	[ -n "$mem" ] || mem=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
	tmp=$(mktemp "$DIR/slurm.conf.XXXXXX")
	cat >"$tmp" <<EOF
# generated by tests/slurm/cluster.sh: a one-node test cluster, loopback only
ClusterName=siftest
SlurmctldHost=localhost
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$DIR/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
KillWait=10
InactiveLimit=0
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
EOF
	chmod 644 "$tmp"
	if cmp -s "$tmp" "$CONF"; then rm -f "$tmp"; else mv -f "$tmp" "$CONF"; fi
	# SPANK plugins: sif's, when SIF_SLURM_PLUGSTACK names it ("optional PATH")
	printf '%s\n' "${SIF_SLURM_PLUGSTACK:-# no SPANK plugin (SIF_SLURM_PLUGSTACK)}" >"$DIR/plugstack.conf"
	chmod 644 "$DIR/plugstack.conf"
}

start_munged() {
	local i
	alive munged "$DIR/munge/munged.pid" && return 0
	id munge >/dev/null 2>&1 || die "no user 'munge' (the munge package makes it)"
	mkdir -p "$DIR/munge"
	chown munge:munge "$DIR/munge"
	chmod 755 "$DIR/munge"
	# munged's defaults live in /run/munge; this one is told other paths,
	# but the directory is made as Debian's unit makes it, in case
	if [ ! -d /run/munge ]; then mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge; fi
	if [ ! -s "$DIR/munge/munge.key" ]; then
		rm -f "$DIR/munge/munge.key"
		if command -v mungekey >/dev/null; then
			mungekey --create --keyfile="$DIR/munge/munge.key" >/dev/null 2>&1
		fi
		[ -s "$DIR/munge/munge.key" ] ||
			dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
	fi
	chown munge:munge "$DIR/munge/munge.key"
	chmod 600 "$DIR/munge/munge.key"
	rm -f "$SOCK" "$SOCK.lock"
	runuser -u munge -- /usr/sbin/munged --socket="$SOCK" --key-file="$DIR/munge/munge.key" \
		--pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" \
		--seed-file="$DIR/munge/munged.seed" 2>"$DIR/munge/munged.err" ||
		{ cat "$DIR/munge/munged.err" >&2; fail_start "munged did not start (log: $DIR/munge/munged.log)" "$DIR/munge/munged.log"; }
	for i in $(seq 50); do
		munge -n --socket="$SOCK" 2>/dev/null | unmunge --socket="$SOCK" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail_start "munged runs but 'munge -n | unmunge' fails on $SOCK$(log_reason "$DIR/munge/munged.log")" "$DIR/munge/munged.log"
}

# start_daemon NAME: slurmctld or slurmd, daemonized, with its pid file
start_daemon() {
	local name=$1 i
	alive "$name" "$DIR/run/$name.pid" && return 0
	"$name" -f "$CONF" >"$DIR/log/$name.out" 2>&1 ||
		fail_start "$name did not start (log: $DIR/log/$name.log)$(log_reason "$DIR/log/$name.out" "$DIR/log/$name.log")" "$DIR/log/$name.log"
	for i in $(seq 50); do alive "$name" "$DIR/run/$name.pid" && break; sleep 0.1; done
	sleep 0.5
	alive "$name" "$DIR/run/$name.pid" ||
		fail_start "$name exited right after starting (log: $DIR/log/$name.log)$(log_reason "$DIR/log/$name.log")" "$DIR/log/$name.log"
}

start() {
	local i st
	st=$(node_state)
	if status >/dev/null 2>&1 && case $st in idle|mixed|allocated) true ;; *) false ;; esac; then
		note "already running; node $st"
		echo "export SLURM_CONF=$CONF"
		return 0
	fi
	install_packages
	for i in munged slurmctld slurmd sinfo scontrol sbatch srun scancel munge unmunge; do
		command -v "$i" >/dev/null || die "$i is not installed (packages munge, slurm-wlm)"
	done
	# the test user's clients read the configuration and reach the socket
	chmod 755 "$DIR"
	mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/run"
	chmod 755 "$DIR/log" "$DIR/run"
	chmod 700 "$DIR/state" "$DIR/spool"
	if ! alive slurmctld "$DIR/run/slurmctld.pid" && port_busy "$PORT"; then
		die "port $PORT is in use (another slurmctld?): set SIF_SLURM_PORT to a free one"
	fi
	if ! alive slurmd "$DIR/run/slurmd.pid" && port_busy $((PORT + 1)); then
		die "port $((PORT + 1)) is in use (another slurmd?): set SIF_SLURM_PORT to a free one"
	fi
	write_conf
	start_munged
	start_daemon slurmctld
	for i in $(seq 50); do scontrol ping >/dev/null 2>&1 && break; sleep 0.2; done
	scontrol ping 2>&1 | grep -q 'is UP' ||
		fail_start "slurmctld does not answer 'scontrol ping' (log: $DIR/log/slurmctld.log)$(log_reason "$DIR/log/slurmctld.log")" "$DIR/log/slurmctld.log"
	start_daemon slurmd
	for i in $(seq $((WAIT * 5))); do
		st=$(node_state)
		case $st in idle|mixed|allocated) break ;; esac
		sleep 0.2
	done
	case $st in
	idle|mixed|allocated) ;;
	*)
		fail_start "the node is '${st:-unknown}', not idle, after ${WAIT}s: $(sinfo -h -R -o '%E' 2>/dev/null | head -n 1) (log: $DIR/log/slurmd.log)" \
			"$DIR/log/slurmd.log" ;;
	esac
	# an unprivileged user's clients work too (the config and socket are reachable)
	if ! setpriv --reuid=nobody --regid=nogroup --clear-groups -- env SLURM_CONF="$CONF" \
	     sinfo -h -o %T >/dev/null 2>"$DIR/log/nobody.err"; then
		fail_start "sinfo fails for an unprivileged user: $(head -n 1 "$DIR/log/nobody.err") (is every directory above $DIR searchable by all?)"
	fi
	note "node $(hostname -s) is $st"
	echo "export SLURM_CONF=$CONF"
}

case $CMD in
start) start ;;
stop) stop ;;
status) status ;;
esac
