"""Print a markdown table of exported-cell sizes per notebook in nbs/.

For each notebook: the number of `#| export` (or `#|export`) cells and the
median and max number of non-empty lines in them, not counting the directive
line; then an "all" row over every exported cell.

    python tools/cell_sizes.py [NBS_DIR]
"""
import json, re, statistics, sys
from pathlib import Path

DIRECTIVE = re.compile(r'^\s*#\|\s*export\b')

def exported_sizes(path):
    "Line counts of the exported cells of the notebook at `path`."
    sizes = []
    for cell in json.loads(Path(path).read_text())['cells']:
        if cell['cell_type'] != 'code': continue
        src = cell['source']
        lines = (''.join(src) if isinstance(src, list) else src).splitlines()
        if not any(DIRECTIVE.match(l) for l in lines): continue
        sizes.append(sum(1 for l in lines if l.strip() and not DIRECTIVE.match(l)))
    return sizes

def row(name, sizes):
    if not sizes: return f'| {name} | 0 | - | - |'
    return f'| {name} | {len(sizes)} | {statistics.median(sizes):g} | {max(sizes)} |'

def main(nbs='nbs'):
    print('| notebook | exported cells | median lines | max lines |')
    print('|---|---:|---:|---:|')
    every = []
    for nb in sorted(Path(nbs).glob('*.ipynb')):
        sizes = exported_sizes(nb)
        every += sizes
        print(row(nb.stem, sizes))
    print(row('all', every))

if __name__ == '__main__': main(*sys.argv[1:])
