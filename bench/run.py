"""Speed of microchat against plain-PyTorch references, as ONE table of ratios measured in the same run.

    python bench/run.py [--quick] [--device auto|cpu|cuda] [--threads N] [--pipeline] [--save]

Every ratio compares two workloads timed in interleaved rounds (A B, B A, A B ...; one warm-up call each, medians
of the rounds), so both see the same machine load: on a busy shared machine the absolute numbers wander, the
ratios hold. With one CPU thread the clock is the process's CPU time, which other processes cannot stretch.
Speed targets live here, never in unit tests. Models are randomly initialised (speed does not depend on the
weights); the data are the real offline candles in data/ (written on first use).
"""
import argparse, contextlib, io, os, platform, resource, shutil, statistics, subprocess, sys, tempfile, time, warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple
import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's microchat, also when it is not pip-installed

from microchat.model import GPT, GPTConfig, autocast, compute_dtype, pick_device, pick_threads, precision, sample, sample_nocache

CONTEXT, HORIZON, PATHS = 128, 32, 256   # the forecast shape of stages 3-4: 128 days in, 256 paths of 32 days out
EVAL_ORIGINS = 99   # the yardstick of the evaluation target: <= 15 s per checkpoint for 99 origins x 256 paths x 32 days


@dataclass
class Row:
    row: str
    microchat: str
    reference: str = '-'
    ratio: str = '-'
    target: str = '-'
    ok: bool | None = None

COLUMNS = ['row', 'microchat', 'reference', 'ratio', 'target', 'ok']

def log(msg): print(f"[bench] {msg}", file=sys.stderr, flush=True)

# ---------------------------------------------------------------------------------------------------- timing

def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize(device)

CPU_CLOCK = False  # set in main: ratios from process CPU time (1 CPU thread) or wall time
PREC = 'auto'      # set in main: --precision

class Times(NamedTuple):
    "Median seconds per call."
    wall: float
    cpu: float  # this process's CPU time: with 1 thread, the time the work took, whatever else runs on the machine
    @property
    def s(self): return self.cpu if CPU_CLOCK else self.wall

def timed(fn, device, number=1) -> tuple[float, float]:
    "(wall, process CPU) seconds per call of fn, over `number` back-to-back calls."
    sync(device)
    w, c = time.perf_counter(), time.process_time()
    for _ in range(number): fn()
    sync(device)
    return (time.perf_counter() - w) / number, (time.process_time() - c) / number

def race(fns: dict, rounds: int, device, warm=True, min_block=0.3) -> dict:
    """Median Times per call of each fn, timed in interleaved rounds so that all see the same load.
    warm: one untimed call of each first, which also sizes its block of calls to >= min_block seconds
    (warm=False: the caller has warmed the kernels up already, one call per block)."""
    number = {k: max(1, min(100, round(min_block / timed(fn, device)[0]))) if warm else 1 for k, fn in fns.items()}
    times = {k: [] for k in fns}
    for r in range(rounds):
        for k in (list(fns) if r % 2 == 0 else list(fns)[::-1]):  # alternate the order: no one always goes first
            times[k].append(timed(fns[k], device, number[k]))
    return {k: Times(*(statistics.median(t[i] for t in v) for i in (0, 1))) for k, v in times.items()}

def fmt_rate(x, unit):
    for scale, prefix in [(1e9, 'G'), (1e6, 'M'), (1e3, 'k'), (1, '')]:
        if x >= scale: return f"{x / scale:.3g}{prefix} {unit}"
    return f"{x:.3g} {unit}"

def fmt_s(s): return f"{s * 1e3:.0f} ms" if s < 1 else f"{s:.2f} s"

# ---------------------------------------------------------------------------------------------------- machine

def machine_line(device, threads_note) -> str:
    cpu = next((l.split(':', 1)[1].strip() for l in Path('/proc/cpuinfo').read_text().splitlines()
                if l.startswith('model name')), platform.processor() or '?') if Path('/proc/cpuinfo').exists() else platform.processor()
    dev = f"cuda ({torch.cuda.get_device_name(device)})" if device.type == 'cuda' else 'cpu'
    load = ' / '.join(f"{x:.1f}" for x in os.getloadavg())
    return (f"machine: {len(os.sched_getaffinity(0))} cores ({cpu}), load {load} | python {platform.python_version()} | "
            f"torch {torch.__version__} | device {dev} | matmuls {str(compute_dtype(device))[6:]} (--precision {PREC}) | "
            f"torch threads {torch.get_num_threads()} ({threads_note}) | "
            f"clock: {'process CPU time (1 thread: immune to the load)' if CPU_CLOCK else 'wall time'}")

