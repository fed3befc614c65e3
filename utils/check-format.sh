#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# Checks that the C++ sources under lib/, dialects/, tools/ and include/ are
# formatted as .clang-format says, without changing them.
#   utils/check-format.sh            list the files clang-format would change
#   CLANG_FORMAT=/path/clang-format utils/check-format.sh
# Exits 0 when every file is formatted, 1 when some are not (listed on
# stdout), 2 when no clang-format is found. To reformat a file:
# clang-format -i FILE.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ -z "${CLANG_FORMAT:-}" ]; then
  if [ -x /usr/lib/llvm-22/bin/clang-format ]; then
    CLANG_FORMAT=/usr/lib/llvm-22/bin/clang-format
  elif command -v clang-format >/dev/null 2>&1; then
    CLANG_FORMAT="$(command -v clang-format)"
  else
    echo "check-format: no clang-format (install clang-format-22)" >&2
    exit 2
  fi
fi

bad=()
total=0
while IFS= read -r -d '' f; do
  total=$((total + 1))
  if ! "$CLANG_FORMAT" --style=file --dry-run -Werror "$f" >/dev/null 2>&1; then
    bad+=("$f")
  fi
done < <(find lib dialects tools include -type f \( -name '*.h' -o -name '*.cpp' \) \
           -print0 | sort -z)

if ((${#bad[@]})); then
  printf '%s\n' "${bad[@]}"
  echo "check-format: ${#bad[@]} of $total files need clang-format" \
       "($("$CLANG_FORMAT" --version | sed 's/.*version \([^ ]*\).*/\1/'))" >&2
  exit 1
fi
echo "check-format: all $total files formatted" >&2
