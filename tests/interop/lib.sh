# shellcheck shell=bash
# tests/interop/lib.sh: helpers shared by the shell tests (bash only).
#
# Source it, then call tmp_setup first:
#
#   . "$top_srcdir/tests/interop/lib.sh"
#   tmp_setup                 # $T: a private temp dir (mode 0700)
#
# tmp_setup installs an EXIT trap that stops every server started with
# start_sshd (by its own pid, never by name) and removes $T, whether the
# test passes, fails or is interrupted. A test that needs more cleanup sets
# CLEANUP_HOOK to the name of a function; it runs first.
#
#   pick_port                 # prints a free TCP port on 127.0.0.1 (high range)
#   start_sshd CONFIG LOG     # starts "$SSHD -D -f CONFIG -E LOG" in the
#                             # background, waits (bounded) until it listens
#                             # on the "Port" of CONFIG; sets SSHD_PID
#   stop_sshd PID             # stops one server started by start_sshd
#   sshd_config_base PORT HOSTKEY PIDFILE
#                             # prints the hardened core of a test sshd_config
#   info MSG / pass MSG       # progress lines on stdout
#   fail MSG                  # "FAIL: MSG" on stderr, then exit 1
#   skip MSG                  # "SKIP: MSG", then exit 77 (automake's skip)
#
# For the tests of the command-line tools:
#
#   need_tools                # sets GW and HCT to the built trasa-gateway
#                             # and hostcert-tool; fails when they or
#                             # ssh-keygen are missing
#   run WANT CMD...           # runs CMD with stdout in $T/out and stderr in
#                             # $T/err; fails unless it exits with WANT
#   has FILE STRING           # FILE holds the fixed STRING, or fail
#   lacks FILE STRING         # FILE does not hold STRING, or fail
#   err_one_line [STRING]     # $T/err is one line (holding STRING), or fail
#   fp_of PUBFILE             # the key's fingerprint, as ssh-keygen -l says
#   flip_byte FILE OFFSET     # changes the byte at OFFSET (always to
#                             # another value), in place
#
# The automake harness exports top_srcdir, top_builddir, SSH_KEYGEN, SSHD
# and SSH; outside it these default to the usual Debian paths.

: "${SSH_KEYGEN:=/usr/bin/ssh-keygen}"
: "${SSHD:=/usr/sbin/sshd}"
: "${SSH:=/usr/bin/ssh}"

T=""
LIB_PIDS=()
CLEANUP_HOOK=""

info()
{
	printf '%s\n' "$*"
}

pass()
{
	printf 'ok: %s\n' "$*"
}