# ---------------------------------------------------------------------------------------------------- real data

def real_data():
    "(tokenizer, frames, token streams per split) from data/ and models/tokenizer_model.pt (fitted here if absent)."
    from microchat.data import data_files, load_assets, make_split, write_offline
    from microchat.tokenizer import Tokenizer, TokenizerError, fit_tokenizer, token_streams
    from microchat.pretrain import split_streams
    data = ROOT/'data'
    if not data_files(data): log(f"no CSVs in {data}: writing the offline data"); write_offline(data)
    frames = load_assets(data)
    try: tok = Tokenizer.load(ROOT/'models'/'tokenizer_model.pt')
    except TokenizerError as e:  # encode speed does not depend on how well the tokenizer is trained
        log(f"{e}; fitting a quick tokenizer in memory (200 steps)")
        tok = fit_tokenizer(frames, make_split(frames), steps=200, progress=False)
    return tok, frames, split_streams(tok, token_streams(tok, frames))

# ---------------------------------------------------------------------------------------------------- rows

def corpus_row(tok, rounds) -> Row:
    """Loading every CSV in data/ as the commands do (parse, check, report) and encoding it, against pandas reading the
    same files with no checks; the target is the corpus issue's: loaded and tokenized in under a minute."""
    from microchat.data import data_files, load_assets
    files = data_files(ROOT/'data')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')   # the loader's one-line notes on stale opens, printed once per file
        t = race({'microchat': lambda: [tok.encode(df) for df in load_assets(ROOT/'data').values()],
                  'reference': lambda: [pd.read_csv(f, index_col=0, parse_dates=True) for f in files.values()]},
                 rounds, torch.device('cpu'), warm=False)
    mc, ref = t['microchat'].s, t['reference'].s
    return Row(f'corpus: load, check and encode every file of data/ ({len(files)} files)', fmt_s(mc),
               f"{fmt_s(ref)} (pd.read_csv of the same files, no checks)", f"{mc / ref:.2f}x the time", '< 60 s', mc < 60)

def tokenizer_row(tok, frames, rounds) -> Row:
    "Tokenizer.encode on every asset vs nearest-centroid search (cdist + argmin) on its already-normalised features."
    dfs = list(frames.values())
    feats = [torch.from_numpy(tok.normalise(df)) for df in dfs]
    codebook = torch.from_numpy(((tok.table - tok.mean) / tok.std).astype(np.float32))  # the 512 codes, same feature space
    n = sum(len(f) for f in feats)
    t = race({'microchat': lambda: [tok.encode(df) for df in dfs],
              'reference': lambda: [torch.cdist(f, codebook).argmin(1) for f in feats]}, rounds, torch.device('cpu'))
    mc, ref = n / t['microchat'].s, n / t['reference'].s
    return Row(f'tokenizer encode, candles/s ({n:,} real candles, CPU)', fmt_rate(mc, 'candles/s'),
               f"{fmt_rate(ref, 'candles/s')} (cdist+argmin, 512 codes)", f"{mc / ref:.2f}x", '>= 1x', mc >= ref)

def relu2(x): return F.relu(x).square()

class TorchGPT(nn.Module):
    "The reference: nn.TransformerEncoder of the same shape (pre-norm, causal, ReLU^2 MLP of width 4d, no biases)."
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        d = cfg.d_model
        self.wte = nn.Embedding(cfg.vocab_size, d)
        layer = nn.TransformerEncoderLayer(d, cfg.n_head, 4 * d, dropout=0.0, activation=relu2, batch_first=True,
                                           norm_first=True, bias=False)
        self.encoder = nn.TransformerEncoder(layer, cfg.n_layer, norm=nn.LayerNorm(d, bias=False), enable_nested_tensor=False)
        self.lm_head = nn.Linear(d, cfg.vocab_size, bias=False)

    def forward(self, idx, targets):
        mask = nn.Transformer.generate_square_subsequent_mask(idx.size(1), device=idx.device)
        logits = self.lm_head(self.encoder(self.wte(idx), mask=mask, is_causal=True)).float()
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())

