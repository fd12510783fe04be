"""Sending one digest: a run over the delivery log (period.py, runner.py), a dry run, a test copy.

The caller composes the digest (digest.compose) and hands it in; nothing here renders.
"""

from digest.send.dry_run import DryRun, dry_run
from digest.send.period import send_period
from digest.send.report import SendAborted, SendReport
from digest.send.test_copy import send_test_copy

__all__ = ["DryRun", "SendAborted", "SendReport", "dry_run", "send_period", "send_test_copy"]