fail()
{
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

skip()
{
	printf 'SKIP: %s\n' "$*"
	exit 77
}

lib_cleanup()
{
	local pid

	if [ -n "$CLEANUP_HOOK" ]; then
		"$CLEANUP_HOOK" || true
	fi
	for pid in "${LIB_PIDS[@]}"; do
		stop_sshd "$pid"
	done
	LIB_PIDS=()
	if [ -n "$T" ] && [ -d "$T" ]; then
		rm -rf -- "$T"
	fi
}

tmp_setup()
{
	T=$(mktemp -d "${TMPDIR:-/tmp}/trasa-test.XXXXXXXX") ||
	    fail "mktemp -d failed"
	chmod 700 "$T"
	trap lib_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
}

# A port is free when no socket of any state uses it (IPv4 or IPv6).
port_in_use()
{
	local hex f

	hex=$(printf ':%04X ' "$1")
	for f in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$f" ] || continue
		if awk '{ print $2 " " }' "$f" | grep -qF -- "$hex"; then
			return 0
		fi
	done
	return 1
}

# Listening (state 0A) on 127.0.0.1 or on any IPv4 address.
port_listening()
{
	local hex

	hex=$(printf '%04X' "$1")
	awk -v p="$hex" '$4 == "0A" &&
	    ($2 == "0100007F:" p || $2 == "00000000:" p) { found = 1 }
	    END { exit !found }' /proc/net/tcp
}

pick_port()
{
	local port

	for _ in $(seq 1 100); do
		port=$((20000 + (RANDOM * 32768 + RANDOM + $$) % 40000))
		if ! port_in_use "$port"; then
			echo "$port"
			return 0
		fi
	done
	fail "no free TCP port found on 127.0.0.1"
}

# The settings every test sshd shares; callers append their own.
sshd_config_base()
{
	cat <<EOF
Port $1
ListenAddress 127.0.0.1
HostKey $2
PidFile $3
LogLevel VERBOSE
StrictModes no
UsePAM no
AuthorizedKeysFile none
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
MaxStartups 50:30:100
EOF
}

start_sshd()
{
	local config=$1 log=$2 port

	port=$(awk 'tolower($1) == "port" { print $2; exit }' "$config")
	[ -n "$port" ] || fail "start_sshd: no Port line in $config"
	case $SSHD in
	/*) ;;
	*) fail "start_sshd: SSHD must be an absolute path (got $SSHD)" ;;
	esac
	if [ "$(id -u)" -eq 0 ]; then
		mkdir -p /run/sshd
	fi
	if ! "$SSHD" -t -f "$config" 2>"$log.t"; then
		cat "$log.t" >&2
		fail "sshd -t refused $config"
	fi
	"$SSHD" -D -f "$config" -E "$log" </dev/null &
	SSHD_PID=$!
	LIB_PIDS+=("$SSHD_PID")
	# Up to 10 s for the listening socket.
	for _ in $(seq 1 100); do
		if port_listening "$port"; then
			return 0
		fi
		if ! kill -0 "$SSHD_PID" 2>/dev/null; then
			tail -n 20 "$log" >&2 2>/dev/null || true
			fail "sshd exited at start (config $config)"
		fi
		sleep 0.1
	done
	tail -n 20 "$log" >&2 2>/dev/null || true
	fail "sshd did not listen on 127.0.0.1:$port within 10 s"
}

stop_sshd()
{
	local pid=$1 p keep=()

	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	{ wait "$pid"; } 2>/dev/null || true
	for p in "${LIB_PIDS[@]}"; do
		[ "$p" = "$pid" ] || keep+=("$p")
	done
	LIB_PIDS=("${keep[@]}")
}

need_tools()
{
	GW=${top_builddir:?}/gateway/trasa-gateway
	HCT=$top_builddir/hostcert-tool/hostcert-tool
	[ -x "$GW" ] || fail "$GW not built"
	[ -x "$HCT" ] || fail "$HCT not built"
	[ -x "$SSH_KEYGEN" ] || fail "ssh-keygen not found at $SSH_KEYGEN"
}

run()
{
	local want=$1 rc

	shift
	if "$@" >"$T/out" 2>"$T/err"; then rc=0; else rc=$?; fi
	if [ "$rc" -ne "$want" ]; then
		sed 's/^/  stdout: /' "$T/out" >&2
		sed 's/^/  stderr: /' "$T/err" >&2
		fail "exit $rc, want $want: $*"
	fi
}

has()
{
	grep -qF -- "$2" "$1" ||
	    { sed 's/^/  | /' "$1" >&2; fail "$1 lacks '$2'"; }
}

lacks()
{
	! grep -qF -- "$2" "$1" ||
	    { sed 's/^/  | /' "$1" >&2; fail "$1 has '$2'"; }
}

err_one_line()
{
	local n

	n=$(wc -l <"$T/err")
	[ "$n" -eq 1 ] ||
	    { sed 's/^/  stderr: /' "$T/err" >&2; fail "stderr has $n lines, want 1"; }
	if [ $# -gt 0 ]; then
		has "$T/err" "$1"
	fi
}

fp_of()
{
	"$SSH_KEYGEN" -l -f "$1" | awk '{ print $2 }'
}

flip_byte()
{
	local old

	old=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
	[ -n "$old" ] || fail "flip_byte: $1 has no byte at $2"
	printf "\\$(printf '%03o' $(((old + 1) % 256)))" |
	    dd of="$1" bs=1 seek="$2" conv=notrunc status=none ||
	    fail "flip_byte: dd $1"
}

# ---------------------------------------------------------------- gateway
#
#   start_gateway STATE PORT LOG [CONFIG]
#                             # starts "$GW [--config CONFIG] --state-dir
#                             # STATE --listen 127.0.0.1:PORT serve" in the
#                             # background and waits (bounded, 15 s) until
#                             # https://127.0.0.1:PORT/v1/ca/user answers
#                             # 200 with STATE/tls/cert.pem as the trusted
#                             # certificate; sets GW_PID. The EXIT trap
#                             # stops it (by pid) like a test sshd.
#   stop_gateway PID [LOG]    # SIGTERM (then SIGKILL after 5 s) and wait;
#                             # GW_STOP_STATUS: its exit status, "timeout"
#                             # or "dead" (had exited before); with LOG,
#                             # fails when LOG holds a sanitizer report
#   gw_url PORT PATH          # prints https://127.0.0.1:PORT/PATH
#
# GW must name the trasa-gateway binary (need_tools sets it). When CONFIG
# is not given the gateway gets an empty private configuration file, so a
# /etc/trasa/gateway.conf on the machine never changes a test.

gw_url()
{
	printf 'https://127.0.0.1:%s/%s' "$1" "${2#/}"
}

start_gateway()
{
	local state=$1 port=$2 log=$3 config=${4:-} code

	[ -n "${GW:-}" ] && [ -x "$GW" ] || fail "start_gateway: GW not set"
	if [ -z "$config" ]; then
		config=$state.gateway.conf
		: >"$config"
	fi
	"$GW" --config "$config" --state-dir "$state" \
	    --listen "127.0.0.1:$port" serve </dev/null >>"$log" 2>&1 &
	GW_PID=$!
	LIB_PIDS+=("$GW_PID")
	for _ in $(seq 1 150); do
		if ! kill -0 "$GW_PID" 2>/dev/null; then
			tail -n 20 "$log" >&2 2>/dev/null || true
			fail "trasa-gateway exited at start (state $state)"
		fi
		if [ -s "$state/tls/cert.pem" ]; then
			code=$(curl -s -o /dev/null -w '%{http_code}' \
			    --max-time 2 --cacert "$state/tls/cert.pem" \
			    "$(gw_url "$port" /v1/ca/user)" 2>/dev/null) || true
			[ "$code" = 200 ] && return 0
		fi
		sleep 0.1
	done
	tail -n 20 "$log" >&2 2>/dev/null || true
	fail "trasa-gateway did not answer on 127.0.0.1:$port within 15 s"
}

stop_gateway()
{
	local pid=$1 log=${2:-} rc=0 p keep=()

	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			{ wait "$pid"; } 2>/dev/null || true
			GW_STOP_STATUS=timeout
		else
			{ wait "$pid"; } 2>/dev/null || rc=$?
			GW_STOP_STATUS=$rc
		fi
	else
		{ wait "$pid"; } 2>/dev/null || true
		GW_STOP_STATUS=dead
	fi
	for p in "${LIB_PIDS[@]}"; do
		[ "$p" = "$pid" ] || keep+=("$p")
	done
	LIB_PIDS=("${keep[@]}")
	if [ -n "$log" ] && grep -qE 'Sanitizer|runtime error:' "$log" 2>/dev/null; then
		grep -A 30 -E 'Sanitizer|runtime error:' "$log" | head -n 60 >&2
		fail "trasa-gateway: sanitizer report in $log"
	fi
}
