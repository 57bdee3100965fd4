"""Check the doc site without Quarto: process the notebooks the way `nbdev_docs` does, write each one out as the
markdown Quarto would see, render that with pandoc (math as MathML, link attributes honoured), screenshot the page in
headless Chromium, and fail on error outputs, broken images, blank pages, raw TeX or attribute braces left in the
visible text, and promised plots that went missing.

    python tools/check_docs.py [--out .ci/artifacts/docs] [NOTEBOOK ...]   # from the repo root, venv active

Needs `pandoc` and `chromium` on PATH (Debian: apt-get install -y pandoc chromium). Writes only under --out:
_proc/*.ipynb (the processed notebooks), *.md (what pandoc reads), *.html and *.png.
"""
import argparse, base64, html as htmllib, mimetypes, os, re, shutil, subprocess, sys, tempfile, time, warnings
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import matplotlib.image, yaml
from execnb.nbio import read_nb, write_nb
from nbdev.config import get_config
from nbdev.processors import FilterDefaults
sys.path.insert(0, str(Path(__file__).parent))
from make_readme import expand_includes   # Quarto's include shortcode, expanded as the site and the README do

NBS = Path(__file__).resolve().parents[1]/'nbs'

# the plot a chapter's page promises, keyed by notebook stem. A stem matches any notebook with the same name after
# its numeric prefix ('00_tokenizer' matches '00a_tokenizer' and '02_tokenizer'), so renumbering keeps the promise;
# a promised chapter that no notebook matches is a warning, not a failure
PROMISED_PLOTS = {'00_tokenizer': 'codebook usage', '01_pretrain': 'loss curves', '03_sft': 'loss curves', '05_results': 'fan chart',
                  '04_rl': 'reward curves'}

def topic(stem):
    "A notebook's name after its numeric prefix: '00a_data' -> 'data', '03_sft' -> 'sft', 'index' -> 'index'."
    return re.sub(r'^\d+[a-z]?_', '', stem)

def promised_plot(stem):
    "The plot promised for this notebook, or None."
    return next((plot for key, plot in PROMISED_PLOTS.items() if topic(key) == topic(stem)), None)

def find_notebooks(nbs_path):
    "Every notebook nbdev builds docs from: nbs/**/*.ipynb, minus names (or folders) starting with '_' or '.'."
    return sorted(p for p in nbs_path.rglob('*.ipynb')
                  if not any(part.startswith(('_', '.')) for part in p.relative_to(nbs_path).parts))

def sidebar_problems(nbs_path, notebooks) -> list[str]:
    "The hand-written sidebar (nbs/sidebar.yml) must list every page once, in file order (the reading order)."
    path = nbs_path/'sidebar.yml'
    if not path.is_file(): return [f'{path} is missing (settings.ini has custom_sidebar = True)']
    def pages(items):
        for it in items: yield from pages(it['contents']) if isinstance(it, dict) else [it]
    listed = list(pages(yaml.safe_load(path.read_text())['website']['sidebar']['contents']))
    files = [str(p.relative_to(nbs_path)) for p in notebooks]
    in_order = ['index.ipynb', *(f for f in files if f != 'index.ipynb')]
    return [] if listed == in_order else [f'{path} lists {listed}; expected every page in file order: {in_order}']

def notebook_problems(nb, stem):
    "Error outputs in the notebook as committed, and a promised plot without any image output."
    problems, n_images = [], 0
    for i, cell in enumerate(nb.cells):
        for out in cell.get('outputs', []):
            if out.output_type == 'error': problems.append(f'cell {i} has an error output ({out.ename})')
            if out.output_type == 'stream' and out.name == 'stderr' and 'Traceback' in ''.join(out.text):
                problems.append(f'cell {i} printed a Traceback to stderr')
            n_images += any(k.startswith('image/') for k in out.get('data', {}))
    plot = promised_plot(stem)
    if plot and not n_images:
        problems.append(f'promises {plot} but has no image outputs (run it and keep the outputs)')
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
    return nb

