"""Scenario sources (folder, S3 bundles cached by ETag, safe extraction) and private workspaces."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any
from uuid import uuid4

import boto3
import pytest
from moto import mock_aws
from testgenie.errors import ScenarioNotFoundError, ValidationError
from testgenie.orchestrator.run.workspace import command_environment, prepare_workspace
from testgenie.orchestrator.sources.bundles import UnsafeArchiveError, safe_extract
from testgenie.orchestrator.sources.factory import scenario_source_from_settings
from testgenie.orchestrator.sources.local import LocalScenarioSource
from testgenie.orchestrator.sources.s3 import S3ScenarioSource
from testgenie.settings import Settings

from tests.support.orchestrator import in_process_engine

BUCKET = "scenarios"


def tarball(members: list[tuple[str, Any]]) -> bytes:
    """members: (name, bytes) for files, (name, ("sym"|"hard", target)) for links, (name, "dir"|"fifo"|"dev")."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, bytes):
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
                continue
            if content == "dir":
                info.type = tarfile.DIRTYPE
            elif content == "fifo":
                info.type = tarfile.FIFOTYPE
            elif content == "dev":
                info.type = tarfile.CHRTYPE
            else:
                kind, target = content
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()


def test_local_source(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "file").write_text("")
    source = LocalScenarioSource(tmp_path)
    assert source.locate("demo") == tmp_path / "demo"
    with pytest.raises(ValidationError, match=r"^scenario 'ghost' was not found$"):
        source.locate("ghost")
    with pytest.raises(ValidationError, match="scenario 'file' was not found"):
        source.locate("file")
    for bad in ("..", "../demo", "a/b", "", "demo name"):
        with pytest.raises(ValidationError):
            source.locate(bad)


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([("/etc/evil", b"x")], "escapes the scenario folder"),
        ([("../evil", b"x")], "escapes the scenario folder"),
        ([("a/../../evil", b"x")], "escapes the scenario folder"),
        ([("link", ("sym", "/etc/passwd"))], "is a symbolic link"),
        ([("link", ("sym", "../../outside"))], "is a symbolic link"),
        ([("sub/link", ("sym", "../../x"))], "is a symbolic link"),
        ([("hard", ("hard", "../outside"))], "is a hard link"),
        # A link chain: each step looks harmless, together they leave the folder.
        ([("a", ("sym", "b")), ("b", ("sym", "c")), ("c", ("sym", "../../etc"))], "is a symbolic link"),
        ([("ok.txt", b"fine"), ("hard", ("hard", "ok.txt"))], "is a hard link"),
        ([("pipe", "fifo")], "device or FIFO"),
        ([("dev", "dev")], "device or FIFO"),
        ([("ok.txt", b"fine"), ("link", ("sym", "/tmp")), ("link/x", b"through the link")], "symbolic"),
        ([("twice.txt", b"a"), ("twice.txt", b"b")], "appears twice"),
    ],
)
def test_malicious_tarballs_are_refused_and_nothing_is_written(
    tmp_path: Path, members: list[tuple[str, Any]], message: str
) -> None:
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(tarball(members))
    dest = tmp_path / "out" / "inner"
    dest.mkdir(parents=True)
    with pytest.raises(UnsafeArchiveError, match=message):
        safe_extract(archive, dest)
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "evil").exists()


def test_even_a_link_inside_the_bundle_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "ok.tar.gz"
    archive.write_bytes(
        tarball([("docs", "dir"), ("docs/a.md", b"# a"), ("README.md", ("sym", "docs/a.md"))])
    )
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(UnsafeArchiveError, match="copy the file instead of linking it"):
        safe_extract(archive, dest)
    assert list(dest.iterdir()) == []  # what was extracted before the link is gone again


def test_a_corrupt_bundle_is_a_validation_error(tmp_path: Path) -> None:
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(b"not a tarball")
    with pytest.raises(ValidationError, match=r"not a readable \.tar\.gz"):
        safe_extract(archive, tmp_path)


@pytest.fixture
def s3(clean_aws_env: None) -> Any:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


