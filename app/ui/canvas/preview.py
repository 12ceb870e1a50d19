"""The live preview of a running generation: the model's picture shown only where the job
repaints (its edit region), so the photo around it stays visible, with the crop box the model
sees drawn as a dashed outline."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPixmapItem, QGraphicsRectItem


def preview_rgba(rgb: np.ndarray, region: np.ndarray | None) -> np.ndarray:
    """HxWx4 uint8: the preview's pixels, opaque inside `region` (any size, resized to fit), clear outside."""
    h, w = rgb.shape[:2]
    alpha = np.full((h, w), 255, np.uint8)
    if region is not None and region.size:
        shrink = region.shape[0] * region.shape[1] > h * w
        alpha = cv2.resize(np.asarray(region, np.uint8) * 255, (w, h),
                           interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return np.ascontiguousarray(np.dstack([rgb, alpha]))


class PreviewLayer:
    """Two scene items: the masked picture and the crop box outline."""

    def __init__(self, z: float):
        self.picture = QGraphicsPixmapItem()
        self.picture.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.outline = QGraphicsRectItem()
        pen = QPen(QColor(120, 200, 255, 220), 1.5, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self.outline.setPen(pen)
        for i, item in enumerate((self.picture, self.outline)):
            item.setZValue(z + i * 0.1)
            item.setVisible(False)
        self.rgba: np.ndarray | None = None  # what is shown (tests read it)

    def items(self) -> tuple[QGraphicsItem, QGraphicsItem]:
        return self.picture, self.outline

    def isVisible(self) -> bool:  # noqa: N802 - reads like the Qt items it stands for
        return self.picture.isVisible()

    def show(self, rgb: np.ndarray | None, box: tuple[int, int, int, int] | None, region: np.ndarray | None) -> None:
        if rgb is None or box is None:
            self.hide()
            return
        self.rgba = preview_rgba(np.asarray(rgb, np.uint8), region)
        h, w = self.rgba.shape[:2]
        image = QImage(self.rgba.data, w, h, self.rgba.strides[0], QImage.Format.Format_RGBA8888).copy()
        x0, y0, x1, y1 = box
        self.picture.setPixmap(QPixmap.fromImage(image))
        self.picture.setPos(x0, y0)
        self.picture.setTransform(self.picture.transform().fromScale((x1 - x0) / w, (y1 - y0) / h))
        self.outline.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.picture.setVisible(True)
        self.outline.setVisible(True)

    def hide(self) -> None:
        self.picture.setVisible(False)
        self.outline.setVisible(False)
        self.rgba = None
