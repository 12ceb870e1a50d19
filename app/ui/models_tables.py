"""The two tables of the Models window: model sets and models, with status, size and licence."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from app.engine import Catalog, human_bytes

MODEL_COLUMNS = ("Model", "Role", "Base", "Size", "Licence", "Status")
SET_COLUMNS = ("Set", "For", "Status", "To download")
GOOD, PENDING, WARN = "#2e7d32", "#b26a00", "#c62828"


def make_table(columns) -> QTableWidget:
    t = QTableWidget(0, len(columns))
    t.setHorizontalHeaderLabels(columns)
    t.setSelectionBehavior(QAbstractItemView.SelectRows)
    t.setSelectionMode(QAbstractItemView.ExtendedSelection)
    t.setEditTriggers(QAbstractItemView.NoEditTriggers)
    t.verticalHeader().setVisible(False)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    return t


def fill_sets(t: QTableWidget, catalog: Catalog, recommended: str | None) -> None:
    t.setRowCount(0)
    for name in catalog.sets:
        d = catalog.describe_set(name)
        row = t.rowCount()
        t.insertRow(row)
        status = "installed" if d["installed"] else f"missing {len(d['missing'])} of {len(d['models'])}"
        cells = [name + (" (recommended)" if name == recommended else ""), d["title"], status,
                 "" if d["installed"] else human_bytes(d["download_bytes"])]
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setData(Qt.UserRole, name)
            if col == 2:
                item.setForeground(QColor(GOOD if d["installed"] else PENDING))
            t.setItem(row, col, item)


def fill_models(t: QTableWidget, catalog: Catalog, show_all: bool) -> None:
    """Models of the sets, the user's own and whatever is installed (every catalog entry with `show_all`)."""
    t.setRowCount(0)
    in_sets = {m for s in catalog.sets for m in catalog.set_models(s)}
    for name in catalog.entries:
        if not (show_all or name in in_sets or name in catalog.user_entries or catalog.is_installed(name)):
            continue
        d = catalog.describe(name)
        row = t.rowCount()
        t.insertRow(row)
        licence = d["license"] + {True: "", False: "  ⚠ non-commercial", None: "  (check)"}[d["commercial_use"]]
        status = {"installed": "installed", "external": "used in place", "partial": "partly downloaded",
                  "missing": "not installed"}[d["status"]]
        cells = [name, d["role"], {"sd15": "SD1.5", "sdxl": "SDXL"}.get(d["arch"] or "", ""),
                 human_bytes(d["size_bytes"]) if d["size_bytes"] else "?", licence, status]
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setData(Qt.UserRole, name)
            tip = d.get("license_note") or d.get("note")
            if tip:
                item.setToolTip(tip)
            if col == 4 and d["commercial_use"] is False:
                item.setForeground(QColor(WARN))
            if col == 5:
                item.setForeground(QColor(GOOD if d["status"] in ("installed", "external") else PENDING))
            t.setItem(row, col, item)
