"""Settings: explicit arguments, then environment variables, then SPANWISE_HOME/config.toml."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODES = ("off", "metrics", "trace")
_MODE_ALIASES = {
    "on": "trace",
    "dev": "trace",
    "true": "trace",
    "1": "trace",
    "false": "off",
    "0": "off",
}


class ConfigError(ValueError):
    """A bad setting; the message is one line naming the value and what is allowed."""


def home_dir(home: str | os.PathLike[str] | None = None) -> Path:
    raw = home or os.environ.get("SPANWISE_HOME") or "~/.spanwise"
    return Path(raw).expanduser()


def parse_mode(value: str, source: str = "mode") -> str:
    mode = _MODE_ALIASES.get(value.strip().lower(), value.strip().lower())
    if mode not in MODES:
        raise ConfigError(f"invalid {source} {value!r}: expected one of {', '.join(MODES)}")
    return mode


def parse_store(url: str, home: Path) -> str:
    """Validate a store URL and return it in canonical form."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite://") :]
        if path == "/":
            raise ConfigError(f"invalid store URL {url!r}: no file path after sqlite:///")
        return "sqlite://" + path
    if url.startswith(("postgresql://", "postgres://")):
        return url
    raise ConfigError(
        f"invalid store URL {url!r}: expected sqlite:///PATH or postgresql://USER@HOST/DB"
    )


def default_store(home: Path) -> str:
    return f"sqlite://{(home / 'spanwise.db').resolve()}"


def sqlite_path(url: str) -> Path:
    return Path(url[len("sqlite://") :])


def read_config_file(home: Path) -> dict[str, Any]:
    path = home / "config.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def write_persisted_mode(home: Path, mode: str) -> Path:
    """Set the top-level ``mode`` of config.toml, keeping everything else in the file."""
    path = home / "config.toml"
    home.mkdir(parents=True, exist_ok=True)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    line = f'mode = "{mode}"'
    head, sep, tail = text.partition("\n[")
    if re.search(r"(?m)^mode\s*=.*$", head):
        head = re.sub(r"(?m)^mode\s*=.*$", line, head, count=1)
    else:
        head = line + ("\n" + head if head else "")
    path.write_text(head + sep + tail if sep else head.rstrip("\n") + "\n", encoding="utf-8")
    return path


@dataclass
class Settings:
    mode: str = "off"
    home: Path = field(default_factory=home_dir)
    store: str | None = None
    session: str | None = None
    capture_content: bool = False
    otlp_endpoint: str | None = None
    jsonl_path: str | None = None
    price_overrides: dict[str, Any] = field(default_factory=dict)
    mode_source: str = "default"


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def configured_mode(home: str | os.PathLike[str] | None = None) -> str | None:
    """The mode SPANWISE_MODE or config.toml asks for (None: neither does), without
    resolving the other settings. ConfigError on a bad value, as ``resolve``."""
    home_path = home_dir(home)
    found = _mode_setting(home_path, None)
    return None if found is None else found[0]


def _mode_setting(home: Path, file_cfg: dict[str, Any] | None) -> tuple[str, str] | None:
    """(mode, where it was set) from the environment, else config.toml (read here when
    ``file_cfg`` is None)."""
    given = os.environ.get("SPANWISE_MODE")
    if given:
        return parse_mode(given, "SPANWISE_MODE"), "SPANWISE_MODE"
    if file_cfg is None:
        file_cfg = read_config_file(home)
    value = file_cfg.get("mode")
    if isinstance(value, str):
        return parse_mode(value, f"mode in {home / 'config.toml'}"), "config.toml"
    return None


def resolve(
    mode: str | None = None,
    *,
    home: str | os.PathLike[str] | None = None,
    store: str | None = None,
    session: str | None = None,
    capture_content: bool | None = None,
    otlp_endpoint: str | None = None,
    jsonl_path: str | None = None,
) -> Settings:
    """Merge arguments, the environment and config.toml; raise ConfigError on bad values."""
    from spanwise._pricing import load_overrides

    env = os.environ
    home_path = home_dir(home)
    file_cfg = read_config_file(home_path)
    settings = Settings(home=home_path)
    if mode is not None:
        settings.mode, settings.mode_source = parse_mode(mode), "configure()"
    else:
        found = _mode_setting(home_path, file_cfg)
        if found is not None:
            settings.mode, settings.mode_source = found
    raw_store = store or env.get("SPANWISE_STORE") or file_cfg.get("store")
    settings.store = parse_store(raw_store, home_path) if raw_store else default_store(home_path)
    settings.session = session or env.get("SPANWISE_SESSION") or None
    settings.capture_content = (
        capture_content
        if capture_content is not None
        else _flag(env.get("SPANWISE_CAPTURE_CONTENT"))
    )
    settings.otlp_endpoint = otlp_endpoint or env.get("SPANWISE_OTLP_ENDPOINT") or None
    if settings.otlp_endpoint is not None:
        otlp_traces_url(settings.otlp_endpoint)  # a bad URL fails here, before anything changes
    settings.jsonl_path = jsonl_path or env.get("SPANWISE_JSONL") or None
    try:
        settings.price_overrides = load_overrides(file_cfg.get("prices", {}))
    except ValueError as exc:
        raise ConfigError(f"{home_path / 'config.toml'}: {exc}") from None
    return settings


def otlp_traces_url(endpoint: str) -> str:
    """``http://host:4318`` → ``http://host:4318/v1/traces``; a URL that already ends
    in ``/v1/traces`` is kept. ConfigError for anything but http(s) URLs."""
    from urllib.parse import urlsplit

    text = endpoint.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"invalid OTLP endpoint {endpoint!r}: expected http(s)://HOST[:PORT][/v1/traces]"
        )
    if parts.path.rstrip("/").endswith("/v1/traces"):
        return text
    return text.rstrip("/") + "/v1/traces"
