"""Build the S&P 500 corpus that ships in the package (microchat/sp500.csv.xz, microchat/sp500_sectors.csv and the
source's licence, microchat/sp500_LICENSE.txt) from
its source, the repository Pooksoft/PooksoftSP500EquityPriceDataSet (MIT licence; daily data from AlphaVantage) at
the commit `microchat.data.CORPUS_COMMIT`:

    python tools/build_corpus.py --source PATH            # rebuild the shipped files
    python tools/build_corpus.py --source PATH --check    # rebuild in memory; exit 1 if the shipped files differ
    python tools/build_corpus.py --source PATH --new-manifest   # record the source files' SHA-256 (once per commit)

PATH is a bare or normal git directory of the repository (read at that commit) or a checkout of it (a folder with
daily_adjusted/ and data/constituents.csv). Every source file must match its SHA-256 in tools/corpus_manifest.txt.
Cleaning (chapter 00a): error stubs are skipped, open/high/low are scaled with the close by adjusted_close/close,
tickers are spelled as Yahoo spells them (BRK.B -> BRK-B), and `clean_adjustments` undoes the adjustment errors the
source's own columns prove. The same source gives the same bytes: fixed number formats, sorted order, xz without
timestamps.
"""
import argparse, hashlib, io, subprocess, sys
from pathlib import Path
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from microchat.data import CORPUS, CORPUS_COMMIT, CORPUS_JUMP, CORPUS_SECTORS, CORPUS_SOURCE, clean_adjustments, encode_corpus, package_file
from microchat.files import DataError, atomic_write

MANIFEST = Path(__file__).with_name('corpus_manifest.txt')
CONSTITUENTS, LICENSE = 'data/constituents.csv', 'LICENSE'
SHIPPED_LICENSE = 'sp500_LICENSE.txt'   # the MIT licence asks for its text to go with every copy
HEADER = b'timestamp,open,high,low,close,adjusted_close,volume,dividend_amount,split_coefficient'
SAME_FACTOR = 1e-8   # relative changes of adjusted_close/close below this are the source's rounding (it has ~1e-11)
COUNTED_BEFORE = '2014-01-01'   # the candles before this day are counted apart: about the training days of the split

def is_git(src: Path) -> bool: return (src/'HEAD').is_file() and (src/'objects').is_dir() or (src/'.git').exists()

def git(src: Path, *args, **kw) -> bytes:
    gd = src/'.git' if (src/'.git').exists() else src
    return subprocess.run(['git', '--git-dir', str(gd), *args], capture_output=True, check=True, **kw).stdout

def source_names(src: Path) -> list[str]:
    "The source files the corpus is built from: the licence, the constituents list and every daily_adjusted CSV."
    if is_git(src): names = git(src, 'ls-tree', '-r', '--name-only', CORPUS_COMMIT, 'daily_adjusted').decode().split('\n')
    else: names = [str(p.relative_to(src)) for p in (src/'daily_adjusted').glob('*.csv')]
    return [LICENSE, CONSTITUENTS, *sorted(n for n in names if n.endswith('.csv'))]

def read_source(src: Path, names) -> dict[str, bytes]:
    "The bytes of each file of `names`, from the git directory at CORPUS_COMMIT or from the checkout."
    if not is_git(src):
        missing = [n for n in names if not (src/n).is_file()]
        if missing: sys.exit(f"{src}: no {missing[0]} (and {len(missing) - 1} more); give a checkout of {CORPUS_SOURCE} at {CORPUS_COMMIT}")
        return {n: (src/n).read_bytes() for n in names}
    out = io.BytesIO(git(src, 'cat-file', '--batch', input=''.join(f'{CORPUS_COMMIT}:{n}\n' for n in names).encode()))
    blobs = {}
    for n in names:
        head = out.readline().split()
        if head[-1] == b'missing': sys.exit(f"{src}: no {n} at commit {CORPUS_COMMIT}; fetch that commit of {CORPUS_SOURCE}")
        blobs[n] = out.read(int(head[2])); out.read(1)
    return blobs

def read_manifest() -> dict[str, str]:
    lines = [l for l in MANIFEST.read_text().splitlines() if l and not l.startswith('#')]
    return {name: sha for sha, name in (l.split('  ', 1) for l in lines)}

def write_manifest(blobs: dict):
    head = f"# {CORPUS_SOURCE} at commit {CORPUS_COMMIT}: SHA-256 of every file tools/build_corpus.py reads\n"
    MANIFEST.write_text(head + ''.join(f"{hashlib.sha256(b).hexdigest()}  {n}\n" for n, b in sorted(blobs.items())))

def candles(blob: bytes) -> pd.DataFrame:
    "One source CSV as raw Open, High, Low, Close and the piecewise constant adjustment Factor, by date."
    d = pd.read_csv(io.BytesIO(blob))
    ratio = (d['adjusted_close'] / d['close']).to_numpy()
    segment = np.r_[0, np.cumsum(np.abs(np.diff(np.log(ratio))) > SAME_FACTOR)]
    df = pd.DataFrame({'Open': d['open'], 'High': d['high'], 'Low': d['low'], 'Close': d['close'],
                       'Factor': pd.Series(ratio).groupby(segment).transform('mean')})
    return df.set_index(pd.DatetimeIndex(pd.to_datetime(d['timestamp'], format='%Y-%m-%d'), name='Date'))

