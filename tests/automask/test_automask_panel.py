"""The automatic-mask panel: object list with toggles, margin slider, floor, nothing found."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from app.engine import (  # noqa: E402
    AutoMaskRequest,
    AutoMaskResult,
    MaskObject,  # noqa: E402
)
from app.engine.automask import objects as amo  # noqa: E402
from app.engine.vision import labels as aml  # noqa: E402
from app.imaging import masks  # noqa: E402
from app.ui.panels.auto_mask_panel import AutoMaskPanel  # noqa: E402

SHAPE = (300, 400)


def furniture_result():
    a = np.zeros(SHAPE, bool)
    a[150:250, 40:180] = True
    b = np.zeros(SHAPE, bool)
    b[180:260, 240:300] = True
    c = np.zeros(SHAPE, bool)
    c[260:290, 60:340] = True
    window = np.zeros(SHAPE, bool)
    window[60:146, 60:160] = True
    objects = [MaskObject.from_mask("sofa", 0.91, a, source="both"), MaskObject.from_mask("chair", 0.62, b),
               MaskObject.from_mask("box", 0.4, c, category=aml.OTHER, selected=False)]
    return AutoMaskResult("furniture", objects, amo.combine(objects, SHAPE, 0, window), 0, "", window)


@pytest.fixture
def panel(qtbot):
    p = AutoMaskPanel()
    qtbot.addWidget(p)
    return p


def test_buttons_ask_for_a_mask(panel, qtbot):
    with qtbot.waitSignal(panel.requested) as sig:
        panel.furniture_button.click()
    assert sig.args[0] == "furniture" and sig.args[1]["margin_px"] == 0
    with qtbot.waitSignal(panel.requested) as sig:
        panel.floor_button.click()
    assert sig.args == ["floor", {"target": "floor", "band": 0.35}]
    request = AutoMaskPanel.build_request(np.zeros((8, 8, 3), np.uint8), "floor", sig.args[1], models="tiny")
    assert isinstance(request, AutoMaskRequest) and request.band == 0.35 and request.models == "tiny"


def test_objects_are_listed_and_toggled_one_by_one(panel, qtbot):
    result = furniture_result()
    seen = []
    panel.mask_changed.connect(seen.append)
    panel.set_result(result)
    assert [panel.objects.item(i).text() for i in range(3)] == ["sofa  0.91", "chair  0.62", "box  0.40"]
    assert panel.selected() == [True, True, False]
    margin = panel.margin_px()
    assert margin == masks.scale_px(20, (400, 300))
    mask = seen[-1]
    sofa, chair, box = (o.mask for o in result.objects)
    assert mask[sofa].all() and mask[chair].all() and not mask[box & ~masks.grow(sofa | chair, margin)].any()
    assert not mask[result.protected].any(), "the ring stays off the window"
    panel.set_checked(1, False)  # untick the chair
    assert not seen[-1][chair].any() and seen[-1][sofa].all()
    panel.set_checked(2, True)  # tick the box
    assert seen[-1][box].all()
    panel.set_all(False)
    assert seen[-1] is None and panel.selection_mask() is None, "nothing selected: no mask, not the photo"


def test_margin_slider_sets_the_ring(panel, qtbot):
    panel.set_result(furniture_result())
    small = panel.selection_mask().sum()
    panel.margin.setValue(60)
    qtbot.waitUntil(lambda: panel.selection_mask().sum() > small, timeout=2000)
    assert panel.margin_px() == masks.scale_px(60, (400, 300))
    assert "px" in panel.margin_label.text()
    panel.margin.setValue(0)
    qtbot.waitUntil(lambda: panel.selection_mask().sum() < small, timeout=2000)


def test_nothing_found_is_said(panel, qtbot):
    seen, said = [], []
    panel.mask_changed.connect(seen.append)
    panel.message.connect(said.append)
    text = amo.nothing_found_message("furniture", ["grounding-dino-tiny"])
    panel.set_result(AutoMaskResult("furniture", [], np.zeros(SHAPE, bool), 20, text))
    assert panel.objects.count() == 0 and seen == [None]
    assert "No furniture was found" in panel.status.text() and said == [text]
    assert not panel.all_button.isEnabled()


def test_floor_result_toggles_the_band(panel):
    floor = np.zeros(SHAPE, bool)
    floor[200:, :] = True
    band = np.zeros(SHAPE, bool)
    band[160:200, :] = True
    result = AutoMaskResult("floor", [MaskObject.from_mask("floor", 1.0, floor, category="floor"),
                                         MaskObject.from_mask("band above the floor", 1.0, band, category="floor")],
                               floor | band, 0)
    panel.set_result(result)
    assert not panel.margin.isEnabled()
    assert panel.selection_mask().sum() == (floor | band).sum()
    panel.objects.item(1).setCheckState(Qt.CheckState.Unchecked)
    assert np.array_equal(panel.selection_mask(), floor)
