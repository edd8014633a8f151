import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never touch the user's ~/.cache/judgenet from tests."""
    monkeypatch.setenv("JUDGENET_CACHE_DIR", str(tmp_path_factory.mktemp("jn-cache")))
