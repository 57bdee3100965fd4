"""Calibration designs judged on validation days only: fit the spread factor on one part of the validation origins,
score it on another, for each SFT checkpoint given. Parts: the first and second halves of each asset's validation
period (fitted on one, scored on the other) and the two assets (fitted on ^GSPC, scored on ^IXIC, and back).
Designs: no factor (raw), the fitted factor (what `mqc calibrate` stores), and half of it in log terms (shrunk
toward 1). Writes one row per checkpoint, part, horizon and design to nbs/results/calibration_study.csv (`--csv`),
which chapter 03b prints.

    python tools/calibration_study.py CHECKPOINT [CHECKPOINT ...] [--tokenizer models/tokenizer_model.pt]

About a minute per checkpoint on one CPU thread.
"""
import argparse
from pathlib import Path
import numpy as np
import pandas as pd
import torch
from microchat.data import load_asset
from microchat.evaluate import HORIZONS, crps_samples
from microchat.forecast import Forecaster, best_spread, spread, validation_paths


def cover80(x, y):
    lo, hi = np.quantile(x, [.1, .9], axis=-1)
    return ((y >= lo) & (y <= hi)).mean()

def study(ckpt, tokenizer, data_dir) -> list[dict]:
    fc = Forecaster.load(ckpt, tokenizer, 'cpu')
    data = {a: validation_paths(fc, load_asset(a, data_dir=data_dir)[1], fc.tokenizer.split) for a in ['^GSPC', '^IXIC']}
    parts = []
    for a, (cum, y) in data.items():
        n = len(y) // 2
        parts += [(f'{a} time 1->2', (cum[:n], y[:n]), (cum[n:], y[n:])), (f'{a} time 2->1', (cum[n:], y[n:]), (cum[:n], y[:n]))]
    parts += [('GSPC->IXIC', data['^GSPC'], data['^IXIC']), ('IXIC->GSPC', data['^IXIC'], data['^GSPC'])]
    rows = []
    for name, (xf, yf), (xs, ys) in parts:
        for h in HORIZONS:
            s, _ = best_spread(xf[..., h - 1], yf[:, h - 1])
            for design, f in [('raw', 1.0), ('fit', s), ('half', np.sqrt(s))]:
                x = spread(xs[..., h - 1], f)
                rows.append(dict(ck=Path(ckpt).parent.name, split=name, h=h, method=design, factor=f,
                                 crps=crps_samples(x, ys[:, h - 1]).mean(), cov80=cover80(x, ys[:, h - 1])))
    return rows

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('checkpoints', nargs='+'); p.add_argument('--tokenizer', default='models/tokenizer_model.pt')
    p.add_argument('--data-dir', default='data'); p.add_argument('--csv', default='nbs/results/calibration_study.csv')
    a = p.parse_args()
    torch.set_num_threads(1)
    df = pd.DataFrame([r for ck in a.checkpoints for r in study(ck, a.tokenizer, a.data_dir)])
    df.to_csv(a.csv, index=False)
    print(df.pivot_table(index='method', columns='h', values=['crps', 'cov80']).to_string())
