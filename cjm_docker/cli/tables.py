"""Tables for `cjm-ctl`: rich tables on a terminal, plain aligned rows everywhere else.

A rich table printed into a pipe or a CI log is drawn 80 columns wide and wraps every long
image name or path over several lines; a script or a reader of the log wants one line per row.
So off a terminal the same rows are printed as plain columns (markup stripped, never wrapped).
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

# Between plain columns: two spaces, as `docker ps` does.
_GAP = "  "


class Rows:
    """A table: columns, then rows of cells (cells may hold rich markup such as ``[green]``)."""

    def __init__(self, *columns: str, title: str | None = None):
        self.columns = list(columns)
        self.title = title
        self.rows: list[list[str]] = []

    def add_row(self, *cells: str) -> None:
        self.rows.append([str(c) for c in cells])

    def __len__(self) -> int:
        return len(self.rows)

    def rich(self) -> Table:
        """The rich table (the terminal's full width; long cells fold, never get cut)."""
        view = Table(title=self.title, header_style="bold", expand=False)
        for column in self.columns:
            view.add_column(column, overflow="fold")
        for row in self.rows:
            view.add_row(*row)
        return view

    def plain(self) -> str:
        """Aligned plain text: a header line, then one line per row."""
        cells = [self.columns, *([Text.from_markup(c).plain for c in row] for row in self.rows)]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = [_GAP.join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                 for row in cells]
        if self.title:
            lines.insert(0, self.title)
        return "\n".join(lines) + "\n"

    def print(self, out: Console) -> None:
        """On a terminal the rich table, else the plain rows (no wrapping at 80 columns)."""
        if out.is_terminal:
            out.print(self.rich())
        else:
            out.file.write(self.plain())
            out.file.flush()
