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
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from digest.dkim import PieceSigner, Signer, load_key

_CHILD: PieceSigner | None = None


def _start(
    key_path: str, selector: str, domain: str, pieces: tuple[bytes, ...], slots: tuple[str, ...]
) -> None:
    global _CHILD
    _CHILD = PieceSigner(Signer(load_key(Path(key_path)), selector, domain), pieces, slots)


def _sign_many(requests: list[tuple[dict[str, bytes], int]]) -> list[bytes]:
    assert _CHILD is not None
    return [_CHILD.sign(values, timestamp) for values, timestamp in requests]


BATCH = 8  # signatures per hand-over to the child


@dataclass
class _Batch:
    requests: list[tuple[dict[str, bytes], int]] = field(default_factory=list)
    future: Future | None = None


class SigningProcess:
    """Signs like `local` (a PieceSigner), in a child process."""

    def __init__(self, local: PieceSigner, key_path: Path, pieces: tuple[bytes, ...], slots: tuple[str, ...]):
        self.local = local
        signer = local.signer
        self._batch = _Batch()
        self._busy: set[Future] = set()  # batches the child has not finished
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),  # never fork a threaded process
            initializer=_start,
            initargs=(str(key_path), signer.selector, signer.domain, pieces, slots),
        )

    def sign(self, values: dict[str, bytes], timestamp: int) -> bytes:
        return self.submit(values, timestamp)()

    def submit(self, values: dict[str, bytes], timestamp: int) -> Callable[[], bytes]:
        """Ask for a signature; call the result to wait for it. Requests go to the child at once
        when it is idle, else BATCH at a time (or sooner, when one of them is waited for): one
        hand-over per message cost the sending process more than the signature saved."""
        if self._pool is None:
            return self.local.submit(values, timestamp)
        batch = self._batch
        index = len(batch.requests)
        batch.requests.append(({k: v for k, v in values.items() if k != "dkim"}, timestamp))
        if len(batch.requests) >= BATCH or not self._busy:
            self._flush()  # a full batch, or the child has nothing to do
        return lambda: self._result(batch, index)

    def _flush(self) -> None:
        batch, self._batch = self._batch, _Batch()
        if batch.requests and self._pool is not None:
            try:
                batch.future = self._pool.submit(_sign_many, batch.requests)
            except Exception:  # the child is gone or broken: sign here from now on
                self._pool = None
            else:
                self._busy.add(batch.future)
                batch.future.add_done_callback(self._busy.discard)

    def _result(self, batch: _Batch, index: int) -> bytes:
        if batch.future is None and batch is self._batch:
            self._flush()
        if batch.future is not None:
            try:
                return batch.future.result()[index]
            except Exception:  # the child died while signing: sign here from now on
                self._pool = None
        return self.local.sign(*batch.requests[index])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
