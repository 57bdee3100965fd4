"""Every `mqc` command as a user types it, through the real command line, on a tiny project in a temporary folder.

    python tools/user_commands.py [--keep DIR] [--json FILE]     # venv active; PYTHONPATH picks the microchat tested

The project is what a new user has: the embedded offline data (`mqc data --offline`, in its own folder), and their own
daily candles of two cryptocurrencies, BTC-USD and ETH-USD (synthetic, every calendar day), in `data/`. The commands are
those of the original four-stage design, with the flags people use (`--epochs --batch --lr --in --out --csv
--context-len --horizon --steps --batch-episodes --reward`), made small enough to run in seconds each (`--threads 1`).
A command passes when it exits 0, prints each file it writes (`wrote PATH` or `replaced PATH`), and each of those files
loads as what it should be (a checkpoint, the tokenizer, a PNG, a CSV). It prints one line per command and finally
`N passed, M failed`; it exits 1 if any failed.
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

MQC = [sys.executable, '-c', 'import sys; from microchat.cli import main; sys.exit(main())']
TIMEOUT = 1500  # seconds per command (pipeline --quick is the long one: 7.5 min here)
TINY = ['--seq-len', '160', '--n-layer', '1', '--d-model', '32', '--n-head', '2']   # a stage-1 model of a seconds-long run
FAST = ['--threads', '1']   # on every command that runs a model (all but data)


def user_data(data: Path) -> dict:
    "The user's own CSVs: two crypto histories (every calendar day) -> {ticker: path}."
    from microchat.data import csv_name
    from microchat.testing import synthetic_candles
    data.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, t in enumerate(['BTC-USD', 'ETH-USD']):
        df = synthetic_candles(n=1500, start='2017-01-01', seed=i, weekends=True)
        out[t] = data/csv_name(t, df)
        df.to_csv(out[t], date_format='%Y-%m-%d')
    return out


def commands(csvs: dict) -> list:
    "(name, mqc arguments, files it must write) in the order a user runs them."
    btc = str(csvs['BTC-USD'].relative_to(csvs['BTC-USD'].parents[1]))
    ck = 'checkpoints/'
    return [
        ('data --offline', ['data', '--offline', '--data-dir', 'offline'], []),   # files checked by the count it prints
        ('tokenize', ['tokenize', '--steps', '300', '--batch', '512'], ['models/tokenizer_model.pt']),
        ('stage1', ['stage1', '--epochs', '10', '--batch', '32', '--lr', '5e-4', *TINY], [ck + 'best_model.pt']),
        ('stage1 --regimes', ['stage1', '--regimes', '--epochs', '2', '--out', ck + 'regimes.pt', *TINY], [ck + 'regimes.pt']),
        ('forecast (a model with regimes)', ['forecast', '--in', ck + 'regimes.pt', '--asset', 'BTC-USD', '--paths', '32', '--png', 'fan_regimes.png'], ['fan_regimes.png']),
        ('stage2 --in --out --csv', ['stage2', '--in', ck + 'best_model.pt', '--out', ck + 'midtrain_btc.pt', '--csv', btc,
                                     '--epochs', '1', '--batch', '16', '--lr', '3e-4'], [ck + 'midtrain_btc.pt']),
        ('stage2 --asset', ['stage2', '--asset', 'ETH-USD', '--epochs', '1'], [ck + 'midtrain_eth.pt']),
        ('stage3', ['stage3', '--in', ck + 'midtrain_btc.pt', '--out', ck + 'sft_btc.pt', '--context-len', '128', '--horizon', '32',
                    '--epochs', '1', '--batch', '32', '--lr', '1e-4', '--stride', '8'], [ck + 'sft_btc.pt']),
        ("stage3 (the checkpoint's asset)", ['stage3', '--in', ck + 'midtrain_eth.pt', '--context-len', '128', '--horizon', '32',
                                              '--stride', '8', '--no-all-assets'], [ck + 'sft_eth.pt']),
        ('calibrate', ['calibrate', '--in', ck + 'sft_btc.pt', '--step', '20', '--paths', '32'], [ck + 'sft_btc.pt']),
        ('stage4 --reward token_acc', ['stage4', '--in', ck + 'sft_btc.pt', '--out', ck + 'rl_btc.pt', '--steps', '4',
                                       '--batch-episodes', '8', '--reward', 'token_acc', '--val-episodes', '8'], [ck + 'rl_btc.pt']),
        ('stage4 --reward return_mse', ['stage4', '--in', ck + 'sft_eth.pt', '--steps', '4', '--batch-episodes', '8',
                                        '--reward', 'return_mse', '--val-episodes', '8'], [ck + 'rl_eth.pt']),
        ('forecast --events --png', ['forecast', '--in', ck + 'sft_btc.pt', '--paths', '64', '--events', '+5%,-10%',
                                     '--png', 'fan.png'], ['fan.png']),
        ('eval', ['eval', '--in', ck + 'sft_btc.pt', '--in', ck + 'rl_btc.pt', '--step', '20', '--paths', '32'],
         [ck + 'eval_btc/report.md', ck + 'eval_btc/per_origin.csv']),
        ('calibrate --asset all', ['calibrate', '--in', ck + 'rl_btc.pt', '--asset', 'all', '--step', '20', '--paths', '32'], [ck + 'rl_btc.pt']),
        ('eval --asset all --workers 2', ['eval', '--in', ck + 'rl_btc.pt', '--asset', 'all', '--step', '20', '--paths', '32', '--workers', '2'],
         [ck + 'eval_all/report.md', ck + 'eval_all/per_origin.csv']),
        ('pipeline --quick', ['pipeline', '--quick', '--data-dir', 'quick/data', '--tokenizer', 'quick/tokenizer.pt',
                              '--checkpoints', 'quick/checkpoints'], ['quick/checkpoints/sft_gspc.pt', 'quick/checkpoints/eval_all/report.md']),
    ]


def loads(path: Path) -> str:
    "'' if `path` loads as what its name says it is, else why not."
    from microchat.checkpoint import read_checkpoint
    from microchat.tokenizer import Tokenizer
    try:
        if path.suffix == '.png': return '' if path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' else 'not a PNG'
        if path.suffix == '.csv':
            import pandas as pd
            return '' if len(pd.read_csv(path)) else 'an empty table'
        if path.suffix == '.md': return '' if path.read_text().strip() else 'empty'
        if 'tokenizer' in path.name: Tokenizer.load(path); return ''
        read_checkpoint(path); return ''
    except Exception as e: return f"{type(e).__name__}: {str(e)[:120]}"


def check(name, args, files, root: Path) -> dict:
    t = time.time()
    env = dict(os.environ, OMP_NUM_THREADS='1')
    try: p = subprocess.run(MQC + args + (FAST if args[0] != 'data' else []), cwd=root, capture_output=True, text=True, env=env, timeout=TIMEOUT)
    except subprocess.TimeoutExpired: p = subprocess.CompletedProcess(args, -9, '', f'(no answer after {TIMEOUT} s)')
    said = p.stdout + p.stderr
    problems = []
    if p.returncode != 0:
        tail = [l for l in p.stderr.splitlines() if l.strip()][-1:] or ['(nothing on stderr)']
        problems.append(f"exit {p.returncode}: {tail[0][:200]}")
    for f in files:
        if not (root/f).is_file(): problems.append(f"{f} not written"); continue
        if not re.search(rf"(wrote|replaced) {re.escape(f)}\b", said): problems.append(f"does not say it wrote {f}")
        if why := loads(root/f): problems.append(f"{f} does not load ({why})")
    if name == 'data --offline':
        m = re.search(r'(\d[\d,]*) (?:offline )?assets', said)
        n = len(list((root/'offline').glob('*_1d.csv')))
        if not m or int(m[1].replace(',', '')) != n: problems.append(f"does not say how many assets it wrote ({n} files)")
    return dict(name=name, command='mqc ' + ' '.join(args), rc=p.returncode, seconds=round(time.time() - t, 1),
                problems=problems, stdout=p.stdout[-3000:], stderr=p.stderr[-3000:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--keep', help='run in this folder (kept) instead of a temporary one')
    ap.add_argument('--json', help='write every result, with its output, here')
    a = ap.parse_args()
    root = Path(a.keep or tempfile.mkdtemp(prefix='mqc-user-')).resolve()
    root.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for name, args, files in commands(user_data(root/'data')):
            r = check(name, args, files, root)
            results.append(r)
            ok = not r['problems']
            print(f"{'PASS' if ok else 'FAIL'}  {name:<34} {r['seconds']:>6.1f} s  {r['command']}", flush=True)
            for why in r['problems']: print(f"      {why}", flush=True)
    finally:
        if not a.keep: shutil.rmtree(root, ignore_errors=True)
    if a.json: Path(a.json).write_text(json.dumps(results, indent=1))
    failed = sum(bool(r['problems']) for r in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
