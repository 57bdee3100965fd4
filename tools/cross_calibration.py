"""Where should the spread calibration of a cross-section be fitted? Judged on validation days only.

`mqc calibrate` fits one spread factor per horizon on the checkpoint's own asset (the S&P 500), and the
cross-sectional evaluation applies it to every stock. This study samples the checkpoint's raw paths at validation
origins (every `--step` days of 2014-2015) of the cross-section's first `--stocks` stocks (the fixed sample of
`mqc eval --asset all`), splits them into two halves by that order, and scores on each half, at each horizon:
`raw` (no factor), `index` (the factor stored in the checkpoint, fitted on the index) and `stocks` (the factor
fitted on the other half's validation origins). Writes one row per half, horizon and design (CRPS, 80% and 90%
coverage, factor) to nbs/results/calibration_cross_section.csv (`--csv`).

    python tools/cross_calibration.py checkpoints/rl_gspc.pt [--stocks 60] [--workers 2]
"""
import argparse
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
import numpy as np
import pandas as pd
import torch
from microchat.evaluate import HORIZONS, asset_kind, cross_section, score
from microchat.forecast import Forecaster, best_spread, spread, validation_paths

_fc = None

def _start(ckpt, tokenizer):
    global _fc
    torch.set_num_threads(1)
    _fc = Forecaster.load(ckpt, tokenizer, 'cpu')

def _paths(job):
    "One stock's raw cumulative validation paths [O, n, H] and realised cumulative returns [O, H]."
    name, df, step = job
    return name, validation_paths(_fc, df, _fc.tokenizer.split, step=step)

def study(ckpt, tokenizer, data_dir, stocks: int, step: int, workers: int) -> pd.DataFrame:
    fc = Forecaster.load(ckpt, tokenizer, 'cpu')
    index_factor = dict(zip(fc.calibration['horizons'], fc.calibration['scale']))
    assets = {t: df for t, df in cross_section(data_dir, fc.tokenizer.split, max(HORIZONS), stocks).items() if asset_kind(t) == 'stock'}
    jobs = [(t, df, step) for t, df in assets.items()]
    with ProcessPoolExecutor(workers, get_context('spawn'), initializer=_start, initargs=(ckpt, tokenizer)) as pool:
        runs = dict(pool.map(_paths, jobs))
    names = list(assets)
    halves = {'A': names[::2], 'B': names[1::2]}
    pooled = {k: (np.concatenate([runs[t][0] for t in v]), np.concatenate([runs[t][1] for t in v])) for k, v in halves.items()}
    rows = []
    for scored, fitted in (('A', 'B'), ('B', 'A')):
        (xs, ys), (xf, yf) = pooled[scored], pooled[fitted]
        for h in HORIZONS:
            fit, _ = best_spread(xf[..., h - 1], yf[:, h - 1])
            for design, f in (('raw', 1.0), ('index', index_factor[h]), ('stocks', fit)):
                # the h-day cumulative returns scored as one-day paths: the harness's CRPS and coverage
                s = score(spread(xs[..., h - 1], f)[..., None], ys[:, h - 1:h], horizons=(1,))
                rows.append(dict(scored_on=f'stocks {scored} ({len(halves[scored])})', h=h, design=design, factor=f,
                                 crps=s.crps.mean(), cov80=s.cover80.mean(), cov90=s.cover90.mean(), origins=len(s)))
    return pd.DataFrame(rows)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('checkpoint'); p.add_argument('--tokenizer', default='models/tokenizer_model.pt')
    p.add_argument('--data-dir', default='data'); p.add_argument('--stocks', type=int, default=60)
    p.add_argument('--step', type=int, default=21); p.add_argument('--workers', type=int, default=2)
    p.add_argument('--csv', default='nbs/results/calibration_cross_section.csv')
    a = p.parse_args()
    df = study(a.checkpoint, a.tokenizer, a.data_dir, a.stocks, a.step, a.workers)
    Path(a.csv).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(a.csv, index=False)
    pooled = df.groupby(['design', 'h']).agg(crps=('crps', 'mean'), cov80=('cov80', 'mean'), cov90=('cov90', 'mean'),
                                             factor=('factor', 'mean')).unstack('h')
    print(df.to_string(index=False, float_format=lambda v: f"{v:.5g}"))
    print('\nboth halves, mean:'); print(pooled.to_string(float_format=lambda v: f"{v:.5g}"))
