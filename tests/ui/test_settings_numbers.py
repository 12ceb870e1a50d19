"""A settings file holding "nan" or "inf" for a number gives the default, never a non-finite value."""

from __future__ import annotations

from app.ui import settings


def test_non_finite_numbers_in_the_settings_file_fall_back_to_the_defaults(qapp):
    for text in ("nan", "inf", "-inf", "NaN"):
        settings.put("mask/opacity", text)
        settings.put("disclosure/size", text)
        assert settings.get("mask/opacity") == settings.DEFAULTS["mask/opacity"]
        assert settings.get("disclosure/size") == settings.DEFAULTS["disclosure/size"]
    settings.put("mask/opacity", "0.3")
    assert settings.get("mask/opacity") == 0.3
    settings.put("mask/opacity", settings.DEFAULTS["mask/opacity"])
