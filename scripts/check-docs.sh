#!/bin/sh
# check-docs.sh SLUICED [--update] - the key reference in docs/sluice.conf.5
# must be exactly what `sluiced -R` prints from the configuration table.
set -eu
bin=$1
man=docs/sluice.conf.5
begin='.\\" BEGIN KEYS'
end='.\\" END KEYS'
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.new"' EXIT
"$bin" -R > "$tmp"
if [ "${2:-}" = "--update" ]; then
	awk -v ref="$tmp" '
		/^\.\\" BEGIN KEYS/ { print; while ((getline l < ref) > 0) print l; skip = 1; next }
		/^\.\\" END KEYS/ { skip = 0 }
		!skip { print }' "$man" > "$tmp.new"
	mv "$tmp.new" "$man"
	echo "updated $man"
	exit 0
fi
sed -n "/^$begin/,/^$end/p" "$man" | sed '1d;$d' | diff -u - "$tmp" || {
	echo "check-docs: $man is out of date; run: scripts/check-docs.sh $bin --update" >&2
	exit 1
}
echo "check-docs: $man matches the configuration table"
