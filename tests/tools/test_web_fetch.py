"""web_fetch against a tiny HTTP server on 127.0.0.1: text, HTML, redirects, caps, refusals."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from amplifier_agent.tools import ToolContext, ToolError, ToolResult
from amplifier_agent.tools.web_fetch import web_fetch

PAGE = b"""<!doctype html><html><head><title>Hello page</title>
<style>body { color: red }</style><script>var secret = 1;</script></head>
<body><h1>Welcome</h1><p>First   paragraph &amp; more.</p><ul><li>one</li><li>two</li></ul>
</body></html>"""


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path
        if path.startswith("/redirect/"):
            left = int(path.rsplit("/", 1)[1])
            target = f"/redirect/{left - 1}" if left > 0 else "/text"
            self._send(302, b"", "text/plain", location=target)
        elif path == "/to-link-local":
            self._send(302, b"", "text/plain", location="http://169.254.169.254/latest/meta-data")
        elif path == "/page":
            self._send(200, PAGE, "text/html; charset=utf-8")
        elif path == "/text":
            self._send(200, "plain café\n".encode(), "text/plain; charset=utf-8")
        elif path == "/big":
            self._send(200, b"a" * 5000, "text/plain")
        elif path == "/untyped":
            self._send(200, b"\x00\x01\x02binary", "")
        elif path == "/png":
            self._send(200, b"\x89PNG\r\n\x1a\n\x00\x00", "image/png")
        else:
            self._send(404, b"no such page", "text/plain")

    def _send(self, status: int, body: bytes, ctype: str, location: str | None = None) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


async def fetch(ctx: ToolContext, url: str, **extra: object) -> ToolResult:
    return await web_fetch.run(ctx, {"url": url, **extra})


async def refused(ctx: ToolContext, url: str) -> ToolError:
    with pytest.raises(ToolError) as raised:
        await fetch(ctx, url)
    return raised.value


async def test_plain_text(ctx: ToolContext, base_url: str) -> None:
    result = await fetch(ctx, f"{base_url}/text")
    assert not result.is_error
    assert result.content == (
        f"URL: {base_url}/text\nStatus: 200\nContent-Type: text/plain\n\nplain café\n"
    )


async def test_html_becomes_readable_text(ctx: ToolContext, base_url: str) -> None:
    content = (await fetch(ctx, f"{base_url}/page")).content
    body = content.split("\n\n", 1)[1]
    assert body == "Hello page\n\n# Welcome\n\nFirst paragraph & more.\n\n- one\n- two"
    assert "secret" not in content and "color" not in content


async def test_redirects_are_followed_up_to_five(ctx: ToolContext, base_url: str) -> None:
    result = await fetch(ctx, f"{base_url}/redirect/4")  # 5 redirects in total
    assert result.content.startswith(f"URL: {base_url}/text\n")
    error = await refused(ctx, f"{base_url}/redirect/5")  # 6 redirects
    assert error.code == "fetch_failed" and "more than 5 redirects" in error.message


async def test_max_bytes_truncates(ctx: ToolContext, base_url: str) -> None:
    content = (await fetch(ctx, f"{base_url}/big", max_bytes=100)).content
    assert content.endswith("\n\n" + "a" * 100 + "\n\n[truncated at 100 bytes]")


async def test_http_errors_are_error_results(ctx: ToolContext, base_url: str) -> None:
    result = await fetch(ctx, f"{base_url}/nowhere")
    assert result.is_error
    assert "Status: 404" in result.content and "no such page" in result.content


async def test_binary_content_is_refused(ctx: ToolContext, base_url: str) -> None:
    assert (await refused(ctx, f"{base_url}/png")).code == "binary_file"
    assert (await refused(ctx, f"{base_url}/untyped")).code == "binary_file"


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/",
        "http://[::ffff:169.254.1.1]/",
    ],
)
async def test_link_local_targets_are_refused(ctx: ToolContext, url: str) -> None:
    error = await refused(ctx, url)
    assert error.code == "fetch_refused" and "link-local" in error.message


async def test_redirect_to_link_local_is_refused(ctx: ToolContext, base_url: str) -> None:
    error = await refused(ctx, f"{base_url}/to-link-local")
    assert error.code == "fetch_refused"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "not a url"])
async def test_only_http_and_https(ctx: ToolContext, url: str) -> None:
    error = await refused(ctx, url)
    assert error.code in ("fetch_refused", "invalid_tool_arguments")


async def test_connection_failure_is_a_tool_error(ctx: ToolContext) -> None:
    error = await refused(ctx, "http://127.0.0.1:9/")
    assert error.code == "fetch_failed"


def test_approval_subject_is_the_url(ctx: ToolContext) -> None:
    assert web_fetch.approval_kind == "network"
    assert web_fetch.subject(ctx, {"url": "https://example.com/a"}) == "https://example.com/a"