class CountingClient:
    """Wraps the S3 client to count downloads."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.downloads = 0
        self.heads = 0

    def head_object(self, **kwargs: Any) -> Any:
        self.heads += 1
        return self.client.head_object(**kwargs)

    def generate_presigned_url(self, *args: Any, **kwargs: Any) -> Any:
        return self.client.generate_presigned_url(*args, **kwargs)

    def get_object(self, **kwargs: Any) -> Any:
        self.downloads += 1
        return self.client.get_object(**kwargs)

    def list_objects_v2(self, **kwargs: Any) -> Any:
        return self.client.list_objects_v2(**kwargs)


def test_s3_source_downloads_once_per_etag(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key="team/demo.tar.gz", Body=tarball([("demo/README.md", b"v1")]))
    client = CountingClient(s3)
    source = S3ScenarioSource(BUCKET, "/team/", cache_dir=tmp_path / "cache", client=client)
    first = source.locate("demo")
    assert (first / "README.md").read_text() == "v1"  # the single top folder named like the scenario is used
    assert source.locate("demo") == first
    assert client.downloads == 1

    s3.put_object(Bucket=BUCKET, Key="team/demo.tar.gz", Body=tarball([("README.md", b"v2")]))
    second = source.locate("demo")
    assert (second / "README.md").read_text() == "v2"
    assert client.downloads == 2
    assert not first.exists()  # the old version was dropped from the cache

    with pytest.raises(ValidationError, match=r"^scenario 'ghost' was not found$"):
        source.locate("ghost")
    with pytest.raises(ValidationError, match=r"^scenario 'dmeo' was not found; did you mean 'demo'\?$"):
        source.locate("dmeo")


def test_local_source_suggests_the_closest_scenario(tmp_path: Path) -> None:
    for name in ("hello-python", "hello-node", "shop"):
        (tmp_path / name / ".testgenie").mkdir(parents=True)
        (tmp_path / name / ".testgenie" / "testing.json").write_text("{}")
    source = LocalScenarioSource(tmp_path)
    with pytest.raises(
        ScenarioNotFoundError, match=r"^scenario 'helo-python' was not found; did you mean 'hello-python'\?$"
    ) as caught:
        source.locate("helo-python")
    assert caught.value.scenario == "helo-python"
    with pytest.raises(ValidationError, match=r"^scenario 'payments' was not found$"):
        source.locate("payments")  # nothing close: no guess


def test_an_s3_snapshot_is_one_look_up_of_one_version(s3: Any, tmp_path: Path) -> None:
    import hashlib

    body = tarball([("demo/README.md", b"v1")])
    digest = hashlib.sha256(body).hexdigest()
    s3.put_object(Bucket=BUCKET, Key="demo.tar.gz", Body=body, Metadata={"sha256": digest})
    client = CountingClient(s3)
    source = S3ScenarioSource(BUCKET, "", cache_dir=tmp_path / "cache", client=client)
    ref, folder = source.snapshot("demo")
    assert client.heads == 1  # every HEAD is a round trip to S3 on each run
    assert ref.sha256 == digest
    assert (folder / "README.md").read_text() == "v1"
    with pytest.raises(ValidationError, match=r"^scenario 'ghost' was not found$"):
        source.snapshot("ghost")


def test_s3_source_refuses_a_malicious_bundle(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key="evil.tar.gz", Body=tarball([("../../escape.txt", b"x")]))
    source = S3ScenarioSource(BUCKET, "", cache_dir=tmp_path / "cache", client=s3)
    with pytest.raises(UnsafeArchiveError):
        source.locate("evil")
    assert not list((tmp_path / "cache").rglob("escape.txt"))
    assert not (tmp_path / "escape.txt").exists()


def test_an_s3_scenario_runs_end_to_end(s3: Any, tmp_path: Path) -> None:
    from testgenie.artifacts import LocalArtifactStore
    from testgenie.orchestrator.models import SuitePlan

    config = b'{"phases": {"lint": {"commands": ["test -f README.md"]}}}'
    s3.put_object(
        Bucket=BUCKET,
        Key="p/demo.tar.gz",
        Body=tarball([("README.md", b"# demo"), (".testgenie/testing.json", config)]),
    )
    engine = in_process_engine(
        S3ScenarioSource(BUCKET, "p", cache_dir=tmp_path / "cache", client=s3),
        LocalArtifactStore(tmp_path / "a"),
    )
    result = engine.execute(SuitePlan(scenario_name="demo", phases=["lint"]), uuid4())
    assert result.success
    assert result.phases[0].status.value == "passed"


def test_source_from_settings() -> None:
    s3_source = scenario_source_from_settings(Settings(scenarios_source="s3://bucket/some/prefix"))
    assert isinstance(s3_source, S3ScenarioSource)
    assert (s3_source.bucket, s3_source.key("x")) == ("bucket", "some/prefix/x.tar.gz")
    bare = scenario_source_from_settings(Settings(scenarios_source="s3://bucket"))
    assert isinstance(bare, S3ScenarioSource)
    assert bare.key("x") == "x.tar.gz"
    local = scenario_source_from_settings(Settings(scenarios_source="examples/scenarios"))
    assert isinstance(local, LocalScenarioSource)
    assert local.root == Path("examples/scenarios")


def test_workspace_is_a_private_copy_removed_afterwards(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / ".git").mkdir(parents=True)
    (source / "__pycache__").mkdir()
    (source / "README.md").write_text("x")
    with prepare_workspace(source, uuid4(), tmp_path) as workspace:
        assert (workspace.scenario_dir / "README.md").read_text() == "x"
        assert not (workspace.scenario_dir / ".git").exists()
        assert not (workspace.scenario_dir / "__pycache__").exists()
        assert workspace.home.is_dir()
        assert workspace.tmp.is_dir()
        root = workspace.root
    assert not root.exists()
    assert (source / "README.md").exists()


def test_workspace_is_removed_when_the_run_raises(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    roots: list[Path] = []

    def run() -> None:
        with prepare_workspace(source, uuid4(), tmp_path) as workspace:
            roots.append(workspace.root)
            raise RuntimeError("engine fault")

    with pytest.raises(RuntimeError):
        run()
    assert roots
    assert not roots[0].exists()


def test_command_environment_is_built_not_filtered(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    service = {
        "PATH": "/usr/bin",
        "DATABASE_URL": "postgres://x",
        "AWS_ACCESS_KEY_ID": "k",
        "LANG": "en_US.UTF-8",
    }
    with prepare_workspace(source, "exec-1", tmp_path) as workspace:
        env = command_environment(workspace, "exec-1", {"MINE": "1"}, service)
        assert set(env) == {
            "PATH", "LANG", "HOME", "TMPDIR", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE",
            "MINE", "TESTGENIE_SCENARIO_DIR", "TESTGENIE_EXECUTION_ID",
        }  # fmt: skip
        assert env["PATH"].endswith("/usr/bin")
        assert env["LANG"] == "en_US.UTF-8"
        assert env["HOME"] == str(workspace.home)
        assert env["TESTGENIE_EXECUTION_ID"] == "exec-1"
