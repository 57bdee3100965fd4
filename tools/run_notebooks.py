"""Run the notebooks top to bottom, in reading order, and save their outputs (what the doc site shows); print each
one's time. Slow cells run too, unless --fast, which keeps their committed outputs as they are.

    python tools/run_notebooks.py                          # every chapter, in order (after `mqc data --offline`)
    python tools/run_notebooks.py nbs/03b_forecast.ipynb   # some chapters
    python tools/run_notebooks.py --fast                   # the cells `nbdev_test` runs, outputs saved

Run from the repository root; each notebook runs in its own folder, as `nbdev_test` runs it. A cell that raises
stops that notebook (nothing of it is saved) and the run exits 1 after the others.
"""
import argparse, os, re, sys, time
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell

SLOW = re.compile(r'^#\|\s*(slow|eval:\s*false)\s*$', re.M)   # the cells `nbdev_test` skips (settings.ini: tst_flags = slow)


def chapters(paths) -> list[Path]:
    "The given notebooks, or every chapter in file order, which is the reading order (the sidebar's too)."
    return [Path(p) for p in paths] or sorted(p for p in Path('nbs').glob('*.ipynb') if not p.name.startswith('_'))


def run(path: Path, fast: bool) -> tuple[float, int, int]:
    "Execute `path` in its folder and write it back with its outputs -> (seconds, cells run, slow cells kept)."
    nb, root, t0, kept = read_nb(path), Path.cwd(), time.time(), []
    def skip(cell):
        if cell.cell_type != 'code': return True
        if fast and SLOW.search(cell.source): kept.append(cell); return True
        return False
    os.chdir(path.parent)
    try:
        shell = CaptureShell(mpl_format='png')   # plain PNGs, not retina: the committed figures stay small
        shell.run_all(nb, exc_stop=True, preproc=skip)
    finally: os.chdir(root)
    write_nb(nb, path)
    return time.time() - t0, sum(c.cell_type == 'code' for c in nb.cells) - len(kept), len(kept)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('notebooks', nargs='*', help='notebooks to run (default: every chapter in nbs/, in order)')
    ap.add_argument('--fast', action='store_true', help="skip the slow cells (keeping their committed outputs)")
    args = ap.parse_args()
    rows, failed = [], []
    for p in chapters(args.notebooks):
        print(f"{p} ...", flush=True)
        try: seconds, ran, kept = run(p, args.fast)
        except Exception as e:   # the notebook's own error, shown; the other notebooks still run
            print(f"{p}: FAILED: {type(e).__name__}: {e}", file=sys.stderr); failed.append(p); continue
        rows.append(f"| {p.stem} | {ran} | {kept} | {seconds:.0f} |")
    print("\n| notebook | code cells run | slow cells kept | seconds |\n|---|---:|---:|---:|\n" + '\n'.join(rows))
    if failed: sys.exit(f"{len(failed)} notebook(s) failed: {', '.join(map(str, failed))}")


if __name__ == '__main__': main()
