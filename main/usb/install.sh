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
#   sh install.sh --inventory [FILE]   write this device's objects and the state it runs to the stick
#                                      (default device-inventory.json), for fieldsync usb export --for-device
#
# A package (a revision without a BSP, such as one container) is composed onto what the
# device runs by the device's own pvtx (pvtx begin current, add, commit), as Pantavisor
# does; a device without pvtx gets no package (as its whole state it would not boot).
# A package the laptop composed from this device's inventory (NAME.onto on the stick) is
# installed as the whole state it is, only while the device still runs the state it was
# composed onto.
#
# Needs pvcontrol (PVCONTROL=/path/to/pvcontrol if it is not in PATH), sha256sum, tar, cat;
# pvtx for packages (PVTX=/path/to/pvtx).
# SOCKET and CURL_CMD are passed on to pvcontrol. WORKDIR: room on the device to unpack a
# split tarball (default $TMPDIR or /tmp). INTERVAL: seconds between progress polls (5).
# TIMEOUT: seconds to follow the progress before giving up watching (1800).
# BUSY_WAIT: seconds to keep asking a busy device to run the revision (600: the longest
# Retry-After pv-ctrl gives, while an update is in progress).
# Receipts: each install (or refusal) writes receipts/<device>-<step>-<time>.json on the
# stick (fieldsync usb receipts <stick> reads them on the laptop). DEVICE_ID and NICK name
# the device in it (default: its host name); RECEIPTS=0 writes none.
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
# The receipt of this run: set once the device answered (device_facts).
RCPT_NAME=''
RCPT_STEP=''
RCPT_BEFORE_REV=''
RCPT_BEFORE_SHA=''
RCPT_START=''

