"""Sending one email over SMTP as the ``email`` configuration says (Synapse's ``smtp_*``, ``enable_tls``,
``force_tls``, ``require_transport_security``).

STARTTLS is used whenever the server offers it and TLS is enabled; ``require_transport_security`` refuses to
send over a connection that could not be secured, and credentials are never sent in clear text.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from config.email import EmailConfig

TIMEOUT_SECONDS = 30.0


class SmtpRefused(Exception):
    """The mail could not be sent securely enough for the configuration."""


def send_email(config: EmailConfig, message: EmailMessage) -> None:
    """Hand ``message`` to the configured SMTP server; raises on failure (``smtplib.SMTPException``,
    ``OSError``, :class:`SmtpRefused`)."""
    tls = ssl.create_default_context()
    client: smtplib.SMTP
    if config.force_tls:
        client = smtplib.SMTP_SSL(config.smtp_host, config.smtp_port, timeout=TIMEOUT_SECONDS, context=tls)
    else:
        client = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=TIMEOUT_SECONDS)
    with client:
        client.ehlo()
        secure = config.force_tls
        if not secure and config.enable_tls and client.has_extn("starttls"):
            client.starttls(context=tls)
            client.ehlo()
            secure = True
        if config.require_transport_security and not secure:
            raise SmtpRefused(f"{config.smtp_host}:{config.smtp_port} offers no STARTTLS and "
                              "require_transport_security is set")
        if config.smtp_user is not None and config.smtp_pass is not None:
            if not secure:
                raise SmtpRefused("will not send smtp_user and smtp_pass over an unencrypted connection")
            client.login(config.smtp_user, config.smtp_pass)
        client.send_message(message)
