"""One plotting theme for the whole course, and figures that always carry alt text.

Usage in a notebook::

    import matplotlib.pyplot as plt
    from statelab import plotting

    plotting.use_theme()
    fig, ax = plt.subplots()
    ax.plot(...)
    plotting.show(fig, alt="Line chart of ... rising from ... to ...")

``show`` refuses to display a figure without a text alternative that states what the figure
finds (see :func:`check_alt`). It emits
one output whose ``text/html`` representation is ``<img alt="...">`` (JupyterLab and
MyST-NB / Jupyter Book 1 both prefer ``text/html`` over ``image/png``, and MyST-NB
copies raw HTML outputs into the page unchanged, so the ``alt`` attribute reaches the
built book). The same output also carries ``image/png`` and a ``text/plain``
description for front ends that cannot show HTML.

Accessibility rules kept here, once, for the whole course (WCAG 2.1 AA; tested in
``tests/statelab/test_accessibility.py``):

- :func:`contrast_ratio` is WCAG 2.1's contrast ratio. Every color of :data:`PALETTE` reaches
  :data:`GRAPHIC_MIN_CONTRAST` (3:1, success criterion 1.4.11, non-text contrast) against the white
  figure background, and text colors reach :data:`TEXT_MIN_CONTRAST` (4.5:1, criterion 1.4.3).
- Color is never the only cue (criterion 1.4.1): the theme pairs each color of its cycle with its own
  marker and line style (:data:`MARKERS`, :data:`LINESTYLES`), so two series differ in shape too.
- Tables for people, with a caption and header cells (criterion 1.3.1), come from
  :func:`statelab.tables.format_table`.
"""

from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path
from typing import Any

