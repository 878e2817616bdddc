"""One plotting theme for the whole course, and figures that always carry alt text.

Usage in a notebook::

    import matplotlib.pyplot as plt
    from statelab import plotting

    plotting.use_theme()
    fig, ax = plt.subplots()
    ax.plot(...)
    plotting.show(fig, alt="Line chart of ... rising from ... to ...")

``show`` refuses to display a figure without a meaningful text alternative. It emits
one output whose ``text/html`` representation is ``<img alt="...">`` (JupyterLab and
MyST-NB / Jupyter Book 1 both prefer ``text/html`` over ``image/png``, and MyST-NB
copies raw HTML outputs into the page unchanged, so the ``alt`` attribute reaches the
built book). The same output also carries ``image/png`` and a ``text/plain``
description for front ends that cannot show HTML.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

__all__ = [
    "OKABE_ITO",
    "PALETTE",
    "STYLE_PATH",
    "MIN_ALT_LENGTH",
    "use_theme",
    "figure_html",
    "show",
]

#: The Okabe-Ito color-blind-safe palette, by name.
OKABE_ITO: dict[str, str] = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}

#: The color cycle used by the theme (Okabe-Ito without black), in order.
PALETTE: tuple[str, ...] = tuple(v for k, v in OKABE_ITO.items() if k != "black")

#: The matplotlib style sheet shipped with the package.
STYLE_PATH: Path = Path(__file__).with_name("statelab.mplstyle")

#: Alt text shorter than this is almost certainly not a description ("chart", "fig 1").
MIN_ALT_LENGTH = 15

_PLACEHOLDER_ALTS = {"figure", "chart", "plot", "graph", "image", "alt", "todo", "tbd"}


def use_theme() -> None:
    """Apply the course style sheet to matplotlib for the rest of the session."""
    import matplotlib.pyplot as plt

    plt.style.use(STYLE_PATH)


def _check_alt(alt: Any) -> str:
    if not isinstance(alt, str):
        raise TypeError("alt must be a string describing what the figure shows")
    text = " ".join(alt.split())
    if len(text) < MIN_ALT_LENGTH or text.lower().strip(" .") in _PLACEHOLDER_ALTS:
        raise ValueError(
            "alt text is required: describe what the figure shows and its main message "
            f"in at least {MIN_ALT_LENGTH} characters (got {alt!r})"
        )
    return text


def _png_bytes(fig: Any, dpi: int | None) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or "figure", bbox_inches="tight")
    return buf.getvalue()


def _figure_html(b64: str, text: str, caption: str | None) -> str:
    img = (
        f'<img src="data:image/png;base64,{b64}" alt="{html.escape(text, quote=True)}" '
        'style="max-width:100%;height:auto;" />'
    )
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure class="statelab-figure">{img}{cap}</figure>'


def figure_html(fig: Any, alt: str, *, caption: str | None = None, dpi: int | None = None) -> str:
    """Return an HTML ``<figure>`` with the figure embedded as a PNG and ``alt`` set."""
    text = _check_alt(alt)
    b64 = base64.b64encode(_png_bytes(fig, dpi)).decode("ascii")
    return _figure_html(b64, text, caption)


def show(fig: Any, alt: str, *, caption: str | None = None, dpi: int | None = None, close: bool = True) -> None:
    """Display ``fig`` with alt text (required) and an optional visible caption.

    Raises ``ValueError`` if ``alt`` is missing or too short to be a description.
    The figure is closed afterwards (``close=False`` keeps it open) so the inline
    backend does not display it a second time without alt text.
    """
    from IPython.display import display

    text = _check_alt(alt)
    b64 = base64.b64encode(_png_bytes(fig, dpi)).decode("ascii")
    bundle = {
        "text/html": _figure_html(b64, text, caption),
        "image/png": b64,
        "text/plain": f"[Figure: {text}]" + (f" {caption}" if caption else ""),
    }
    display(bundle, raw=True, metadata={"image/png": {"alt": text}})
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
