"""Model and training choices compared on validation days only: for each design, pretrain -> midtrain -> SFT (on
^GSPC), then the raw paths' CRPS over the validation-period origins of every asset with validation days, relative to
the random walk on the same origins. The design with the lowest mean over the horizons becomes the default when it
beats the default by more than the training-seed noise (the default trained with another seed, also printed).

    python tools/validation_sweep.py --data-dir data --tokenizer models/tokenizer_model.pt [--out /tmp/sweep] [NAME ...]

The regime designs (chapter 00h) run on a corpus folder: each is pretrained on every asset there for 3 epochs, SFT
sees 5,000 examples of the other assets, and the validation CRPS is also taken relative to GJR-GARCH skew-t (the
strongest baseline on the index test days) on ^GSPC, ^IXIC and the four offline stocks:

    python tools/validation_sweep.py --data-dir <corpus folder> --tokenizer <its tokenizer> --csv nbs/results/regime_sweep.csv "regimes: no" "regimes: yes"

Takes about 5 minutes per design on one CPU core; the designs run one after the other. Each result is printed and
appended to nbs/results/validation_sweep.csv (`--csv`), which chapter 01 prints.
"""
import argparse, json, time
from pathlib import Path
import pandas as pd
import torch
from microchat.pretrain import pretrain
from microchat.midtrain import midtrain
from microchat.sft import sft
from microchat.forecast import Forecaster
from microchat.data import load_asset
from microchat.model import precision
from microchat.evaluate import EvalError, evaluate, gjr_garch, random_walk, summarize

DESIGNS = {  # name -> per stage, what differs from the defaults of the code this sweep was run against (10 epochs, SFT on one asset)
    'default': {}, 'default, seed 1': {'seed': 1}, 'default, seed 2': {'seed': 2},
    'wide (d_model 256)': {'pretrain': {'d_model': 256}}, 'deep (6 layers)': {'pretrain': {'n_layer': 6}},
    'long (20 epochs)': {'pretrain': {'epochs': 20}}, 'SFT on all assets': {'sft': {'all_assets': True}},
    'long + SFT on all assets': {'pretrain': {'epochs': 20}, 'sft': {'all_assets': True}},
    # the defaults since (20 epochs, SFT on all assets): three seeds in fp32, two in bf16 matmuls
    'long + SFT on all assets, seed 1': {'pretrain': {'epochs': 20}, 'sft': {'all_assets': True}, 'seed': 1},
    'long + SFT on all assets, seed 2': {'pretrain': {'epochs': 20}, 'sft': {'all_assets': True}, 'seed': 2},
    'long + SFT on all assets, bf16': {'pretrain': {'epochs': 20}, 'sft': {'all_assets': True}, 'precision': 'bf16'},
    'long + SFT on all assets, bf16, seed 1': {'pretrain': {'epochs': 20}, 'sft': {'all_assets': True}, 'precision': 'bf16', 'seed': 1},
}
CORPUS = {'pretrain': {'epochs': 3}, 'sft': {'all_assets': True, 'other_examples': 5000}, 'assets': ['^GSPC', '^IXIC', 'AAPL', 'IBM', 'MSFT', 'GOOGL'], 'gjr': True}
for s_ in (0, 1):
    DESIGNS[f'regimes: no{", seed 1" if s_ else ""}'] = {**CORPUS, 'seed': s_}
    DESIGNS[f'regimes: yes{", seed 1" if s_ else ""}'] = {**CORPUS, 'pretrain': {**CORPUS['pretrain'], 'regimes': True}, 'seed': s_}
BASE = {'pretrain': {'epochs': 10}, 'sft': {'all_assets': False}}   # the defaults the sweep compared against

def run(name, design, data_dir, tokenizer, out) -> dict:
    root = Path(out)/name.replace(' ', '_').replace(',', '').replace('(', '').replace(')', '').replace('+', 'and')
    root.mkdir(parents=True, exist_ok=True)
    cfg = {s: {**BASE.get(s, {}), **design.get(s, {})} for s in ('pretrain', 'midtrain', 'sft')}
    common = dict(data_dir=data_dir, tokenizer_path=tokenizer, device='cpu', progress=False, seed=design.get('seed', 0))
    t0, prec = time.time(), design.get('precision', 'fp32')
    frames = []
    with precision(prec):
        lm = pretrain(out=root/'best_model.pt', **common, **cfg['pretrain'])
        midtrain(in_path=root/'best_model.pt', asset='^GSPC', **common, **cfg['midtrain'])
        sft(in_path=root/'midtrain_gspc.pt', asset='^GSPC', **common, **cfg['sft'])
        fc = Forecaster.load(root/'sft_gspc.pt', tokenizer, 'cpu')
        methods = {'rw': random_walk(), 'sft': fc.method(calibrated=False), **({'gjr': gjr_garch()} if design.get('gjr') else {})}
        for a in design.get('assets', ['^GSPC', '^IXIC']):
            _, df = load_asset(a, data_dir=data_dir)
            try: _, po = evaluate(df, methods, fc.tokenizer.split, progress=False, part='val')
            except EvalError: continue
            frames.append(po.assign(asset=a))
    s = summarize(pd.concat(frames))
    crps = [c for c in s if c.startswith('crps@')]
    rel = s.loc['sft', crps] / s.loc['rw', crps]
    vs_gjr = {f'{c} / gjr': round(float(s.loc['sft', c] / s.loc['gjr', c]), 4) for c in crps} if 'gjr' in s.index else {}
    return {'design': name, 'seed': common['seed'], 'precision': prec, 'minutes': round((time.time() - t0) / 60, 1),
            **({'pretrain val CE': float(lm.loc['model', 'val CE']), 'unigram val CE': float(lm.loc['unigram', 'val CE'])} if design.get('gjr') else {}),
            **{f'{c} / rw': round(float(v), 4) for c, v in rel.items()}, **vs_gjr,
            'mean / rw': round(float(rel.mean()), 4), 'cov80@32': round(float(s.loc['sft', 'cov80@32']), 3), 'origins': int(s.loc['sft', 'origins'])}

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data-dir', default='data'); p.add_argument('--tokenizer', default='models/tokenizer_model.pt')
    p.add_argument('--out', default='/tmp/validation_sweep'); p.add_argument('--csv', default='nbs/results/validation_sweep.csv'); p.add_argument('designs', nargs='*', default=list(DESIGNS))
    a = p.parse_args()
    torch.set_num_threads(1)
    for name in a.designs:
        row = run(name, DESIGNS[name], a.data_dir, a.tokenizer, a.out)
        print(json.dumps(row), flush=True)
        csv = Path(a.csv)   # minutes are the machine's load's as much as the design's: printed, not kept
        pd.DataFrame([row]).drop(columns='minutes').to_csv(csv, mode='a', header=not csv.exists(), index=False)
