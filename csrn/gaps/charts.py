"""Charts drawn on the server as SVG images (served from their own routes: pages refuse inline SVG and styles),
from counts already protected by the rule of small numbers: a hidden month has no bar, only its mark."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from csrn.gaps.suppression import Shown

WIDTH, HEIGHT, MARGIN, AXIS = 720, 260, 36, 40


def bar_chart(title: str, points: list[tuple[str, Shown]]) -> str:
    """A bar per point, labelled below, its number above; hidden numbers draw no bar."""
    values = [shown.value for _, shown in points if shown.value is not None]
    top = max(values + [1])
    inner = WIDTH - 2 * MARGIN
    step = inner / max(len(points), 1)
    bar = max(step * 0.6, 2)
    plot = HEIGHT - AXIS - MARGIN
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label={quoteattr(title)}>',
             f"<title>{escape(title)}</title>",
             f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
             f'<line x1="{MARGIN}" y1="{HEIGHT - AXIS}" x2="{WIDTH - MARGIN}" y2="{HEIGHT - AXIS}" '
             'stroke="#555555" stroke-width="1"/>']
    for index, (label, shown) in enumerate(points):
        x = MARGIN + index * step + (step - bar) / 2
        centre = x + bar / 2
        if shown.value is not None:
            height = plot * shown.value / top
            y = HEIGHT - AXIS - height
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" fill="#1a56db"/>')
        else:
            y = HEIGHT - AXIS
        parts.append(f'<text x="{centre:.1f}" y="{y - 4:.1f}" font-family="sans-serif" font-size="11" '
                     f'text-anchor="middle" fill="#222222">{escape(shown.text)}</text>')
        parts.append(f'<text x="{centre:.1f}" y="{HEIGHT - AXIS + 16:.1f}" font-family="sans-serif" font-size="10" '
                     f'text-anchor="middle" fill="#222222">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
