"""One self-contained HTML page for a model-selection run: summary, tables and figures.

Figures are embedded as PNG data URIs and the style sheet is inline: the page refers to no
other file or address, so it can be sent or archived on its own.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from emkit.atomic import write_text
from emkit.distributions.gaussian import mclust_alias

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1150px; margin: 2em auto; padding: 0 1em;
       color: #222; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #eee; }
td.name, th.name { text-align: left; }
tr.chosen td { background: #fff3c4; font-weight: bold; }
tr.degenerate td, tr.given-up td { color: #999; }
.se { color: #666; font-size: 0.9em; }
figure { margin: 2em 0; }
img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.9em; }
details { margin: 0.5em 0 1.5em; }
"""
# Beyond this many columns the covariance matrices are left out of the page: d x d cells per
# component (3000 columns made a report of 90 MB) that nobody reads in a browser.
MATRIX_MAX_COLUMNS = 50


def _format(value) -> str:
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{value:.3f}"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    return str(value)


def _number(value: float) -> str:
    """4 significant digits, plain where that reads well."""
    return f"{value:.4g}"


def selection_table_html(table: pd.DataFrame, chosen=None, criterion: str = "bic") -> str:
    """``MixtureSelection.table_`` as an HTML table sorted by the criterion (best first),
    degenerate fits and fits given up (stopped below their maxima) last; the chosen row and
    those rows styled.

    Parameters
    ----------
    table : one row per fit, as :func:`emkit.select_mixture` returns it.
    chosen : the selected estimator (its row is highlighted), or None.
    criterion : the column to sort by, lower first.
    """
    degenerate = table["degenerate"].astype(bool) if "degenerate" in table else False
    given_up = table["given_up"].astype(bool) if "given_up" in table else False
    bad = degenerate | given_up
    table = table.assign(_bad=bad).sort_values(["_bad", criterion], kind="stable")
    table = table.drop(columns="_bad")
    columns = ["rank", *table.columns]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    rows = []
    for rank, (_, row) in enumerate(table.iterrows(), start=1):
        classes = []
        if chosen is not None and (
            row["n_components"] == chosen.n_components
            and row["covariance_type"] == chosen.covariance_type
        ):
            classes.append("chosen")
        if bool(row.get("degenerate", False)):
            classes.append("degenerate")
        elif bool(row.get("given_up", False)):
            classes.append("given-up")
        cells = [str(rank)] + [_format(row[c]) for c in table.columns]
        attr = f' class="{" ".join(classes)}"' if classes else ""
        rows.append(f"<tr{attr}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return (
        f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody>\n</table>"
    )


