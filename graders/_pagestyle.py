"""Colours of the HTML pages graders writes (feedback, reports), each checked to reach WCAG AA contrast.

The pages come in a light and a dark colour scheme (``prefers-color-scheme``); in both, every colour
of text reaches 4.5:1 against what it is drawn on (WCAG 2.1, 1.4.3). This module is the one source of
those colours:

* :data:`PAGE_COLORS` -- the page's own colours (text, links, panels), written as CSS custom
  properties by :func:`page_css` and used by ``templates/page.css``;
* :func:`code_style` -- a Pygments style for code in each scheme: Pygments' ``default`` (light) and
  ``monokai`` (dark) with every token colour that falls short moved towards black (light) or white
  (dark) until it reaches :data:`TARGET` (nbconvert's default colours for comments, operators and
  exception names reach 4.39-4.47:1 on a light grey, just under the line);
* :func:`aa_ansi2html` -- nbconvert's ``ansi2html`` filter for tracebacks and printed output, after
  every colour escape is mapped to one of the 16 named terminal colours (IPython writes 256-colour and
  24-bit escapes, which nbconvert turns into inline ``rgb()`` styles that no stylesheet can correct);
  backgrounds and reverse video are dropped. :data:`ANSI_COLORS` gives each named colour a value per
  scheme.

The numbers are checked by ``tests/grading/test_feedback_a11y.py`` (the contrast of every pair) and the
rendered pages by axe-core in ``tests/browser/test_axe_outputs.py``, in both schemes.
"""

from __future__ import annotations

import functools
import re

__all__ = ["TARGET", "SCHEMES", "PAGE_COLORS", "TEXT_ON", "CODE_BG", "ANSI_COLORS", "contrast", "code_style", "code_css",
           "page_css", "ansi_css", "normalize_ansi", "aa_ansi2html"]

#: The contrast every colour of text is brought to (WCAG AA asks 4.5:1; a little margin for rounding).
TARGET = 4.6
SCHEMES = ("light", "dark")

#: The page's colours per scheme: CSS custom property (without ``--``) -> colour.
PAGE_COLORS: dict[str, dict[str, str]] = {
    "light": {
        "fg": "#1a1a1a", "bg": "#ffffff", "muted": "#4d4d4d", "link": "#0b4f8c", "border": "#767676",
        "panel-bg": "#eaf2f8", "panel-border": "#31708f", "note-bg": "#fff7e6", "note-border": "#8a5300",
    },
    "dark": {
        "fg": "#e8e8e8", "bg": "#121212", "muted": "#b8b8b8", "link": "#8cc4ff", "border": "#8c8c8c",
        "panel-bg": "#1c2833", "panel-border": "#6fa8d6", "note-bg": "#2b2110", "note-border": "#e0a040",
    },
}
#: Which page colours are drawn as text on which backgrounds (checked by the tests).
TEXT_ON = {"fg": ("bg", "panel-bg", "note-bg"), "muted": ("bg", "panel-bg"), "link": ("bg", "panel-bg", "note-bg")}

#: The Pygments style each scheme starts from.
_BASE_STYLE = {"light": "default", "dark": "monokai"}
#: Background of code cells and text output per scheme.
CODE_BG = {"light": "#f5f5f5", "dark": "#272822"}

#: The 16 named terminal colours (nbconvert's class names, without ``ansi-`` and ``-fg``) per scheme,
#: each at least :data:`TARGET` against the scheme's code background.
ANSI_COLORS: dict[str, dict[str, str]] = {
    "light": {
        "black": "#1a1a1a", "red": "#b3261e", "green": "#1e6b22", "yellow": "#7a5900", "blue": "#0b4f9c",
        "magenta": "#8e2a8e", "cyan": "#006570", "white": "#5c5c5c",
        "black-intense": "#525252", "red-intense": "#a3001a", "green-intense": "#1a5e1e",
        "yellow-intense": "#6b4e00", "blue-intense": "#0a4690", "magenta-intense": "#7d1f7d",
        "cyan-intense": "#00575f", "white-intense": "#4a4a4a",
    },
    "dark": {
        "black": "#b0b0b0", "red": "#ff8a80", "green": "#8fd694", "yellow": "#f0d060", "blue": "#8cb8ff",
        "magenta": "#e59ae5", "cyan": "#7fd8e0", "white": "#e8e8e8",
        "black-intense": "#c4c4c4", "red-intense": "#ffaaa2", "green-intense": "#a8e6ac",
        "yellow-intense": "#f7e08a", "blue-intense": "#aacbff", "magenta-intense": "#f0b8f0",
        "cyan-intense": "#a0e6ec", "white-intense": "#ffffff",
    },
}
#: xterm's values for the 16 named colours (used only to find the nearest one to a 256-colour or RGB escape).
_XTERM16 = [(0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205),
            (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255),
            (255, 0, 255), (0, 255, 255), (255, 255, 255)]
_ANSI_NAMES = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"]


# ------------------------------------------------------------------------------------------ contrast
def _rgb(color: str) -> tuple[int, int, int]:
    h = color.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in rgb)


