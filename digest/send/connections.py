"""The runner's handling of transport connections that is about stopping and first contact."""

from __future__ import annotations

import threading
from collections.abc import Callable

from digest.transport import Connection, DeliveryError


def open_first(connection: Connection, stopping: Callable[[], bool]) -> DeliveryError | None:
    """Open `connection` (if it can be opened ahead) in a helper thread, so that a stop during a
    slow handshake cuts it at once instead of waiting out its deadlines. The error, if any."""
    opener = getattr(connection, "open", None)
    if opener is None:
        return None
    errors: list[DeliveryError] = []

    def run() -> None:
        try:
            opener()
        except DeliveryError as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="digest-first-connection", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.1)
        if stopping():
            interrupt(connection)
    return errors[0] if errors else None


def interrupt(connection: Connection) -> None:
    cut = getattr(connection, "interrupt", None)
    if cut is not None:
        cut()
