"""A self-contained HTML page for a model-selection run: summary, table and figures."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #eee; }
tr.chosen td { background: #fff3c4; font-weight: bold; }
tr.degenerate td { color: #999; }
figure { margin: 2em 0; }
img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.9em; }
"""


def selection_table_html(table: pd.DataFrame, chosen=None) -> str:
    """``MixtureSelection.table_`` as an HTML table; the chosen row and degenerate rows styled.

    Parameters
    ----------
    table : one row per fit, as :func:`emkit.select_mixture` returns it.
    chosen : the selected estimator (its row is highlighted), or None.
    """
    columns = list(table.columns)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    rows = []
    for _, row in table.iterrows():
        classes = []
        if chosen is not None and (
            row["n_components"] == chosen.n_components
            and row["covariance_type"] == chosen.covariance_type
        ):
            classes.append("chosen")
        if bool(row.get("degenerate", False)):
            classes.append("degenerate")
        cells = "".join(f"<td>{html.escape(_format(row[c]))}</td>" for c in columns)
        attr = f' class="{" ".join(classes)}"' if classes else ""
        rows.append(f"<tr{attr}>{cells}</tr>")
    return (
        f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody>\n</table>"
    )


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def write_html(
    path: str | Path,
    title: str,
    summary: str,
    table_html: str,
    figures: list[tuple[str, str]],
    note: str = "",
) -> Path:
    """Write the report page.

    Parameters
    ----------
    path : the ``.html`` file to write.
    title : page title and heading.
    summary : plain-text summary, shown preformatted.
    table_html : the model-selection table, already HTML.
    figures : (file name relative to the page, caption) pairs, in order.
    note : one line under the heading (e.g. the data source).

    Returns
    -------
    The path written.
    """
    path = Path(path)
    blocks = [
        f'<figure><img src="{html.escape(src)}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for src, caption in figures
    ]
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(note)}</p>
<h2>Summary</h2>
<pre>{html.escape(summary)}</pre>
<h2>Figures</h2>
{chr(10).join(blocks)}
<h2>All fitted models</h2>
<p>BIC, AIC and ICL use scikit-learn's sign (lower is better); mclust reports -BIC.
Degenerate fits (grey) are never chosen, as mclust reports them NA.</p>
{table_html}
</body>
</html>
"""
    path.write_text(page, encoding="utf-8")
    return path
