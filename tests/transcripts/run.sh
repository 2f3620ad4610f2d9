#!/bin/sh
# run.sh - replay every golden SMTP transcript and compare it with its .ref.
#
#   tests/transcripts/run.sh BINARY            replay, diff, exit 1 on a mismatch
#   tests/transcripts/run.sh BINARY --update   rewrite the .ref files
#   tests/transcripts/run.sh BINARY [--update] NAME...   only these (x.in or x)
#
# BINARY is the replayer (make builds it as $(BUILD)/tests/transcript).
# A .ref written by --update is a claim about correct SMTP behaviour: read
# every changed line (git diff) against the RFCs before committing it.
set -u

usage() {
	echo "usage: $0 BINARY [--update] [NAME...]" >&2
	exit 2
}

[ $# -ge 1 ] || usage
bin=$1
shift
update=0
if [ $# -ge 1 ] && [ "$1" = "--update" ]; then
	update=1
	shift
fi
case $bin in
/*) ;;
*) bin=$(pwd)/$bin ;;
esac
[ -x "$bin" ] || { echo "$0: $bin: not an executable" >&2; exit 2; }

dir=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/transcripts.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

if [ $# -gt 0 ]; then
	list=
	for n in "$@"; do
		n=${n##*/}
		list="$list $dir/${n%.in}.in"
	done
else
	list=$(ls "$dir"/*.in 2>/dev/null)
fi
[ -n "$list" ] || { echo "$0: no transcripts in $dir" >&2; exit 2; }

pass=0 fail=0 updated=0
for src in $list; do
	name=${src##*/}
	name=${name%.in}
	ref=${src%.in}.ref
	out=$tmp/$name.out
	err=$tmp/$name.err
	"$bin" "$src" >"$out" 2>"$err"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL $name: replayer exit status $rc"
		sed 's/^/    /' "$err"
		fail=$((fail + 1))
		continue
	fi
	if [ $update -eq 1 ]; then
		if [ ! -f "$ref" ] || ! cmp -s "$out" "$ref"; then
			cp "$out" "$ref"
			echo "updated $name.ref"
			updated=$((updated + 1))
		fi
		pass=$((pass + 1))
		continue
	fi
	if [ ! -f "$ref" ]; then
		echo "FAIL $name: no $name.ref (run with --update, then review it)"
		fail=$((fail + 1))
		continue
	fi
	if diff -u "$ref" "$out" >"$tmp/$name.diff"; then
		pass=$((pass + 1))
	else
		echo "FAIL $name: output differs from $name.ref (--- want, +++ got)"
		cat "$tmp/$name.diff"
		fail=$((fail + 1))
	fi
done

if [ $update -eq 1 ]; then
	echo "transcripts: $pass replayed, $updated .ref files written, $fail failed"
else
	echo "transcripts: $pass passed, $fail failed"
fi
[ $fail -eq 0 ]