say() { printf '%s\n' "$*"; }
die() {
	printf 'install.sh: %s\n' "$*" >&2
	[ -n "$WORK" ] && rm -rf "$WORK"
	# A pvtx transaction this script began ends with it.
	[ "$TXN" = 1 ] && pvx abort > /dev/null 2>&1
	receipt REFUSED 0 "$*"
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

now_iso() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# state_sha REV: sha256 of the state REV as pvcontrol prints it ('' when it cannot).
state_sha() {
	t=$(mktemp) || return 0
	if pvc steps get "$1" > "$t" 2>/dev/null; then sha256sum < "$t" | cut -d ' ' -f 1; fi
	rm -f "$t"
}

# json_str TEXT: TEXT as the inside of a JSON string (control characters dropped).
json_str() {
	printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g'
}

# meta_rev DEVMETA: pantavisor.revision of a device-meta answer; pv-ctrl puts a value that
# is valid JSON in raw (metadata.c), so a revision such as 0 comes as a number.
meta_rev() {
	v=$(str_field 'pantavisor\.revision' "$1")
	[ -n "$v" ] || v=$(num_field 'pantavisor\.revision' "$1")
	printf '%s' "$v"
}

# What the receipt says of the device before anything changes on it.
device_facts() {
	meta=$(pvc devmeta ls 2>/dev/null) || meta=''
	RCPT_BEFORE_REV=$(meta_rev "$meta")
	RCPT_BEFORE_SHA=$(state_sha current)
	RCPT_START=$(now_iso)
	RCPT_NAME=$1
}

# receipt STATUS PERCENT MESSAGE: write this run's receipt onto the stick (once; never fails the install).
receipt() {
	[ -n "$RCPT_NAME" ] && [ "${RECEIPTS:-1}" = 1 ] || return 0
	r_name=$RCPT_NAME; RCPT_NAME=''
	r_status=$1; r_pct=$2
	case "$r_status" in NEW|QUEUED|DOWNLOADING|INPROGRESS|TESTING|DONE|UPDATED|ERROR|WONTGO|REFUSED) ;; *) r_status=INPROGRESS ;; esac
	case "$r_pct" in ''|*[!0-9]*) r_pct=0 ;; esac
	[ "$r_pct" -le 100 ] || r_pct=100
	host=$(cat /proc/sys/kernel/hostname 2>/dev/null) || host=''
	r_id=$(printf '%s' "${DEVICE_ID:-${host:-device}}" | tr -c 'A-Za-z0-9._:@+-' '_' | cut -c 1-100)
	case "$r_id" in [A-Za-z0-9]*) ;; *) r_id="d$r_id" ;; esac
	meta=$(pvc devmeta ls 2>/dev/null) || meta=''
	r_after=''
	[ -n "$RCPT_STEP" ] && r_after=$(state_sha "$RCPT_STEP")
	r_json=$(sha256sum < "$STICK/$r_name.json" | cut -d ' ' -f 1)
	r_local=${RCPT_STEP#locals/}
	r_file="$STICK/receipts/$(printf '%s' "$r_id" | tr ':@+' '___')-${r_local:-$r_name}-$(date -u +%Y%m%dT%H%M%SZ).json"
	mkdir -p "$STICK/receipts" 2>/dev/null
	if printf '{"format":"fieldsync-receipt@1","device":{"id":"%s","nick":"%s"},"revision":{"name":"%s","json_sha256":"%s"},"step":"%s","before":{"revision":"%s","state_sha256":"%s"},"after":{"revision":"%s","state_sha256":"%s"},"progress":{"status":"%s","progress":%s,"message":"%s"},"started":"%s","time":"%s"}\n' \
		"$r_id" "$(json_str "${NICK:-$host}" | cut -c 1-128)" "$r_name" "$r_json" "$RCPT_STEP" \
		"$(json_str "$RCPT_BEFORE_REV")" "$RCPT_BEFORE_SHA" "$(json_str "$(meta_rev "$meta")")" "$r_after" \
		"$r_status" "$r_pct" "$(json_str "$3" | cut -c 1-500)" "${RCPT_START:-$(now_iso)}" "$(now_iso)" > "$r_file.tmp" 2>/dev/null &&
		sync && mv -f "$r_file.tmp" "$r_file" && sync; then
		say "receipt written: receipts/${r_file##*/}"
	else
		rm -f "$r_file.tmp" 2>/dev/null
		say "install.sh: could not write the receipt onto the stick (read-only or full?); the install itself is as reported above" >&2
	fi
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

# The revision the device runs (pantavisor.revision of its device metadata), or nothing.
running_revision() {
	str_field 'pantavisor\.revision' "$(pvc devmeta ls 2>/dev/null)" | tr -cd 'A-Za-z0-9._/-'
}

inventory() {
	out=${1:-device-inventory.json}
	case "$out" in /*) ;; *) out="$STICK/$out" ;; esac
	tmp="$out.tmp.$$"
	objs="$out.objects.$$"
	cur="$out.current.$$"
	if ! pvc objects ls > "$objs"; then rm -f "$objs"; die "pvcontrol objects ls failed: is this a container with the mgmt role (or set SOCKET)?"; fi
	first=$(head -c 200 "$objs")
	case "$first" in
	'['*) ;;
	*) rm -f "$objs"; die "the device's object list is not a JSON array: $first" ;;
	esac
	# What the device runs (pv-ctrl GET /steps/current, as pvtx begin current reads it): the laptop
	# composes packages onto it, and install.sh compares its sha256 (state_sha) before installing one.
	# A device that does not tell it still gets an inventory of its objects (its packages then go through its pvtx).
	if pvc steps get current > "$cur" 2>/dev/null && [ "$(head -c 1 "$cur")" = '{' ]; then
		sum="\"$(sha256sum < "$cur" | cut -d ' ' -f 1)\""
	else
		say "the device did not tell the state it runs (pvcontrol steps get current): the inventory lists its objects only" >&2
		printf 'null' > "$cur"
		sum=null
	fi
	rev=$(running_revision)
	if ! {
		printf '{"format":"fieldsync-device-inventory@1","revision":"%s","current_sha256":%s,\n"current":' "$rev" "$sum"
		cat "$cur"
		printf ',\n"objects":'
		cat "$objs"
		printf '}\n'
	} > "$tmp"; then
		rm -f "$objs" "$cur" "$tmp"; die "cannot write $tmp (is the stick full or read-only?)"
	fi
	rm -f "$objs" "$cur"
	sync
	mv -f "$tmp" "$out" || die "cannot write $out (is the stick read-only?)"
	sync
	say "wrote the device's object list ($(grep -o '"sha256"' "$out" | wc -l | tr -d ' ') objects) and the state it runs (${rev:-revision not told}) to $out"
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
	composed=''
	[ -f "$STICK/$name.onto" ] && composed="$name.onto"
	say "checking $name on the stick"
	# shellcheck disable=SC2086
	check_files $files "$name.objects" "$name.json" $composed
	OLIST=$(object_list) || die "cannot talk to Pantavisor with $PVCONTROL (a container with the mgmt role? SOCKET=...?)"
	device_facts "$name"
	SLIST=$(pvc steps ls) || die "pvcontrol steps ls failed"
	package=0
	if [ -n "$composed" ]; then
		# Composed on the laptop onto the state this device ran: right only while it still runs that state.
		want_sum=$(awk '$1 == "state_sha256" { print $2 }' "$STICK/$composed")
		want_rev=$(awk '$1 == "revision" { print $2 }' "$STICK/$composed")
		now_sum=$(state_sha current)
		[ -n "$now_sum" ] || die "pvcontrol steps get current failed: cannot tell whether the device still runs the state $name was composed onto; nothing was installed"
		if [ "$now_sum" != "$want_sum" ]; then
			now_rev=$(running_revision)
			die "$name was composed on the laptop onto the state this device ran when its inventory was taken (revision $want_rev), and the device now runs another state (revision ${now_rev:-unknown}): installing it would undo what changed since. Nothing was installed. Take a new inventory (sh install.sh --inventory), then on the laptop: fieldsync usb export --for-device device-inventory.json $name <stick>"
		fi
		say "$name was composed on the laptop onto what this device runs (revision $want_rev): installing it as the device's whole state"
	elif is_package "$name"; then
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
	RCPT_STEP=$rev
	say "$name is on the device as $rev"
	[ "$run" = 1 ] || { say "run it with: pvcontrol commands run $rev"; receipt NEW 0 "stored, not run (--no-run)"; return 0; }
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
	rc=$?
	[ $rc -ne 2 ] || msg="no final state within ${TIMEOUT}s${msg:+: $msg}"
	receipt "${status:-}" "${pct:-0}" "${msg:-}"
	return $rc
}

run=1
local_name=''
case "${1:-}" in
''|--list|-l) say "revisions on this stick:"; list_revisions; say "install one with: sh $0 NAME"; exit 0 ;;
-h|--help) sed -n '2,30p' "$0"; exit 0 ;;
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
