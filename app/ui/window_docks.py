"""The dock layout: four docks around the canvas, each holding a tab widget.

  left, top      Select:   Selection | Auto | Guides
  left, bottom   Activity: Jobs | History | Models
  right          Generate: Stage | De-furnish | Repaint
  bottom         Results (a filmstrip under the canvas)

Tabs live inside the docks (a QTabWidget each) rather than as tabified docks: Qt's
own dock tabs leave stale tab bars painted over the window (seen with Qt 6.12).
Every dock can still be moved, floated or closed, and View ▸ Panels brings it back.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QTabWidget, QWidget

LAYOUT = (
    ("select", "Select", Qt.DockWidgetArea.LeftDockWidgetArea, ("selection", "auto", "guides")),
    ("activity", "Activity", Qt.DockWidgetArea.LeftDockWidgetArea, ("jobs", "history", "models")),
    ("generate", "Generate", Qt.DockWidgetArea.RightDockWidgetArea, ("stage", "defurnish", "repaint")),
    ("results", "Results", Qt.DockWidgetArea.BottomDockWidgetArea, ("results",)),
)


def build_docks(window, panels: dict[str, tuple[str, QWidget]]) -> None:
    """panels: key -> (tab title, widget). Sets window.docks and window.panel_tabs."""
    window.docks = {}
    window.panel_tabs = {}
    for key, title, area, members in LAYOUT:
        dock = QDockWidget(title, window)
        dock.setObjectName(f"dock-{key}")
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        present = [m for m in members if m in panels]
        if len(present) == 1:
            dock.setWidget(panels[present[0]][1])
            window.panel_tabs[present[0]] = (dock, None)
        else:
            tabs = QTabWidget()
            tabs.setObjectName(f"tabs-{key}")
            tabs.setDocumentMode(True)
            for m in present:
                tab_title, widget = panels[m]
                tabs.addTab(widget, tab_title)
                window.panel_tabs[m] = (dock, tabs)
            dock.setWidget(tabs)
        window.addDockWidget(area, dock)
        window.docks[key] = dock
    window.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
    window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
    window.resizeDocks([window.docks["select"], window.docks["generate"]], [310, 350], Qt.Orientation.Horizontal)
    window.resizeDocks([window.docks["select"], window.docks["activity"]], [600, 260], Qt.Orientation.Vertical)


def show_panel(window, key: str) -> None:
    """Make a panel visible: its dock shown and raised, its tab current."""
    dock, tabs = window.panel_tabs[key]
    dock.show()
    dock.raise_()
    if tabs is not None:
        for i in range(tabs.count()):
            if tabs.widget(i) is panel_widget(window, key):
                tabs.setCurrentIndex(i)


def panel_widget(window, key: str) -> QWidget:
    dock, tabs = window.panel_tabs[key]
    if tabs is None:
        return dock.widget()
    return window._panels[key][1]

