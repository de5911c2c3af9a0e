#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check-doc-links.sh [TOPDIR]
#
# The repository's documentation stands alone. In README.md and docs/*.md:
#   - every relative link target, [text](target) or ![alt](target) (the
#     part before any #anchor), must be an existing file or directory,
#     resolved from the directory of the file that links to it;
#   - a link that is only an #anchor must match a heading of the same file
#     (GitHub's rule: lower case, punctuation dropped, spaces to hyphens);
#   - nothing may link to or mention ../shared, the developers' notes
#     beside the repository, which users do not have.
# Links with a scheme (https:, mailto:) are not checked. Prints one verdict
# line, "ok docs.links_resolve" or "not ok docs.links_resolve", and every
# problem on stderr as FILE:LINE: what.
set -euo pipefail

top=$(realpath "${1:-$(dirname "${BASH_SOURCE[0]}")/..}")
cd "$top"

# anchors FILE: the anchor of every heading of FILE, one a line.
anchors() {
	sed -n 's/^#\{1,6\} \{1,\}//p' "$1" |
		tr '[:upper:]' '[:lower:]' | sed -e 's/[^a-z0-9 _-]//g' -e 's/ /-/g'
}

bad=0
for f in README.md docs/*.md; do
	[ -f "$f" ] || continue
	dir=$(dirname "$f")
	if grep -n -H -F '../shared' "$f" >&2; then
		echo "$f: links to or mentions ../shared (lines above)" >&2
		bad=1
	fi
	# LINE<TAB>TARGET for every inline link outside fenced code blocks.
	links=$(awk '/^```/ { code = !code; next }
		!code {
			s = $0
			while (match(s, /\]\([^)[:space:]]+\)/)) {
				print NR "\t" substr(s, RSTART + 2, RLENGTH - 3)
				s = substr(s, RSTART + RLENGTH)
			}
		}' "$f")
	while IFS=$'\t' read -r line target; do
		[ -n "$target" ] || continue
		case $target in
		*:*) continue ;;	# a URL
		'#'*)
			if ! anchors "$f" | grep -qxF "${target#\#}"; then
				echo "$f:$line: no heading for the anchor $target" >&2
				bad=1
			fi
			continue
			;;
		esac
		path=${target%%#*}
		if [ ! -e "$dir/$path" ]; then
			echo "$f:$line: $target does not exist" >&2
			bad=1
		fi
	done <<<"$links"
done
if [ "$bad" -eq 0 ]; then
	echo "ok docs.links_resolve"
else
	echo "not ok docs.links_resolve"
fi
