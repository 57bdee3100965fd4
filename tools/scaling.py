"""Stage 1 at several model sizes and corpus fractions, in the spirit of nanochat's scaling runs, judged on validation days.

    python tools/scaling.py --data-dir data --tokenizer models/tokenizer_model.pt [--fractions 0.01 0.1 1] \
        [--sizes 2x64 4x128] [--tokens 2e6] [--out nbs/results/scaling.csv] [--threads 1]

The defaults are the runs of `nbs/results/scaling.csv` (about 1 hour on one core), which were run on the tokenizer of
plain feature statistics (`tools/tokenizer_statistics.py --models DIR` writes it as DIR/tokenizer_tail0.pt; today's
`mqc tokenize` winsorises, chapter 00); rows already in `--out` are kept and not run again, so delete the file to
measure anew.

Each run pretrains a GPT (`n_layer`x`d_model`) with `mqc stage1`'s own function on a seeded sample of the stocks (the
indices always in) for the same number of training tokens (so a small fraction is seen for more epochs), then scores
the kept checkpoint on one fixed validation set: the validation days (never a test day) of every asset of the
`--val-fraction` sample, with the unigram of each run's training days beside it. The same checkpoint also forecasts:
its raw sampled paths (`--crps-paths` per origin, an origin every `--crps-step` validation days of the same assets) are
scored by CRPS at 1/5/10/32 days, relative to the random walk on the same origins. One row per run goes to
`--out` as it finishes (a stopped sweep keeps what it measured). The tokenizer is the one given, fitted once on the
training days of the whole corpus.
"""
import argparse, math, os, shutil, tempfile, time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from microchat.data import data_files, load_ohlcv
from microchat.evaluate import EvalError, evaluate, random_walk, summarize
from microchat.forecast import Forecaster
from microchat.loop import evaluate_lm, scoring_windows
from microchat.checkpoint import load_checkpoint
from microchat.pretrain import pretrain, split_streams, unigram_baseline
from microchat.tokenizer import Tokenizer, token_streams

INDICES = ('^GSPC', '^IXIC')


def sample_assets(files: dict, fraction: float, seed: int = 0) -> list:
    "A seeded sample of `fraction` of the non-index assets (nested: a smaller fraction is a subset of a larger), plus the indices."
    others = sorted(t for t in files if t not in INDICES)
    order = np.random.default_rng(seed).permutation(len(others))
    return [t for t in INDICES if t in files] + sorted(others[i] for i in order[:max(1, round(fraction * len(others)))])


def linked_dir(files: dict, tickers: list, root: Path) -> Path:
    "A data folder holding links to the CSVs of `tickers` only."
    d = root/f"data_{len(tickers)}"
    d.mkdir(parents=True, exist_ok=True)
    for t in tickers:
        if not (d/files[t].name).exists(): os.symlink(files[t].resolve(), d/files[t].name)
    return d


def val_crps(fc: Forecaster, frames: dict, split, step: int, n_paths: int, seed: int) -> dict:
    "CRPS of `fc`'s raw paths / the random walk's, pooled over every `step`-th validation day of `frames`, per horizon."
    methods = {'rw': random_walk(), 'gpt': fc.method(calibrated=False)}
    scored = []
    for t, df in frames.items():
        try: scored.append(evaluate(df, methods, split, step=step, n_paths=n_paths, seed=seed, part='val', progress=False)[1].assign(asset=t))
        except EvalError: continue   # too few validation days for one origin
    s = summarize(pd.concat(scored))
    return {f'{c}/rw': round(float(s.loc['gpt', c] / s.loc['rw', c]), 4) for c in s if c.startswith('crps@')} | {'crps_origins': int(s.loc['gpt', 'origins'])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data-dir', default='data'); ap.add_argument('--tokenizer', default='models/tokenizer_model.pt')
    ap.add_argument('--fractions', nargs='+', type=float, default=[0.01, 0.1, 1.0])
    ap.add_argument('--sizes', nargs='+', default=['2x64', '4x128'], help='n_layer x d_model')
    ap.add_argument('--tokens', type=float, default=2e6, help='training tokens per run')
    ap.add_argument('--seq-len', type=int, default=256); ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--out', default='nbs/results/scaling.csv'); ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--val-fraction', type=float, default=0.1, help='the sample whose validation days score every run')
    ap.add_argument('--crps-step', type=int, default=21, help='validation days between forecast origins')
    ap.add_argument('--crps-paths', type=int, default=64, help='sampled paths per origin')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    files, tok = data_files(a.data_dir), Tokenizer.load(a.tokenizer)
    samples = {f: sample_assets(files, f, a.seed) for f in sorted(a.fractions)}
    val_assets = sample_assets(files, a.val_fraction, a.seed)
    frames = {t: load_ohlcv(files[t]) for t in sorted(set(samples[max(samples)]) | set(val_assets))}
    parts = split_streams(tok, token_streams(tok, frames))
    val = scoring_windows([parts['val'][t] for t in val_assets if len(parts['val'][t]) > 1], a.seq_len)
    rows, done = [], pd.read_csv(a.out) if Path(a.out).exists() else pd.DataFrame()
    root = Path(tempfile.mkdtemp(prefix='scaling-'))
    try:
        for frac, tickers in samples.items():
            train_tokens = sum(len(parts['train'][t]) for t in tickers)
            unigram = unigram_baseline([parts['train'][t] for t in tickers], tok.vocab_size)([parts['val'][t] for t in val_assets])
            data_dir = linked_dir(files, tickers, root)
            for size in a.sizes:
                n_layer, d_model = map(int, size.split('x'))
                if len(done) and ((done.fraction == frac) & (done['size'] == size)).any(): continue
                windows = sum(max(0, (len(parts['train'][t]) - a.seq_len - 1) // (a.seq_len // 2) + 1) for t in tickers)
                epochs = a.tokens / (windows * a.seq_len)
                eval_every = max(1, math.ceil(epochs * windows / a.batch) // 4)   # 4 validations: on the whole corpus one costs as much as many steps
                out, t0 = root/f"{size}_{frac}.pt", time.time()
                pretrain(data_dir=data_dir, tokenizer_path=a.tokenizer, out=out, epochs=epochs, batch=a.batch, seq_len=a.seq_len,
                         n_layer=n_layer, n_head=max(1, d_model // 32), d_model=d_model, eval_every=eval_every, seed=a.seed, device='cpu', progress=False)
                model, ckpt = load_checkpoint(out, tok.hash, 'cpu', a.tokenizer)
                params = sum(p.numel() for p in model.parameters())
                row = dict(fraction=frac, val_assets=len(val_assets), assets=len(tickers), train_tokens=train_tokens, size=size, params=params,
                           epochs=round(epochs, 2), val_ce=round(evaluate_lm(model, *val), 4), unigram_val_ce=round(unigram, 4),
                           seconds=round(time.time() - t0),
                           **val_crps(Forecaster(model, tok, ckpt['extra'].get('context_len'), ckpt['extra']),
                                      {t: frames[t] for t in val_assets}, tok.split, a.crps_step, a.crps_paths, a.seed))
                print(row, flush=True)
                rows.append(row)
                pd.concat([done, pd.DataFrame(rows)]).to_csv(a.out, index=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