def _luminance(color: str) -> float:
    def lin(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = _rgb(color)
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def contrast(fg: str, bg: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def _reach(color: str, bg: str, target: float = TARGET) -> str:
    """`color`, moved towards black (on a light `bg`) or white (on a dark one) until it reaches `target`."""
    if contrast(color, bg) >= target:
        return color
    towards = (0, 0, 0) if _luminance(bg) > 0.18 else (255, 255, 255)
    start = _rgb(color)
    for step in range(1, 101):
        t = step / 100
        mixed = _hex(tuple(c + (w - c) * t for c, w in zip(start, towards)))
        if contrast(mixed, bg) >= target:
            return mixed
    return _hex(towards)


# ------------------------------------------------------------------------------------------ code
_HEX = re.compile(r"(?<![:\w])#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?\b")


@functools.cache
def code_style(scheme: str):
    """The Pygments style for code in `scheme` ("light" or "dark"), every colour at :data:`TARGET`.

    Token backgrounds and borders are dropped (text is then always on the code background).
    """
    from pygments.style import Style
    from pygments.styles import get_style_by_name

    base = get_style_by_name(_BASE_STYLE[scheme])
    bg = CODE_BG[scheme]
    styles = {}
    for token, rule in base.styles.items():
        words = [w for w in rule.split() if not w.startswith(("bg:", "border:"))]
        styles[token] = " ".join(_HEX.sub(lambda m: _reach(m.group(0), bg), w) for w in words)
    return type(f"Statelab{scheme.title()}Code", (Style,),
                {"name": f"statelab-{scheme}", "background_color": bg, "highlight_color": base.highlight_color,
                 "styles": styles})


def code_css(scheme: str, selector: str = ".highlight") -> str:
    """CSS for highlighted code (nbconvert's ``.highlight`` blocks) in `scheme`."""
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(style=code_style(scheme)).get_style_defs(selector)


# ------------------------------------------------------------------------------------------ ANSI
_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def _nearest16(rgb: tuple[int, int, int]) -> int:
    return min(range(16), key=lambda i: sum((a - b) ** 2 for a, b in zip(rgb, _XTERM16[i])))


def _cube(idx: int) -> tuple[int, int, int]:
    if idx >= 232:
        v = (idx - 232) * 10 + 8
        return v, v, v
    idx -= 16
    return tuple(55 + c * 40 if c else 0 for c in (idx // 36, (idx % 36) // 6, idx % 6))


def _fg_code(index: int) -> int:
    return 30 + index if index < 8 else 90 + index - 8


def _sgr(params: str) -> str:
    nums = [int(n) if n else 0 for n in params.split(";")] if params else [0]
    out: list[int] = []
    i = 0
    while i < len(nums):
        n = nums[i]
        if n in (38, 48):
            mode = nums[i + 1] if i + 1 < len(nums) else None
            color = None
            if mode == 5 and i + 2 < len(nums):
                idx = nums[i + 2]
                color = idx if idx < 16 else _nearest16(_cube(idx)) if idx < 256 else None
                i += 3
            elif mode == 2 and i + 4 < len(nums):
                color = _nearest16(tuple(min(255, v) for v in nums[i + 2:i + 5]))
                i += 5
            else:
                i += 1
            if n == 38 and color is not None:
                out.append(_fg_code(color))
            continue
        if not (40 <= n <= 49 or 100 <= n <= 107 or n in (7, 27)):  # backgrounds, reverse video
            out.append(n)
        i += 1
    return f"\x1b[{';'.join(map(str, out))}m" if out else ""


def normalize_ansi(text: str) -> str:
    """`text` with every colour escape mapped to the 16 named foreground colours.

    256-colour (``38;5;n``) and 24-bit (``38;2;r;g;b``) foregrounds become the nearest named colour;
    backgrounds (``40``-``49``, ``100``-``107``, ``48;...``) and reverse video (``7``) are dropped, so
    text always sits on the code background. The text itself is unchanged.
    """
    return _SGR.sub(lambda m: _sgr(m.group(1)), text)


def aa_ansi2html(text: str) -> str:
    """nbconvert's ``ansi2html`` on :func:`normalize_ansi`'s output: named-colour classes only."""
    from nbconvert.filters.ansi import ansi2html

    return ansi2html(normalize_ansi(text))


def ansi_css(scheme: str) -> str:
    """CSS for nbconvert's ``ansi-*-fg`` classes in `scheme`."""
    return "\n".join(f".ansi-{name}-fg {{ color: {value}; }}" for name, value in ANSI_COLORS[scheme].items())


# ------------------------------------------------------------------------------------------ the page
def _variables(scheme: str) -> str:
    pairs = {**PAGE_COLORS[scheme], "code-bg": CODE_BG[scheme]}
    return " ".join(f"--{k}: {v};" for k, v in pairs.items())


def page_css(*, code: bool = True) -> str:
    """The colour part of a page's stylesheet: custom properties, and code and ANSI colours, per scheme.

    The light scheme is the default; the dark one applies under ``prefers-color-scheme: dark``.
    ``templates/page.css`` (layout, links, tables) uses the custom properties.
    """
    parts = [":root { color-scheme: light dark; " + _variables("light") + " }"]
    if code:
        parts += [code_css("light"), ansi_css("light")]
    dark = [":root { " + _variables("dark") + " }"]
    if code:
        dark += [code_css("dark"), ansi_css("dark")]
    parts.append("@media (prefers-color-scheme: dark) {\n" + "\n".join(dark) + "\n}")
    return "\n".join(parts)
