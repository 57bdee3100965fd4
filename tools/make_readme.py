"""README.md is generated from nbs/index.ipynb (nbdev_readme needs Quarto, which these machines cannot install).
`python tools/make_readme.py` writes it; `--check` fails when README.md and the notebook disagree."""
import re, sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

root = Path(__file__).resolve().parents[1]

INCLUDE = re.compile(r'\{\{<\s*include\s+(\S+)\s*>\}\}')

def expand_includes(md: str, folder: Path) -> str:
    "Quarto's `{{< include file.md >}}` shortcode, expanded as Quarto does (paths relative to `folder`, the notebooks')."
    return INCLUDE.sub(lambda m: (folder/m.group(1)).read_text().strip(), md)

def readme() -> str:
    nb = nbformat.read(root/'nbs/index.ipynb', as_version=4)
    nb.cells = [c for c in nb.cells if not c.source.lstrip().startswith('#| hide')]
    for c in nb.cells:  # nbdev directives are for nbdev, not for readers
        if c.cell_type == 'code': c.source = '\n'.join(l for l in c.source.splitlines() if not l.startswith('#|'))
    md, _ = MarkdownExporter(exclude_output=True).from_notebook_node(nb)
    md = expand_includes(md, root/'nbs')   # the results table comes from the evaluation's own file, never pasted
    md = re.sub(r'\]\((?!https?:)(images/|results/)', r'](nbs/\1', md)   # image paths are relative to nbs/ in the notebook
    return re.sub(r'\n{3,}', '\n\n', md).strip() + '\n'

if __name__ == '__main__':
    text, path = readme(), root/'README.md'
    if '--check' in sys.argv:
        if path.read_text() != text: sys.exit("README.md is out of date with nbs/index.ipynb: run `python tools/make_readme.py`")
        print('README.md matches nbs/index.ipynb')
    else: path.write_text(text); print(f'wrote {path}')
