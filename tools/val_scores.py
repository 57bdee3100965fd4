"""Checkpoints and the baselines scored on validation days: how a design is chosen before any test day is seen.

    python tools/val_scores.py NAME=CHECKPOINT:TOKENIZER [NAME=CHECKPOINT:TOKENIZER ...] \
        [--data-dir data] [--val-fraction 0.1] [--step 21] [--paths 256] [--workers 2] [--out CSV]

Every checkpoint samples its raw paths (no calibration: a calibration is itself fitted on these days) at an origin
every `--step` validation days (2014-2015) of `tools/scaling.py`'s validation sample (`--val-fraction` of the stocks,
seeded, and the two indices), and every baseline of `mqc eval` forecasts the same origins with the same seeds. The
checkpoints may come from different tokenizers fitted on the same days (the split must be the same): the scores are
on returns, so they compare. Prints and writes (`--out`) one row per method: CRPS at 1/5/10/32 days pooled over the
assets and origins, the CRPS relative to the best baseline at each horizon, and 80% / 90% coverage.

`nbs/results/tokenizer_forecasts.csv` (chapter 00) is, with the SFT checkpoints that `tools/tokenizer_statistics.py`
names:

    python tools/val_scores.py plain=PLAIN/sft_gspc.pt:MODELS/tokenizer_tail0.pt \
        winsorised=WINS/sft_gspc.pt:MODELS/tokenizer_tail0.0001.pt --out nbs/results/tokenizer_forecasts.csv
"""
import argparse
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pandas as pd
import torch

from microchat.data import data_files, load_ohlcv
from microchat.evaluate import BASELINES, EvalError, evaluate, make_baseline, summarize
from microchat.forecast import Forecaster
from microchat.tokenizer import Tokenizer
from scaling import sample_assets

_models = {}


def _start(models: dict):
    torch.set_num_threads(1)
    _models.update({name: Forecaster.load(ckpt, tok, 'cpu') for name, (ckpt, tok) in models.items()})


def _score(job):
    "One asset's per-origin scores of every baseline and checkpoint, or None."
    ticker, path, step, paths, seed = job
    df = load_ohlcv(path)
    split = next(iter(_models.values())).tokenizer.split
    try:   # an asset without training days has no bootstrap, one without validation days no origin: it sits out
        methods = {b: make_baseline(b, df, split) for b in BASELINES} | {n: fc.method(calibrated=False) for n, fc in _models.items()}
        return evaluate(df, methods, split, step=step, n_paths=paths, seed=seed, part='val', progress=False)[1].assign(asset=ticker)
    except EvalError: return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('models', nargs='+', help='NAME=CHECKPOINT:TOKENIZER')
    ap.add_argument('--data-dir', default='data'); ap.add_argument('--val-fraction', type=float, default=0.1)
    ap.add_argument('--step', type=int, default=21); ap.add_argument('--paths', type=int, default=256)
    ap.add_argument('--workers', type=int, default=2); ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default='nbs/results/val_scores.csv')
    a = ap.parse_args()
    models = {m.split('=', 1)[0]: tuple(m.split('=', 1)[1].split(':', 1)) for m in a.models}
    splits = {n: Tokenizer.load(t).split.to_dict() for n, (_, t) in models.items()}   # the split only: no model to load here
    if len({str(s) for s in splits.values()}) > 1: raise SystemExit(f"the tokenizers were fitted on different splits: {splits}")
    files = data_files(a.data_dir)
    jobs = [(t, files[t], a.step, a.paths, a.seed) for t in sample_assets(files, a.val_fraction, a.seed)]
    with ProcessPoolExecutor(a.workers, get_context('spawn'), initializer=_start, initargs=(models,)) as pool:
        per_origin = pd.concat([s for s in pool.map(_score, jobs) if s is not None])
    s = summarize(per_origin)
    crps = [c for c in s if c.startswith('crps@')]
    best = s.loc[list(BASELINES), crps].min()
    out = s[crps].join(s[crps].div(best).add_suffix('/best baseline')).join(s[[c for c in s if c.startswith('cov')]]).join(s.origins)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(a.out)
    print('best baseline:', s.loc[list(BASELINES), crps].idxmin().to_dict())
    with pd.option_context('display.width', 250, 'display.max_columns', 30): print(out.round(5).to_string())


if __name__ == '__main__': main()
