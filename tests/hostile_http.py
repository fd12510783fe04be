"""A real HTTP server on loopback that misbehaves on purpose, for the fetch tests.

Routes: /feed.xml (a plain good feed), /relative.xml (relative links), /gzip-gzip (2 GB of zeros in
two gzip layers, 3.5 KB on the wire), /gzip-bomb (the same in one layer), /trickle (headers, then a
byte a second, forever), /redirect?to=URL (302), /entity-bomb.xml, /slow-lenient.xml,
/big-ill-formed.xml.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

HOSTILE = Path(__file__).parent / "data" / "hostile"

GOOD_FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Good</title><link>https://example.org/</link>
<item><title>A good item</title><link>https://example.org/good</link><description>Fine.</description></item>
</channel></rss>"""

RELATIVE_FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Relative</title>
<item><title>Relative item</title><link>/posts/1?p=1&amp;utm_source=rss</link>
<description>See &lt;a href="../more.html"&gt;more&lt;/a&gt; and &lt;a href="//cdn.example.org/x"&gt;x&lt;/a&gt;.</description></item>
</channel></rss>"""


def entity_bomb() -> bytes:
    """110 KB: one 5 KB entity referenced 20,000 times, and an undefined entity that makes
    feedparser fall back to its lenient parser, which expands them all (100 MB of text, 3 GB in RAM)."""
    refs = "&a;" * 20_000
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "{"x" * 5000}">\n]>\n'
        f"<rss version='2.0'><channel><title>Bomb &nbsp;</title><item><title>Boom</title>"
        f"<description>{refs}</description></item></channel></rss>"
    ).encode()


_ILL_FORMED_HEAD = (
    b"<?xml version='1.0'?><rss version='2.0'><channel><title>x &nbsp;</title><item><title>t</title>"
)
# 1.5 MB that feedparser's lenient parser needs minutes for (it is stopped after 20 s).
SLOW_LENIENT = _ILL_FORMED_HEAD + b"<description>" + b"<a" * 750_000
# 5 MB, ill-formed: refused before the lenient parser starts.
BIG_ILL_FORMED = _ILL_FORMED_HEAD + b"<description>" + b"&" * 5_000_000


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        route = getattr(self, "route_" + url.path.strip("/").replace("-", "_").replace(".", "_"), None)
        if route is None:
            self.send_error(404)
            return
        route(parse_qs(url.query))

    def _send(self, body: bytes, content_type: str = "application/rss+xml", **headers: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def route_feed_xml(self, _query) -> None:
        self._send(GOOD_FEED)

    def route_relative_xml(self, _query) -> None:
        self._send(RELATIVE_FEED)

    def route_entity_bomb_xml(self, _query) -> None:
        self._send(entity_bomb())

    def route_slow_lenient_xml(self, _query) -> None:
        self._send(SLOW_LENIENT)

    def route_big_ill_formed_xml(self, _query) -> None:
        self._send(BIG_ILL_FORMED)

    def route_gzip_gzip(self, _query) -> None:
        self._send((HOSTILE / "zeros-2gb.gz.gz").read_bytes(), Content_Encoding="gzip, gzip")

    def route_gzip_bomb(self, _query) -> None:
        self._send(gzip.decompress((HOSTILE / "zeros-2gb.gz.gz").read_bytes()), Content_Encoding="gzip")

    def route_redirect(self, query) -> None:
        self.send_response(302)
        self.send_header("Location", query["to"][0])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route_trickle(self, _query) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        try:
            self.wfile.write(b"<rss version='2.0'><channel><title>slow</title>")
            for _ in range(600):  # ten minutes at most, a byte a second: never a read timeout
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(1)
        except OSError:
            pass  # the client hung up, as it should


@contextmanager
def hostile_server(host: str = "127.0.0.1") -> Iterator[str]:
    """Its base URL, e.g. http://127.0.0.1:PORT; serves on its own threads until the block ends."""
    server = ThreadingHTTPServer((host, 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
