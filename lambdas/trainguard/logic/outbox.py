"""Email delivery through the outbox: every message is written to the table under its
deduplication key (the run, the rule and the kind) before it is sent, and deleted once SNS
took it.

* A failed publish leaves the message in the outbox; the evaluator's next tick sends it again
  (:meth:`Mail.drain`), with exponential back-off, up to ``MAX_ATTEMPTS`` times, after which it
  moves to the dead letters (``OUTBOX#DEAD``), counted in the ``EmailDeadLetters`` metric,
  which is alarmed.
* A crash or a timeout between writing and sending is the same case: the message's lease runs
  out and a later drain sends it.
* A message is written at most once per key, so a repeated decision never sends a second
  email. The one window left is an invocation that dies after SNS accepted the message and
  before its outbox item was deleted: that message is sent again (SNS standard topics have no
  deduplication, and FIFO topics cannot deliver email).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.values import mutable
from ..message import Message
from ..observability import logger

if TYPE_CHECKING:
    from ..ports import Notifier, Outbox

LEASE_S = 120.0  # a sender's hold on a message; longer than any publish call
MAX_ATTEMPTS = 8
BACKOFF_S = 60.0
BACKOFF_CAP_S = 3600.0


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones: 1, 2, 4 ... 60 minutes."""
    return min(BACKOFF_CAP_S, BACKOFF_S * 2.0 ** max(0, attempts - 1))


@mutable
class Mail:
    outbox: Outbox
    notifier: Notifier
    now: float
    sent: int = 0
    failed: int = 0
    dead: int = 0

    def send(self, key: str, message: Message) -> bool:
        """Write the message (the value) under ``key`` and send it now. False if a message
        with that key was written before (it is never sent twice). A failed send stays in the
        outbox."""
        if message.text is not None:  # a message that is text already: written as text
            written = self.outbox.enqueue(key, message.subject, message.text, self.now, LEASE_S)
        else:
            written = self.outbox.enqueue(
                key, message.subject, "", self.now, LEASE_S, message=message.to_item()
            )
        if not written:
            logger.info("email already written for this key: not sent again", extra={"key": key})
            return False
        self._deliver(key, message, attempts=0)
        return True

    def drain(self) -> None:
        """Send the messages whose sender failed or died (their lease ran out)."""
        for item in self.outbox.pending_emails(self.now):
            key = str(item["sk"])
            if self.outbox.lease_email(key, self.now, LEASE_S):
                # the value, or the text of an item written before messages were values
                message = Message.from_item(item.get("message") or item)
                self._deliver(key, message, attempts=int(item.get("attempts", 0)))

    def _deliver(self, key: str, message: Message, *, attempts: int) -> None:
        try:
            self.notifier.send(message)
        except Exception:
            attempts += 1
            dead = attempts >= MAX_ATTEMPTS
            self.failed += 1
            self.dead += dead
            logger.exception(
                "sending an email failed: it stays in the outbox"
                if not dead
                else "sending an email failed for the last time: moved to the dead letters",
                extra={"key": key, "attempts": attempts},
            )
            self.outbox.send_failed(key, attempts, self.now + retry_delay(attempts), dead)
            return
        self.outbox.sent(key, self.now)
        self.sent += 1
