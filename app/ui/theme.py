"""A dark theme: Fusion with a dark palette and a small style sheet
(resources/theme/dark.qss when present)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

QSS = Path(__file__).resolve().parents[2] / "resources" / "theme" / "dark.qss"

PANEL, BASE, TEXT, MUTED, ACCENT = "#2a2b2f", "#232427", "#e3e3e6", "#8d8f96", "#3d8bfd"


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: PANEL, QPalette.ColorRole.WindowText: TEXT, QPalette.ColorRole.Base: BASE,
        QPalette.ColorRole.AlternateBase: PANEL, QPalette.ColorRole.ToolTipBase: "#111214",
        QPalette.ColorRole.ToolTipText: TEXT, QPalette.ColorRole.Text: TEXT, QPalette.ColorRole.Button: "#34363b",
        QPalette.ColorRole.ButtonText: TEXT, QPalette.ColorRole.BrightText: "#ff5555",
        QPalette.ColorRole.Highlight: ACCENT, QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: ACCENT, QPalette.ColorRole.PlaceholderText: MUTED,
        QPalette.ColorRole.Mid: "#3a3c41", QPalette.ColorRole.Dark: "#18191b", QPalette.ColorRole.Light: "#45474d",
    }
    for role, color in roles.items():
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b6d73"))
    app.setPalette(p)
    if QSS.is_file():
        app.setStyleSheet(QSS.read_text(encoding="utf-8"))
