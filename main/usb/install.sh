#!/bin/sh
# Fieldsync install.sh: install a revision from this stick onto this Pantavisor device.
# Run it on the device, in a container with the mgmt role or at the device's shell:
#
#   sh install.sh                      list the revisions on the stick
#   sh install.sh --check              check every file on the stick (sha256)
#   sh install.sh NAME                 check, install and run revision NAME; show its progress
#   sh install.sh --no-run NAME        check and install only (run it later with pvcontrol commands run locals/NAME)
#   sh install.sh --name LOCAL NAME    install as locals/LOCAL instead of locals/NAME
#   sh install.sh --status NAME        show the progress of locals/NAME (for instance after the device rebooted)
#   sh install.sh --inventory [FILE]   write this device's object list to the stick (default device-inventory.json)
#
# A package (a revision without a BSP, such as one container) is composed onto what the
# device runs by the device's own pvtx (pvtx begin current, add, commit), as Pantavisor
# does; a device without pvtx gets no package (as its whole state it would not boot).
#
# Needs pvcontrol (PVCONTROL=/path/to/pvcontrol if it is not in PATH), sha256sum, tar, cat;
# pvtx for packages (PVTX=/path/to/pvtx).
# SOCKET and CURL_CMD are passed on to pvcontrol. WORKDIR: room on the device to unpack a
# split tarball (default $TMPDIR or /tmp). INTERVAL: seconds between progress polls (5).
# TIMEOUT: seconds to follow the progress before giving up watching (1800).
# BUSY_WAIT: seconds to keep asking a busy device to run the revision (600: the longest
# Retry-After pv-ctrl gives, while an update is in progress).
set -u

STICK=$(cd "$(dirname "$0")" && pwd) || exit 1
PVCONTROL=${PVCONTROL:-pvcontrol}
PVTX=${PVTX:-pvtx}
INTERVAL=${INTERVAL:-5}
TIMEOUT=${TIMEOUT:-1800}
BUSY_WAIT=${BUSY_WAIT:-600}
WORKDIR=${WORKDIR:-${TMPDIR:-/tmp}}
WORK=''
TXN=0

say() { printf '%s\n' "$*"; }
die() {
	printf 'install.sh: %s\n' "$*" >&2
	[ -n "$WORK" ] && rm -rf "$WORK"
	# A pvtx transaction this script began ends with it.
	[ "$TXN" = 1 ] && pvx abort > /dev/null 2>&1
	exit 1
}
# PVCONTROL and PVTX may hold words (e.g. "busybox sh /path/pvcontrol"): split on purpose.
pvc() { $PVCONTROL "$@"; }
pvx() { $PVTX "$@"; }

# is_package NAME: its state has no bsp/run.json (a container, a configuration).
is_package() {
	! tr -d ' \t\r\n' < "$STICK/$1.json" | grep -q '"bsp/run.json":'
}

have_pvtx() {
	# shellcheck disable=SC2086
	set -- $PVTX
	command -v "$1" > /dev/null 2>&1
}

valid_name() {
	case "$1" in
	''|*[!A-Za-z0-9._-]*|[!A-Za-z0-9]*) return 1 ;;
	esac
	[ ${#1} -le 64 ]
}

list_revisions() {
	found=0
	for f in "$STICK"/*.objects; do
		[ -f "$f" ] || continue
		n=${f##*/}; n=${n%.objects}
		if [ -f "$STICK/$n.pvrexport.tgz" ]; then how='1 file'; else how="$(tarball_files "$n" | wc -l | tr -d ' ') parts"; fi
		say "  $n  ($(wc -l < "$f" | tr -d ' ') objects, $how)"
		found=1
	done
	[ $found = 1 ] || say "  (none)"
}

# The tarball of NAME: one file, or its parts in order.
tarball_files() {
	if [ -f "$STICK/$1.pvrexport.tgz" ]; then
		say "$1.pvrexport.tgz"
		return
	fi
	for p in "$STICK/$1.pvrexport.tgz.part"*; do
		[ -f "$p" ] && say "${p##*/}"
	done
}

