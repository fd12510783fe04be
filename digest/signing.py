"""DKIM signing in a helper process, for sends on machines with more than one core.

`cryptography` holds the GIL while it signs, so RSA in the sending process takes its turn with
everything else that process does (about 1 ms per message against 2 ms for the whole send). In a
child process it runs on another core, in parallel with the send: the worker threads hand it the
small personal values (a few hundred bytes) and wait for the signature, and the send keeps most of
its unsigned rate. The child builds the same PieceSigner from the key file; if it dies, signing
falls back to the sending process, so a message is never sent unsigned or lost.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from digest.dkim import PieceSigner, Signer, load_key

_CHILD: PieceSigner | None = None


def _start(
    key_path: str, selector: str, domain: str, pieces: tuple[bytes, ...], slots: tuple[str, ...]
) -> None:
    global _CHILD
    _CHILD = PieceSigner(Signer(load_key(Path(key_path)), selector, domain), pieces, slots)


def _sign(values: dict[str, bytes], timestamp: int) -> bytes:
    assert _CHILD is not None
    return _CHILD.sign(values, timestamp)


class SigningProcess:
    """Signs like `local` (a PieceSigner), in a child process."""

    def __init__(self, local: PieceSigner, key_path: Path, pieces: tuple[bytes, ...], slots: tuple[str, ...]):
        self.local = local
        signer = local.signer
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),  # never fork a threaded process
            initializer=_start,
            initargs=(str(key_path), signer.selector, signer.domain, pieces, slots),
        )

    def sign(self, values: dict[str, bytes], timestamp: int) -> bytes:
        pool = self._pool
        if pool is not None:
            try:
                return pool.submit(
                    _sign, {k: v for k, v in values.items() if k != "dkim"}, timestamp
                ).result()
            except Exception:  # the child is gone or broken: sign here from now on
                self._pool = None
        return self.local.sign(values, timestamp)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
