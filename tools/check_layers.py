#!/usr/bin/env python3
"""Checks every #include "..." of the project against cmake/layers.txt.

A file belongs to the layer whose directory is the longest prefix of its path; an include
that names a file of another layer must name one of the layers its own layer may include.
Includes outside every layer (system, Abseil, generated skeletons) are not checked.

  check_layers.py [--root DIR] [--layers FILE] [--stamp FILE]   exit 1 on a violation
  check_layers.py --self-test                                    the checker's own test
"""
import argparse
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
SOURCE_EXTS = ('.h', '.hh', '.hpp', '.c', '.cc', '.cpp')


def read_layers(path):
    layers = []  # (name, dir, allowed set)
    for lineno, line in enumerate(open(path, encoding='utf-8'), 1):
        line = line.split('#', 1)[0].split()
        if not line:
            continue
        if len(line) < 3:
            raise SystemExit(f'{path}:{lineno}: want "name directory deps..." (deps may be -)')
        name, directory, deps = line[0], line[1].rstrip('/'), line[2:]
        layers.append((name, directory, set(d for d in deps if d != '-')))
    names = {n for n, _, _ in layers}
    for name, _, deps in layers:
        unknown = deps - names
        if unknown:
            raise SystemExit(f'{path}: layer {name} names unknown layers {sorted(unknown)}')
    return layers


def layer_of(path, layers):
    best = None
    for name, directory, _ in layers:
        if path == directory or path.startswith(directory + '/'):
            if best is None or len(directory) > len(best[1]):
                best = (name, directory)
    return best[0] if best else None


def check(root, layers):
    allowed = {name: deps for name, _, deps in layers}
    violations = []
    for name, directory, _ in layers:
        top = os.path.join(root, directory)
        files = [top] if os.path.isfile(top) else [
            os.path.join(d, f) for d, _, fs in os.walk(top) for f in fs if f.endswith(SOURCE_EXTS)]
        for full in sorted(files):
            rel = os.path.relpath(full, root)
            if layer_of(rel, layers) != name:
                continue  # owned by a more specific layer
            text = open(full, encoding='utf-8', errors='replace').read()
            for m in INCLUDE.finditer(text):
                target = layer_of(m.group(1), layers)
                if target is None or target == name or target in allowed[name]:
                    continue
                lineno = text.count('\n', 0, m.start()) + 1
                violations.append(f'{rel}:{lineno}: includes "{m.group(1)}": layer {name} may '
                                  f'not depend on layer {target} (cmake/layers.txt)')
    return violations


def self_test():
    with tempfile.TemporaryDirectory() as root:
        def write(path, text):
            os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
            with open(os.path.join(root, path), 'w') as f:
                f.write(text)
        write('layers.txt', 'low  lib/low  -\nhigh lib/high low\nleaf lib/high/leaf high low\n')
        write('lib/low/a.h', '#include <vector>\n#include "lib/low/b.h"\n')
        write('lib/high/c.cc', '#include "lib/low/a.h"\n#include "absl/status/status.h"\n')
        write('lib/high/leaf/d.cc', '#include "lib/high/c.h"\n')
        layers = read_layers(os.path.join(root, 'layers.txt'))
        assert check(root, layers) == [], check(root, layers)
        write('lib/low/up.cc', '// an upward include\n#include "lib/high/c.h"\n')
        got = check(root, layers)
        assert len(got) == 1 and got[0].startswith('lib/low/up.cc:2:') and 'layer low' in got[0], got
        write('lib/high/up.cc', '#include "lib/high/leaf/d.h"\n')
        assert len(check(root, layers)) == 2
    print('check_layers self-test: ok')


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--root', default=os.path.dirname(here))
    ap.add_argument('--layers')
    ap.add_argument('--stamp', help='touched when the check passes (for the build)')
    ap.add_argument('--self-test', action='store_true')
    args = ap.parse_args()
    if args.self_test:
        self_test()
        return 0
    layers = read_layers(args.layers or os.path.join(args.root, 'cmake', 'layers.txt'))
    violations = check(args.root, layers)
    for v in violations:
        print(v, file=sys.stderr)
    if violations:
        print(f'check_layers: {len(violations)} include(s) against the layering', file=sys.stderr)
        return 1
    if args.stamp:
        with open(args.stamp, 'w') as f:
            f.write('ok\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