def train_step(model, opt, x, y, m, device, prec=None):
    "One stage-1 step as microchat.loop.train_lm takes it: forward (at `prec`, else the run's --precision), backward, clip, AdamW step."
    def step():
        with precision(prec or PREC), autocast(device): _, loss = model(x, y, m) if m is not None else model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step

def adamw(model): return torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)

def non_embedding_params(model) -> int:
    "Parameters that do FLOPs: all but the token embedding (a lookup table)."
    return sum(p.numel() for p in model.parameters()) - model.wte.weight.numel()

def matmul_peak(device):
    """A large square matmul in the dtype the model multiplies in (`compute_dtype`), to race beside a row's workloads:
    (workload, its FLOPs, a label)."""
    n, dtype = (8192 if device.type == 'cuda' else 2048), compute_dtype(device)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    return (lambda: a @ b), 2 * n ** 3, f"{n}x{n} {str(dtype)[6:]} matmul"

def flops_per_token(cfg: GPTConfig, n_params: int) -> float:
    "6 x non-embedding parameters + 12 x layers x width x context: the attention matmuls too (nanochat's estimate)."
    return 6 * n_params + 12 * cfg.n_layer * cfg.d_model * cfg.seq_len

def training_rows(streams, batch, rounds, device, compiled=False) -> list[Row]:
    """Tokens/s of a microchat GPT training step as `mqc stage1` runs it (matmuls in `compute_dtype`: bf16 where the
    hardware multiplies it) vs nn.TransformerEncoder as plain PyTorch runs it (fp32) and, where the step runs in bf16,
    vs the same reference under the same autocast (like for like); and the share of the matmul FLOP/s in that dtype.
    compiled: also the step of `mqc stage1 --compile` (torch.compile; its one-off compile time is not in the ratio)."""
    from microchat.loop import batch_for_step, lm_windows
    cfg = GPTConfig()
    x, y, m = (a.to(device) for a in batch_for_step(lm_windows(streams['train'].values(), cfg.seq_len), 0, batch, seed=0))
    torch.manual_seed(0)
    ours, ref, twin = GPT(cfg).to(device), TorchGPT(cfg).to(device), TorchGPT(cfg).to(device)
    dtype = compute_dtype(device)
    mixed = dtype == torch.bfloat16
    matmul, matmul_flops, matmul_label = matmul_peak(device)
    steps = {'microchat': train_step(ours, adamw(ours), x, y, m, device),
             'reference': train_step(ref, adamw(ref), x, y, None, device, prec='fp32'), 'matmul': matmul}
    if mixed: steps['twin'] = train_step(twin, adamw(twin), x, y, None, device)
    compile_note = None
    if compiled:
        try:
            t0 = time.perf_counter()
            comp = torch.compile(GPT(cfg).to(device))
            steps['compiled'] = train_step(comp, adamw(comp), x, y, m, device)
            steps['compiled'](); compile_note = f"compiled in {time.perf_counter() - t0:.0f} s"
        except Exception as e: compile_note = f"torch.compile failed here: {type(e).__name__}"; steps.pop('compiled')
    t = race(steps, rounds, device)
    tok = {k: x.numel() / v.s for k, v in t.items() if k != 'matmul'}
    n_params, ref_params = non_embedding_params(ours), non_embedding_params(ref)
    flops, peak = flops_per_token(cfg, n_params) * tok['microchat'], matmul_flops / t['matmul'].s
    shape, how = f"{cfg.n_layer}L d{cfg.d_model} h{cfg.n_head}, {batch}x{cfg.seq_len} tokens", f"{str(dtype)[6:]} matmuls"
    rows = [Row(f'GPT training step, tokens/s ({shape}), as mqc runs it ({how})', fmt_rate(tok['microchat'], 'tok/s'),
                f"{fmt_rate(tok['reference'], 'tok/s')} (nn.TransformerEncoder, {ref_params / 1e6:.2f}M params, plain fp32)",
                f"{tok['microchat'] / tok['reference']:.2f}x", '>= 1.2x', tok['microchat'] >= 1.2 * tok['reference'])]
    if mixed:
        rows.append(Row('the same step like for like: the reference under the same bf16 autocast', fmt_rate(tok['microchat'], 'tok/s'),
                        f"{fmt_rate(tok['twin'], 'tok/s')} (nn.TransformerEncoder, bf16 autocast)",
                        f"{tok['microchat'] / tok['twin']:.2f}x", 'report'))
    if compiled:
        rows.append(Row(f'GPT training step with torch.compile (mqc stage1 --compile, {how})',
                        f"{fmt_rate(tok['compiled'], 'tok/s')} ({compile_note})" if 'compiled' in tok else compile_note,
                        f"{fmt_rate(tok['microchat'], 'tok/s')} (eager, as above)",
                        f"{tok['compiled'] / tok['microchat']:.2f}x" if 'compiled' in tok else '-', 'report'))
    rows.append(Row(f'GPT training, share of the matmul FLOP/s ({flops_per_token(cfg, n_params) / 1e6:.2f}M FLOP/token: '
                    f'6 x {n_params / 1e6:.2f}M non-embedding params + attention)',
                    fmt_rate(flops, 'FLOP/s'), f"{fmt_rate(peak, 'FLOP/s')} ({matmul_label})",
                    f"{flops / peak:.0%}", '>= 60%', flops / peak >= 0.6))
    return rows

