"""The one parse of a Host header (local_aws/hosts.py) that the local servers pick their answer by."""
from __future__ import annotations

import pytest

from local_aws import hosts


@pytest.mark.parametrize(("header", "name"), [
    ("ada.auth.localhost", "ada.auth.localhost"),
    ("Ada.Auth.LOCALHOST:4601", "ada.auth.localhost"),
    (" ada.auth.localhost.:4601 ", "ada.auth.localhost"),  # a trailing dot names the same host
    ("ada.auth.eu-west-1.localhost.", "ada.auth.eu-west-1.localhost"),
    ("127.0.0.1:8080", "127.0.0.1"),
    ("[::1]:4601", "::1"),
    ("[::1]", "::1"),
    ("[::1", "[::1"),  # malformed: left as it is, so it names no domain
    ("", ""),
])
def test_host_name_lowercases_and_drops_port_and_trailing_dot(header: str, name: str) -> None:
    assert hosts.host_name(header) == name


@pytest.mark.parametrize(("header", "port"), [
    ("ada.auth.localhost:4601", 4601), ("[::1]:80", 80), ("ada.auth.localhost", None),
    ("ada.auth.localhost:", None), ("ada.auth.localhost:http", None), ("ada.auth.localhost:99999", None),
])
def test_host_port_is_none_when_absent_or_malformed(header: str, port: int | None) -> None:
    assert hosts.host_port(header) == port


@pytest.mark.parametrize(("name", "local"), [
    ("ada.auth.localhost", True), ("ADA.AUTH.LOCALHOST.", True), ("localhost", False),
    ("ada.auth.localhost.example.com", False), ("notlocalhost", False),
])
def test_under_localhost_means_a_name_below_localhost(name: str, local: bool) -> None:
    assert hosts.under_localhost(name) is local