__all__ = [
    "OKABE_ITO",
    "PALETTE",
    "MARKERS",
    "LINESTYLES",
    "TEXT_COLOR",
    "PAGE_BACKGROUND",
    "GRAPHIC_MIN_CONTRAST",
    "TEXT_MIN_CONTRAST",
    "STYLE_PATH",
    "MIN_ALT_LENGTH",
    "check_alt",
    "states_a_finding",
    "contrast_ratio",
    "readable_text_color",
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

#: WCAG 2.1 success criterion 1.4.11 (non-text contrast): marks needed to read a chart, against what is next to them.
GRAPHIC_MIN_CONTRAST = 3.0
#: WCAG 2.1 success criterion 1.4.3 (contrast, minimum): text of normal size.
TEXT_MIN_CONTRAST = 4.5
#: Figures are saved on white (``savefig.facecolor`` in the style sheet), whatever the page around them.
PAGE_BACKGROUND = "#FFFFFF"
#: Color of text in figures (titles, labels, values printed on marks).
TEXT_COLOR = "#222222"

#: The color cycle used by the theme: the Okabe-Ito colors that reach 3:1 against white, in order. Orange,
#: sky blue and yellow (2.3, 2.3 and 1.3:1) are kept out: thin lines and small markers drawn in them fade
#: into the page. Five colors, told apart under the common color-vision deficiencies, each paired with a
#: marker and a line style below.
PALETTE: tuple[str, ...] = tuple(OKABE_ITO[k] for k in
                                 ("blue", "vermillion", "bluish_green", "reddish_purple", "black"))
#: Marker of each color of the cycle (same order as :data:`PALETTE`): series differ in shape, not color alone.
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v")
#: Line style of each color of the cycle (same order as :data:`PALETTE`).
LINESTYLES: tuple[str, ...] = ("-", "--", ":", "-.", "-")

#: The matplotlib style sheet shipped with the package.
STYLE_PATH: Path = Path(__file__).with_name("statelab.mplstyle")

#: Alt text shorter than this is almost certainly not a description ("chart", "fig 1").
MIN_ALT_LENGTH = 15

_PLACEHOLDERS = {"figure", "chart", "plot", "graph", "image", "alt", "alt text", "todo", "tbd", "fixme", "xxx",
                 "description", "a chart", "a figure", "a plot", "chart of data", "placeholder", "none", "n/a"}
#: Words of comparison, change and quantity that make a description a finding (with any digit).
_FINDING_WORDS = frozenset("""
    higher highest lower lowest more most fewer fewest less least larger largest smaller smallest bigger biggest
    greater greatest than exceed exceeds exceeded same similar equal equally differ differs difference gap
    rise rises rose risen rising fall falls fell fallen falling grow grows grew growing shrink shrinks shrank
    drop drops dropped increase increases increased decrease decreases decreased decline declines declined
    climb climbs climbed peak peaks peaked flat steady stable unchanged double doubles doubled twice half
    majority minority nearly almost overlap overlaps skewed outlier outliers ahead behind every none only
""".split())
_PLACEHOLDER_STARTS = ("todo", "tbd", "fixme", "xxx", "lorem ipsum", "placeholder", "insert alt",
                       "add alt", "alt text here", "describe the chart", "describe this chart", "your alt")


def use_theme() -> None:
    """Apply the course style sheet to matplotlib for the rest of the session."""
    import matplotlib.pyplot as plt

    plt.style.use(STYLE_PATH)


def states_a_finding(text: str) -> bool:
    """Whether a description says what the figure finds, not only what it draws.

    A finding carries a number ("66%", "1,211 claims") or a word of comparison or change ("higher",
    "falls", "largest", "twice", "overlap"): "Line chart of median earnings by quarter" has neither,
    "Median earnings rose from $8,100 to $9,400" has both. A screen, not a judge: it catches a description
    that only names the chart type and its subject.
    """
    words = set(re.findall(r"[a-z]+", text.lower()))
    return bool(re.search(r"\d", text)) or bool(words & _FINDING_WORDS)


def check_alt(alt: Any) -> str:
    """Return ``alt`` with whitespace collapsed, or refuse a missing, placeholder or finding-less description.

    The course's one rule for a figure's text alternative: a string of at least :data:`MIN_ALT_LENGTH`
    characters that is not a word such as "chart" or a stand-in such as "TODO: write alt text later", and
    that states what the figure finds (:func:`states_a_finding`), so a reader who cannot see the figure
    gets its message, not only its type.

    Raises
    ------
    TypeError
        ``alt`` is not a string (for example ``None``).
    ValueError
        ``alt`` is too short, a placeholder, or names what is drawn without a finding.
    """
    if not isinstance(alt, str):
        raise TypeError(f"alt must be a string describing what the figure shows, got {alt!r}")
    text = " ".join(alt.split())
    low = text.lower().strip(" .:!")
    if len(text) < MIN_ALT_LENGTH or low in _PLACEHOLDERS or low.startswith(_PLACEHOLDER_STARTS):
        raise ValueError(
            "alt text is required: describe what the figure shows and its main message in at least "
            f"{MIN_ALT_LENGTH} characters, not a placeholder (got {alt!r})"
        )
    if not states_a_finding(text):
        raise ValueError(
            "alt text must state what the figure finds, not only what it draws: add the main numbers or "
            f"comparison, e.g. 'Youth 44 percent employed, adults 31 percent' (got {alt!r})"
        )
    return text


_check_alt = check_alt  # the name figure_html and show used before check_alt was public


def _rgb(color: Any) -> tuple[float, float, float]:
    """A color as sRGB floats in 0-1: ``"#RRGGBB"``, ``"#RGB"``, an RGB(A) tuple of floats, or a matplotlib name."""
    if isinstance(color, str) and color.startswith("#") and len(color) in (4, 7):
        digits = color[1:] if len(color) == 7 else "".join(c * 2 for c in color[1:])
        try:
            return tuple(int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4))
        except ValueError:
            pass
    elif isinstance(color, (tuple, list)) and len(color) in (3, 4) and all(0 <= float(c) <= 1 for c in color[:3]):
        return tuple(float(c) for c in color[:3])
    try:
        from matplotlib.colors import to_rgb

        return to_rgb(color)
    except (ImportError, ValueError) as err:
        raise ValueError(f"not a color: {color!r} (give '#RRGGBB' or an RGB tuple of floats in 0-1)") from err


def _relative_luminance(color: Any) -> float:
    # WCAG 2.1 "relative luminance": linearize each sRGB channel, then weight by the eye's sensitivity.
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in _rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(color: Any, background: Any = PAGE_BACKGROUND) -> float:
    """WCAG 2.1 contrast ratio of two colors, from 1 (none) to 21 (black on white).

    ``(L1 + 0.05) / (L2 + 0.05)`` with L1 the lighter relative luminance. Colors are ``"#RRGGBB"`` strings,
    RGB(A) tuples of floats in 0-1 or matplotlib color names.

    >>> round(contrast_ratio("#000000", "#FFFFFF"), 1)
    21.0
    """
    a, b = sorted((_relative_luminance(color), _relative_luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def readable_text_color(background: Any) -> str:
    """Black or white, whichever contrasts more with ``background`` (always at least 4.58:1)."""
    return "#000000" if contrast_ratio("#000000", background) >= contrast_ratio("#FFFFFF", background) else "#FFFFFF"


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
    text = check_alt(alt)
    b64 = base64.b64encode(_png_bytes(fig, dpi)).decode("ascii")
    return _figure_html(b64, text, caption)


def show(fig: Any, alt: str, *, caption: str | None = None, dpi: int | None = None, close: bool = True) -> None:
    """Display ``fig`` with alt text (required) and an optional visible caption.

    Raises ``ValueError`` if ``alt`` is missing or a placeholder (see :func:`check_alt`).
    The figure is closed afterwards (``close=False`` keeps it open) so the inline
    backend does not display it a second time without alt text.
    """
    from IPython.display import display

    text = check_alt(alt)
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