def sampling_rows(streams, nocache_paths, single_calls, rounds, device) -> list[Row]:
    "256 paths x 32 days from a 128-token prompt: KV cache vs recompute, the absolute time, one batch vs single paths."
    cfg = GPTConfig()
    torch.manual_seed(0)
    model = GPT(cfg).to(device).eval()
    longest = max(streams['train'].values(), key=len)
    prompt = torch.as_tensor(longest[-CONTEXT:], device=device)
    cached = lambda: sample(model, prompt, HORIZON, n_paths=PATHS, seed=0)
    nocache = lambda: sample_nocache(model, prompt, HORIZON, n_paths=nocache_paths, seed=0)
    singles = lambda: [sample(model, prompt, HORIZON, n_paths=1, seed=i) for i in range(single_calls)]
    matmul, matmul_flops, matmul_label = matmul_peak(device)
    cached(); sample_nocache(model, prompt, 2, n_paths=nocache_paths, seed=0); singles(); matmul()  # warm-up (nocache: same kernels, 2 steps)
    t = race({'cached': cached, 'nocache': nocache, 'singles': singles, 'matmul': matmul}, rounds, device, warm=False)
    cached_s, nocache_s, singles_s = t['cached'].s, t['nocache'].s * PATHS / nocache_paths, t['singles'].s * PATHS / single_calls
    wall, cpu = t['cached']
    # the matmul-bound limit: 2 FLOPs per weight per token (the prompt once, then every path's tokens) at the peak
    n_params = non_embedding_params(model)
    limit = 2 * n_params * (CONTEXT + PATHS * HORIZON) / (matmul_flops / t['matmul'].s)
    scaled = lambda k: '' if k == PATHS else f", {k} measured x{PATHS // k}"
    return [Row(f'sampling {PATHS} paths x {HORIZON} days: KV cache vs recompute', f"{fmt_s(cached_s)} (sample)",
                f"{fmt_s(nocache_s)} (sample_nocache{scaled(nocache_paths)})", f"{nocache_s / cached_s:.1f}x", '>= 5x',
                nocache_s / cached_s >= 5),
            Row(f'sampling {PATHS} paths x {HORIZON} days, seconds',
                f"{wall:.2f} s wall, {cpu:.2f} s CPU, {torch.get_num_threads()} thread(s)",
                f"{fmt_s(limit)}: the matmul-bound limit (2 x {n_params / 1e6:.2f}M params per token at the peak of a {matmul_label})",
                f"{cached_s / limit:.1f}x the limit", '< 1 s on 2 cores', ok=t['cached'].s < 1),
            Row(f'sampling, batching: {PATHS} paths in one batch vs {PATHS} one-path calls', f"{fmt_s(cached_s)} (1 call)",
                f"{fmt_s(singles_s)} ({PATHS} calls{scaled(single_calls)})", f"{singles_s / cached_s:.1f}x", 'report')]

