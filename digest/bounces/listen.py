"""`digest bounces listen`: an SMTP endpoint (aiosmtpd) that applies reports as they arrive.

Point the bounce domain's MX (or a relay's transport map) at it. Every message is accepted (a
report we cannot read is still kept and counted); the envelope recipients are the first place a
VERP tag is looked for. A message is answered 250 only once it is stored, so a store error gives the
sending MTA a 451 and it tries again later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from digest.bounces.apply import Policy, Summary, process
from digest.bounces.sources import READ_LIMIT


class ReportHandler:
    def __init__(self, engine: Engine, policy: Policy, on_report: Callable[[Summary], None]):
        self.engine, self.policy, self.on_report = engine, policy, on_report

    async def handle_DATA(self, server, session, envelope) -> str:
        summary = Summary()
        raw = envelope.original_content or b""
        peer = session.peer[0] if session.peer else "?"
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, self._apply, raw, f"smtp:{peer}", tuple(envelope.rcpt_tos), summary
            )
        except Exception:  # the store is down or locked: the MTA keeps the report and retries
            return "451 4.3.0 cannot store the report now, try again later"
        self.on_report(summary)
        return "250 2.0.0 report received"

    def _apply(self, raw: bytes, source: str, envelope: tuple[str, ...], summary: Summary) -> None:
        process(self.engine, raw, source, self.policy, datetime.now(UTC), summary, envelope=envelope)


def start_listener(
    engine: Engine, policy: Policy, host: str, port: int, on_report: Callable[[Summary], None]
) -> Controller:
    """Started and listening when it returns; call `.stop()` to end it."""
    controller = Controller(
        ReportHandler(engine, policy, on_report),
        hostname=host,
        port=port,
        data_size_limit=READ_LIMIT,
        ready_timeout=10,
    )
    controller.start()
    return controller
