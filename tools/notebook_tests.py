"""What `nbdev_test` runs (it prints only "Success."): notebooks, code cells run and skipped, as .ci/run reports them.

    python tools/notebook_tests.py        # from the repository root
"""
import json, re
from pathlib import Path

FLAGS = re.compile(r'#\|\s*(slow|eval:\s*false)')   # the cells nbdev_test skips (settings.ini: tst_flags = slow)

nbs = [p for p in sorted(Path('nbs').rglob('*.ipynb')) if not p.name.startswith('_') and '.ipynb_checkpoints' not in p.parts]
run = tests = skipped = 0
for p in nbs:
    for c in json.loads(p.read_text())['cells']:
        if c['cell_type'] != 'code': continue
        flags = ''.join(l for l in c['source'] if l.startswith('#|'))
        if FLAGS.search(flags): skipped += 1; continue
        run += 1; tests += 'export' not in flags
print(f"nbdev_test: {len(nbs)} notebooks, {run} code cells run ({tests} of them tests and examples, "
      f"{run - tests} definitions), {skipped} slow cells skipped")