def concatenating_attend(self, layer, q, k, v):
    """The reference for `KVCache.attend`: the same cache, but the prompt's and the path's scores concatenated and put
    through `torch.softmax` (maximum subtracted), the weights split again over the two values."""
    kp, vp = self.prefix[0][layer], self.prefix[1][layer]
    B, H, hd, Tp = kp.shape; N = q.size(0); R = N // B
    t = self.pos - Tp
    qh = (q.reshape(B, R, H, hd) * hd ** -0.5).transpose(1, 2)
    self.k[layer, t] = k.reshape(B, R, H, hd).transpose(1, 2)
    self.v[layer, t] = v.reshape(B, R, H, hd).transpose(1, 2)
    ks, vs = self.k[layer, :t + 1], self.v[layer, :t + 1]
    w = torch.cat([(qh @ kp).float(), (ks * qh.float()).sum(-1).permute(1, 2, 3, 0)], -1).softmax(-1)   # [B, H, R, Tp+t+1]
    y = (w[..., :Tp].to(vp.dtype) @ vp).float() + (w[..., Tp:].permute(3, 0, 1, 2).unsqueeze(-1) * vs).sum(0)
    return y.transpose(1, 2).reshape(N, H, 1, hd)

BUSY_SAMPLER = """
import sys, torch
torch.set_num_threads(1)
from microchat.model import GPT, GPTConfig, precision, sample
torch.manual_seed(1)
model, prompt = GPT(GPTConfig()).eval(), torch.randint(0, 512, (128,))
with precision(sys.argv[1]):
    sample(model, prompt, 32, n_paths=256, seed=0); print('ready', flush=True)
    while True: sample(model, prompt, 32, n_paths=256, seed=0)
"""

def attention_rows(streams, rounds, device) -> list[Row]:
    """The cached attention (`KVCache.attend`) against `concatenating_attend` in `sample`, 256 paths x 32 days:
    alone, and beside a second process that samples the same way (what two evaluation workers do on two cores)."""
    from microchat.model import KVCache
    name = f'sampling {PATHS} x {HORIZON}, attention over the cache: sums of the two parts vs concatenated scores'
    if device.type != 'cpu': return [Row(name, 'skipped (CPU only: on a GPU the second process would not share the cores)')]
    torch.manual_seed(0)
    model = GPT(GPTConfig()).to(device).eval()
    prompt = torch.as_tensor(max(streams['train'].values(), key=len)[-CONTEXT:], device=device)
    ours = lambda: sample(model, prompt, HORIZON, n_paths=PATHS, seed=0)
    def reference():
        attend, KVCache.attend = KVCache.attend, concatenating_attend
        try: return sample(model, prompt, HORIZON, n_paths=PATHS, seed=0)
        finally: KVCache.attend = attend
    agree = (ours() == reference()).float().mean().item()   # the same softmax: the same tokens but for rounding
    alone = race({'ours': ours, 'reference': reference}, rounds, device)
    rows = [Row(name + ', alone', f"{fmt_s(alone['ours'].s)} ({agree:.1%} of tokens the same)", fmt_s(alone['reference'].s),
                f"{alone['reference'].s / alone['ours'].s:.2f}x", 'report')]
    if (os.cpu_count() or 1) < 2: return rows + [Row(name + ', beside a second process', 'skipped (one core)')]
    prec = 'bf16' if compute_dtype(device) == torch.bfloat16 else 'fp32'
    busy = subprocess.Popen([sys.executable, '-c', BUSY_SAMPLER, prec], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        busy.stdout.readline()   # 'ready': it is sampling
        beside = race({'ours': ours, 'reference': reference}, rounds, device)
    finally: busy.kill(); busy.wait()
    return rows + [Row(name + ', beside a second process sampling', fmt_s(beside['ours'].s), fmt_s(beside['reference'].s),
                       f"{beside['reference'].s / beside['ours'].s:.2f}x", 'report')]

def rl_row(tok, frames, rounds, device, episodes=4, group=8) -> Row:
    """One stage-4 step as `mqc stage4` takes it (`--batch-episodes 4 --group-size 8`: sample 8 paths per episode,
    reward, policy and reference log-probs, backward, AdamW) vs a stage-3 SFT step (forward, backward, clip, AdamW)
    on as many real (context + horizon) windows of the same asset: the same number of tokens."""
    name = f'RL step vs SFT step, {episodes * group}x{CONTEXT + HORIZON} tokens'
    try: from microchat import rl
    except ImportError: return Row(name, 'n/a (microchat.rl not present)')
    asset = '^GSPC' if '^GSPC' in frames else next(iter(frames))
    eps = rl.AssetEpisodes(tok, frames[asset], CONTEXT, HORIZON)
    starts = eps.starts('train')[-episodes * group:]
    rl_batch, sft_batch = eps.batch(starts[:episodes]), eps.batch(starts)
    windows = torch.as_tensor(np.concatenate([sft_batch.prompts, sft_batch.tokens], 1), device=device)
    mask = torch.zeros(windows.size(0), windows.size(1) - 1, device=device)
    mask[:, CONTEXT - 1:] = 1                                    # SFT scores the horizon only
    torch.manual_seed(0)
    model = GPT(GPTConfig()).to(device)
    ref = GPT(GPTConfig()).to(device).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), weight_decay=0.0)
    rl_step = lambda: rl.rl_step(model, ref, opt, rl_batch, rl.REWARDS['return_mse'], group_size=group, seed=0)
    sft_step = train_step(model, adamw(model), windows[:, :-1], windows[:, 1:], mask, device)
    t = race({'rl': rl_step, 'sft': sft_step}, rounds, device)
    ratio = t['rl'].s / t['sft'].s
    return Row(name, f"{fmt_s(t['rl'].s)} (rl_step, {asset}, return_mse)", f"{fmt_s(t['sft'].s)} (SFT step)",
               f"{ratio:.2f}x the time", 'report')

