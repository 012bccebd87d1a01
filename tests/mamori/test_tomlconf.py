"""Config files: defaults, types, validators, and errors that name file, line and key."""

from __future__ import annotations

import tomllib

import pytest

from mamori.tomlconf import ConfigError, Key, host_port, load, positive, render

SCHEMA = [
    Key("server.listen", str, "0.0.0.0:7443", "Where to listen.", host_port),
    Key("server.limit", int, 10, "A limit.", positive),
    Key("server.ratio", float, 1.5, "A ratio."),
    Key("db.url", str, "", "Database URL.\nSecond line."),
    Key("db.hosts", list, [], "Hosts."),
]


def write(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_overrides(tmp_path):
    values = load(write(tmp_path, "[server]\nlimit = 3\nratio = 2\n"), SCHEMA)
    assert values == {
        "server.listen": "0.0.0.0:7443",
        "server.limit": 3,
        "server.ratio": 2.0,
        "db.url": "",
        "db.hosts": [],
    }


@pytest.mark.parametrize(
    "text,line,fragment",
    [
        ('[server]\n\nlimit = "x"\n', 3, "key 'server.limit': expected int, got str"),
        ("[server]\nlimit = 0\n", 2, "key 'server.limit': must be greater than 0"),
        ("[server]\nlimit = true\n", 2, "key 'server.limit': expected int, got bool"),
        ('[server]\nlisten = "nowhere"\n', 2, "key 'server.listen': must be HOST:PORT"),
        ('[db]\nurl = ""\nuser = "x"\n', 3, "key 'db.user': unknown key"),
        ("[nosuch]\nx = 1\n", 1, "key 'nosuch': unknown section"),
        ("[server]\nlimit = \n", 2, "TOML syntax error"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path, text, line, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load(path, SCHEMA)
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert fragment in str(err.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load(tmp_path / "absent.toml", SCHEMA)
    path = tmp_path / "junk.toml"
    path.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(ConfigError, match="cannot read"):
        load(path, SCHEMA)


def test_rendered_file_documents_every_key_and_loads_back(tmp_path):
    text = render(SCHEMA, {"db.hosts": ["a", "b"]}, "Header line")
    for key in SCHEMA:
        leaf = key.name.rpartition(".")[2]
        assert f"\n{leaf} = " in text
        assert f"# {key.doc.splitlines()[0]}" in text
    assert "# Second line." in text
    assert tomllib.loads(text)["db"]["hosts"] == ["a", "b"]
    assert load(write(tmp_path, text), SCHEMA)["db.hosts"] == ["a", "b"]
