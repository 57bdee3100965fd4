"""Check the doc site without Quarto: process the notebooks the way `nbdev_docs` does, render each one to HTML
with nbconvert, screenshot it in headless Chromium, and fail on error outputs, broken images, blank pages and
promised plots that went missing.

    python tools/check_docs.py [--out .ci/artifacts/docs]     # from the repo root, venv active

Needs `chromium` on PATH (Debian: apt-get install -y chromium). Writes only under --out: _proc/*.ipynb (the
processed notebooks), *.html and *.png.
"""
import argparse, base64, os, shutil, subprocess, sys, tempfile, time, warnings, xml.etree.ElementTree as ET
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import matplotlib.image, nbformat
from execnb.nbio import read_nb, write_nb
from nbconvert import HTMLExporter
from nbformat.warnings import MissingIDFieldWarning
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.processors import FilterDefaults

# notebook stem -> the plot its page promises; notebooks that don't exist yet are skipped
PROMISED_PLOTS = {'00_tokenizer': 'codebook usage', '01_pretrain': 'loss curves', '03_sft': 'fan chart',
                  '04_rl': 'reward curves'}

def notebook_problems(nb, stem):
    "Error outputs in the notebook as committed, and a promised plot without any image output."
    problems, n_images = [], 0
    for i, cell in enumerate(nb.cells):
        for out in cell.get('outputs', []):
            if out.output_type == 'error': problems.append(f'cell {i} has an error output ({out.ename})')
            if out.output_type == 'stream' and out.name == 'stderr' and 'Traceback' in ''.join(out.text):
                problems.append(f'cell {i} printed a Traceback to stderr')
            n_images += any(k.startswith('image/') for k in out.get('data', {}))
    if stem in PROMISED_PLOTS and not n_images:
        problems.append(f'promises {PROMISED_PLOTS[stem]} but has no image outputs (run it and keep the outputs)')
    return problems

def process(src, dst):
    "What `nbdev_proc_nbs` does to one notebook (nbdev.serve_drv.exec_nb), minus its Quarto install and yml writes."
    nb = read_nb(src)
    # nbdev re-runs a cell that mixes imports with code while building docs, out of context and at full cost:
    # treat its warning as the error it is
    with warnings.catch_warnings():
        warnings.filterwarnings('error', 'Found cells containing imports and other code')
        try: FilterDefaults()(nb)
        except UserWarning as w:
            source = str(w).split('---\n')[1].strip()  # nbdev has stripped the cell's #| directives by now
            i = next(i for i, c in enumerate(read_nb(src).cells) if source in c.source)
            raise RuntimeError(f'cell {i} mixes imports with code, so nbdev re-runs it when building docs; '
                               'move the imports into a cell of their own') from None
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_nb(nb, dst)

class ImgSrcs(HTMLParser):
    def __init__(self): super().__init__(); self.srcs = []
    def handle_starttag(self, tag, attrs):
        if tag == 'img': self.srcs.append(dict(attrs).get('src') or '')

def image_problem(src):
    "Why a browser can't show this <img src>, or None. nbconvert embedded every image it found: a path left is broken."
    if src.startswith(('http://', 'https://')): return None
    if not src.startswith('data:'): return f"image {src!r} is not a file in the notebook's folder"
    head, _, data = src.partition(',')
    try:
        raw = base64.b64decode(data, validate=True)
        if 'svg' in head: ET.fromstring(raw)
        else: matplotlib.image.imread(BytesIO(raw))
    except Exception as e: return f'embedded image {head[:40]!r} does not decode ({type(e).__name__})'

def render(proc, src_dir, html):
    "Standalone HTML with images embedded, showing what Quarto shows; returns the problems with its <img> tags."
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', MissingIDFieldWarning)  # the cells nbdev adds have no ids
        nb = nbformat.read(proc, as_version=4)
        for c in nb.cells:  # Quarto hides the front matter and the code of `#| echo: false` cells (nbdev's show_doc)
            if (c.cell_type == 'raw' and c.source.startswith('---')) or '#| echo: false' in c.source:
                c.metadata['transient'] = {'remove_source': True}
        exporter = HTMLExporter(embed_images=True, exclude_input_prompt=True, exclude_output_prompt=True)
        body, _ = exporter.from_notebook_node(nb, resources={'metadata': {'name': proc.stem, 'path': str(src_dir)}})
    html.write_text(body, encoding='utf-8')
    parser = ImgSrcs(); parser.feed(body)
    return [p for p in map(image_problem, parser.srcs) if p], len(parser.srcs)

def screenshot(chromium, html, png):
    "Screenshot the page; returns the share of pixels that differ from the page's corner colour."
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        r = subprocess.run([chromium, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                            '--disable-background-networking', '--disable-component-update', '--disable-sync',
                            f'--user-data-dir={profile}', f'--screenshot={png}', '--window-size=1200,2000',
                            html.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    if r.returncode or not png.exists():
        last = (r.stderr.strip().splitlines() or ['no output'])[-1]
        raise RuntimeError(f'chromium exit {r.returncode}: {last}')
    img = matplotlib.image.imread(png)[..., :3]
    return float((abs(img - img[0, 0]).max(-1) > 0.1).mean())

def check_page(chromium, src, rel, out):
    "Problems with one notebook's page, and a summary of the page ('' when it didn't render)."
    problems = notebook_problems(read_nb(src), src.stem)
    html, png = (out/rel).with_suffix('.html'), (out/rel).with_suffix('.png')
    html.parent.mkdir(parents=True, exist_ok=True)
    stage = 'nbdev processing'
    try:
        process(src, out/'_proc'/rel)
        stage = 'nbconvert'
        img_problems, n_imgs = render(out/'_proc'/rel, src.parent, html)
        stage = 'screenshot'
        ink = screenshot(chromium, html, png)
    except Exception as e:
        return problems + [f'{stage} failed: {type(e).__name__}: {(str(e).splitlines() or [""])[0]}'], ''
    if ink < 0.005: img_problems.append(f'page renders blank ({ink:.2%} of the screenshot is not background)')
    return problems + img_problems, f'{n_imgs} images, {ink:.1%} ink, {png}'

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', type=Path, default=Path('.ci/artifacts/docs'))
    out = ap.parse_args().out
    chromium = shutil.which('chromium')
    if not chromium: sys.exit('docs: chromium not found; install it: apt-get install -y chromium')
    nbs_path = get_config().nbs_path
    notebooks = nbglob(nbs_path, func=Path)
    if not notebooks: sys.exit(f'docs: no notebooks under {nbs_path}')
    os.environ['IN_TEST'] = '1'  # as nbdev_proc_nbs sets it while processing
    failed, n_bad = [], 0
    for src in notebooks:
        t0, rel = time.time(), src.relative_to(nbs_path)
        name = f'{nbs_path.name}/{rel}'
        problems, summary = check_page(chromium, src, rel, out)
        print(f'{name}: {"FAIL" if problems else "ok"} in {time.time() - t0:.1f}s' + (summary and f', {summary}'),
              flush=True)
        failed += [f'docs: {name}: {p}' for p in problems]
        n_bad += bool(problems)
    for line in failed: print(line)
    print(f'docs: {len(notebooks) - n_bad} pages ok' + (f', {n_bad} failed' if n_bad else ''))
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
