"""Sending one email over SMTP as the ``email`` configuration says (Synapse's ``smtp_*``, ``enable_tls``,
``force_tls``, ``require_transport_security``).

STARTTLS is used whenever the server offers it and TLS is enabled; ``require_transport_security`` refuses to
send over a connection that could not be secured, and credentials are never sent in clear text.

A failure is told apart by whether the server may have taken the message, since a mail cannot be recalled and
carries nothing a server would deduplicate: :class:`NotSent` when it certainly did not (no connection, a refusal
before the message, or a refusal code for it), which the caller may retry; :class:`MaybeSent` when the
connection failed after the message itself was handed over, which must not be sent again.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import getaddresses

from config.email import EmailConfig

TIMEOUT_SECONDS = 30.0


class NotSent(Exception):
    """The SMTP server did not take the message: sending it again later sends it once."""


class MaybeSent(Exception):
    """The connection failed after the message was handed over: the server may have taken it."""


class SmtpRefused(NotSent):
    """The mail could not be sent securely enough for the configuration."""


def send_email(config: EmailConfig, message: EmailMessage) -> None:
    """Hand ``message`` to the configured SMTP server; raises :class:`NotSent` or :class:`MaybeSent`."""
    try:
        client = _connect(config)
    except (OSError, smtplib.SMTPException) as error:
        raise NotSent(f"{config.smtp_host}:{config.smtp_port}: {error}") from error
    with client:
        try:
            _prepare(config, client)
            _envelope(client, message)
        except (OSError, smtplib.SMTPException) as error:
            raise NotSent(f"{config.smtp_host}:{config.smtp_port}: {error}") from error
        try:
            code, answer = client.data(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
        except smtplib.SMTPResponseException as error:  # DATA itself refused: the message was never sent
            raise NotSent(f"{config.smtp_host}:{config.smtp_port} refused DATA: {error.smtp_code}") from error
        except (OSError, smtplib.SMTPException) as error:
            raise MaybeSent(f"{config.smtp_host}:{config.smtp_port}: {error}") from error
        if code != 250:  # the server answered the message with a refusal: it did not take it
            raise NotSent(f"{config.smtp_host}:{config.smtp_port} refused the message: {code} {answer!r}")


def _connect(config: EmailConfig) -> smtplib.SMTP:
    if config.force_tls:
        return smtplib.SMTP_SSL(config.smtp_host, config.smtp_port, timeout=TIMEOUT_SECONDS,
                                context=ssl.create_default_context())
    return smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=TIMEOUT_SECONDS)


def _envelope(client: smtplib.SMTP, message: EmailMessage) -> None:
    """MAIL FROM and RCPT TO, each refusal raised (smtplib's ``mail`` and ``rcpt`` answer codes, not raise)."""
    [(_, sender)] = getaddresses([str(message["From"])])
    code, answer = client.mail(sender)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, answer, sender)
    for _, recipient in getaddresses([str(value) for value in message.get_all("To", [])]):
        code, answer = client.rcpt(recipient)
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({recipient: (code, answer)})


def _prepare(config: EmailConfig, client: smtplib.SMTP) -> None:
    """EHLO, STARTTLS when offered and enabled, and login: nothing of the message is sent yet."""
    client.ehlo()
    secure = config.force_tls
    if not secure and config.enable_tls and client.has_extn("starttls"):
        client.starttls(context=ssl.create_default_context())
        client.ehlo()
        secure = True
    if config.require_transport_security and not secure:
        raise SmtpRefused(f"{config.smtp_host}:{config.smtp_port} offers no STARTTLS and "
                          "require_transport_security is set")
    if config.smtp_user is not None and config.smtp_pass is not None:
        if not secure:
            raise SmtpRefused("will not send smtp_user and smtp_pass over an unencrypted connection")
        client.login(config.smtp_user, config.smtp_pass)
