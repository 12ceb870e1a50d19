"""Models panel: the model sets of the catalog and whether each is installed.
(The full Models dialog with downloads is a separate piece of work.)"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from app.engine import Catalog, tiny_models_dir


def models_root(models: str | None):
    if models == "tiny":
        return tiny_models_dir()
    return models or None


def list_sets(models: str | None) -> tuple[list[tuple[str, str, bool]], str]:
    """[(name, title, installed)], and the folder looked at. Never raises."""
    try:
        catalog = Catalog.load(models_root(models))
        installed = set(catalog.installed_sets())
        return ([(n, catalog.sets[n].get("title", n), n in installed) for n in catalog.set_names()],
                str(catalog.root))
    except Exception as exc:  # noqa: BLE001 - shown as text
        return [], f"cannot read the model catalog: {exc}"


def list_loras(models: str | None) -> list[tuple[str, str]]:
    """[(catalog name, title)] of the installed LoRAs, trained or imported. Never raises."""
    try:
        catalog = Catalog.load(models_root(models))
        names = catalog.loras()
    except Exception:  # noqa: BLE001 - no LoRAs to offer
        return []
    labels = {"sd15": "SD1.5", "sdxl": "SDXL"}
    out = []
    for n in names:
        e = catalog.entry(n)
        task = e.info.get("task")
        out.append((n, f"{n} ({', '.join(x for x in (labels.get(e.arch or '', ''), task) if x)})"))
    return out


class ModelsPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.where = QLabel()
        self.where.setWordWrap(True)
        self.where.setObjectName("Hint")
        self.list = QListWidget()
        self.refresh_button = QPushButton("Refresh")
        self.manage_button = QPushButton("Manage models…")
        self.manage_button.setToolTip("Download, import, verify or remove models")
        self.hint = QLabel("Download or import model sets with Manage models.")
        self.hint.setWordWrap(True)
        self.hint.setObjectName("Hint")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.where)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.hint)
        layout.addWidget(self.manage_button)
        layout.addWidget(self.refresh_button)

    def show_sets(self, sets: list[tuple[str, str, bool]], where: str) -> None:
        self.where.setText(f"Models folder: {where}")
        self.list.clear()
        for name, title, installed in sets:
            item = QListWidgetItem(f"{'✔' if installed else '✖'}  {title}  ({name})")
            item.setToolTip("installed" if installed else "not installed")
            self.list.addItem(item)
