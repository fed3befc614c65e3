#!/usr/bin/env python3
"""Adds the SPDX license identifier to lowbit's source files.

    utils/add-spdx.py                 every source file git knows of
    utils/add-spdx.py PATH...         these files, or the files under these
                                      folders
    utils/add-spdx.py --check [PATH...]
                                      list the files that lack it; exit 1 if
                                      there are any, change nothing

The identifier goes where LLVM puts it. C, C++ and TableGen files whose
first line is the `//===- File - summary ---*- C++ -*-===//` header get it
inside the header block:

    //===- File.cpp - summary -------------------------------*- C++ -*-===//
    //
    // SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
    //
    // The file's description, as before.
    //
    //===----------------------------------------------------------------===//

(a header line with no block after it gets the block's closing rule), and C
headers in the `/*===- ... ===*\\` box get a line of the box. Python, CMake
and shell files get `# SPDX-License-Identifier: ...` after any `#!`,
`-*- mode -*-` and `@CONFIGURED_HEADER@` lines. Files that already carry an identifier are left as
they are, so running the script twice changes nothing. Test inputs (.mlir,
.test), documentation and data are not touched.
"""

import argparse
import os
import re
import subprocess
import sys

LICENSE = "Apache-2.0 WITH LLVM-exception"
SPDX = "SPDX-License-Identifier: " + LICENSE
WIDTH = 80
RULE = "//===" + "-" * (WIDTH - 10) + "===//"

SLASH_SUFFIXES = (".h", ".hpp", ".cpp", ".c", ".td")
HASH_SUFFIXES = (".py", ".cmake", ".sh", ".py.in", ".cmake.in")
HASH_NAMES = ("CMakeLists.txt",)
SKIPPED_DIRS = {".git", "build", "__pycache__", ".venv", "venv"}

CXX_HEADER = re.compile(r"^//===-.*===//$")
C_BOX_HEADER = re.compile(r"^/\*===-.*===\*\\$")
# Lines that stay first: #!, editor modes, a configured file's @HEADER@.
MODE_LINE = re.compile(r"^#.*-\*-.*-\*-|^#!|^# *(vim?:|coding[:=])|^@\w+@$")


def comment_style(path):
    """'//' or '#' for a file the script handles, None for any other."""
    name = os.path.basename(path)
    if name.endswith(SLASH_SUFFIXES):
        return "//"
    if name.endswith(HASH_SUFFIXES) or name in HASH_NAMES:
        return "#"
    if "." not in name:
        try:
            with open(path, "rb") as f:
                first = f.readline()
        except OSError:
            return None
        if first.startswith(b"#!") and re.search(rb"\b(ba|z)?sh\b|python",
                                                 first):
            return "#"
    return None


def has_spdx(lines):
    return any("SPDX-License-Identifier:" in line for line in lines[:20])


def add_slash(lines):
    """The lines of a C, C++ or TableGen file with the identifier added."""
    spdx = "// " + SPDX
    if lines and CXX_HEADER.match(lines[0]):
        rest = lines[1:]
        if rest and rest[0] == "//":
            # The header block goes on: `//` then the description.
            return [lines[0], "//", spdx, "//"] + rest[1:]
        if rest and rest[0].startswith("//"):
            return [lines[0], "//", spdx, "//"] + rest
        # A header line alone: close the block LLVM's way.
        return [lines[0], "//", spdx, "//", RULE] + rest
    if lines and C_BOX_HEADER.match(lines[0]):
        # |*  ...  *| lines as wide as the box (the header line's width).
        inner = len(lines[0]) - 4

        def box(text):
            return "|* " + text.ljust(inner - 1) + "*|"

        rest = lines[1:]
        if rest and rest[0].startswith("|*") and rest[0][2:-2].strip() == "":
            return [lines[0], rest[0], box(SPDX), rest[0]] + rest[1:]
        return [lines[0], box(""), box(SPDX), box("")] + rest
    # No header: the identifier comes first.
    return [spdx] + separator(lines, "//")


def add_hash(lines):
    """The lines of a Python, CMake or shell file with the identifier
    added after its #! and mode lines."""
    head = 0
    while head < len(lines) and MODE_LINE.match(lines[head]):
        head += 1
    return lines[:head] + ["# " + SPDX] + separator(lines[head:], "#")


def separator(rest, marker):
    """`rest` preceded by what sets it apart from the identifier's line: an
    empty comment line before a comment, a blank line before code."""
    if not rest or rest[0].strip() == "":
        return rest
    if rest[0].startswith(marker):
        return [marker] + rest
    return [""] + rest


def process(path, check):
    """True when `path` has (or now has) the identifier."""
    style = comment_style(path)
    if style is None:
        return True
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.split(newline)
    if has_spdx(lines):
        return True
    if check:
        return False
    lines = add_slash(lines) if style == "//" else add_hash(lines)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(newline.join(lines))
    return True


def git_files(root):
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root, check=True, stdout=subprocess.PIPE).stdout
    return [os.path.join(root, p) for p in out.decode().split("\0") if p]


def walk(path):
    if not os.path.isdir(path):
        return [path]
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS)
        found.extend(os.path.join(dirpath, f) for f in sorted(filenames))
    return found


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*",
                        help="files or folders (default: the repository's "
                             "files, as git lists them)")
    parser.add_argument("--check", action="store_true",
                        help="list the files that lack the identifier; "
                             "change nothing")
    args = parser.parse_args()

    if args.paths:
        files = [f for p in args.paths for f in walk(p)]
    else:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        files = git_files(root)
    files = [f for f in files if os.path.isfile(f) and not os.path.islink(f)]

    missing = [f for f in files if not process(f, args.check)]
    for f in missing:
        print(os.path.relpath(f))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