# --- the processed notebook as the markdown Quarto renders (Quarto's ipynb -> markdown step, simplified)

ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')
# Quarto's choice among an output's representations for HTML pages
MIME_ORDER = ['application/vnd.jupyter.widget-view+json', 'text/html', 'text/markdown', 'image/svg+xml',
              'image/png', 'image/jpeg', 'image/gif', 'text/latex', 'text/plain']

def text(x): return ''.join(x) if isinstance(x, list) else (x or '')

def fence(body, char='`'):
    "A code fence longer than any run of `char` in body."
    runs = [len(m) for m in re.findall(re.escape(char) + '+', body)]
    return char * max(3, max(runs, default=0) + 1)

def fenced(body, attrs=''):
    body = body.rstrip('\n')
    f = fence(body)
    return f'{f}{attrs}\n{body}\n{f}'

def cell_options(source):
    "Quarto's `#| key: value` options at the top of a code cell, and the code without them."
    lines, opts = source.splitlines(), {}
    while lines and lines[0].startswith('#|'):
        key, _, value = lines.pop(0)[2:].partition(':')
        opts[key.strip()] = value.strip()
    return opts, '\n'.join(lines)

def output_md(out):
    "One cell output as markdown, inside the div Quarto gives it."
    kind = out.output_type
    if kind == 'stream':
        return f'::: {{.cell-output .cell-output-{out.name}}}\n{fenced(ANSI.sub("", text(out.text)))}\n:::'
    if kind == 'error':
        tb = ANSI.sub('', '\n'.join(out.get('traceback', [])) or f'{out.ename}: {out.evalue}')
        return f'::: {{.cell-output .cell-output-error}}\n{fenced(tb)}\n:::'
    data = out.get('data', {})
    mime = next((m for m in MIME_ORDER if m in data), None)
    if mime is None or mime == 'application/vnd.jupyter.widget-view+json': return ''  # a live widget: not in a page
    value = data[mime]
    if mime.startswith('image/'):  # notebooks keep bitmaps base64-encoded and SVG as text
        b64 = base64.b64encode(text(value).encode()).decode() if mime == 'image/svg+xml' else ''.join(text(value).split())
        body = f'![](data:{mime};base64,{b64})'
    elif mime == 'text/html': body = fenced(text(value), '{=html}')
    elif mime in ('text/markdown', 'text/latex'): body = text(value)
    else: body = fenced(text(value))
    return f'::: {{.cell-output .cell-output-display}}\n{body}\n:::'

def front_matter(source):
    "nbdev's front matter cell as a YAML block for pandoc, plus its description as Quarto shows it."
    meta = yaml.safe_load(re.sub(r'\A---[ \t]*\n|\n---[ \t]*\Z', '', source.strip())) or {}
    keep = {k: meta[k] for k in ('title', 'subtitle') if k in meta} | {'pagetitle': str(meta.get('title', 'untitled'))}
    desc = f'\n\n::: {{.description}}\n{meta["description"]}\n:::' if meta.get('description') else ''
    return f'---\n{yaml.safe_dump(keep, allow_unicode=True).strip()}\n---' + desc

def to_markdown(nb, name):
    "The processed notebook as one pandoc markdown document; `name` titles the browser tab of a page without a title."
    parts = [] if any(c.cell_type == 'raw' and text(c.source).startswith('---') for c in nb.cells) else \
            [f'---\n{yaml.safe_dump({"pagetitle": name}).strip()}\n---']
    for c in nb.cells:
        src = text(c.source)
        if c.cell_type == 'raw':
            parts.append(front_matter(src) if src.startswith('---') else src)
        elif c.cell_type == 'markdown':
            for name, att in (c.get('attachments') or {}).items():  # `attachment:x.png` -> embedded image
                mime = next(iter(att)); src = src.replace(f'attachment:{name}', f'data:{mime};base64,{text(att[mime])}')
            parts.append(expand_includes(src, NBS))
        elif c.cell_type == 'code':
            opts, code = cell_options(src)
            if opts.get('include') == 'false': continue
            inner = []
            if code.strip() and opts.get('echo') != 'false': inner.append(fenced(code, ' {.python .cell-code}'))
            if opts.get('output') != 'false': inner += [o for o in map(output_md, c.get('outputs', [])) if o]
            if inner: parts.append('::: {.cell}\n' + '\n\n'.join(inner) + '\n:::')
    return '\n\n'.join(p.strip('\n') for p in parts) + '\n'

