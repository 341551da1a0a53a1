/**
 * install.sh: the device side of a stick. POSIX sh for busybox (no bashisms:
 * tested with busybox sh and dash). It drives the device with pvcontrol, the
 * upstream script over pv-ctrl (`pvcontrol steps install <tgz> locals/<name>`
 * then `pvcontrol commands run locals/<name>`), and checks what pvcontrol
 * does not: every file's sha256 first, every object on the device and the
 * step stored before running, then the progress until a final state.
 *
 * Written with String.raw so that backslashes stay as they are; `$\{` stands
 * for the shell's `${` (a template literal would read that itself).
 */
const TEXT = String.raw`#!/bin/sh
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
# Needs pvcontrol (PVCONTROL=/path/to/pvcontrol if it is not in PATH), sha256sum, tar, cat.
# SOCKET and CURL_CMD are passed on to pvcontrol. WORKDIR: room on the device to unpack a
# split tarball (default $TMPDIR or /tmp). INTERVAL: seconds between progress polls (5).
# TIMEOUT: seconds to follow the progress before giving up watching (1800).
set -u

STICK=$(cd "$(dirname "$0")" && pwd) || exit 1
PVCONTROL=$\{PVCONTROL:-pvcontrol}
INTERVAL=$\{INTERVAL:-5}
TIMEOUT=$\{TIMEOUT:-1800}
WORKDIR=$\{WORKDIR:-$\{TMPDIR:-/tmp}}
WORK=''

say() { printf '%s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; [ -n "$WORK" ] && rm -rf "$WORK"; exit 1; }
# PVCONTROL may hold words (e.g. "busybox sh /path/pvcontrol"): split on purpose.
pvc() { $PVCONTROL "$@"; }

valid_name() {
	case "$1" in
	''|*[!A-Za-z0-9._-]*|[!A-Za-z0-9]*) return 1 ;;
	esac
	[ $\{#1} -le 64 ]
}

list_revisions() {
	found=0
	for f in "$STICK"/*.objects; do
		[ -f "$f" ] || continue
		n=$\{f##*/}; n=$\{n%.objects}
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
		[ -f "$p" ] && say "$\{p##*/}"
	done
}

# Check the sha256 of the named files against SHA256SUMS.
check_files() {
	[ -f "$STICK/SHA256SUMS" ] || die "no SHA256SUMS on the stick: the export did not finish; export again"
	list=$(mktemp) || die "mktemp failed"
	for f in "$@"; do
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

has_object() {
	case "$OLIST" in *"$1"*) return 0 ;; *) return 1 ;; esac
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
		line="$\{status:-?} $\{pct:-?}% $msg"
		if [ "$line" != "$last" ]; then say "  $line"; last=$line; fi
		case "$status" in
		DONE|UPDATED) say "$local_rev: $status"; return 0 ;;
		ERROR|WONTGO) say "$local_rev: $status: $msg" >&2; return 1 ;;
		esac
		now=$(date +%s)
		if [ $((now - start)) -ge "$TIMEOUT" ]; then
			say "still $\{status:-unknown} after $\{TIMEOUT}s; look again later with: sh $STICK/install.sh --status $\{local_rev#locals/}" >&2
			return 2
		fi
		sleep "$INTERVAL"
	done
}

inventory() {
	out=$\{1:-device-inventory.json}
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
	say "on the laptop: fieldsync usb export --for-device $\{out##*/} <revision> <stick>"
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
	OLIST=$(pvc objects ls) || die "cannot talk to Pantavisor with $PVCONTROL (a container with the mgmt role? SOCKET=...?)"
	SLIST=$(pvc steps ls) || die "pvcontrol steps ls failed"
	case "$SLIST" in
	*"\"$rev\""*)
		want=$(cat "$STICK/$name.json")
		got=$(pvc steps get "$rev") || got=''
		[ "$want" = "$got" ] || die "the device already has $rev with another state; install under another name: sh install.sh --name OTHER $name"
		say "the device already has $rev (same state)"
		;;
	esac
	# shellcheck disable=SC2086
	set -- $files
	if [ $# -eq 1 ]; then
		# pvcontrol unpacks into mktemp -d -t and leaves it there: give it a folder we remove.
		WORK=$(mktemp -d "$WORKDIR/fieldsync.XXXXXX") || die "cannot make a folder in $WORKDIR: set WORKDIR to a folder on the device's storage with room for $name"
		say "installing $name as $rev"
		out=$(export TMPDIR="$WORK"; pvc steps install "$STICK/$1" "$rev") || die "pvcontrol steps install failed: $out"
		rm -rf "$WORK"; WORK=''
	else
		WORK=$(mktemp -d "$WORKDIR/fieldsync.XXXXXX") || die "cannot make a folder in $WORKDIR: set WORKDIR to a folder on the device's storage with room for $name"
		say "joining $# parts of $name and unpacking them into $WORK"
		(cd "$STICK" && cat "$@") | (cd "$WORK" && tar xzf -) || die "unpacking $name failed (room in $WORKDIR?)"
		[ -f "$WORK/json" ] || die "$name: the joined tarball has no json entry"
		for o in "$WORK"/objects/*; do
			[ -f "$o" ] || continue
			sha=$\{o##*/}
			has_object "$sha" && continue
			say "  uploading object $sha"
			pvc objects put "$o" "$sha" > /dev/null || die "the device refused object $sha (out of space? run pvcontrol cmd run-gc)"
		done
		pvc steps put "$WORK/json" "$rev" > /dev/null || die "the device refused the state of $name (signature or format?)"
		rm -rf "$WORK"; WORK=''
	fi
	# pvcontrol steps install does not report failed uploads: check before running.
	OLIST=$(pvc objects ls) || die "pvcontrol objects ls failed"
	missing=0
	while read -r sha; do
		[ -n "$sha" ] || continue
		has_object "$sha" || { say "  missing on the device: $sha" >&2; missing=$((missing + 1)); }
	done < "$STICK/$name.objects"
	[ $missing -eq 0 ] || die "$missing object(s) of $name are not on the device, so it is not run (was the stick made for another device? make an inventory and export again)"
	if ! pvc steps get "$rev" > /dev/null 2>&1; then
		say "storing the state of $name as $rev"
		pvc steps put "$STICK/$name.json" "$rev" > /dev/null || die "the device refused the state of $name (signature or format?)"
	fi
	say "$name is on the device as $rev"
	[ "$run" = 1 ] || { say "run it with: pvcontrol commands run $rev"; return 0; }
	n=0
	until out=$(pvc commands run "$rev" 2>&1); do
		n=$((n + 1))
		[ $n -lt 10 ] || die "the device would not run $rev: $out"
		say "  the device is busy; trying again ($out)"
		sleep "$INTERVAL"
	done
	say "running $rev (the device may reboot: then look with sh install.sh --status $local_name)"
	watch "$rev"
}

run=1
local_name=''
case "$\{1:-}" in
''|--list|-l) say "revisions on this stick:"; list_revisions; say "install one with: sh $0 NAME"; exit 0 ;;
-h|--help) sed -n '2,18p' "$0"; exit 0 ;;
--check) check_all; exit 0 ;;
--inventory) inventory "$\{2:-}"; exit 0 ;;
--status) [ -n "$\{2:-}" ] || die "--status needs a name"; watch "locals/$\{2#locals/}"; exit $? ;;
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
do_install "$1" "$\{local_name:-$1}" "$run"
`

export const INSTALL_SH: string = TEXT.replaceAll('$\\{', '${')
