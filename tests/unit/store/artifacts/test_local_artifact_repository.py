"""Local-disk specifics: URIs, atomic writes, hidden temporaries, odd inputs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakehouse.errors import InvalidParameterError, NotFoundError
from bakehouse.store.artifacts import get_artifact_repository
from bakehouse.store.artifacts.base import TEMP_PREFIX
from bakehouse.store.artifacts.local import LocalArtifactRepository, local_path_from_uri


def test_file_uris_and_plain_paths(tmp_path: Path) -> None:
    assert local_path_from_uri("file:///tmp/a%20b/c") == Path("/tmp/a b/c")
    assert local_path_from_uri("file://localhost/tmp/x") == Path("/tmp/x")
    assert local_path_from_uri("/tmp/a%20b") == Path("/tmp/a%20b")  # plain paths are taken literally
    with pytest.raises(InvalidParameterError, match="remote host"):
        local_path_from_uri("file://elsewhere/tmp/x")
    repo = get_artifact_repository((tmp_path / "with space").as_uri())
    assert isinstance(repo, LocalArtifactRepository)
    repo.write_stream("f.txt", [b"x"])
    assert (tmp_path / "with space" / "f.txt").read_bytes() == b"x"


def test_relative_plain_path_is_anchored_at_creation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    repo = get_artifact_repository("rel/artifacts")
    monkeypatch.chdir("/")
    repo.write_stream("f", [b"1"])
    assert (tmp_path / "rel" / "artifacts" / "f").read_bytes() == b"1"


def test_missing_root_lists_nothing_and_is_not_created_by_reads(tmp_path: Path) -> None:
    repo = LocalArtifactRepository(str(tmp_path / "never"))
    assert repo.list_artifacts() == []
    with pytest.raises(NotFoundError):
        repo.open_read("x")
    assert not (tmp_path / "never").exists()


def test_crashed_stream_leaves_no_file_and_no_temporary(tmp_path: Path) -> None:
    repo = LocalArtifactRepository(str(tmp_path / "root"))

    def crashing() -> Iterator[bytes]:
        yield b"half" * 1000
        raise ConnectionResetError("client vanished")

    with pytest.raises(ConnectionResetError):
        repo.write_stream("d/model.bin", crashing())
    assert sorted(os.listdir(tmp_path / "root" / "d")) == []
    assert repo.list_artifacts("d") == []


def test_temporaries_of_a_killed_process_stay_hidden(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "d" / "real.txt").write_text("real")
    (root / "d" / f"{TEMP_PREFIX}0123456789ab-real.txt").write_text("half")
    repo = LocalArtifactRepository(str(root))
    assert [(i.path, i.file_size) for i in repo.list_artifacts("d")] == [("d/real.txt", 4)]
    out = Path(repo.download_artifacts("d", tmp_path / "dl"))
    assert sorted(os.listdir(out)) == ["real.txt"]


def test_cannot_write_over_a_directory(tmp_path: Path) -> None:
    repo = LocalArtifactRepository(str(tmp_path / "root"))
    repo.write_stream("d/inner.txt", [b"1"])
    with pytest.raises(InvalidParameterError, match="a directory with that name exists"):
        repo.write_stream("d", [b"2"])
    assert repo.open_read("d/inner.txt").read_all() == b"1"


def test_bad_local_inputs(tmp_path: Path) -> None:
    repo = LocalArtifactRepository(str(tmp_path / "root"))
    with pytest.raises(InvalidParameterError, match="does not exist or is not a file"):
        repo.log_artifact(tmp_path / "missing.txt")
    with pytest.raises(InvalidParameterError, match="does not exist or is not a directory"):
        repo.log_artifacts(tmp_path / "missing-dir")
    (tmp_path / "plain-file").write_text("x")
    repo.write_stream("a.txt", [b"a"])
    with pytest.raises(InvalidParameterError, match="is not a directory"):
        repo.download_artifacts("a.txt", tmp_path / "plain-file")
    with pytest.raises(InvalidParameterError, match="destination path is required"):
        repo.upload_file(tmp_path / "plain-file", "")
    with pytest.raises(InvalidParameterError, match="artifact path is required"):
        repo.open_read("")


def test_links_inside_the_root_are_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    repo = LocalArtifactRepository(str(root))
    repo.write_stream("real/data.txt", [b"data"])
    (root / "alias").symlink_to(root / "real")
    assert repo.open_read("alias/data.txt").read_all() == b"data"
    assert [(i.path, i.is_dir) for i in repo.list_artifacts()] == [("alias", True), ("real", True)]


def test_symlink_loops_do_not_hang_downloads(tmp_path: Path) -> None:
    root = tmp_path / "root"
    repo = LocalArtifactRepository(str(root))
    repo.write_stream("d/f.txt", [b"f"])
    (root / "d" / "loop").symlink_to(root / "d")
    out = Path(repo.download_artifacts("d", tmp_path / "dl"))
    assert (out / "f.txt").read_bytes() == b"f"
    assert (out / "loop").is_dir() and list((out / "loop").iterdir()) == []


def test_many_files_in_parallel_and_delete_everything(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for index in range(60):
        (src / f"d{index % 6}").mkdir(parents=True, exist_ok=True)
        (src / f"d{index % 6}" / f"f{index}.txt").write_text(str(index))
    repo = LocalArtifactRepository(str(tmp_path / "root"))
    repo.log_artifacts(src, "many")
    out = Path(repo.download_artifacts("many", tmp_path / "dl"))
    assert sorted((p.relative_to(out).as_posix(), p.read_text()) for p in out.rglob("*.txt")) == sorted(
        (f"d{i % 6}/f{i}.txt", str(i)) for i in range(60)
    )
    repo.delete_artifacts()
    assert repo.list_artifacts() == []
    assert not (tmp_path / "root").exists()


def test_download_file_primitive_is_atomic_and_overwrites(tmp_path: Path) -> None:
    repo = LocalArtifactRepository(str(tmp_path / "root"))
    repo.write_stream("x.bin", [b"new"])
    target = tmp_path / "out" / "x.bin"
    target.parent.mkdir()
    target.write_bytes(b"old contents")
    repo.download_file("x.bin", target)
    assert target.read_bytes() == b"new"
    with pytest.raises(NotFoundError):
        repo.download_file("missing.bin", target)
    assert target.read_bytes() == b"new"
    assert sorted(os.listdir(target.parent)) == ["x.bin"]
