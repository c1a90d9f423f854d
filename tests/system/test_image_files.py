"""compose.yaml, formbot.env.example and the Dockerfile agree with each other and with
config.yaml, so `docker compose up` runs what the container tier tested with `podman run`
(tests/system/test_container.py: same mounts, same env file format)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_env() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text("utf-8").replace("\\\n", " ")
    pairs = [match for line in text.splitlines() if line.startswith("ENV ")
             for match in re.findall(r"(\w+)=(\S+)", line)]
    return dict(pairs)


def env_example() -> dict[str, str]:
    lines = (ROOT / "formbot.env.example").read_text("utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_compose_mounts_the_config_where_the_image_looks_for_it() -> None:
    service = yaml.safe_load((ROOT / "compose.yaml").read_text("utf-8"))["services"]["formbot"]
    mounts = dict(volume.split(":", 1) for volume in service["volumes"])
    assert mounts["./config.yaml"] == dockerfile_env()["FORMBOT_CONFIG"] + ":ro"
    assert mounts["formbot-data"] == "/data"
    assert 'VOLUME ["/data"]' in (ROOT / "Dockerfile").read_text("utf-8")
    assert service["env_file"] == "formbot.env" and service["build"] == "."


def test_the_env_example_holds_every_password_the_config_names_and_no_value() -> None:
    config = yaml.safe_load((ROOT / "config.yaml").read_text("utf-8"))
    named = {config[section]["password_env"] for section in ("mailbox", "smtp")}
    example = env_example()
    assert named <= example.keys()
    assert set(example.values()) == {""}                 # no secret, not even an example one
    assert "formbot.env" in (ROOT / ".gitignore").read_text("utf-8").split()


def test_postgres_is_an_option_with_the_password_formbot_uses() -> None:
    services = yaml.safe_load((ROOT / "compose.yaml").read_text("utf-8"))["services"]
    assert "profiles" not in services["formbot"]
    assert services["postgres"]["profiles"] == ["postgres"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "${PGPASSWORD:-}"
    assert "PGPASSWORD" in env_example()


def test_the_image_copies_every_package_and_module_the_project_installs() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    setup = project["tool"]["setuptools"]
    wanted = {name.rstrip("*") for name in setup["packages"]["find"]["include"]}
    wanted |= {f"{name}.py" for name in setup.get("py-modules", [])}
    text = (ROOT / "Dockerfile").read_text("utf-8")
    copied = {match.rstrip("/") for match in re.findall(r"^COPY (\S+) ", text, re.M)}
    ignored = (ROOT / ".dockerignore").read_text("utf-8")
    assert wanted <= copied, wanted - copied
    assert all(f"!{name}" in ignored for name in wanted), wanted
