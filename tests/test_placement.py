"""Where an image goes within its target: validation refuses what the platform refuses.

Tmall keeps position 0 for the main image (``is_major``) and puts a 3:4 image
(``is_rectangle``) outside the five positions; Qianmi puts an image without a position
at 0 and lets no two share one. Each case is validated, and the rows validation passes
are uploaded to the sandbox over HTTP, which stores them (the rows it stops, the
sandbox refuses: tests/test_sandbox_tmall_images.py, test_sandbox_qianmi.py).
"""

from __future__ import annotations

import pandas as pd
import pytest

import imgkit
from imgkit.sandbox import Sandbox

IMAGES = imgkit.sample_data() / "images"
ITEM = "1489161940"  # an empty item of the tmall_store seller


@pytest.mark.parametrize(
    ("position", "is_major", "is_rectangle", "issue"),
    [
        ("2", "", "", ""),
        ("", "", "", ""),
        ("0", "", "", "position_not_for_image"),
        ("0", "true", "", ""),
        ("", "true", "", ""),
        ("3", "true", "", "position_not_for_image"),
        ("1", "", "true", "position_not_for_image"),
        ("0", "", "true", "position_not_for_image"),
    ],
)
def test_tmall_positions_follow_the_image_model(
    sandbox: Sandbox, position: str, is_major: str, is_rectangle: str, issue: str
) -> None:
    batch = pd.DataFrame(
        {
            "platform": ["tmall_item"],
            "shop": ["tmall_store"],
            "file": [str(IMAGES / "mug.jpg")],
            "target": [ITEM],
            "position": [position],
            "is_major": [is_major],
            "is_rectangle": [is_rectangle],
        }
    )
    checked = imgkit.validate(batch, shops=sandbox.shops)
    if issue:
        assert issue in str(checked.loc[0, "issues"]).split(";"), checked.loc[0, "message"]
        assert "3:4" in str(checked.loc[0, "message"])  # the words name the kinds of image
        return
    assert checked.loc[0, "ok"], checked.loc[0, "message"]
    results = imgkit.upload(batch, shops=sandbox.shops, journal=False, progress=False)
    assert results.loc[0, "status"] == "uploaded", results.loc[0, "message"]


def test_two_qianmi_images_without_positions_are_stopped_before_sending(
    sandbox: Sandbox,
) -> None:
    batch = pd.DataFrame(
        {
            "platform": "qianmi_sku",
            "shop": "qianmi_shop",
            "file": [str(IMAGES / name) for name in ("mug.jpg", "cap.png", "watch.jpg")],
            "target": "18353/g1234",
            "position": ["", "", "1"],
        }
    )
    results = imgkit.upload(batch, shops=sandbox.shops, journal=False, progress=False)
    assert results["status"].tolist() == ["uploaded", "invalid", "uploaded"]
    assert "position 0" in str(results.loc[1, "message"])
    assert sandbox.stats()["qianmi_sku"]["requests"] == 2  # the second was never sent
