"""Helpers of the sphinx-gallery configuration (see ``conf.py``).

They live in a module so that ``conf.py`` can name them by their fully
qualified names: Sphinx caches its configuration by pickling it, and names
pickle where function objects defined in ``conf.py`` do not.
"""

from pathlib import PurePosixPath


def reset_skteam(gallery_conf, fname, when=None):
    """Between examples: forget loaded models and cached batches."""
    from skteam.cache import clear_streams
    from skteam.llm.registry import clear_registry

    clear_registry()
    clear_streams()


class _FigureObjectScraper:
    """Scrape matplotlib figures made without pyplot.

    :mod:`skteam.report` returns :class:`matplotlib.figure.Figure` objects that
    pyplot does not manage, so sphinx-gallery's matplotlib scraper does not
    see them. This scraper saves every such figure that the example holds in
    a variable and that an earlier block has not shown.
    """

    def __init__(self):
        self._seen = {}

    def __repr__(self):
        return "_sg_utils.figure_scraper"

    def __call__(self, block, block_vars, gallery_conf, **kwargs):
        from matplotlib.figure import Figure
        from sphinx_gallery.scrapers import figure_rst

        seen = self._seen.setdefault(str(block_vars["src_file"]), set())
        figures = []
        for value in list(block_vars["example_globals"].values()):
            if (isinstance(value, Figure) and id(value) not in seen
                    and getattr(value.canvas, "manager", None) is None):
                seen.add(id(value))
                figures.append(value)
        paths = []
        for fig, path in zip(figures, block_vars["image_path_iterator"]):
            path = PurePosixPath(path)
            fig.savefig(path, dpi=100)
            paths.append(path)
        return figure_rst(paths, gallery_conf["src_dir"])


figure_scraper = _FigureObjectScraper()
