"""The UI's static asset cache holds only files that exist: made-up or hostile names cost no memory."""

from __future__ import annotations

from pathlib import Path

from bakehouse.server.ui.assets import AssetCache


def test_only_existing_files_are_kept_in_memory(tmp_path: Path) -> None:
    root = tmp_path / "static"
    (root / "js").mkdir(parents=True)
    (root / "js" / "app.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("outside")
    cache = AssetCache(root)
    asset = cache.get("js/app.js")
    assert asset is not None and asset.body == b"console.log(1)"
    assert asset.content_type.startswith("text/javascript")
    hostile = ["../secret.txt", "js/../../secret.txt", "/etc/passwd", ".hidden", "js//app.js", ""]
    made_up = [f"js/missing-{n}.js" for n in range(2000)]
    for name in hostile + made_up:
        assert cache.get(name) is None, name
    assert len(cache) == 1
    assert cache.get("js/app.js") is asset  # served from memory the second time