# a little of Quarto's cosmo theme, so the screenshot looks like the site; nbs/styles.css comes after it
PAGE_CSS = """
body { max-width: 900px; margin: 0 auto; padding: 2rem 1.5rem; font: 17px/1.5 -apple-system, "Segoe UI", Roboto,
       "Helvetica Neue", Arial, sans-serif; color: #373a3c; hyphens: none; }
a { color: #2780e3; text-decoration: none; }
header#title-block-header { text-align: left; margin-bottom: 0; } h1.title { font-size: 2.4rem; margin: 0; }
h1, h2, h3, h4 { font-weight: 500; margin-top: 1.6rem; }
pre, code { font-family: SFMono-Regular, Menlo, Monaco, Consolas, monospace; font-size: 0.875em; }
pre { background: rgba(233,236,239,.65); padding: .5rem .75rem; border-radius: 4px; overflow-x: auto; }
.cell-output pre { background: none; }
.cell-output img { max-width: 100%; }
table { border-collapse: collapse; margin: 1rem 0; } th, td { padding: .25rem .6rem; border-bottom: 1px solid #dee2e6; }
math[display="block"] { margin: .8rem 0; }
"""

def render(md, html, src_dir, pandoc):
    "HTML from pandoc's markdown reader, images embedded; returns the problems with its <img> tags and their count."
    with tempfile.NamedTemporaryFile('w', suffix='.html', delete=False) as head:
        styles = src_dir/'styles.css'
        head.write(f'<style>{PAGE_CSS}\n{styles.read_text() if styles.exists() else ""}</style>\n')
    try:
        # raw_tex off: in HTML, pandoc (so Quarto) silently drops TeX that is not inside $...$; keep it visible
        r = subprocess.run([pandoc, '--from', 'markdown-raw_tex', '--to', 'html5', '--standalone', '--mathml',
                            '--include-in-header', head.name, '--output', str(html), str(md)],
                           capture_output=True, text=True, timeout=300)
    finally: os.unlink(head.name)
    if r.returncode: raise RuntimeError((r.stderr.strip().splitlines() or [f'exit {r.returncode}'])[-1])
    body = html.read_text(encoding='utf-8')
    problems, n = [], 0
    def embed(m):
        nonlocal n; n += 1
        src = htmllib.unescape(m.group(2))
        if src.startswith(('http://', 'https://')): return m.group(0)
        if not src.startswith('data:'):
            path = src_dir/src
            if not path.is_file():
                problems.append(f"image {src!r} is not a file in the notebook's folder"); return m.group(0)
            mime = mimetypes.guess_type(path.name)[0] or 'application/octet-stream'
            src = f'data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}'
        if p := image_problem(src): problems.append(p)
        return f'{m.group(1)}{src}{m.group(3)}'
    body = re.sub(r'(<img\b[^>]*?\bsrc=")([^"]*)(")', embed, body)
    html.write_text(body, encoding='utf-8')
    for w in r.stderr.strip().splitlines():  # e.g. TeX that texmath could not turn into MathML
        if '[WARNING]' in w: problems.append(f'pandoc: {w.replace("[WARNING] ", "")}')
    return problems, n, body

