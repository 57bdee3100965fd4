"""The tokenizer's feature statistics, plain or winsorised, judged on validation days (chapter 00).

    python tools/tokenizer_statistics.py [--data-dir data] [--tails 0 1e-4] \
        [--out nbs/results/tokenizer_statistics.csv] [--models DIR] [--threads 1]

Fits one tokenizer per `--tails` value (`fit_tokenizer(tail=...)`: the share of each feature's training values
winsorised at either end before its mean and std are taken; the same seed and steps as `mqc tokenize`) on the
training days of every asset in `--data-dir`, and writes their quality tables (`tokenizer_quality`: the gate on
validation days, test days beside it) one after the other, with each tokenizer's hash and fitted scales. About six
minutes per tokenizer on one core of the corpus. With `--models DIR` each tokenizer is also saved as
DIR/tokenizer_tail<tail>.pt, for the study's second half: stage 1 pretrained on each
(`tools/scaling.py --tokenizer DIR/tokenizer_tail<tail>.pt --fractions 0.1 1 --out ...`, chapter 00's
`scaling_winsorised.csv` for tail 1e-4), scored by validation CRPS, and stages 1-3 at their defaults on each, in a
folder of its own per tokenizer (T=DIR/tokenizer_tail<tail>.pt, C=a folder for its checkpoints):

    mqc stage1 --tokenizer $T --out $C/best_model.pt --threads 1 --precision fp32
    mqc stage2 --asset ^GSPC --tokenizer $T --in $C/best_model.pt --out $C/midtrain_gspc.pt --threads 1 --precision fp32
    mqc stage3 --asset ^GSPC --tokenizer $T --in $C/midtrain_gspc.pt --out $C/sft_gspc.pt --threads 1 --precision fp32

whose SFT checkpoints `tools/val_scores.py` scores against every baseline on validation days.
"""
import argparse, time
from pathlib import Path

import pandas as pd
import torch

from microchat.data import load_assets, make_split
from microchat.tokenizer import FEATURES, fit_tokenizer, tokenizer_quality


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--data-dir', default='data')
    ap.add_argument('--tails', nargs='+', type=float, default=[0.0, 1e-4], help='shares winsorised at either end (0: plain)')
    ap.add_argument('--out', default='nbs/results/tokenizer_statistics.csv')
    ap.add_argument('--models', type=Path, help='also save each tokenizer here')
    ap.add_argument('--threads', type=int, default=1); ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    frames = load_assets(a.data_dir)
    split = make_split(frames, None)
    tables = []
    for tail in a.tails:
        t0 = time.time()
        tok = fit_tokenizer(frames, split, tail=tail, seed=a.seed, progress=False)
        if a.models: tok.save(a.models/f"tokenizer_tail{tail:g}.pt")
        q = tokenizer_quality(tok, frames, seed=a.seed)[['validation', 'test', 'target', 'ok']]
        scales = pd.DataFrame({'validation': [f"{s:.3f}" for s in tok.std]}, index=[f"fitted std of {f} (sigma)" for f in FEATURES])
        tables.append(pd.concat([scales, q]).assign(tail=tail, hash=tok.hash).rename_axis('metric').reset_index())
        print(f"tail {tail:g}: tokenizer {tok.hash}, {time.time() - t0:.0f} s", flush=True)
    out = pd.concat(tables)[['tail', 'hash', 'metric', 'validation', 'test', 'target', 'ok']]
    out.to_csv(a.out, index=False)
    print(out.pivot(index='metric', columns='tail', values='validation').loc[out.metric.unique()].to_string())


if __name__ == '__main__': main()