def eval_rows(tok, frames, rounds, device, n_origins=16) -> list[Row]:
    """The evaluation of one default-size checkpoint: `n_origins` test-day origins x 256 paths x 32 days of ^GSPC, all
    origins in batched calls (`Forecaster.sample_at`, what `mqc eval` runs) vs one origin at a time (`forecast_at`);
    and the device's rows per sampling call (`SAMPLING_ROWS`) against 8x as many."""
    from microchat.forecast import SAMPLING_ROWS, Forecaster
    from microchat.evaluate import forecast_at
    asset = '^GSPC' if '^GSPC' in frames else next(iter(frames))
    df = frames[asset]
    torch.manual_seed(0)
    fc = Forecaster(GPT(GPTConfig()).to(device), tok, context_len=CONTEXT)
    origins = np.flatnonzero(df.index >= tok.split.test_start)[:-HORIZON][::5][:n_origins]
    method = fc.method()
    rows = SAMPLING_ROWS[device.type]
    t = race({'batched': lambda: fc.sample_at(df, origins, HORIZON, PATHS, seeds=np.arange(len(origins))),
              'loop': lambda: [forecast_at(df, df.index[o], method, HORIZON, PATHS, k) for k, o in enumerate(origins)],
              'wide': lambda: fc.sample_at(df, origins, HORIZON, PATHS, seeds=np.arange(len(origins)), max_rows=8 * rows)},
             rounds, device)
    per = {k: v.s / len(origins) for k, v in t.items()}
    return [Row(f'evaluation of one checkpoint: {len(origins)} origins x {PATHS} paths x {HORIZON} days ({asset}, default model)',
                f"{fmt_s(per['batched'])}/origin (batched): {EVAL_ORIGINS * per['batched']:.1f} s for {EVAL_ORIGINS} origins",
                f"{fmt_s(per['loop'])}/origin (one origin at a time)", f"{per['loop'] / per['batched']:.2f}x",
                f'<= 15 s for {EVAL_ORIGINS} origins', EVAL_ORIGINS * per['batched'] <= 15),
            Row(f'evaluation, rows per sampling call: {rows} (SAMPLING_ROWS[{device.type!r}]) vs {8 * rows}',
                f"{fmt_s(per['batched'])}/origin", f"{fmt_s(per['wide'])}/origin ({8 * rows} rows per call)",
                f"{per['wide'] / per['batched']:.2f}x", 'report')]