def image_problem(src):
    "Why a browser can't show this embedded image, or None."
    head, _, data = src.partition(',')
    try:
        raw = base64.b64decode(data, validate=True)
        if 'svg' in head: ET.fromstring(raw)
        else: matplotlib.image.imread(BytesIO(raw))
    except Exception as e: return f'embedded image {head[:40]!r} does not decode ({type(e).__name__})'

# --- what a reader sees

class VisibleText(HTMLParser):
    "The page's visible prose: the body, minus code, program output, scripts and MathML's TeX annotations."
    SKIP = {'pre', 'code', 'script', 'style', 'annotation', 'head', 'title'}
    VOID = {'area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr'}
    def __init__(self): super().__init__(convert_charrefs=True); self.stack, self.chunks = [], []
    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID: self.stack.append(tag)
    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack.pop() != tag: pass
    def handle_data(self, data):
        if not self.SKIP.intersection(self.stack): self.chunks.append(data)
    def text(self): return ''.join(self.chunks)

Q = '"\'\u201c\u201d\u2018\u2019'  # pandoc's smart quotes turn "x" into curly ones
LEAKS = [
    ('raw TeX', re.compile(r'\\[A-Za-z]{2,}')),                            # \log, \frac, \sigma ...
    ('raw TeX', re.compile(r'\$(?=\S)[^$\n]*?\S\$(?!\d)|\$(?=\S)[^$\n]*?[\\^_{}][^$\n]*?\$(?!\d)|\$\$')),  # $...$
    ('attribute braces', re.compile(rf'\{{\s*(?:[#.][\w-]+\s+)*[\w-]+\s*=\s*[{Q}]?|\{{\s*\.[A-Za-z][\w-]*\s*\}}')),
]

def source_location(nb, snippet, context):
    "'cell i line j: ...' of the markdown line that best explains a leak seen in `context`, or ''."
    keys = {snippet, snippet.translate(str.maketrans('\u201c\u201d\u2018\u2019', '""\'\'')),
            *re.findall(r'\\[A-Za-z]{2,}', snippet)}
    words = set(re.findall(r'[A-Za-z]{3,}', context))
    best, where = -1, ''
    for i, c in enumerate(nb.cells):
        if c.cell_type != 'markdown': continue
        for j, line in enumerate(text(c.source).splitlines(), 1):
            if not any(k in line for k in keys): continue
            score = sum(w in line for w in words)
            if score > best: best, where = score, f'cell {i} line {j}: {line.strip()[:100]!r}'
    return where

def leak_problems(body, nb):
    "Raw TeX and attribute braces a reader would see on the page, each with where it comes from."
    parser = VisibleText(); parser.feed(body)
    visible, problems, seen = parser.text(), [], set()
    for what, rx in LEAKS:
        for m in rx.finditer(visible):
            snippet = m.group(0)
            if (what, snippet) in seen: continue
            seen.add((what, snippet))
            ctx = ' '.join(visible[max(0, m.start() - 30):m.end() + 30].split())
            where = source_location(nb, snippet.strip(), ctx) or 'not found in the markdown cells (an output?)'
            problems.append(f'{what} in the visible text: {snippet!r} in "...{ctx}..."; {where}')
    return problems

def screenshot(chromium, html, png, height):
    "Screenshot the page; returns the share of pixels that differ from the page's corner colour."
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        r = subprocess.run([chromium, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                            '--disable-background-networking', '--disable-component-update', '--disable-sync',
                            '--hide-scrollbars', f'--user-data-dir={profile}', f'--screenshot={png}',
                            f'--window-size=1200,{height}', html.resolve().as_uri()],
                           capture_output=True, text=True, timeout=120)
    if r.returncode or not png.exists():
        last = (r.stderr.strip().splitlines() or ['no output'])[-1]
        raise RuntimeError(f'chromium exit {r.returncode}: {last}')
    img = matplotlib.image.imread(png)[..., :3]
    return float((abs(img - img[0, 0]).max(-1) > 0.1).mean())