def components_html(
    model,
    columns: list[str],
    x: np.ndarray,
    errors=None,
    n_boot: int = 0,
    note: str = "",
    sizes: np.ndarray | None = None,
    no_errors: str = "the data are too large for the bootstrap",
) -> str:
    """The fitted components: weight, size, mean and standard deviation of every column (with
    bootstrap standard errors when given), then each component's covariance matrix.

    Parameters
    ----------
    model : fitted GaussianMixture.
    columns : d column names.
    x : array of shape (n, d), the data (sizes count the rows whose most probable component
        it is).
    errors : :func:`emkit.report.bootstrap_errors`' dict, or None.
    n_boot : resamples behind ``errors``, for the note.
    note : one more line above the table.
    sizes : array of shape (k,), the rows whose most probable component each is; counted from
        ``x`` when None.
    no_errors : why there are no standard errors, where ``errors`` is None.
    """
    from emkit.report.fitted import full_covariances

    full = full_covariances(model)
    k, d = model.means_.shape
    if sizes is None:
        from emkit.report import cluster_sizes

        sizes = cluster_sizes(model, x)
    sds = np.sqrt(np.diagonal(full, axis1=1, axis2=2))  # (k, d)

    def cell(value: float, se: float | None) -> str:
        text = html.escape(_number(value))
        if se is not None:
            text += f' <span class="se">({html.escape(_number(se))})</span>'
        return f"<td>{text}</td>"

    def err(key: str, *index) -> float | None:
        return None if errors is None else float(errors[key][index])

    head = ["component", "weight", "size"]
    head += [f"mean {c}" for c in columns] + [f"sd {c}" for c in columns]
    lines = [
        "<table>",
        "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead>",
        "<tbody>",
    ]
    for j in range(k):
        cells = [
            f"<td>{j}</td>",
            cell(model.weights_[j], err("weights", j)),
            f"<td>{sizes[j]}</td>",
        ]
        cells += [cell(model.means_[j, i], err("means", j, i)) for i in range(d)]
        cells += [cell(sds[j, i], err("sds", j, i)) for i in range(d)]
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines += ["</tbody>", "</table>"]
    if errors is None:
        what = f"Standard errors: not computed ({no_errors})."
    else:
        what = (
            f"In parentheses: bootstrap standard errors ({n_boot} resamples of the rows, each "
            "fitted by EM from the chosen model's parameters, components matched by their "
            "means; as mclust's MclustBootstrap)."
        )
    size_note = "Size: the rows whose most probable component it is."
    text = " ".join(t for t in (note, size_note, what) if t)
    matrices = []
    # one matrix where the structure makes every component's the same (EII, EEI, EEE; E on
    # one column), not where the matrices are merely close: tiny ones would all look alike
    shared = k == 1 or set(mclust_alias(model.covariance_type, d)) <= {"E", "I"}
    label = "covariance matrix" if shared else f"covariance matrices ({k})"
    if d > MATRIX_MAX_COLUMNS:
        return (
            "\n".join(lines)
            + f"\n<p>{html.escape(text)}</p>\n<p>The "
            + (
                f"covariance matrix ({d} x {d}) is"
                if shared
                else f"{k} covariance matrices ({d} x {d}) are"
            )
            + " not shown: more "
            f"than {MATRIX_MAX_COLUMNS} columns. The model file holds them "
            "(<code>emkit.load(path).covariances_</code>).</p>"
        )
    for j in range(1 if shared else k):
        frame = pd.DataFrame(full[j], index=columns, columns=columns)
        title = "Covariance matrix (shared by every component)" if shared else f"Component {j}"
        body = "".join(
            "<tr><th class='name'>"
            + html.escape(str(name))
            + "</th>"
            + "".join(f"<td>{html.escape(_number(v))}</td>" for v in row)
            + "</tr>"
            for name, row in frame.iterrows()
        )
        heads = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        matrices.append(
            f"<p>{html.escape(title)}</p><table><thead><tr><th></th>{heads}</tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )
    return (
        "\n".join(lines)
        + f"\n<p>{html.escape(text)}</p>\n<details><summary>The {label}</summary>\n"
        + "\n".join(matrices)
        + "\n</details>"
    )


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def write_html(
    path: str | Path,
    title: str,
    summary: str,
    table_html: str,
    figures: list[tuple[bytes, str]],
    note: str = "",
    parameters_html: str = "",
) -> Path:
    """Write the report page, every figure inside it.

    Parameters
    ----------
    path : the ``.html`` file to write.
    title : page title and heading.
    summary : plain-text summary, shown preformatted.
    table_html : the model-selection table, already HTML.
    figures : (PNG bytes, caption) pairs, in order.
    note : one line under the heading (e.g. the data source).
    parameters_html : the table of the chosen model's components, already HTML.

    Returns
    -------
    The path written.
    """
    path = Path(path)
    blocks = [
        f'<figure><img src="{data_uri(png)}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for png, caption in figures
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
<h2>Components of the chosen model</h2>
{parameters_html}
<h2>Figures</h2>
{chr(10).join(blocks)}
<h2>All fitted models, best first</h2>
<p>BIC, AIC and ICL use scikit-learn's sign (-2 log L + penalty, lower is better); mclust
reports -BIC. Degenerate fits (grey, last) are never chosen, as mclust reports them NA.</p>
{table_html}
</body>
</html>
"""
    write_text(path, page)
    return path
