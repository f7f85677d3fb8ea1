#!/usr/bin/env python3
"""Draws every ratio of bench-results/*.md (netlab's speed ÷ the reference's) as one SVG bar
chart, bench-ratios.svg next to the README: a bar per row, a line at 1.0 (as fast as the
reference), a log scale so 0.5× and 2× are as far from 1.0."""
import math, pathlib, re, sys, html

root = pathlib.Path(__file__).resolve().parent.parent
rows = []
for table in sorted((root / "bench-results").glob("*.md")):
    title = ""
    for line in table.read_text().splitlines():
        if line.startswith("### "):
            title = line[4:].split(" — ")[0]
        m = re.match(r"\| (.+?) \| [^|]+ \| [^|]+ \(([^)]+)\) \| ([0-9.]+)× \|$", line)
        if m:
            rows.append((f"{title}: {m.group(1)}", m.group(2), float(m.group(3))))
if not rows:
    sys.exit("error: no bench-results/*.md: run make bench first")

left, bar_h, gap, width = 760, 16, 6, 1180
lo, hi = 0.05, 20.0
def x(r):
    r = min(max(r, lo), hi)
    return left + (math.log10(r) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * (width - left - 20)
height = 40 + len(rows) * (bar_h + gap) + 30
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
       f'<text x="10" y="18" font-size="13" font-weight="bold">netlab speed ÷ reference (log scale; right of the line: faster)</text>']
for i, (what, ref, ratio) in enumerate(rows):
    y = 32 + i * (bar_h + gap)
    colour = "#2a9d8f" if ratio >= 1 else "#e76f51"
    x0, x1 = x(1.0), x(ratio)
    out.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{html.escape(what[:110])} (vs {html.escape(ref)})</text>')
    out.append(f'<rect x="{min(x0, x1):.1f}" y="{y}" width="{abs(x1 - x0):.1f}" height="{bar_h}" fill="{colour}"/>')
    out.append(f'<text x="{max(x0, x1) + 4:.1f}" y="{y + 12}">{ratio:.2f}×</text>')
for tick in [0.1, 0.25, 0.5, 1, 2, 4, 10]:
    tx = x(tick)
    out.append(f'<line x1="{tx:.1f}" y1="28" x2="{tx:.1f}" y2="{height - 24}" stroke="{"#000" if tick == 1 else "#ccc"}" stroke-width="{1.5 if tick == 1 else 0.5}"/>')
    out.append(f'<text x="{tx:.1f}" y="{height - 10}" text-anchor="middle">{tick}×</text>')
out.append("</svg>")
(root / "bench-ratios.svg").write_text("\n".join(out) + "\n")
print(f"bench-ratios.svg: {len(rows)} ratios")
