"""Email over SMTP (`[notify.email]`): one plain-text message per alert, over STARTTLS,
TLS from the first byte (ssl) or, on a trusted network only, in the clear (none). A decision
on an approval request, and its approval's expiry, also go to the requester's address (see
`recipients`)."""

from __future__ import annotations

import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from analytics.notify.base import DeliveryError
from analytics.notify.text import ack_hint, facts, headline
from offgate.config import EmailSettings
from offgate.store.alerts import Alert

TIMEOUT_S = 20.0
_TO_THE_REQUESTER = ("approval_decided", "approval_expired")


class EmailChannel:
    name = "email"

    def __init__(self, settings: EmailSettings) -> None:
        if not settings.host:
            raise ValueError("email is off: email.host is unset")
        self._settings = settings
        self._host = settings.host
        self._where = f"the SMTP server {settings.host}:{settings.port}"

    def send(self, alert: Alert) -> None:
        settings = self._settings
        try:
            with self._connect() as smtp:
                if settings.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if settings.username:
                    smtp.login(settings.username, settings.password or "")
                smtp.send_message(compose(alert, settings.sender, recipients(alert, settings.to)))
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"{self._where} refused the login of {settings.username!r}: "
                                f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"{self._where} refused every recipient: {', '.join(exc.recipients)}") from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"{self._where} answered {exc.smtp_code} {_text(exc.smtp_error)}") from None
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"{self._where}: {exc}") from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"TLS with {self._where} failed: {exc.reason or exc}") from None
        except OSError as exc:
            raise DeliveryError(f"cannot reach {self._where}: {exc.strerror or exc}") from None

    def close(self) -> None:
        pass

    def _connect(self) -> smtplib.SMTP:
        settings = self._settings
        if settings.security == "ssl":
            return smtplib.SMTP_SSL(self._host, settings.port, timeout=TIMEOUT_S,
                                    context=ssl.create_default_context())
        return smtplib.SMTP(self._host, settings.port, timeout=TIMEOUT_S)


def recipients(alert: Alert, to: list[str]) -> list[str]:
    """The configured recipients, and for a decision on an approval request (or the approval's
    expiry) its requester too, when their address is known: they are the one it is news to."""
    requester = alert.details.get("requester_email") if alert.kind in _TO_THE_REQUESTER else None
    return [*to, requester] if isinstance(requester, str) and requester not in to else to


def compose(alert: Alert, sender: str, to: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[offgate] {headline(alert)}"
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(idstring=alert.id, domain=sender.rpartition("@")[2] or "offgate")
    lines = [alert.message, "", *(f"{name}: {value}" for name, value in facts(alert)), "", ack_hint(alert)]
    message.set_content("\n".join(lines) + "\n")
    return message


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