def source_ticker(name: str) -> str:
    "daily_adjusted/DA-BRK.B-T-2021-04-21.csv -> BRK.B"
    return name.split('/')[-1][3:].rsplit('-T-', 1)[0]

def yahoo_ticker(ticker: str) -> str:
    "BRK.B -> BRK-B: Yahoo's spelling, which `mqc data --tickers` uses."
    return ticker.replace('.', '-')

def build(blobs: dict) -> dict[str, bytes]:
    "The shipped files (name in the package -> content) from the source files, with what the cleaning did printed."
    frames, counts, stubs = {}, [], []
    for n, b in blobs.items():
        if not n.startswith('daily_adjusted/'): continue
        if not b.startswith(HEADER): stubs.append(source_ticker(n)); continue   # AlphaVantage's error answer, e.g. {"Error Message"}
        df, c = clean_adjustments(candles(b))
        frames[yahoo_ticker(source_ticker(n))] = df
        counts.append({'ticker': yahoo_ticker(source_ticker(n)), **c})
    counts = pd.DataFrame(counts).set_index('ticker')
    adjusted = {t: np.log(df['Close'] * df['Factor']) for t, df in frames.items()}
    jumps = pd.concat({t: a.diff().abs() for t, a in adjusted.items()})
    n = sum(map(len, frames.values())); early = sum(int((df.index < COUNTED_BEFORE).sum()) for df in frames.values())
    print(f"source: {CORPUS_SOURCE} at {CORPUS_COMMIT}\n"
          f"{len(counts) + len(stubs)} stock files: {len(stubs)} error stub(s) skipped ({', '.join(stubs)}), {len(frames)} stocks, "
          f"{n:,} candles ({early:,} before {COUNTED_BEFORE})\n"
          f"adjustment errors: {counts['spikes'].sum()} spike(s) rescaled ({', '.join(counts.index[counts['spikes'] > 0])}), "
          f"{counts['factor errors'].sum()} factor error(s) ({', '.join(counts.index[counts['factor errors'] > 0])}): "
          f"{counts['candles dropped'].sum()} candles before them dropped\n"
          f"kept: {int((jumps > CORPUS_JUMP).sum())} daily |log return| > {CORPUS_JUMP} "
          f"({int((jumps[jumps.index.get_level_values(1) < COUNTED_BEFORE] > CORPUS_JUMP).sum())} before {COUNTED_BEFORE}) "
          "that the source's columns do not show to be errors")
    cons = pd.read_csv(io.BytesIO(blobs[CONSTITUENTS]), dtype=str, keep_default_na=False)
    cons = cons.assign(Ticker=cons['Symbol'].map(yahoo_ticker)).set_index('Ticker')
    missing = sorted(set(frames) - set(cons.index))
    if missing: sys.exit(f"{CONSTITUENTS}: no sector for {', '.join(missing)}")
    sectors = cons.loc[sorted(frames), ['Name', 'Sector']].to_csv(lineterminator='\n').encode()
    return {CORPUS: encode_corpus(frames), CORPUS_SECTORS: sectors, SHIPPED_LICENSE: blobs[LICENSE]}

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--source', type=Path, required=True, help='git directory or checkout of the source repository')
    p.add_argument('--check', action='store_true', help='rebuild in memory and compare with the shipped files (exit 1 if they differ)')
    p.add_argument('--new-manifest', action='store_true', help="record the source files' SHA-256 in tools/corpus_manifest.txt")
    a = p.parse_args(argv)
    if not (a.source/'daily_adjusted').is_dir() and not is_git(a.source):
        sys.exit(f"{a.source}: neither a git directory nor a checkout of {CORPUS_SOURCE}")
    if a.new_manifest:
        write_manifest(read_source(a.source, source_names(a.source)))
        return print(f"wrote {MANIFEST}")
    manifest = read_manifest()
    blobs = read_source(a.source, list(manifest))
    wrong = [n for n, b in blobs.items() if hashlib.sha256(b).hexdigest() != manifest[n]]
    if wrong: sys.exit(f"{len(wrong)} source file(s) differ from {MANIFEST.name}: {', '.join(wrong[:5])}; the corpus is built from commit {CORPUS_COMMIT}")
    differ = []
    for name, content in build(blobs).items():
        path = package_file(name)
        if not a.check: print(f"wrote {atomic_write(path, content)} ({len(content):,} bytes)"); continue
        same = path.is_file() and path.read_bytes() == content
        print(f"{path}: {'identical to' if same else 'DIFFERS from'} the rebuild ({len(content):,} bytes)")
        if not same: differ.append(name)
    if differ: sys.exit(f"{', '.join(differ)} differ from a rebuild of the source: run tools/build_corpus.py without --check, and commit")

if __name__ == '__main__':
    try: main()
    except DataError as e: sys.exit(f"build_corpus: {e}")