# Check the sha256 of the named files against SHA256SUMS.
check_files() {
	[ -f "$STICK/SHA256SUMS" ] || die "no SHA256SUMS on the stick: the export did not finish; export again"
	list=$(mktemp) || die "mktemp failed"
	for f in "$@"; do
		# Only plain files: a FIFO would hang sha256sum, a link could point anywhere on the device.
		{ [ -f "$STICK/$f" ] && [ ! -h "$STICK/$f" ]; } || { rm -f "$list"; die "$f on the stick is not a plain file: do not install from this stick; export again"; }
		line=$(awk -v f="$f" '$2 == f' "$STICK/SHA256SUMS")
		[ -n "$line" ] || { rm -f "$list"; die "$f is not listed in SHA256SUMS: the stick is not as it was written; export again"; }
		say "$line" >> "$list"
	done
	if ! out=$(cd "$STICK" && sha256sum -c "$list" 2>&1); then
		rm -f "$list"
		say "$out" | grep -v ': OK$' >&2
		die "a file on the stick is damaged (see above): do not install from it; export again or use another stick"
	fi
	rm -f "$list"
}

check_all() {
	[ -f "$STICK/SHA256SUMS" ] || die "no SHA256SUMS on the stick: the export did not finish; export again"
	if (cd "$STICK" && sha256sum -c SHA256SUMS); then say "all files are intact"; else die "some files on the stick are damaged (see above)"; fi
}

# has_object SHA SIZE: the device holds object SHA whole. Its name alone proves
# nothing: a device whose storage fills up during an upload answers 200 and
# keeps a partial objects/<sha> (pantavisor ctrl/ctrl_objects_ep.c,
# ctrl/ctrl_upload.c), so the size in its object list must match too.
has_object() {
	case "$OLIST" in *"\"sha256\":\"$1\",\"size\":\"$2\""*) return 0 ;; *) return 1 ;; esac
}

# The device's object list with the blanks taken out (the form has_object matches).
object_list() {
	pvc objects ls | tr -d ' \t\r\n'
}

str_field() {
	# str_field KEY JSON: the string value of "KEY" in a JSON answer
	printf '%s' "$2" | tr -d '\n' | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p"
}

num_field() {
	printf '%s' "$2" | tr -d '\n' | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\\([0-9][0-9]*\\).*/\\1/p"
}

watch() {
	local_rev=$1
	start=$(date +%s)
	last=''
	while :; do
		p=$(pvc steps show-progress "$local_rev" 2>/dev/null) || p=''
		status=$(str_field status "$p")
		pct=$(num_field progress "$p")
		msg=$(str_field status-msg "$p")
		line="${status:-?} ${pct:-?}% $msg"
		if [ "$line" != "$last" ]; then say "  $line"; last=$line; fi
		case "$status" in
		DONE|UPDATED) say "$local_rev: $status"; return 0 ;;
		ERROR|WONTGO) say "$local_rev: $status: $msg" >&2; return 1 ;;
		esac
		now=$(date +%s)
		if [ $((now - start)) -ge "$TIMEOUT" ]; then
			say "still ${status:-unknown} after ${TIMEOUT}s; look again later with: sh $STICK/install.sh --status ${local_rev#locals/}" >&2
			return 2
		fi
		sleep "$INTERVAL"
	done
}

inventory() {
	out=${1:-device-inventory.json}
	case "$out" in /*) ;; *) out="$STICK/$out" ;; esac
	tmp="$out.tmp.$$"
	if ! pvc objects ls > "$tmp"; then rm -f "$tmp"; die "pvcontrol objects ls failed: is this a container with the mgmt role (or set SOCKET)?"; fi
	first=$(head -c 200 "$tmp")
	case "$first" in
	'['*) ;;
	*) rm -f "$tmp"; die "the device's object list is not a JSON array: $first" ;;
	esac
	sync
	mv -f "$tmp" "$out" || die "cannot write $out (is the stick read-only?)"
	sync
	say "wrote the device's object list ($(grep -o '"sha256"' "$out" | wc -l | tr -d ' ') objects) to $out"
	say "on the laptop: fieldsync usb export --for-device ${out##*/} <revision> <stick>"
}