def cross_section_row(tok, rounds, device, sample=2, step=63) -> Row:
    """`mqc eval --asset all` (every baseline and one default-size checkpoint) over the indices and `sample` stocks,
    an origin every `step` days: the assets in one worker process per torch thread (the default) vs in this process."""
    from microchat.report import run_eval
    from microchat.checkpoint import save_checkpoint
    name = f'cross-section evaluation, origins/s: indices + {sample} stocks, every baseline + 1 checkpoint'
    workers = torch.get_num_threads() if device.type == 'cpu' else 1
    if workers == 1: return Row(name, 'skipped (one torch thread or CUDA: the assets run in one process either way)')
    if not (ROOT/'models'/'tokenizer_model.pt').exists(): return Row(name, 'skipped (no models/tokenizer_model.pt: run mqc tokenize)')
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = save_checkpoint(Path(tmp)/'gpt.pt', GPT(GPTConfig()), tok.hash, 0, extra=dict(stage='sft', context_len=CONTEXT))
        runs, n = {}, {}
        def evaluation(w):
            def go():
                _, po = run_eval(in_paths=[ckpt], asset='all', sample=sample, step=step, workers=w, no_calibrate=True,
                                 device=device.type, tokenizer_path=ROOT/'models'/'tokenizer_model.pt', data_dir=ROOT/'data',
                                 out=Path(tempfile.mkdtemp(dir=tmp))/'eval', progress=False)
                n[w] = len(po) // po.horizon.nunique() // po.method.nunique()
            return go
        with contextlib.redirect_stdout(io.StringIO()):   # run_eval prints its tables and the files it wrote
            t = race({'workers': evaluation(workers), 'one': evaluation(1)}, rounds, device, warm=False)
    mc, ref = n[workers] / t['workers'].wall, n[1] / t['one'].wall
    return Row(name, f"{mc:.3g} origins/s ({workers} worker processes, {n[workers]} origins)", f"{ref:.3g} origins/s (one process)",
               f"{mc / ref:.2f}x", 'report')

def profiles(streams, device, top=8):
    "Where the time goes: the ops with the most self time in one training step (batch 32) and one 256 x 32 sample."
    from torch.profiler import profile
    from microchat.loop import batch_for_step, lm_windows
    cfg = GPTConfig()
    torch.manual_seed(0)
    model = GPT(cfg).to(device)
    x, y, m = (a.to(device) for a in batch_for_step(lm_windows(streams['train'].values(), cfg.seq_len), 0, 32, seed=0))
    prompt = torch.as_tensor(max(streams['train'].values(), key=len)[-CONTEXT:], device=device)
    for name, fn in [('training step, batch 32', train_step(model, adamw(model), x, y, m, device)),
                     (f'sample, {PATHS} paths x {HORIZON} days', lambda: sample(model, prompt, HORIZON, n_paths=PATHS, seed=0))]:
        fn()   # warm-up
        with profile() as prof: fn()
        ops = pd.Series({e.key: e.self_cpu_time_total for e in prof.key_averages()}).sort_values(ascending=False)
        print(f"\n{name} ({str(compute_dtype(device))[6:]} matmuls): share of self time\n" + (ops / ops.sum()).head(top).map('{:.0%}'.format).to_string())

def pipeline_row(run: bool) -> Row:
    "Wall time and peak RSS of `mqc pipeline --quick` in a scratch folder (a copy of data/), as a child process."
    name = 'quickstart: mqc pipeline --quick'
    from microchat import cli
    if not hasattr(cli, 'pipeline'): return Row(name, 'n/a (mqc pipeline not present)', target='< 10 min, < 4 GiB')
    if not run: return Row(name, 'skipped (pass --pipeline: it takes minutes)', target='< 10 min, < 4 GiB')
    mqc = Path(sys.executable).with_name('mqc')
    with tempfile.TemporaryDirectory() as scratch:  # never overwrite the checkout's models and checkpoints
        shutil.copytree(ROOT/'data', Path(scratch)/'data')
        log(f"running {mqc.name} pipeline --quick in {scratch}")
        t = time.perf_counter()
        # the child gets this run's thread count: on a busy machine 2 OpenMP threads wait a scheduler slice at every op
        env = dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()))
        done = subprocess.run([str(mqc) if mqc.exists() else 'mqc', 'pipeline', '--quick', '--precision', PREC], cwd=scratch, env=env,
                              capture_output=True, text=True)
        wall = time.perf_counter() - t
    for line in done.stdout.splitlines():  # the pipeline's own stage clock: where the minutes go
        if line.startswith('===') or line.startswith('pipeline done'): log(f"  {line}")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2 ** 20  # KiB -> GiB; the largest child process
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ['?'])[-1]
        return Row(name, f"failed (exit {done.returncode}: {last[:80]})", target='< 10 min, < 4 GiB', ok=False)
    return Row(name, f"{wall / 60:.1f} min, {rss:.2f} GiB peak RSS, {torch.get_num_threads()} thread(s)", target='< 10 min, < 4 GiB',
               ok=wall < 600 and rss < 4)

# ---------------------------------------------------------------------------------------------------- table