def summary(e):
    "An exception's first line, and the error underneath it (nbdev wraps a notebook's own error in its own)."
    first = (str(e).strip().splitlines() or [''])[0]
    root = e
    while (under := root.__cause__ or (None if root.__suppress_context__ else root.__context__)) is not None:
        root = under
    return first if root is e else f'{first} {type(root).__name__}: {(str(root).strip().splitlines() or [""])[0]}'

def check_page(tools, src, rel, out, height):
    "Problems with one notebook's page, and a summary of the page ('' when it didn't render)."
    md, html, png = ((out/rel).with_suffix(s) for s in ('.md', '.html', '.png'))
    html.parent.mkdir(parents=True, exist_ok=True)
    try: original = read_nb(src)
    except Exception as e: return [f'unreadable: {type(e).__name__}: {summary(e)}'], ''
    problems = notebook_problems(original, src.stem)
    stage = 'nbdev processing'
    try:
        nb = process(src, out/'_proc'/rel)
        stage = 'markdown'
        md.write_text(to_markdown(nb, src.stem), encoding='utf-8')
        stage = 'pandoc'
        page_problems, n_imgs, body = render(md, html, src.parent, tools['pandoc'])
        page_problems += leak_problems(body, original)
        stage = 'screenshot'
        ink = screenshot(tools['chromium'], html, png, height)
    except Exception as e:
        return problems + [f'{stage} failed: {type(e).__name__}: {summary(e)}'], ''
    if ink < 0.005: page_problems.append(f'page renders blank ({ink:.2%} of the screenshot is not background)')
    return problems + page_problems, f'{n_imgs} images, {ink:.1%} ink, {png}'

def main():
    ap = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()),
                                 epilog='Exit status 1 when any page has a problem; missing promised chapters only warn.')
    ap.add_argument('notebooks', nargs='*', type=Path, help='check only these (default: every notebook under nbs/)')
    ap.add_argument('--out', type=Path, default=Path('.ci/artifacts/docs'), help='where to write (default: %(default)s)')
    ap.add_argument('--height', type=int, default=2000, help='screenshot height in pixels (default: %(default)s)')
    args = ap.parse_args()
    tools = {t: shutil.which(t) for t in ('pandoc', 'chromium')}
    if missing := [t for t, p in tools.items() if not p]:
        sys.exit(f'docs: {", ".join(missing)} not found; install: apt-get install -y {" ".join(missing)}')
    nbs_path = Path(get_config().nbs_path)
    all_notebooks = find_notebooks(nbs_path)
    if not all_notebooks: sys.exit(f'docs: no notebooks under {nbs_path}')
    notebooks = [p.resolve() for p in args.notebooks] or all_notebooks
    topics = {topic(p.stem) for p in all_notebooks}
    for key, plot in PROMISED_PLOTS.items():
        if topic(key) not in topics:
            print(f"docs: warning: no notebook named *_{topic(key)} for the promised {plot} ({key}); "
                  'update PROMISED_PLOTS in tools/check_docs.py if the chapter moved')
    os.environ['IN_TEST'] = '1'  # as nbdev_proc_nbs sets it while processing
    failed = [f'docs: {p}' for p in sidebar_problems(nbs_path, all_notebooks)]
    n_bad = 0
    for src in notebooks:
        t0 = time.time()
        try: rel = src.resolve().relative_to(nbs_path.resolve()); name = f'{nbs_path.name}/{rel}'
        except ValueError: rel = name = Path(src.name)  # a notebook outside nbs/, e.g. a test case
        problems, summary = check_page(tools, src, rel, args.out, args.height)
        print(f'{name}: {"FAIL" if problems else "ok"} in {time.time() - t0:.1f}s' + (summary and f', {summary}'),
              flush=True)
        failed += [f'docs: {name}: {p}' for p in problems]
        n_bad += bool(problems)
    for line in failed: print(line)
    print(f'docs: {len(notebooks) - n_bad} pages ok' + (f', {n_bad} failed' if n_bad else ''))
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
