"""Checks an organizer wants before a send: size, parts, links, images, spam score.

The HTML checks are pure functions of the message. SpamAssassin is a slow external program: it runs
with a timeout, in the caller's worker thread (never on the event loop), and its answer is cached
per message body, since the same digest is checked again on every live reload.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from html.parser import HTMLParser

GMAIL_CLIP_BYTES = 102 * 1024  # Gmail hides everything after the first 102 KB of HTML
SPAM_TIMEOUT = 30.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    summary: str
    details: tuple[str, ...] = ()


class _Tags(HTMLParser):
    """Collects link targets and images; enough to count, not to render."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.images: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(values["href"].strip())
        elif tag == "img":
            self.images.append(values)


def _tags(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def size_check(html: str) -> Check:
    size = len(html.encode("utf-8"))
    share = size / GMAIL_CLIP_BYTES
    summary = f"{size / 1024:.1f} KB of HTML, {share:.0%} of Gmail's 102 KB clip"
    return Check("HTML size", size < GMAIL_CLIP_BYTES, summary)


def parts_check(message: bytes) -> Check:
    """Both a text/plain and a text/html part, neither empty: text-only readers and filters need both."""
    parsed = message_from_bytes(message, policy=policy.default)
    found = {
        part.get_content_type(): part.get_content().strip()
        for part in parsed.walk()
        if part.get_content_type() in ("text/plain", "text/html")
    }
    missing = [kind for kind in ("text/plain", "text/html") if not found.get(kind)]
    summary = f"{parsed.get_content_type()} with " + " and ".join(sorted(found) or ["no text part"])
    if missing:
        summary += "; missing or empty: " + ", ".join(missing)
    return Check("Plain text and HTML parts", not missing, summary)


def links_check(html: str) -> Check:
    links = _tags(html).links
    insecure = sorted({link for link in links if not re.match(r"^(https://|mailto:|#)", link, re.I)})
    summary = f"{len(links)} links"
    summary += f", {len(insecure)} not https" if insecure else ", all https"
    return Check("Links", not insecure, summary, tuple(insecure))


def images_check(html: str) -> Check:
    images = _tags(html).images
    missing = tuple(image.get("src") or "(no src)" for image in images if image.get("alt") is None)
    if not images:
        return Check("Image alt text", True, "no images")
    summary = f"{len(images)} images"
    summary += f", {len(missing)} without alt text" if missing else ", all with alt text"
    return Check("Image alt text", not missing, summary, missing)


def html_checks(html: str, message: bytes) -> list[Check]:
    return [size_check(html), parts_check(message), links_check(html), images_check(html)]


def dkim_check(message: bytes, txt_record: str | None, dns_name: str = "") -> Check:
    """Whether the sample carries a DKIM signature that dkimpy verifies against the configured key
    (its public half, as the DNS record must publish it: no DNS is asked), and covers both
    unsubscribe headers, without which Gmail and Yahoo do not offer one-click unsubscribe."""
    if txt_record is None:
        return Check(
            "DKIM signature",
            False,
            "not configured: messages go out unsigned "
            "(digest dkim keygen, then DIGEST_DKIM_PRIVATE_KEY and DIGEST_DKIM_SELECTOR)",
        )
    from digest.dkim import verify

    parsed = message_from_bytes(message, policy=policy.compat32)
    signature = " ".join(str(parsed.get("DKIM-Signature", "")).split())
    tags = dict(t.strip().split("=", 1) for t in signature.replace(" ", "").split(";") if "=" in t)
    covered = set(tags.get("h", "").split(":"))
    missing = [h for h in ("list-unsubscribe", "list-unsubscribe-post") if h not in covered]
    ok = bool(signature) and verify(message, txt_record) and not missing
    summary = (
        f"signed by d={tags.get('d')} s={tags.get('s')}; verifies against the key; "
        f"publish the key as the TXT record {dns_name}"
        if ok
        else "the sample's signature does not verify against DIGEST_DKIM_PRIVATE_KEY"
    )
    return Check("DKIM signature", ok, summary, tuple(f"h= lacks {h}" for h in missing))


@dataclass(frozen=True)
class SpamRule:
    score: float
    name: str
    description: str


@dataclass(frozen=True)
class SpamReport:
    score: float | None
    required: float | None
    rules: tuple[SpamRule, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.score is not None and self.score < (self.required or 5.0)


_SUMMARY = re.compile(r"Content analysis details:\s+\((-?[\d.]+) points, (-?[\d.]+) required\)")
_RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s+(.*)$")
_CONTINUED = re.compile(r"^\s{20,}(\S.*)$")


def parse_report(output: str) -> SpamReport:
    """Reads the 'Content analysis details' table that `spamassassin -t` appends."""
    match = _SUMMARY.search(output)
    if not match:
        return SpamReport(None, None, error="SpamAssassin printed no report")
    rules: list[SpamRule] = []
    lines = output[match.end() :].splitlines()
    start = next((n for n, line in enumerate(lines) if line.startswith("----")), len(lines))
    for line in lines[start + 1 :]:
        if rule := _RULE.match(line):
            rules.append(SpamRule(float(rule[1]) + 0.0, rule[2], rule[3].strip()))  # no "-0.0"
        elif rules and (more := _CONTINUED.match(line)):
            last = rules[-1]
            rules[-1] = SpamRule(last.score, last.name, f"{last.description} {more[1].strip()}")
        else:
            break
    return SpamReport(float(match[1]) + 0.0, float(match[2]), tuple(rules))


_cache: dict[str, SpamReport] = {}
_lock = threading.Lock()


def spamassassin(message: bytes, timeout: float = SPAM_TIMEOUT) -> SpamReport | None:
    """The score and rules fired, None when SpamAssassin is not installed. Local tests only (-L)."""
    program = shutil.which("spamassassin")
    if program is None:
        return None
    key = hashlib.sha256(message).hexdigest()
    with _lock:  # one run at a time; a reload waits for the run already under way, then hits the cache
        if key in _cache:
            return _cache[key]
        report = _run(program, message, timeout)
        if report.error is None:  # a timeout may pass on a quieter machine: try again next time
            _cache[key] = report
        return report


def _run(program: str, message: bytes, timeout: float) -> SpamReport:
    try:
        done = subprocess.run(
            [program, "-L", "-t"], input=message, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return SpamReport(None, None, error=f"SpamAssassin took longer than {timeout:.0f} s")
    except OSError as exc:
        return SpamReport(None, None, error=f"cannot run SpamAssassin: {exc}")
    return parse_report(done.stdout.decode("utf-8", "replace"))