def cells(r: Row) -> list[str]:
    return [r.row, r.microchat, r.reference, r.ratio, r.target, {True: 'yes', False: 'NO', None: '-'}[r.ok]]

def text_table(rows) -> str:
    table = [COLUMNS] + [cells(r) for r in rows]
    width = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = ['  '.join(c.ljust(w) for c, w in zip(line, width)).rstrip() for line in table]
    return '\n'.join([lines[0], '  '.join('-' * w for w in width)] + lines[1:])

def markdown_table(rows) -> str:
    esc = lambda s: s.replace('|', '\\|')
    lines = ['| ' + ' | '.join(COLUMNS) + ' |', '|' + '---|' * len(COLUMNS)]
    return '\n'.join(lines + ['| ' + ' | '.join(esc(c) for c in cells(r)) + ' |' for r in rows])

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true', help='fewer rounds, smaller training batch (about 3 minutes)')
    p.add_argument('--device', default='auto', choices=['auto', 'cpu', 'cuda'])
    p.add_argument('--threads', type=int, default=0, help='torch CPU threads (default: the cores the load leaves free)')
    p.add_argument('--pipeline', action='store_true', help='also time `mqc pipeline --quick` (minutes)')
    p.add_argument('--profile', action='store_true', help='only print where the time goes in a training step and a sample')
    p.add_argument('--precision', default='auto', choices=['auto', 'bf16', 'fp32'], help='as mqc --precision (default: auto)')
    p.add_argument('--save', action='store_true', help='write the table to bench/results.md (or --out)')
    p.add_argument('--out', default=None, help='where --save writes the table (default: bench/results.md)')
    a = p.parse_args(argv)
    try: device = pick_device(a.device)
    except ValueError as e: p.error(str(e))
    threads, note = pick_threads(a.threads)
    torch.set_num_threads(threads)
    global CPU_CLOCK, PREC
    CPU_CLOCK, PREC = device.type == 'cpu' and threads == 1, a.precision
    with precision(a.precision): run(a, device, note, argv)

def run(a, device, note, argv):
    machine = machine_line(device, note)
    print(machine, flush=True)
    if a.profile: return profiles(real_data()[2], device)
    t0 = time.perf_counter()
    # rounds per row: each round times every workload of the row once (a block of calls for fast ones)
    q = (dict(tok_rounds=5, train_rounds=2, batch=8, sample_rounds=2, nocache_paths=2, single_calls=4, rl_rounds=2) if a.quick else
         dict(tok_rounds=11, train_rounds=3, batch=32, sample_rounds=3, nocache_paths=16, single_calls=16, rl_rounds=3))
    if device.type == 'cuda': q.update(batch=32, nocache_paths=PATHS)
    log('data and tokenizer'); tok, frames, streams = real_data()
    log('corpus load and encode'); rows = [corpus_row(tok, 1 if a.quick else 2)]
    log('tokenizer encode'); rows += [tokenizer_row(tok, frames, q['tok_rounds'])]
    log(f"training step, batch {q['batch']}"); rows += training_rows(streams, q['batch'], q['train_rounds'], device, compiled=not a.quick)
    log('sampling'); rows += sampling_rows(streams, q['nocache_paths'], q['single_calls'], q['sample_rounds'], device)
    log('attention over the cache'); rows += attention_rows(streams, max(5, q['sample_rounds']), device)
    log('RL step'); rows.append(rl_row(tok, frames, q['rl_rounds'], device))
    log('evaluation'); rows += eval_rows(tok, frames, q['rl_rounds'], device)
    log('cross-section evaluation'); rows.append(cross_section_row(tok, 1 if a.quick else 2, device))
    log('quickstart'); rows.append(pipeline_row(a.pipeline))
    table = text_table(rows)
    print(table)
    took = f"{'--quick, ' if a.quick else ''}took {time.perf_counter() - t0:.0f} s"
    print(took)
    if a.save:
        out = Path(a.out).resolve() if a.out else ROOT/'bench'/'results.md'
        cmd = 'python bench/run.py ' + ' '.join(argv if argv is not None else sys.argv[1:])
        out.write_text(f"# microchat benchmark\n\n`{cmd.strip()}` on {datetime.now():%Y-%m-%d %H:%M}, {took}\n\n"
                       f"{machine}\n\n{markdown_table(rows)}\n")
        log(f"wrote {out.relative_to(ROOT)}")

if __name__ == '__main__': main()
