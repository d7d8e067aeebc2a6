"""A version's model folder packed for the database and unpacked into a server's cache."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from chatdesk.services.intent_artifacts import DamagedArtifact, pack, unpack


def test_a_folder_comes_back_as_it_was_without_the_local_marker(tmp_path: Path) -> None:
    source = tmp_path / "v1"
    source.mkdir()
    files = {"model.skops": bytes(range(256)) * 100, "metadata.json": b"{}", "intents.yaml": b"intents: {}\n"}
    for name, data in files.items():
        (source / name).write_bytes(data)
    (source / "ready").touch()
    unpack(pack(source), tmp_path / "copy")
    assert {p.name: p.read_bytes() for p in (tmp_path / "copy").iterdir()} == files


@pytest.mark.parametrize("name", ["../escape.txt", "sub/model.skops", "/etc/passwd", "..\\escape.txt",
                                  "dir/"])
def test_an_archive_cannot_write_outside_its_folder(tmp_path: Path, name: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, b"x")
    with pytest.raises(DamagedArtifact, match="unexpected entry"):
        unpack(buffer.getvalue(), tmp_path / "target")
    assert not (tmp_path / "escape.txt").exists()
    assert list((tmp_path / "target").iterdir()) == []
