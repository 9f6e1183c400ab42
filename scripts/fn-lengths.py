#!/usr/bin/env python3
"""Function lengths in src/ (issue 20's measure): the p50/p90 of the line counts of every
`fn` with a body, and the longest ones. Usage: scripts/fn-lengths.py [--top N] [--max-p90 L]
(exits 1 when the p90 is above L).

A function runs from its `fn` line to the line of the brace that closes its body; braces in
strings, chars and comments are skipped. Test modules (`mod tests`, `#[cfg(test)]` items) are
counted too: they are code someone reads.
"""
import os
import re
import sys

FN = re.compile(r'^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+"[^"]*"\s+)?fn\s+(\w+)')


def strip(line, state):
    """The line's code with strings, chars and comments blanked; `state` carries an open
    block comment or string across lines."""
    out = []
    i = 0
    while i < len(line):
        c = line[i]
        if state['block']:
            if line.startswith('*/', i):
                state['block'] = False
                i += 2
            else:
                i += 1
            continue
        if state['string']:
            if c == '\\':
                i += 2
                continue
            if c == '"':
                state['string'] = False
            i += 1
            continue
        if line.startswith('//', i):
            break
        if line.startswith('/*', i):
            state['block'] = True
            i += 2
            continue
        if c == '"':
            state['string'] = True
            i += 1
            continue
        m = re.match(r"'(\\.|[^\\'])'", line[i:])
        if m:
            i += len(m.group(0))
            continue
        out.append(c)
        i += 1
    return ''.join(out)


def functions(path):
    """(name, first line, length) of each function with a body in `path`."""
    lines = open(path, encoding='utf-8').read().split('\n')
    state = {'block': False, 'string': False}
    code = [strip(l, state) for l in lines]
    found = []
    for start, text in enumerate(code):
        m = FN.match(text)
        if not m:
            continue
        depth = 0
        opened = False
        for end in range(start, len(code)):
            for c in code[end]:
                if c == '{':
                    depth += 1
                    opened = True
                elif c == '}':
                    depth -= 1
                elif c == ';' and not opened and depth == 0:
                    break  # a declaration without a body
            else:
                if opened and depth == 0:
                    found.append((m.group(1), start + 1, end - start + 1))
                    break
                continue
            break
    return found


def main():
    top = int(sys.argv[sys.argv.index('--top') + 1]) if '--top' in sys.argv else 10
    max_p90 = int(sys.argv[sys.argv.index('--max-p90') + 1]) if '--max-p90' in sys.argv else None
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src')
    all_fns = []
    for dirpath, _, files in os.walk(root):
        for f in files:
            if f.endswith('.rs'):
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, os.path.join(root, '..'))
                all_fns += [(length, rel, line, name) for name, line, length in functions(path)]
    lengths = sorted(l for l, *_ in all_fns)
    pct = lambda p: lengths[min(len(lengths) - 1, int(p * len(lengths)))]
    print(f'{len(lengths)} functions: p50 {pct(0.5)} lines, p90 {pct(0.9)} lines, max {lengths[-1]}')
    for length, rel, line, name in sorted(all_fns, reverse=True)[:top]:
        print(f'{length:5}  {rel}:{line}  {name}')
    if max_p90 is not None and pct(0.9) > max_p90:
        print(f'p90 {pct(0.9)} is above {max_p90}')
        sys.exit(1)


main()