do_install() {
	name=$1
	local_name=$2
	run=$3
	valid_name "$name" || die "$name: not a revision name (sh install.sh lists them)"
	[ -f "$STICK/$name.objects" ] || die "no revision $name on this stick (sh install.sh lists them)"
	valid_name "$local_name" || die "$local_name: a local name is 1-64 letters, digits, . _ - (no /)"
	files=$(tarball_files "$name")
	[ -n "$files" ] || die "$name: its tarball is missing from the stick; export again"
	rev="locals/$local_name"
	say "checking $name on the stick"
	# shellcheck disable=SC2086
	check_files $files "$name.objects" "$name.json"
	OLIST=$(object_list) || die "cannot talk to Pantavisor with $PVCONTROL (a container with the mgmt role? SOCKET=...?)"
	SLIST=$(pvc steps ls) || die "pvcontrol steps ls failed"
	package=0
	if is_package "$name"; then
		package=1
		have_pvtx || die "$name is a package (no BSP): it is installed by composing it onto what the device runs, with the device's pvtx, and $PVTX is not here (set PVTX); as the device's whole state it would not boot. Nothing was installed: install it over the network (fieldsync install composes it on the laptop)"
		case "$SLIST" in
		*"\"$rev\""*) die "the device already has $rev: run it with pvcontrol commands run $rev, or install under another name: sh install.sh --name OTHER $name" ;;
		esac
	fi
	case "$SLIST" in
	*"\"$rev\""*)
		want=$(cat "$STICK/$name.json")
		got=$(pvc steps get "$rev") || got=''
		[ "$want" = "$got" ] || die "the device already has $rev with another state; install under another name: sh install.sh --name OTHER $name"
		say "the device already has $rev (same state)"
		;;
	esac
	# The objects the device lacks, or holds only in part.
	need=''
	members=''
	count=0
	while read -r sha size; do
		[ -n "$sha" ] || continue
		has_object "$sha" "$size" && continue
		need="$need $sha:$size"
		members="$members objects/$sha"
		count=$((count + 1))
	done < "$STICK/$name.objects"
	if [ $package = 1 ]; then
		# pvtx add uploads the objects the tarball carries (pvtx_txn.c add_tar: every
		# objects/ member over pv-ctrl) and adds the package's state to the transaction.
		say "$name is a package: composing it onto what the device runs (pvtx begin current, add, commit)"
		out=$(pvx begin current 2>&1) || die "pvtx begin current failed: $out (a transaction already open? pvtx show tells, pvtx abort ends it)"
		TXN=1
		say "  adding $name ($count object(s) the device lacks)"
		# shellcheck disable=SC2086
		set -- $files
		# shellcheck disable=SC2086
		out=$( (cd "$STICK" && cat "$@") | pvx add - 2>&1) || die "pvtx add of $name failed: $out"
		count=0
	fi
	if [ $count -gt 0 ]; then
		WORK=$(mktemp -d "$WORKDIR/fieldsync.XXXXXX") || die "cannot make a folder in $WORKDIR: set WORKDIR to a folder on the device's storage with room for $name"
		say "unpacking the $count object(s) the device lacks"
		# shellcheck disable=SC2086
		set -- $files
		# A stick made for another device does not carry every object this one
		# lacks: tar then fails on those, and the check below names them.
		# shellcheck disable=SC2086
		(cd "$STICK" && cat "$@") | (cd "$WORK" && tar xzf - $members 2>/dev/null)
		for o in $need; do
			sha=${o%%:*}
			size=${o#*:}
			f="$WORK/objects/$sha"
			[ -f "$f" ] || continue
			[ "$(wc -c < "$f" | tr -d ' ')" = "$size" ] || die "unpacking object $sha of $name failed (room in $WORKDIR? set WORKDIR to a folder with room)"
			say "  uploading object $sha"
			pvc objects put "$f" "$sha" > /dev/null || die "the device refused object $sha (out of space? free room with pvcontrol cmd run-gc)"
			rm -f "$f"
		done
		rm -rf "$WORK"; WORK=''
	fi
	# pvcontrol reports a full device's upload as done: check every object, with its size, before running.
	OLIST=$(object_list) || die "pvcontrol objects ls failed"
	missing=0
	partial=0
	while read -r sha size; do
		[ -n "$sha" ] || continue
		has_object "$sha" "$size" && continue
		case "$OLIST" in
		*"\"sha256\":\"$sha\""*) say "  only part of $sha is on the device" >&2; partial=$((partial + 1)) ;;
		*) say "  missing on the device: $sha" >&2; missing=$((missing + 1)) ;;
		esac
	done < "$STICK/$name.objects"
	[ $partial -eq 0 ] || die "the device kept only part of $partial object(s) of $name: its storage is full. Free room (pvcontrol cmd run-gc removes what no revision uses), then run this again: it sends those objects again"
	[ $missing -eq 0 ] || die "$missing object(s) of $name are not on the device, so it is not run (was the stick made for another device? make an inventory and export again)"
	if [ $package = 1 ]; then
		out=$(pvx commit "$rev" 2>&1) || die "pvtx commit of $name as $rev failed: $out"
		TXN=0
		say "stored the composed state as $rev"
	elif ! pvc steps get "$rev" > /dev/null 2>&1; then
		say "storing the state of $name as $rev"
		pvc steps put "$STICK/$name.json" "$rev" > /dev/null || die "the device refused the state of $name (signature or format?)"
	fi
	say "$name is on the device as $rev"
	[ "$run" = 1 ] || { say "run it with: pvcontrol commands run $rev"; return 0; }
	# A busy device answers 503 (pvcontrol exit 75) and asks for up to 600 s
	# (Retry-After of ctrl/ctrl_cmd.c while an update is in progress).
	start=$(date +%s)
	# Whole seconds (sh arithmetic): INTERVAL may be fractional (0.5); at least 1 s.
	wait_s=${INTERVAL%%.*}
	case "$wait_s" in ''|*[!0-9]*|0) wait_s=1 ;; esac
	until out=$(pvc commands run "$rev" 2>&1); do
		code=$?
		[ $code -eq 75 ] || die "the device would not run $rev: $out"
		left=$((BUSY_WAIT - ($(date +%s) - start)))
		[ $left -gt 0 ] || die "the device stayed busy for $BUSY_WAIT s and did not run $rev: $out; run this again later"
		say "  the device is busy (an update or a command in progress); asking again in $wait_s s, for up to $left s more"
		sleep "$wait_s"
		wait_s=$((wait_s * 2)); [ $wait_s -le 60 ] || wait_s=60
	done
	say "running $rev (the device may reboot: then look with sh install.sh --status $local_name)"
	watch "$rev"
}

run=1
local_name=''
case "${1:-}" in
''|--list|-l) say "revisions on this stick:"; list_revisions; say "install one with: sh $0 NAME"; exit 0 ;;
-h|--help) sed -n '2,23p' "$0"; exit 0 ;;
--check) check_all; exit 0 ;;
--inventory) inventory "${2:-}"; exit 0 ;;
--status) [ -n "${2:-}" ] || die "--status needs a name"; watch "locals/${2#locals/}"; exit $? ;;
esac
while [ $# -gt 1 ]; do
	case "$1" in
	--no-run) run=0 ;;
	--name) shift; local_name=$1 ;;
	*) die "unknown option $1 (sh install.sh --help)" ;;
	esac
	shift
done
[ $# -eq 1 ] || die "which revision? (sh install.sh lists them)"
do_install "$1" "${local_name:-$1}" "$run"
