"""The names people read (`cameras.<id>.name`, `rules[].title`) and the dashboard's address
(`api.url`): defaults, normalisation, and errors at their line:col."""

from __future__ import annotations

import textwrap

import pytest

from app.config import ConfigError, parse_config


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), "cfg.yaml")
    return caught.value.lines()


def test_names_default_to_the_id_made_readable() -> None:
    config = parse_config(
        textwrap.dedent(
            """\
            cameras:
              front-door: {source: /a.mp4}
              garage: {source: /b.mp4, name: "  Garage (north)  "}
            rules:
              - {name: person_in_garage}
              - {name: cars, title: Car on the drive}
            api: {url: "https://cams.example.lan:8443/edgewatch"}
            """
        )
    )
    assert config.camera_name("front-door") == "Front door"
    assert config.camera_name("garage") == "Garage (north)"  # given: kept as written, trimmed
    assert [r.display_name for r in config.rules] == ["Person in garage", "Car on the drive"]
    assert config.api.url == "https://cams.example.lan:8443/edgewatch/"  # a base: ends in /


def test_bad_names_and_urls_are_errors_at_their_place() -> None:
    assert errors(
        """\
        cameras:
          garage: {source: /a.mp4, name: "  "}
          side: {source: /b.mp4, name: "Side\\tyard"}
        rules:
          - {name: y, title: 5}
        api: {url: "ftp://cams.lan/"}
        """
    ) == [
        "cfg.yaml:2:34: cameras.garage.name: expected a name, e.g. Front door",
        "cfg.yaml:3:32: cameras.side.name: a name cannot contain control characters (tabs, newlines, ...)",
        "cfg.yaml:5:22: rules[0].title: expected a name, e.g. Front door",
        "cfg.yaml:6:12: api.url: expected an http:// or https:// URL with a host, like http://garage-pi.lan:8080/",
    ]
    for url in ("https://admin:secret@cams.lan/", "http://cams.lan/?token=x", "http://cams.lan/#top"):
        lines = errors(f'cameras: {{g: {{source: /a.mp4}}}}\napi: {{url: "{url}"}}\n')
        assert lines == ["cfg.yaml:2:12: api.url: the dashboard URL takes no user, password, query or fragment"]
        assert "secret" not in lines[0]
    assert errors(f'cameras: {{g: {{source: /a.mp4, name: "{"x" * 65}"}}}}\n') == [
        "cfg.yaml:1:37: cameras.g.name: a name is at most 64 characters"
    ]
