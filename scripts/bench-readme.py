#!/usr/bin/env python3
"""Puts the tables of bench-results/*.md into README.md, between the bench markers."""
import pathlib, re, sys

root = pathlib.Path(__file__).resolve().parent.parent
tables = sorted((root / "bench-results").glob("*.md"))
if not tables:
    sys.exit("error: no bench-results/*.md: run make bench first")
body = "\n".join(t.read_text().strip() + "\n" for t in tables)
readme = root / "README.md"
text = readme.read_text()
new, n = re.subn(r"(<!-- bench:begin -->\n).*?(<!-- bench:end -->)",
                 lambda m: m.group(1) + body + m.group(2), text, flags=re.S)
if n != 1:
    sys.exit("error: README.md lacks the <!-- bench:begin --> / <!-- bench:end --> markers")
readme.write_text(new)
print(f"README.md: benchmark tables updated from {len(tables)} file(s)")
