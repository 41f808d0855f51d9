"""The data plane's HTTP/1.1 server (local_aws/http11.py, through serving.WsgiServer): real sockets on
loopback, raw bytes both ways, a small WSGI app that echoes what it was given."""
from __future__ import annotations

import json
import socket
import time

import pytest

from local_aws import http11
from local_aws.serving import HEADER_VALUES_KEY, WsgiServer


def echo_app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/split":
        start_response("200 OK", [("x-evil", "a\r\nset-cookie: injected=1")])
        return [b"never"]
    if path == "/empty":
        start_response("204 No Content", [])
        return [b"ignored"]
    if path == "/slow":
        time.sleep(0.5)
    if path == "/big":
        try:
            environ["wsgi.input"].read(1)
            read = "read"
        except OSError as error:
            read = f"refused: {error}"
        body = json.dumps({"length": environ.get("CONTENT_LENGTH"), "read": read}).encode()
        start_response("413 Request Entity Too Large", [("content-type", "application/json")])
        return [body]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    seen = {
        "method": environ["REQUEST_METHOD"], "path": path, "query": environ["QUERY_STRING"],
        "uri": environ["REQUEST_URI"], "length": environ.get("CONTENT_LENGTH"),
        "body": environ["wsgi.input"].read(length).decode("latin-1"),
        "headers": {k: v for k, v in environ.items() if k.startswith("HTTP_")},
        "values": environ[HEADER_VALUES_KEY],
    }
    start_response("200 OK", [("content-type", "application/json")])
    return [json.dumps(seen).encode()]


@pytest.fixture(scope="module")
def server():
    with WsgiServer(echo_app, "127.0.0.1", 0) as served:
        yield served


def connect(server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def read_response(sock: socket.socket, buffer: bytearray, *, head: bool = False) -> tuple[int, dict, bytes]:
    """One response from the socket (Content-Length framed); leftovers stay in buffer."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {bytes(buffer)!r}")
        buffer += chunk
    end = buffer.index(b"\r\n\r\n")
    lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    del buffer[:end + 4]
    status = int(lines[0].split()[1])
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    length = 0 if head else int(headers.get("content-length", ["0"])[0])
    while len(buffer) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside a body")
        buffer += chunk
    body = bytes(buffer[:length])
    del buffer[:length]
    return status, headers, body


def closed(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_keep_alive_and_pipelined_requests_are_answered_in_order(server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two?a=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        buffer = bytearray()
        first = json.loads(read_response(sock, buffer)[2])
        second = json.loads(read_response(sock, buffer)[2])
        sock.sendall(b"GET /three HTTP/1.1\r\nHost: x\r\n\r\n")
        third = json.loads(read_response(sock, buffer)[2])
    assert [first["path"], second["path"], second["query"], third["path"]] == ["/one", "/two", "a=1", "/three"]


def test_repeated_headers_are_joined_with_a_comma_and_kept_one_by_one(server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /h HTTP/1.1\r\nHost: x\r\nX-Multi: a, b\r\nX-Multi: c\r\nx-multi:  d \r\n\r\n")
        seen = json.loads(read_response(sock, bytearray())[2])
    assert seen["headers"]["HTTP_X_MULTI"] == "a, b,c,d"  # spec B2: "," between values, a value's own ", " kept
    assert seen["values"]["x-multi"] == ["a, b", "c", "d"]


def test_header_names_with_an_underscore_are_dropped(server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /h HTTP/1.1\r\nHost: x\r\nX_Forwarded_For: 6.6.6.6\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n")
        seen = json.loads(read_response(sock, bytearray())[2])
    assert seen["headers"]["HTTP_X_FORWARDED_FOR"] == "1.2.3.4"
    assert "x_forwarded_for" not in seen["values"]


def test_a_chunked_body_reaches_the_app_whole_with_its_length(server) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        seen = json.loads(read_response(sock, bytearray())[2])
    assert (seen["body"], seen["length"]) == ("hello world", "11")


def test_expect_100_continue_is_answered_before_the_body(server) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        buffer = bytearray()
        assert read_response(sock, buffer, head=True)[0] == 100
        sock.sendall(b"data")
        status, _, body = read_response(sock, buffer)
    assert (status, json.loads(body)["body"]) == (200, "data")


def test_a_malformed_request_is_400_and_the_connection_closes(server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc")
        status, headers, body = read_response(sock, bytearray())
        assert status == 400 and headers["connection"] == ["close"]
        assert json.loads(body)["message"].startswith("bad request")
        assert closed(sock)


def test_a_head_over_the_server_limit_is_431(server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"a" * 1000) for i in range(70)))
        status, _, body = read_response(sock, bytearray())
        assert (status, json.loads(body)) == (431, {"message": "Request Header Fields Too Large"})
        assert closed(sock)


def test_a_body_over_the_limit_is_not_read_and_the_app_can_refuse_it(server) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (http11.MAX_BODY_BYTES + 1)
                     + b"x" * 1000)
        status, headers, body = read_response(sock, bytearray())
        seen = json.loads(body)
        assert status == 413 and headers["connection"] == ["close"]
        assert seen["length"] == str(http11.MAX_BODY_BYTES + 1) and seen["read"].startswith("refused")
        assert closed(sock)


def test_no_response_header_can_split_the_response(server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /split HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = read_response(sock, bytearray())
    assert status == 500 and "set-cookie" not in headers and b"never" not in body


def test_204_and_head_carry_no_body_and_every_response_a_date_and_no_server(server) -> None:
    with connect(server) as sock:
        buffer = bytearray()
        sock.sendall(b"GET /empty HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = read_response(sock, buffer)
        assert (status, body, "content-length" in headers) == (204, b"", False)
        sock.sendall(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, _ = read_response(sock, buffer, head=True)
        assert status == 200 and int(headers["content-length"][0]) > 0 and headers["date"] and "server" not in headers
        assert json.loads(read_response(sock, buffer)[2])["path"] == "/after"  # no stray body before it


def test_http_1_0_closes_unless_kept_alive() -> None:
    with WsgiServer(echo_app, "127.0.0.1", 0) as served:
        with connect(served) as sock:
            sock.sendall(b"GET /a HTTP/1.0\r\n\r\n")
            assert read_response(sock, bytearray())[1]["connection"] == ["close"]
            assert closed(sock)
        with connect(served) as sock:
            sock.sendall(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            buffer = bytearray()
            read_response(sock, buffer)
            sock.sendall(b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            assert json.loads(read_response(sock, buffer)[2])["path"] == "/b"


def test_stop_lets_a_request_in_flight_finish_and_closes_idle_connections() -> None:
    served = WsgiServer(echo_app, "127.0.0.1", 0)
    idle = connect(served)
    busy = connect(served)
    idle.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
    read_response(idle, bytearray())
    busy.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.1)
    served.stop()
    status, headers, _ = read_response(busy, bytearray())
    assert (status, headers["connection"]) == (200, ["close"])
    assert closed(idle) and closed(busy)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", served.port), timeout=2)
    idle.close()
    busy.close()
